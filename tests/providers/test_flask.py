"""Through the extension: ``CaptchaExt(app).verify(...)`` with CAPTCHA_VERIFY_URL at the fakes."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from flask_captcha_ext import CaptchaExt, verification
from flask_captcha_ext.signals import captcha_failed, captcha_verified
from flask_captcha_ext.state import get_state
from tests.support import build_app, free_port

from .fakes import SECRET, SITE_KEY, VARIANTS


@pytest.fixture
def app_for(fake, tmp_path, monkeypatch):
    """A Flask app using a fake provider over HTTPS (trusting the test CA via the environment)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_path)

    def factory(variant: str, **config) -> Flask:
        settings = {
            "SECRET_KEY": "provider-app-secret-0123456789abcdef",
            "CAPTCHA_PROVIDER": VARIANTS[variant][0],
            "CAPTCHA_SITE_KEY": SITE_KEY,
            "CAPTCHA_SECRET_KEY": SECRET,
            "CAPTCHA_VERIFY_URL": fake.url(variant),
            "CAPTCHA_STORE_URL": "sqlite:///" + str(tmp_path / "store.sqlite3"),
            "CAPTCHA_TIMEOUT": (2, 2),
        }
        # The tests call CaptchaExt(app) themselves: it is what they test.
        return build_app(
            "provider_app",
            instance_path=tmp_path / "instance",
            init=False,
            config=settings,
            **config,
        )

    return factory


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_verify_through_the_extension(variant, app_for, fake):
    app = app_for(variant)
    captcha = CaptchaExt(app)
    seen = []
    captcha_verified.connect(lambda sender, result: seen.append(("ok", result)), app, weak=False)
    captcha_failed.connect(lambda sender, result: seen.append(("no", result)), app, weak=False)
    token = fake.issue(variant, action="login")
    with app.test_request_context():
        assert captcha.verify(token, remote_ip="203.0.113.5", action="login").success
        again = captcha.verify(token, remote_ip="203.0.113.5", action="login")
    assert not again.success and "timeout-or-duplicate" in again.error_codes
    assert [kind for kind, _ in seen] == ["ok", "no"]


def test_min_score_override_through_the_extension(app_for, fake):
    app = app_for("recaptcha_v3", CAPTCHA_MIN_SCORE=0.3)
    captcha = CaptchaExt(app)
    with app.test_request_context():
        assert captcha.verify(fake.issue("recaptcha_v3", score=0.4)).success
        strict = captcha.verify(fake.issue("recaptcha_v3", score=0.4), min_score=0.8)
    assert strict.error_codes == ("score-too-low",)


def test_trustcaptcha_single_use_is_kept_in_the_app_store(app_for, fake):
    """Two workers (two apps) on one store: the second use of a verification fails."""
    fake.state.retrieval_limit = 10
    token = fake.issue("trustcaptcha")
    app_one = app_for("trustcaptcha")
    app_two = app_for("trustcaptcha")
    first, second = CaptchaExt(app_one), CaptchaExt(app_two)
    with app_one.test_request_context():
        assert first.verify(token).success
    with app_two.test_request_context():
        assert second.verify(token).error_codes == ("timeout-or-duplicate",)


def test_fail_open_through_the_extension(app_for, fake, caplog):
    dead = f"https://127.0.0.1:{free_port()}/recaptcha/api/siteverify"
    app = app_for("recaptcha", CAPTCHA_VERIFY_URL=dead, CAPTCHA_FAIL_OPEN=True)
    captcha = CaptchaExt(app)
    with app.test_request_context(), caplog.at_level(logging.WARNING):
        result = captcha.verify(fake.issue("recaptcha"))
    assert result.success and result.fail_open and result.error_codes == ("server-unreachable",)
    assert "CAPTCHA_FAIL_OPEN" in caplog.text


def test_unreachable_fails_closed_by_default(app_for, fake):
    dead = f"https://127.0.0.1:{free_port()}/recaptcha/api/siteverify"
    app = app_for("recaptcha", CAPTCHA_VERIFY_URL=dead)
    captcha = CaptchaExt(app)
    with app.test_request_context():
        result = captcha.verify(fake.issue("recaptcha"))
    assert not result.success and result.error_codes == ("server-unreachable",)


def test_two_apps_do_not_share_clients_or_keys(app_for, fake):
    one = app_for("recaptcha")
    two = app_for("recaptcha", CAPTCHA_SECRET_KEY="other-secret")
    CaptchaExt(one), CaptchaExt(two)
    p1, p2 = get_state(one).provider, get_state(two).provider
    assert p1.http is not p2.http
    with one.test_request_context():
        assert verification.verify(fake.issue("recaptcha")).success
    with two.test_request_context():
        result = verification.verify(fake.issue("recaptcha"))
    assert "invalid-input-secret" in result.error_codes


@pytest.mark.parametrize("fault", ["slow", "500", "html", "big", "redirect", "reset"])
def test_a_view_never_answers_500(fault, app_for, fake):
    """Whatever the provider does, verify returns a result: the view decides, no exception."""
    from flask import request

    app = app_for("hcaptcha", CAPTCHA_TIMEOUT=(0.3, 0.4))
    captcha = CaptchaExt(app)

    @app.post("/contact")
    def contact():
        result = captcha.verify(request.form.get("h-captcha-response"), request.remote_addr)
        return {"ok": result.success, "codes": list(result.error_codes)}, 200 if result else 400

    fake.state.fault = fault
    response = app.test_client().post("/contact", data={"h-captcha-response": "tok-x"})
    assert response.status_code == 400
    # A web page, an oversized body or a redirect is no provider's answer: unknown, not down.
    code = "unknown-error" if fault in ("html", "big", "redirect") else "server-unreachable"
    assert response.get_json() == {"ok": False, "codes": [code]}
