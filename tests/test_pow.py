"""The ``pow`` challenge: ALTCHA v1 challenges solved by the altcha library, checked strictly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import altcha
import pytest

from flask_captcha_ext import verification
from flask_captcha_ext.selfhosted.pow import PowChallenge, parse_payload
from flask_captcha_ext.settings import ConfigError, derive_secret
from tests.helpers import generate, own_site_key, solve
from tests.support import SECRET

GEN, VAL = "/captcha/generate", "/captcha/validate"
SALT = re.compile(r"^[0-9a-f]{24}\?expires=(\d+)&$")
POW_KEY = derive_secret(SECRET.encode(), "pow")


@pytest.fixture
def app(make_app, store_url):
    return make_app(CAPTCHA_STORE_URL=store_url)


def _generate(app):
    response = app.test_client().post(GEN, json={"site_key": own_site_key(app), "type": "pow"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _library_solve(challenge):
    """Solve with the altcha library's v1 solver, exactly as a client would, to a payload."""
    solution = altcha.solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    assert solution is not None
    return solution.number, _payload({**challenge, "number": solution.number})


def _payload(fields) -> str:
    keys = ("algorithm", "challenge", "number", "salt", "signature")
    return base64.b64encode(json.dumps({k: fields[k] for k in keys}).encode()).decode()


def _validate(app, captcha_id, user_input):
    return app.test_client().post(
        VAL,
        json={"site_key": own_site_key(app), "captcha_id": captcha_id, "user_input": user_input},
    )


def test_generate_returns_an_altcha_v1_challenge(app):
    data, answer = generate(app, "pow")
    assert set(data) == {"captcha_id", "type", "challenge", "expires_in"}
    assert data["type"] == "pow" and data["expires_in"] == 300
    challenge = data["challenge"]
    assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert challenge["algorithm"] == "SHA-256" and challenge["maxnumber"] == 100_000
    expires = int(SALT.match(challenge["salt"]).group(1))
    assert abs(expires - (time.time() + 300)) < 5
    expected = hmac.new(POW_KEY, challenge["challenge"].encode(), hashlib.sha256).hexdigest()
    assert challenge["signature"] == expected
    # The secret number is not sent: only its hash is.
    number = json.loads(base64.b64decode(answer))["number"]
    salted = f"{challenge['salt']}{number}".encode()
    assert hashlib.sha256(salted).hexdigest() == challenge["challenge"]
    assert '"number"' not in json.dumps(data)


def test_library_solver_and_validate_give_a_token_that_verifies_once(app):
    data = _generate(app)
    _, payload = _library_solve(data["challenge"])
    # It is a standard ALTCHA v1 challenge: the library's own verifier accepts the solution too.
    assert altcha.verify_solution_v1(payload, POW_KEY) == (True, None)
    body = _validate(app, data["captcha_id"], payload).get_json()
    assert body["valid"] is True
    ext = verification
    with app.app_context():
        result = ext.verify(body["token"])
        assert result.success and result.raw["typ"] == "pow"
        assert ext.verify(body["token"]).error_codes == ("token-duplicate",)


def test_a_solution_cannot_spend_another_challenge(app):
    first, second = _generate(app), _generate(app)
    _, payload = _library_solve(first["challenge"])
    assert _validate(app, second["captcha_id"], payload).get_json() == {"valid": False}
    # The second challenge is spent by that attempt; the first is still there to be solved.
    assert _validate(app, second["captcha_id"], payload).status_code == 400
    assert _validate(app, first["captcha_id"], payload).get_json()["valid"] is True


def test_a_solution_is_accepted_once(app):
    data = _generate(app)
    _, payload = _library_solve(data["challenge"])
    assert _validate(app, data["captcha_id"], payload).get_json()["valid"] is True
    again = _validate(app, data["captcha_id"], payload)
    assert again.status_code == 400 and "already used" in again.get_json()["detail"]


def test_concurrent_submissions_of_one_solution_win_once(make_app):
    app = make_app()
    data = _generate(app)
    _, payload = _library_solve(data["challenge"])
    results = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(VAL, json={
            "site_key": own_site_key(app), "captcha_id": data["captcha_id"], "user_input": payload
        })
        results.append((response.status_code, (response.get_json() or {}).get("valid")))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [(200, True)] + [(400, None)] * 7


def test_expired_challenge_is_refused(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TTL=1)
    data = _generate(app)
    _, payload = _library_solve(data["challenge"])
    time.sleep(1.3)
    response = _validate(app, data["captcha_id"], payload)
    assert response.status_code == 400 and "expired" in response.get_json()["detail"]


def test_the_salt_expiry_is_checked_even_if_the_store_still_has_the_challenge():
    kind = PowChallenge(POW_KEY, 1000, ttl=-5)  # the salt's expires is already past
    new = kind.create("id")
    assert SALT.match(new.public["challenge"]["salt"])
    assert kind.check("id", new.state, new.answer) is False
    fresh = PowChallenge(POW_KEY, 1000, ttl=60).create("id")
    assert kind.check("id", fresh.state, fresh.answer) is True


def test_numbers_above_maxnumber_are_refused_even_with_a_valid_hash():
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    made = altcha.create_challenge_v1(altcha.ChallengeOptionsV1(
        max_number=1000, hmac_key=POW_KEY, number=5000, expires=later
    ))
    payload = _payload({**vars(made), "number": 5000})
    kind = PowChallenge(POW_KEY, 1000, 60)
    for bound, accepted in ((1000, False), (5000, True)):
        expires = int(SALT.match(made.salt).group(1))
        state = json.dumps({"c": made.challenge, "s": made.salt, "m": bound, "e": expires})
        assert kind.check("id", state, payload) is accepted


def _junk_cases(challenge, number):
    good = {**challenge, "number": number}
    b64 = lambda obj: base64.b64encode(json.dumps(obj).encode()).decode()  # noqa: E731
    salt = challenge["salt"]
    digits = str(number)
    return {
        "not base64": "!!!not base64!!!",
        "base64 of non-JSON": base64.b64encode(b"\xff\xfe garbage").decode(),
        "JSON list": b64([1, 2, 3]),
        "JSON string": b64("hello"),
        "empty object": b64({}),
        "missing signature": b64({k: v for k, v in good.items() if k != "signature"}),
        "number as string": b64({**good, "number": digits}),
        "number as float": b64({**good, "number": float(number)}),
        "number as bool": b64({**good, "number": True}),
        "number null": b64({**good, "number": None}),
        "negative number": b64({**good, "number": -1}),
        "huge number": b64({**good, "number": 10**400}),
        "wrong algorithm": b64({**good, "algorithm": "SHA-1"}),
        "algorithm list": b64({**good, "algorithm": ["SHA-256"]}),
        "wrong number": b64({**good, "number": number + 1}),
        "salt/number splice": b64({**good, "salt": salt + digits[:1], "number": int(digits[1:])})
        if len(digits) > 1
        else b64({**good, "salt": salt + "0"}),
        "expires moved": b64({**good, "salt": salt.replace("expires=", "expires=9")}),
        "other signature": b64({**good, "signature": "0" * 64}),
        "non-ASCII challenge": b64({**good, "challenge": "é" * 64}),
        "lone surrogate": b64({**good, "signature": "\ud800"}),
        "object fields": b64({**good, "salt": {"a": 1}}),
        "deep nesting": base64.b64encode(b"[" * 600 + b"]" * 600).decode(),
        "empty": "",
        "integer": 12345,
    }


JUNK_NAMES = list(_junk_cases({"salt": "", "challenge": "", "algorithm": "", "maxnumber": 1,
                               "signature": ""}, 12))


@pytest.mark.parametrize("case", JUNK_NAMES)
def test_junk_payloads_are_invalid_never_500_and_spend_the_challenge(make_app, case):
    app = make_app()
    data, answer = generate(app, "pow")
    number = json.loads(base64.b64decode(answer))["number"]
    junk = _junk_cases(data["challenge"], number)[case]
    response = _validate(app, data["captcha_id"], junk)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"valid": False}
    assert _validate(app, data["captcha_id"], answer).status_code == 400


def test_overlong_payload_is_400_with_detail(make_app):
    app = make_app()
    data, _ = generate(app, "pow")
    response = _validate(app, data["captcha_id"], "A" * 5000)
    assert response.status_code == 400 and "longer than" in response.get_json()["detail"]


def test_parse_payload_keeps_only_the_protocol_fields():
    fields = {"algorithm": "SHA-256", "challenge": "c", "number": 3, "salt": "s",
              "signature": "x", "extra": 1}
    assert parse_payload(_payload(fields)) == {k: v for k, v in fields.items() if k != "extra"}
    assert parse_payload(" " + _payload(fields) + "\n") is not None


def test_testing_helpers_solve_pow_too(app):
    token = solve(app, "pow")
    with app.app_context():
        assert verification.verify(token).success


def test_difficulty_is_configurable(make_app):
    app = make_app(CAPTCHA_POW_MAX_NUMBER=5000)
    challenge = _generate(app)["challenge"]
    assert challenge["maxnumber"] == 5000
    number, payload = _library_solve(challenge)
    assert 0 <= number <= 5000


@pytest.mark.parametrize("value", [0, 999, 10**8, "100000", True, 1.5])
def test_bad_difficulty_is_a_config_error(make_app, value):
    with pytest.raises(ConfigError, match="CAPTCHA_POW_MAX_NUMBER"):
        make_app(CAPTCHA_POW_MAX_NUMBER=value)


def test_pow_can_be_left_out_of_the_challenge_types(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=("math",))
    response = app.test_client().post(GEN, json={"site_key": own_site_key(app), "type": "pow"})
    assert response.status_code == 400 and "type" in response.get_json()["detail"]


def test_apps_with_different_secrets_sign_differently(make_app, tmp_path):
    one = make_app()
    other = make_app(SECRET_KEY="another-secret-key-0123456789abcd",
                     CAPTCHA_STORE_URL="sqlite:///" + str(tmp_path / "other.sqlite3"))
    data = _generate(one)
    _, payload = _library_solve(data["challenge"])
    assert altcha.verify_solution_v1(payload, POW_KEY)[0] is True
    other_key = derive_secret(b"another-secret-key-0123456789abcd", "pow")
    assert altcha.verify_solution_v1(payload, other_key)[0] is False
    assert _generate(other)["challenge"]["signature"] != data["challenge"]["signature"]


@pytest.mark.parametrize("field", ["site_key", "captcha_id", "user_input"])
def test_unpaired_surrogate_escapes_in_the_request_are_400_not_500(make_app, field):
    app = make_app()
    data, answer = generate(app, "pow")
    body = {"site_key": own_site_key(app), "captcha_id": data["captcha_id"], "user_input": answer}
    raw = json.dumps({**body, field: "\ud800"})  # JSON may spell it: "\\ud800"
    response = app.test_client().post(VAL, data=raw, content_type="application/json")
    assert response.status_code == 400 and "surrogate" in response.get_json()["detail"]
