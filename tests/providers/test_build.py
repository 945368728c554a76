"""build_provider: the registry, provider-level configuration checks, per-provider options."""

from __future__ import annotations

import logging

import pytest

from flask_captcha_ext.providers import REGISTRY, BaseProvider, build_provider, provider_class
from flask_captcha_ext.providers.friendlycaptcha import api_version
from flask_captcha_ext.settings import PROVIDERS, ConfigError

from .conftest import make_settings


def test_every_provider_is_registered():
    # "selfhosted" is registered for remote mode only (a central service's siteverify).
    assert set(REGISTRY) == set(PROVIDERS)
    for name in REGISTRY:
        cls = provider_class(name)
        assert issubclass(cls, BaseProvider) and cls.name == name
        assert cls.response_fields


def test_each_mode_is_one_provider(make_app):
    """build_provider picks the class once; nothing else asks which mode it is in."""
    from flask_captcha_ext.providers.fallback import FallbackProvider
    from flask_captcha_ext.providers.local import LocalProvider
    from flask_captcha_ext.providers.remote import RemoteProvider
    from flask_captcha_ext.state import get_state

    keys = dict(CAPTCHA_SITE_KEY="sk_x", CAPTCHA_SECRET_KEY="ss_x")
    local = get_state(make_app()).provider
    remote = get_state(
        make_app(CAPTCHA_VERIFY_URL="https://captcha.example/api/siteverify", **keys)
    ).provider
    fallback = get_state(
        make_app(CAPTCHA_PROVIDER="hcaptcha", CAPTCHA_FALLBACK="selfhosted", **keys)
    ).provider
    assert isinstance(local, LocalProvider) and local.accepts_answers
    assert isinstance(remote, RemoteProvider) and not remote.may_fail_open
    assert isinstance(fallback, FallbackProvider) and fallback.widget_source.types == ("pow",)
    with pytest.raises(ValueError, match="needs the service"):
        build_provider(make_settings("selfhosted", verify_url=None))


def test_http_client_verifies_tls_and_ignores_the_environment(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    session = build_provider(make_settings("turnstile")).http.session
    assert session.verify is True and not session.trust_env
    monkeypatch.setenv("SSL_CERT_FILE", __file__)  # any existing file: only checked to exist
    assert build_provider(make_settings("turnstile")).http.session.verify == __file__


def test_fallback_adds_the_self_hosted_field(make_app):
    from flask_captcha_ext.state import get_state

    app = make_app(
        CAPTCHA_PROVIDER="hcaptcha",
        CAPTCHA_FALLBACK="selfhosted",
        CAPTCHA_SITE_KEY="10000000-ffff-ffff-ffff-000000000001",
        CAPTCHA_SECRET_KEY="0x0000000000000000000000000000000000000000",
    )
    provider = get_state(app).provider
    assert provider.response_fields[-1] == "captcha-token"
    assert provider.response_fields[0] == "h-captcha-response"


def test_missing_secret_fails_without_a_request(fake, make, verify):
    provider = make("recaptcha", secret_key=None)
    result = verify(provider, fake.issue("recaptcha"))
    assert not result.success and result.error_codes == ("missing-input-secret",)
    assert fake.state.seen == []


def test_verify_url_needs_a_host():
    with pytest.raises(ConfigError, match="CAPTCHA_VERIFY_URL"):
        build_provider(make_settings("recaptcha", verify_url="https://"))


def test_plain_http_to_a_remote_host_warns(caplog):
    with caplog.at_level(logging.WARNING):
        build_provider(make_settings("recaptcha", verify_url="http://captcha.internal/verify"))
        assert "unencrypted" in caplog.text
        caplog.clear()
        build_provider(make_settings("recaptcha", verify_url="http://127.0.0.1:9/verify"))
        assert "unencrypted" not in caplog.text


def test_public_test_secrets_warn(caplog):
    with caplog.at_level(logging.WARNING):
        build_provider(
            make_settings("recaptcha", secret_key="6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe")
        )
    assert "every token passes" in caplog.text


def test_friendlycaptcha_version():
    v1_url = "https://api.friendlycaptcha.com/api/v1/siteverify"
    assert api_version(make_settings("friendlycaptcha")) == 2
    assert api_version(make_settings("friendlycaptcha", verify_url=v1_url)) == 1
    forced = make_settings("friendlycaptcha", friendlycaptcha_version=1)
    assert api_version(forced) == 1
    provider = build_provider(forced)
    assert provider.url == v1_url
    assert provider.response_fields[0] == "frc-captcha-solution"
    # The setting wins over the URL, both ways.
    v2_forced = make_settings("friendlycaptcha", verify_url=v1_url, friendlycaptcha_version=2)
    assert api_version(v2_forced) == 2
    with pytest.raises(ConfigError, match="CAPTCHA_FRIENDLYCAPTCHA_VERSION"):
        make_settings("friendlycaptcha", friendlycaptcha_version=3)


def test_gkcaptcha_api_url_from_the_environment(fake, make, verify, monkeypatch):
    base = fake.url("gk_sdk").rsplit("/api/", 1)[0]
    monkeypatch.setenv("GKCAPTCHA_API_URL", base + "/")
    settings = make_settings("gkcaptcha")
    provider = build_provider(settings, ca_bundle=fake.ca_path)
    assert provider.url == base + "/api/v1/token/verify"
    assert verify(provider, fake.issue("gk_sdk")).success
    explicit = build_provider(make_settings("gkcaptcha", verify_url="https://x.test/verify"))
    assert explicit.url == "https://x.test/verify"  # CAPTCHA_VERIFY_URL wins


def test_a_crash_inside_a_provider_fails_the_check(fake, make, verify, monkeypatch, caplog):
    provider = make("recaptcha")

    def broken(reply, call):
        raise KeyError("bug")

    monkeypatch.setattr(provider, "interpret", broken)
    result = verify(provider, fake.issue("recaptcha"))
    assert not result.success and result.error_codes == ("unknown-error",)
    assert "crashed" in caplog.text


def test_a_crash_inside_the_policy_fails_the_check(fake, make, verify, monkeypatch, caplog):
    provider = make("recaptcha")

    class BrokenPolicy:
        def check(self, result, **kwargs):
            raise ValueError("bug")

    monkeypatch.setattr(provider, "policy", BrokenPolicy())
    result = verify(provider, fake.issue("recaptcha"))
    assert not result.success and result.error_codes == ("unknown-error",)
    assert "crashed" in caplog.text
