"""The self-hosted HTTP API: shapes, single use, expiry, errors, limits and CORS."""

from __future__ import annotations

import base64
import io
import re
import sys
import time

import pytest
from PIL import Image

from flask_captcha_ext import verification
from flask_captcha_ext.state import get_state
from tests.helpers import generate, own_site_key, validate_body
from tests.support import ALL_TYPES

GEN, VAL = "/captcha/generate", "/captcha/validate"


@pytest.fixture
def app(make_app, store_url):
    return make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_STORE_URL=store_url)


def _validate(client, app, data, user_input, site_key=None, environ_base=None):
    """POST validate answering the generated challenge ``data`` (with its proof of work)."""
    return client.post(
        VAL,
        json=validate_body(app, data, user_input, site_key),
        environ_base=environ_base or {},
    )


def test_generate_image_returns_a_png_and_no_answer(app):
    data, answer = generate(app, "image")
    del data["_proof"]  # the helper's, not the server's
    assert set(data) == {"captcha_id", "type", "image", "length", "pow", "work", "expires_in"}
    assert data["type"] == "image" and data["expires_in"] == 300
    assert set(data["pow"]) == {"parameters", "signature"} and data["work"] == 1
    assert data["length"] == len(answer) == 5
    png = Image.open(io.BytesIO(base64.b64decode(data["image"])))
    assert png.format == "PNG" and png.size == (320, 120)
    assert answer.lower() not in str(data).lower()


def test_generate_math_returns_a_question(app):
    data, answer = generate(app, "math")
    del data["_proof"]  # the helper's, not the server's
    assert set(data) == {"captcha_id", "type", "question", "pow", "work", "expires_in"}
    assert set(data["pow"]) == {"parameters", "signature"} and data["work"] == 1
    # The question states the sum; the answer is in the store only, not in the reply.
    match = re.fullmatch(r"What is (\d+) ([+\u2212]) (\d+)\?", data["question"])
    assert match, data["question"]
    a, sign, b = int(match[1]), match[2], int(match[3])
    assert int(answer) == (a + b if sign == "+" else a - b)
    assert "answer" not in data


def test_right_answer_gives_a_token_that_verifies_once(app):
    ext = verification
    data, answer = generate(app, "math")
    client = app.test_client()
    body = _validate(client, app, data, answer).get_json()
    assert body["valid"] is True and body["token"].count(".") == 2
    with app.app_context():
        assert ext.verify(body["token"]).success
        assert ext.verify(body["token"]).error_codes == ("token-duplicate",)


def test_image_answers_are_case_insensitive(app):
    data, answer = generate(app, "image")
    body = _validate(app.test_client(), app, data, f" {answer.lower()} ").get_json()
    assert body["valid"] is True


def test_a_challenge_is_spent_by_a_wrong_first_attempt(app):
    data, answer = generate(app, "math")
    client = app.test_client()
    assert _validate(client, app, data, "-1").get_json() == {"valid": False}
    again = _validate(client, app, data, answer)
    assert again.status_code == 400
    assert "already used" in again.get_json()["detail"]


def test_a_challenge_expires(make_app, store_url):
    app = make_app(
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_STORE_URL=store_url, CAPTCHA_CHALLENGE_TTL=1
    )
    data, answer = generate(app, "math")
    time.sleep(1.3)
    response = _validate(app.test_client(), app, data, answer)
    assert response.status_code == 400 and "expired" in response.get_json()["detail"]


def test_a_challenge_of_another_site_key_is_refused(app):
    with app.app_context():
        other_key, _, _ = get_state(app).service.site_keys.create("other")
    data, answer = generate(app, "math")
    response = _validate(app.test_client(), app, data, answer, site_key=other_key)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body, status, words",
    [
        ("not json", 400, "valid JSON"),
        ("[1, 2]", 400, "JSON object"),
        ('{"type": "math"}', 400, "site_key"),
        ('{"site_key": 5, "type": "math"}', 400, "site_key"),
        ('{"site_key": "SK", "type": "audio"}', 400, "type"),
        ('{"site_key": "SK", "type": ["math"]}', 400, "type"),
        ('{"site_key": "nope", "type": "math"}', 403, "unknown site key"),
        ('{"site_key": "SK", "type": "math", "pad": "' + "x" * 20000 + '"}', 413, "larger"),
    ],
)
def test_generate_errors(app, body, status, words):
    body = body.replace("SK", own_site_key(app))
    response = app.test_client().post(GEN, data=body, content_type="application/json")
    assert response.status_code == status
    assert words in response.get_json()["detail"]


@pytest.mark.parametrize(
    "payload, words",
    [
        ({"captcha_id": "x", "user_input": "1"}, "site_key"),
        ({"site_key": "SK", "user_input": "1"}, "captcha_id"),
        ({"site_key": "SK", "captcha_id": "x"}, "user_input"),
        ({"site_key": "SK", "captcha_id": 7, "user_input": "1"}, "captcha_id"),
        ({"site_key": "SK", "captcha_id": "x", "user_input": {"a": 1}}, "user_input"),
        ({"site_key": "SK", "captcha_id": "x", "user_input": None}, "user_input"),
        ({"site_key": "SK", "captcha_id": "x" * 500, "user_input": "1"}, "captcha_id"),
        ({"site_key": "SK", "captcha_id": "unknown", "user_input": "1"}, "invalid, expired"),
    ],
)
def test_validate_errors_are_400_with_detail(app, payload, words):
    payload = {k: (own_site_key(app) if v == "SK" else v) for k, v in payload.items()}
    response = app.test_client().post(VAL, json=payload)
    assert response.status_code == 400
    assert words in response.get_json()["detail"]


def test_revoked_site_key_is_403(app):
    registry = get_state(app).service.site_keys
    site_key, _, record = registry.create("old")
    assert generate(app, "math", site_key=site_key)[0]["captcha_id"]
    registry.revoke(record.id)
    response = app.test_client().post(GEN, json={"site_key": site_key, "type": "math"})
    assert response.status_code == 403 and "revoked" in response.get_json()["detail"]


def test_chunked_oversized_body_is_413(app):
    def chunks():
        for _ in range(40):
            yield b" " * 1024

    response = app.test_client().post(
        GEN,
        input_stream=io.BytesIO(b"".join(chunks())),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


def _cli_key(app, **limits) -> str:
    """A site key made as ``flask captcha keys create`` makes it (with its own quotas)."""
    return get_state(app).service.site_keys.create("other-site", **limits)[0]


def test_generate_quota_of_a_cli_key_gives_429_with_retry_after(make_app, store_url):
    app = make_app(
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES,
        CAPTCHA_STORE_URL=store_url,
        CAPTCHA_RATE_LIMIT_GENERATE="3/hour",
    )
    client = app.test_client()
    payload = {"site_key": _cli_key(app), "type": "math"}
    codes = [client.post(GEN, json=payload).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.post(GEN, json=payload)
    assert 0 < int(limited.headers["Retry-After"]) <= 3600
    assert limited.get_json()["detail"].startswith("Too many attempts for this site. Try again in")


def test_failed_validations_count_against_a_cli_key_quota(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_RATE_LIMIT_VALIDATE="2/hour")
    key = _cli_key(app)
    client = app.test_client()
    for _ in range(2):
        data, _ = generate(app, "math", site_key=key)
        assert _validate(client, app, data, "-5", key).get_json() == {"valid": False}
    data, answer = generate(app, "math", site_key=key)
    assert _validate(client, app, data, answer, key).status_code == 429


def test_the_own_key_has_no_quota_nobody_locks_visitors_out(make_app):
    """The attack: a few addresses, each under the per-network limits, used to spend the own
    key's hourly budget, and then every visitor was refused for an hour."""
    app = make_app(
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES,
        CAPTCHA_RATE_LIMIT_GENERATE="3/hour",
        CAPTCHA_RATE_LIMIT_VALIDATE="3/hour",
    )
    client = app.test_client()
    for attacker in ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"):
        env = {"REMOTE_ADDR": attacker}
        for _ in range(5):
            data = client.post(
                GEN, json={"site_key": own_site_key(app), "type": "math"}, environ_base=env
            ).get_json()
            _validate(client, app, data, "-5", environ_base=env)
    data, answer = generate(app, "math")  # a visitor from another network
    assert _validate(client, app, data, answer).get_json()["valid"] is True


def test_made_up_ids_do_not_spend_a_site_key_quota(make_app, store_url):
    app = make_app(
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES,
        CAPTCHA_STORE_URL=store_url,
        CAPTCHA_RATE_LIMIT_VALIDATE="2/hour",
    )
    key = _cli_key(app)
    client = app.test_client()
    for index in range(10):
        env = {"REMOTE_ADDR": f"198.51.100.{index}"}
        made_up = {"captcha_id": f"made-up-{index}"}
        reply = _validate(client, app, made_up, "x", key, environ_base=env)
        assert reply.status_code == 400
    data, answer = generate(app, "math", site_key=key)
    assert _validate(client, app, data, answer, key).get_json()["valid"] is True


def test_a_key_can_carry_its_own_quota(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_RATE_LIMIT_GENERATE="1/hour")
    client = app.test_client()
    roomy = _cli_key(app, generate_limit="none")
    tight = _cli_key(app, generate_limit="2/hour")
    assert all(
        client.post(GEN, json={"site_key": roomy, "type": "pow"}).status_code == 200
        for _ in range(5)
    )
    codes = [
        client.post(GEN, json={"site_key": tight, "type": "pow"}).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    runner = app.test_cli_runner()
    bad = runner.invoke(
        args=["captcha", "keys", "create", "--name", "x", "--generate-limit", "lots"]
    )
    assert bad.exit_code != 0 and "--generate-limit" in bad.output


def test_per_network_limits_count_an_ipv6_slash_64(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_RATE_LIMIT_IP_GENERATE="2/minute")
    client = app.test_client()
    payload = {"site_key": own_site_key(app), "type": "pow"}
    codes = [
        client.post(GEN, json=payload, environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{n:x}"})
        for n in range(1, 4)
    ]
    assert [reply.status_code for reply in codes] == [200, 200, 429]
    assert codes[-1].get_json()["detail"].startswith("Too many attempts from your network.")
    other = client.post(GEN, json=payload, environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert other.status_code == 200


def test_live_challenges_have_a_ceiling_with_a_short_wait(make_app, store_url):
    """The store stays bounded whoever asks: beyond the ceiling a 503 for at most a minute."""
    app = make_app(
        CAPTCHA_STORE_URL=store_url,
        CAPTCHA_MAX_LIVE_CHALLENGES=2,
        CAPTCHA_CHALLENGE_TTL=60,
    )
    client = app.test_client()
    replies = [
        client.post(
            GEN,
            json={"site_key": own_site_key(app), "type": "pow"},
            environ_base={"REMOTE_ADDR": f"192.0.2.{n}"},  # many networks: no per-network limit
        )
        for n in range(3)
    ]
    assert [r.status_code for r in replies] == [200, 200, 503]
    assert 0 < int(replies[-1].headers["Retry-After"]) <= 60
    assert replies[-1].get_json()["detail"].startswith("The security check is busy. Try again in")
    with app.test_request_context():
        assert get_state(app).service.new_page_challenge("image", "192.0.2.9") is None


def test_waits_are_said_in_words():
    from flask_captcha_ext.selfhosted.service import in_words

    assert [in_words(s) for s in (1, 40, 60, 61, 120, 3600, 3601)] == [
        "1 second", "40 seconds", "1 minute", "2 minutes", "2 minutes", "1 hour", "2 hours"
    ]


def test_per_ip_limit_holds_across_site_keys(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_RATE_LIMIT_IP_GENERATE="2/minute")
    registry = get_state(app).service.site_keys
    keys = [registry.create(f"k{i}")[0] for i in range(3)]
    client = app.test_client()
    codes = [client.post(GEN, json={"site_key": k, "type": "math"}).status_code for k in keys]
    assert codes == [200, 200, 429]
    other_ip = client.post(
        GEN, json={"site_key": keys[0], "type": "math"}, environ_base={"REMOTE_ADDR": "10.9.9.9"}
    )
    assert other_ip.status_code == 200


def test_url_prefix_api_gives_exact_paths(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_URL_PREFIX="/api")
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert {"/api/generate", "/api/validate"} <= rules
    assert "/captcha/generate" not in rules


def test_deeply_nested_json_is_a_clean_400(app):
    # json.loads accepts nesting that json.dumps (the Unicode check) cannot re-serialise.
    # Where that window lies depends on the stack depth of the caller, so walk the whole band.
    client = app.test_client()
    limit = sys.getrecursionlimit()
    for depth in range(limit - 150, limit + 10):
        body = '{"site_key": ' + "[" * depth + "]" * depth + "}"
        for path in (GEN, "/captcha/validate", "/captcha/siteverify"):
            reply = client.post(path, data=body, content_type="application/json")
            assert reply.status_code in (200, 400), (path, depth, reply.status_code)
            assert reply.status_code == 400 or reply.get_json()["success"] is False


def test_cors_only_for_configured_origins(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_CORS_ORIGINS=["https://good.example"])
    client = app.test_client()
    payload = {"site_key": own_site_key(app), "type": "math"}
    good = client.post(GEN, json=payload, headers={"Origin": "https://good.example"})
    assert good.headers.get("Access-Control-Allow-Origin") == "https://good.example"
    bad = client.post(GEN, json=payload, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in bad.headers
    preflight = client.options(
        GEN, headers={"Origin": "https://good.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == "https://good.example"


def test_no_cors_headers_by_default(app):
    payload = {"site_key": own_site_key(app), "type": "math"}
    response = app.test_client().post(GEN, json=payload, headers={"Origin": "https://x.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_store_outage_is_503_and_accepts_nothing(make_app, tmp_path):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_STORE_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    response = client.post(GEN, json={"site_key": own_site_key(app), "type": "math"})
    assert response.status_code == 503
    assert "store" in response.get_json()["detail"]
    response = client.post(
        VAL, json={"site_key": own_site_key(app), "captcha_id": "x", "user_input": "1"}
    )
    assert response.status_code == 503
