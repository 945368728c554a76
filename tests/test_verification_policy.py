"""The server decides what passes: one verification path for every provider and mode.

Each test here is an attack that got through before (see issue "One verification path"): it is
written as a client holding our source would write it, and must now fail.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, g, jsonify
from flask_wtf.csrf import CSRFProtect

from flask_captcha_ext import CaptchaExt, ConfigError, captcha_protected, verification
from flask_captcha_ext.state import get_state
from tests.helpers import after_the_wait, own_site_key, page_challenge, solve
from tests.support import SECRET, build_app
from tests.test_pow import library_solve

ALL_TYPES = ("pow", "image", "math")


def read_math(question: str) -> str:
    """The attacker's math solver: the question is text, so a regular expression answers it."""
    a, op, b = re.search(r"(\d+)\s*([+\u2212-])\s*(\d+)", question).groups()
    return str(int(a) + int(b) if op == "+" else int(a) - int(b))


def math_token_by_reading(app: Flask) -> str:
    """Generate a math challenge and answer it by reading it, as a bot does (no test hooks),
    solving its proof-of-work part too (keep CAPTCHA_POW_TARGET_MS small: Python solves it)."""
    client = app.test_client()
    prefix = get_state(app).settings.url_prefix
    data = client.post(
        prefix + "/generate", json={"site_key": own_site_key(app), "type": "math"}
    ).get_json()
    reply = client.post(
        prefix + "/validate",
        json={
            "site_key": own_site_key(app),
            "captcha_id": data["captcha_id"],
            "user_input": read_math(data["question"]),
            "proof": library_solve(data["pow"]),
        },
    ).get_json()
    assert reply["valid"] is True
    return reply["token"]


def protected_view(app: Flask, **options: Any) -> None:
    @app.post("/contact")
    @captcha_protected(**options)
    def contact():
        result = g.captcha_result
        return jsonify(ok=True, type=result.challenge_type, fallback=result.fallback)


# -- the client does not choose the challenge type ------


def test_math_is_not_served_by_default(make_app):
    app = make_app()
    assert get_state(app).settings.challenge_types == ("pow", "image")
    reply = app.test_client().post(
        "/captcha/generate", json={"site_key": own_site_key(app), "type": "math"}
    )
    assert reply.status_code == 400
    assert "pow, image" in reply.get_json()["detail"]


def test_math_token_refused_where_the_view_wants_an_image(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_POW_TARGET_MS=50)
    protected_view(app, types=("image",))
    token = math_token_by_reading(app)
    reply = app.test_client().post("/contact", json={"captcha-token": token})
    assert reply.status_code == 400
    assert reply.get_json()["error_codes"] == ["challenge-type-not-allowed"]


def test_math_token_refused_once_the_app_stops_allowing_math(tmp_path):
    """A token issued while math was allowed (or by a worker configured differently) fails on a
    deployment whose CAPTCHA_CHALLENGE_TYPES leave math out: verify checks the type too."""
    common = dict(TESTING=True, SECRET_KEY=SECRET, CAPTCHA_STORE_URL=f"sqlite:///{tmp_path}/s.db")
    issuer = build_app(
        "issuer", CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_POW_TARGET_MS=50, **common
    )
    verifier = build_app("verifier", **common)  # same store and secret: one deployment
    token = math_token_by_reading(issuer)
    with verifier.test_request_context():
        result = CaptchaExt().verify(token)
    assert not result and result.error_codes == ("challenge-type-not-allowed",)
    assert result.challenge_type == "math"


def test_verify_types_argument_narrows_and_reports_the_type(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)
    captcha = CaptchaExt()
    with app.test_request_context():
        refused = captcha.verify(solve(app, "math"), types="pow")
        passed = captcha.verify(solve(app, "pow"), types=("pow", "image"))
        with pytest.raises(ValueError):
            captcha.verify("x", types=("audio",))
    assert refused.error_codes == ("challenge-type-not-allowed",)
    assert passed and passed.challenge_type == "pow" and passed.score is None


def test_no_javascript_answer_of_a_refused_type_fails(make_app, monkeypatch):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)
    protected_view(app, types=("image",))
    page, answer = page_challenge(app, "math")
    after_the_wait(monkeypatch, page["wait"])
    reply = app.test_client().post(
        "/contact",
        data={"captcha-id": page["captcha_id"], "captcha-answer": answer},
        headers={"Accept": "application/json"},
    )
    assert reply.status_code == 400
    assert reply.get_json()["error_codes"] == ["challenge-type-not-allowed"]


def test_form_field_types(make_app):
    from flask_wtf import FlaskForm

    from flask_captcha_ext import CaptchaField

    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, WTF_CSRF_ENABLED=False)

    class Form(FlaskForm):
        captcha = CaptchaField(types=("pow",))

    with app.test_request_context(method="POST", data={"captcha-token": solve(app, "math")}):
        form = Form()
        assert not form.validate()
        assert form.captcha.result.error_codes == ("challenge-type-not-allowed",)
        html = str(form.captcha())
        assert 'data-fce-types="pow"' in html and 'data-fce-type="pow"' in html


def test_widget_shows_the_first_allowed_type(make_app):
    from flask import render_template_string

    app = make_app()
    with app.test_request_context():
        html = render_template_string("{{ captcha_widget() }}")
        assert 'data-fce-type="pow"' in html and 'data-fce-types="pow image"' in html
        with pytest.raises(ValueError, match="not accepted here"):
            render_template_string('{{ captcha_widget(challenge_type="math") }}')


# -- site keys may narrow the types ------


def test_site_key_types_are_enforced_at_generate_and_siteverify(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["captcha", "keys", "create", "--name", "shop", "--types", "pow"])
    assert out.exit_code == 0, out.output
    site_key = re.search(r"site key:\s+(\S+)", out.output).group(1)
    secret = re.search(r"secret:\s+(\S+)", out.output).group(1)
    client = app.test_client()
    refused = client.post("/captcha/generate", json={"site_key": site_key, "type": "math"})
    assert (
        refused.status_code == 400 and "'type' must be one of: pow" in refused.get_json()["detail"]
    )
    from tests.helpers import generate

    data, answer = generate(app, "pow", site_key=site_key)
    token = client.post(
        "/captcha/validate",
        json={"site_key": site_key, "captcha_id": data["captcha_id"], "user_input": answer},
    ).get_json()["token"]
    verdict = client.post("/captcha/siteverify", data={"secret": secret, "response": token})
    assert verdict.get_json()["success"] is True
    assert verdict.get_json()["challenge_type"] == "pow"
    assert "pow" in runner.invoke(args=["captcha", "keys", "list"]).output
    bad = runner.invoke(args=["captcha", "keys", "create", "--name", "x", "--types", "audio"])
    assert bad.exit_code != 0 and "--types" in bad.output


# -- fallback is a weaker path, never a bypass ------


def _fallback_app(make_app, **config: Any) -> Flask:
    settings = dict(
        CAPTCHA_PROVIDER="turnstile",
        CAPTCHA_SITE_KEY="1x00000000000000000000AA",
        CAPTCHA_SECRET_KEY="2x0000000000000000000000000000000AA",
        CAPTCHA_FALLBACK="selfhosted",
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES,
        CAPTCHA_MIN_SCORE=0.9,
        CAPTCHA_ACTION="login",
        CAPTCHA_HOSTNAMES=["shop.example"],
    )
    settings.update(config)
    app = make_app(**settings)
    protected_view(app)
    return app


def test_fallback_math_token_refused(make_app):
    app = _fallback_app(make_app)
    token = solve(app, "math", origin="https://shop.example", action="login")
    reply = app.test_client().post("/contact", json={"captcha-token": token})
    assert reply.status_code == 400
    assert "challenge-type-not-allowed" in reply.get_json()["error_codes"]


def test_fallback_pow_token_passes_flagged_and_without_a_score(make_app):
    app = _fallback_app(make_app)
    token = solve(app, "pow", origin="https://shop.example", action="login")
    reply = app.test_client().post("/contact", json={"captcha-token": token})
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json() == {"ok": True, "type": "pow", "fallback": True}


@pytest.mark.parametrize(
    "origin, action, code",
    [
        ("https://evil.example", "login", "hostname-mismatch"),
        (None, "login", "hostname-mismatch"),
        ("https://shop.example", None, "action-mismatch"),
        ("https://shop.example", "signup", "action-mismatch"),
    ],
)
def test_fallback_token_meets_hostname_and_action(make_app, origin, action, code):
    app = _fallback_app(make_app)
    token = solve(app, "pow", origin=origin, action=action)
    reply = app.test_client().post("/contact", json={"captcha-token": token})
    assert reply.status_code == 400 and code in reply.get_json()["error_codes"]


def test_fallback_types_must_be_challenge_types(make_app):
    with pytest.raises(ConfigError, match="CAPTCHA_FALLBACK_TYPES"):
        _fallback_app(make_app, CAPTCHA_CHALLENGE_TYPES=("image",))


# -- local tokens honour hostnames and actions ------


def test_local_hostnames_apply_to_the_token(make_app):
    app = make_app(CAPTCHA_HOSTNAMES=["*.shop.example"])
    captcha = CaptchaExt()
    with app.test_request_context():
        good = captcha.verify(solve(app, "pow", origin="https://www.shop.example"))
        bad = captcha.verify(solve(app, "pow", origin="https://shop.example.evil"))
    assert good and good.hostname == "www.shop.example"
    assert bad.error_codes == ("hostname-mismatch",)


def test_local_action_is_honoured(make_app):
    app = make_app()
    captcha = CaptchaExt()
    with app.test_request_context():
        good = captcha.verify(solve(app, "pow", action="login"), action="login")
        wrong = captcha.verify(solve(app, "pow", action="login"), action="signup")
        missing = captcha.verify(solve(app, "pow"), action="login")
        free = captcha.verify(solve(app, "pow", action="login"))
    assert good and good.action == "login"
    assert wrong.error_codes == missing.error_codes == ("action-mismatch",)
    assert free  # no action expected: any token of the right type passes


def test_validate_refuses_a_malformed_action(make_app):
    from tests.helpers import generate

    app = make_app()
    data, answer = generate(app, "pow")
    reply = app.test_client().post(
        "/captcha/validate",
        json={
            "site_key": own_site_key(app),
            "captcha_id": data["captcha_id"],
            "user_input": answer,
            "action": "no spaces!",
        },
    )
    assert reply.status_code == 400 and "'action'" in reply.get_json()["detail"]


def test_widget_carries_the_action(make_app):
    from flask import render_template_string

    app = make_app(CAPTCHA_ACTION="contact")
    with app.test_request_context():
        assert 'data-fce-action="contact"' in render_template_string("{{ captcha_widget() }}")
        html = render_template_string('{{ captcha_widget(action="login") }}')
        assert 'data-fce-action="login"' in html


# -- tokens stay in their deployment ------


def test_token_of_another_app_with_the_same_secret_key_is_refused(tmp_path):
    """The README's own SECRET_KEY in two deployments: each has its own store."""

    def deployment(name: str) -> Flask:
        app = build_app(
            name,
            TESTING=True,
            SECRET_KEY="change-me",
            CAPTCHA_STORE_URL=f"sqlite:///{tmp_path}/{name}.sqlite3",
        )
        protected_view(app)
        return app

    one, other = deployment("one"), deployment("other")
    token = solve(one, "pow")
    crossed = other.test_client().post("/contact", json={"captcha-token": token})
    assert crossed.status_code == 400 and crossed.get_json()["error_codes"] == ["token-invalid"]
    home = one.test_client().post("/contact", json={"captcha-token": token})
    assert home.status_code == 200
    again = one.test_client().post("/contact", json={"captcha-token": token})
    assert again.get_json()["error_codes"] == ["token-duplicate"]


def test_workers_of_one_deployment_share_tokens(tmp_path):
    config = dict(
        TESTING=True, SECRET_KEY=SECRET, CAPTCHA_STORE_URL=f"sqlite:///{tmp_path}/one.sqlite3"
    )
    worker_a, worker_b = build_app("a", **config), build_app("b", **config)
    protected_view(worker_b)
    reply = worker_b.test_client().post("/contact", json={"captcha-token": solve(worker_a, "pow")})
    assert reply.status_code == 200


# -- fail-open only where it is honest ------


def test_fail_open_refused_for_the_local_provider(make_app):
    with pytest.raises(ConfigError, match="CAPTCHA_FAIL_OPEN"):
        make_app(CAPTCHA_FAIL_OPEN=True)


def test_fail_open_refused_for_a_central_service(make_app):
    with pytest.raises(ConfigError, match="CAPTCHA_FAIL_OPEN"):
        make_app(
            CAPTCHA_VERIFY_URL="https://captcha.example/api/siteverify",
            CAPTCHA_SITE_KEY="sk_x",
            CAPTCHA_SECRET_KEY="ss_x",
            CAPTCHA_FAIL_OPEN=True,
        )


# -- secrets ------


def test_self_hosted_needs_a_secret_outside_debug_and_testing(tmp_path):
    store = f"sqlite:///{tmp_path}/s.sqlite3"
    with pytest.raises(ConfigError, match="SECRET_KEY.*CAPTCHA_TOKEN_SECRET"):
        build_app("prod", instance_path=tmp_path, CAPTCHA_STORE_URL=store)
    build_app("prod", CAPTCHA_STORE_URL=store, CAPTCHA_TOKEN_SECRET="t" * 32)  # enough
    third_party = build_app(
        "tp",
        CAPTCHA_STORE_URL=store,
        CAPTCHA_PROVIDER="turnstile",
        CAPTCHA_SITE_KEY="1x00000000000000000000AA",
        CAPTCHA_SECRET_KEY="1x0000000000000000000000000000000AA",
    )
    assert get_state(third_party).provider.name == "turnstile"  # signs nothing: no secret needed


def test_debug_without_a_secret_warns_through_the_app_logger(tmp_path, caplog):
    app = build_app("dev", init=False, CAPTCHA_STORE_URL=f"sqlite:///{tmp_path}/s.sqlite3")
    app.debug = True
    with caplog.at_level("WARNING", logger=app.logger.name):
        CaptchaExt(app)
    assert any("SECRET_KEY is not set" in r.getMessage() for r in caplog.records)
    assert get_state(app).store.get("master-secret") is None  # no secret kept in the clear


# -- integration: CSRF order, settings changed after init_app, misspelt keys ------


@pytest.mark.parametrize("csrf_first", [True, False])
def test_json_api_exempt_from_csrf_in_either_order(make_app, csrf_first):
    app = build_app(
        "csrf", init=False, TESTING=True, SECRET_KEY=SECRET, CAPTCHA_STORE_URL="memory://"
    )
    if csrf_first:
        CSRFProtect(app)
        CaptchaExt(app)
    else:
        CaptchaExt(app)
        CSRFProtect(app)

    @app.post("/form")
    def form():
        return "ok"

    client = app.test_client()
    reply = client.post("/captcha/generate", json={"site_key": own_site_key(app), "type": "pow"})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert client.post("/form", data={}).status_code == 400  # the app's own forms stay protected


def test_test_mode_set_after_init_app_is_honoured(tmp_path):
    """The README's testing snippet: config updated after CaptchaExt(app)."""
    app = build_app("late", SECRET_KEY=SECRET, CAPTCHA_STORE_URL="memory://")
    protected_view(app)
    app.config.update(TESTING=True, CAPTCHA_TEST_MODE=True)
    reply = app.test_client().post("/contact", json={"captcha-token": "PASSED"})
    assert reply.status_code == 200, reply.get_json()


def test_routing_key_changed_after_init_app_is_reported(make_app):
    app = make_app()
    app.config["CAPTCHA_URL_PREFIX"] = "/api"
    with pytest.raises(ConfigError, match="CAPTCHA_URL_PREFIX changed after init_app"):
        app.test_client().get("/")


def test_misspelt_key_is_reported(make_app):
    with pytest.raises(ConfigError, match="did you mean CAPTCHA_CHALLENGE_TYPES"):
        make_app(CAPTCHA_CHALENGE_TYPES=("pow",))


# -- found by attacking the change -------------------------------------------------------------


def test_json_nested_too_deep_is_a_400_not_a_500(make_app):
    app = make_app()
    protected_view(app)
    reply = app.test_client().post("/contact", data="[" * 5000, content_type="application/json")
    assert reply.status_code == 400
    assert reply.get_json()["error_codes"] == ["missing-input-response"]


def test_a_result_never_outlives_its_request(make_app):
    """Flask reuses an app context pushed around several requests (tests, jobs); a result kept
    in ``g`` would let the second, tokenless request through."""
    app = make_app()
    protected_view(app)
    client = app.test_client()
    with app.app_context():
        assert client.post("/contact", json={"captcha-token": solve(app, "pow")}).status_code == 200
        assert client.post("/contact", json={}).status_code == 400


def test_config_changed_after_init_applies_outside_requests_too(tmp_path):
    common = dict(TESTING=True, SECRET_KEY=SECRET, CAPTCHA_STORE_URL=f"sqlite:///{tmp_path}/s.db")
    token = solve(build_app("issuer", **common), "image")
    verifier = build_app("verifier", **common)
    verifier.config["CAPTCHA_CHALLENGE_TYPES"] = ("pow",)  # after init, before any use
    with verifier.app_context():
        result = verification.verify(token)
    assert result.error_codes == ("challenge-type-not-allowed",)


def test_misspelt_key_set_after_init_is_reported_at_first_use(make_app):
    app = make_app()
    app.config["CAPTCHA_HOSTNAME"] = ["shop.example"]
    with pytest.raises(ConfigError, match="did you mean CAPTCHA_HOSTNAMES"):
        app.test_client().post("/contact")  # any first use: here the 404 handler's lookup


def test_switching_the_endpoints_after_init_is_reported(make_app):
    app = make_app(
        CAPTCHA_PROVIDER="turnstile",
        CAPTCHA_SITE_KEY="1x00000000000000000000AA",
        CAPTCHA_SECRET_KEY="1x0000000000000000000000000000000AA",
    )
    app.config["CAPTCHA_PROVIDER"] = "selfhosted"
    with pytest.raises(ConfigError, match="self-hosted endpoints on or off"), app.app_context():
        get_state()


def test_endpoints_need_a_secret_whatever_the_provider(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        build_app(
            "tp",
            CAPTCHA_STORE_URL=f"sqlite:///{tmp_path}/s.sqlite3",
            CAPTCHA_PROVIDER="turnstile",
            CAPTCHA_SITE_KEY="1x00000000000000000000AA",
            CAPTCHA_SECRET_KEY="1x0000000000000000000000000000000AA",
            CAPTCHA_BLUEPRINT=True,
        )


def test_an_empty_hostname_list_is_refused(make_app):
    with pytest.raises(ConfigError, match="CAPTCHA_HOSTNAMES must list at least one"):
        make_app(CAPTCHA_HOSTNAMES=[])


def test_site_key_types_only_narrow_the_app_types(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=("pow",))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["captcha", "keys", "create", "--name", "x", "--types", "image"])
    assert out.exit_code != 0 and "may only narrow" in out.output
    from flask_captcha_ext.selfhosted.sitekeys import SiteKey

    wide = SiteKey(id="k", name="old", secret_hash="h", types=("pow", "math"))
    assert get_state(app).service.types_of(wide) == ("pow",)
