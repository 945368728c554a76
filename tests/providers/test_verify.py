"""Every provider against its fake: pass, fail, duplicate, expired, low score, wrong action, wrong
hostname, bad secret, stale challenge; each run through ``verify`` and ``verify_async``."""

from __future__ import annotations

import json

import pytest

from .fakes import VARIANTS

#: Variants whose replies carry a score, an action, a hostname, a timestamp.
SCORED = {"recaptcha_v3", "hcaptcha", "trustcaptcha", "gk_docs", "gk_sdk"}
ACTIONS = {"recaptcha_v3", "turnstile", "gk_docs"}
NO_HOSTNAME = {"friendly_v1", "gk_sdk"}
NO_TIMESTAMP = {"friendly_v1"}

ALL = pytest.mark.parametrize("variant", list(VARIANTS))


@ALL
def test_pass(variant, fake, make, verify):
    provider = make(variant)
    ticket = fake.issue(variant, action="login")
    result = verify(provider, ticket, remote_ip="203.0.113.9", action="login")
    assert result.success, result
    assert not result.fail_open and result.error_codes == ()
    assert result.provider == VARIANTS[variant][0]
    assert result.score == (pytest.approx(0.9) if variant in SCORED else None)
    if variant in ACTIONS:
        assert result.action == "login"
    if variant not in NO_HOSTNAME:
        assert result.hostname == "example.com"
    if variant not in NO_TIMESTAMP:
        assert result.challenge_ts
    assert result.raw  # the provider's reply is kept


@ALL
def test_pass_over_plain_http(variant, fake, make, verify):
    result = verify(make(variant, scheme="http"), fake.issue(variant))
    assert result.success, result


@ALL
def test_failed_challenge(variant, fake, make, verify):
    result = verify(make(variant), fake.issue(variant, passed=False))
    assert not result.success
    assert "invalid-input-response" in result.error_codes


@ALL
def test_unknown_token(variant, fake, make, verify):
    token = "tok-never-issued"
    if variant == "trustcaptcha":
        token = _tc_token("0b7c6a52-0000-4000-8000-000000000000")
    result = verify(make(variant), token)
    assert not result.success
    expected = "verification-not-found" if variant == "trustcaptcha" else "invalid-input-response"
    assert expected in result.error_codes


@ALL
def test_duplicate(variant, fake, make, verify):
    provider = make(variant)
    token = fake.issue(variant)
    assert verify(provider, token).success
    again = verify(provider, token)
    assert not again.success
    assert "timeout-or-duplicate" in again.error_codes


@ALL
def test_expired(variant, fake, make, verify):
    result = verify(make(variant), fake.issue(variant, expired=True))
    assert not result.success
    assert "timeout-or-duplicate" in result.error_codes


@ALL
def test_low_score(variant, fake, make, verify):
    provider = make(variant, min_score=0.5)
    result = verify(provider, fake.issue(variant, score=0.2))
    if variant in SCORED or variant == "recaptcha":  # a v2 reply with a score (v3 key mix-up)
        assert not result.success
        assert result.error_codes == ("score-too-low",)
        assert result.score == pytest.approx(0.2)
    else:  # no score in the protocol: a threshold cannot apply
        assert result.success and result.score is None


@ALL
def test_per_call_min_score_beats_the_setting(variant, fake, make, verify):
    provider = make(variant, min_score=0.95)
    result = verify(provider, fake.issue(variant, score=0.6), min_score=0.5)
    assert result.success, result


@ALL
def test_wrong_action(variant, fake, make, verify):
    provider = make(variant)
    result = verify(provider, fake.issue(variant, action="signup"), action="login")
    if variant in ACTIONS:
        assert not result.success
        assert result.error_codes == ("action-mismatch",)
    else:  # the provider never reports actions: nothing to compare
        assert result.success


@ALL
def test_action_from_settings_case_insensitive(variant, fake, make, verify):
    provider = make(variant, action="LOGIN")
    assert verify(provider, fake.issue(variant, action="login")).success
    wrong = verify(provider, fake.issue(variant, action="logout"))
    assert wrong.success is (variant not in ACTIONS)


@ALL
def test_wrong_hostname(variant, fake, make, verify):
    provider = make(variant, hostnames=["example.com", "*.example.org"])
    result = verify(provider, fake.issue(variant, hostname="evil.example.net"))
    assert not result.success
    assert result.error_codes == ("hostname-mismatch",)


@ALL
def test_right_hostname_any_case(variant, fake, make, verify):
    provider = make(variant, hostnames="example.com, *.example.org")
    result = verify(provider, fake.issue(variant, hostname="Shop.Example.ORG"))
    if variant in NO_HOSTNAME:  # no hostname in the reply: a hostname list cannot be satisfied
        assert result.error_codes == ("hostname-mismatch",)
    else:
        assert result.success, result


@ALL
def test_bad_secret(variant, fake, make, verify, caplog):
    provider = make(variant, secret_key="not-the-secret", fail_open=True)
    result = verify(provider, fake.issue(variant))
    assert not result.success and not result.fail_open
    assert "invalid-input-secret" in result.error_codes
    assert "CAPTCHA_SECRET_KEY" in caplog.text


@ALL
def test_challenge_too_old(variant, fake, make, verify):
    provider = make(variant, max_age=60)
    fresh = verify(provider, fake.issue(variant, age=5))
    stale = verify(provider, fake.issue(variant, age=600))
    if variant in NO_TIMESTAMP:
        assert fresh.error_codes == stale.error_codes == ("challenge-ts-invalid",)
    else:
        assert fresh.success, fresh
        assert stale.error_codes == ("challenge-too-old",)


@pytest.mark.parametrize("variant", sorted(set(VARIANTS) - NO_TIMESTAMP - {"gk_sdk"}))
@pytest.mark.parametrize("stamp", ["2026-01-01T00:00:00+99:00", "0001-01-01T00:00:00+05:00"])
def test_an_impossible_timestamp_fails_the_age_check(variant, stamp, fake, make, verify):
    """A reply's timestamp we cannot place in time is refused, never an exception (a 500)."""
    provider = make(variant, max_age=60)
    result = verify(provider, fake.issue(variant, stamp=stamp))
    assert not result.success and result.error_codes == ("challenge-ts-invalid",)


@ALL
def test_fail_open_never_rescues_a_rejected_token(variant, fake, make, verify):
    provider = make(variant, fail_open=True)
    result = verify(provider, fake.issue(variant, passed=False))
    assert not result.success and not result.fail_open


@ALL
@pytest.mark.parametrize("token", [None, "", "   ", 42, b"bytes"])
def test_missing_token_sends_nothing(variant, token, fake, make, verify):
    result = verify(make(variant), token)
    assert not result.success
    assert result.error_codes == ("missing-input-response",)
    assert fake.state.seen == []


@ALL
@pytest.mark.parametrize("token", ["has space", "x" * 9000, "t\u00f6ken", "new\nline"])
def test_malformed_token_sends_nothing(variant, token, fake, make, verify):
    result = verify(make(variant), token)
    assert result.error_codes == ("invalid-input-response",)
    assert fake.state.seen == []


def test_score_normalisation_directions(fake, make, verify):
    """hCaptcha, TrustCaptcha and gkCAPTCHA send bot scores; results always say 'human'."""
    for variant in ("hcaptcha", "trustcaptcha", "gk_docs", "gk_sdk"):
        result = verify(make(variant), fake.issue(variant, score=0.75))
        assert result.score == pytest.approx(0.75)
        raw_score = result.raw.get("score", result.raw.get("data", {}).get("score"))
        assert raw_score == pytest.approx(0.25)


def test_v3_needs_a_score_and_defaults_to_half(fake, make, verify):
    provider = make("recaptcha_v3")
    assert verify(provider, fake.issue("recaptcha_v3", score=0.5)).success
    low = verify(provider, fake.issue("recaptcha_v3", score=0.4))
    assert low.error_codes == ("score-too-low",)


def test_v3_expects_the_widgets_default_action(fake, make, verify):
    """No action from the call or CAPTCHA_ACTION: v3 expects "submit", what its widget sends."""
    provider = make("recaptcha_v3")
    assert verify(provider, fake.issue("recaptcha_v3", action="submit")).success
    elsewhere = verify(provider, fake.issue("recaptcha_v3", action="login"))
    assert elsewhere.error_codes == ("action-mismatch",)
    assert verify(provider, fake.issue("recaptcha_v3", action="login"), action="login").success
    configured = make("recaptcha_v3", action="login")
    assert verify(configured, fake.issue("recaptcha_v3", action="login")).success
    assert not verify(configured, fake.issue("recaptcha_v3", action="submit")).success


def test_hcaptcha_without_enterprise_score_passes_a_threshold(fake, make, verify):
    provider = make("hcaptcha", min_score=0.7)
    assert verify(provider, fake.issue("hcaptcha", score=None)).success


def test_what_we_send(fake, make, verify):
    """remoteip forwarded when valid, dropped when not; hCaptcha also sends sitekey."""
    verify(make("hcaptcha"), fake.issue("hcaptcha"), remote_ip="2001:db8::1")
    verify(make("recaptcha"), fake.issue("recaptcha"), remote_ip="not an ip")
    hcaptcha, recaptcha = fake.state.seen
    assert b"remoteip=2001%3Adb8%3A%3A1" in hcaptcha.body
    assert b"sitekey=fake-site-key" in hcaptcha.body
    assert b"remoteip" not in recaptcha.body
    assert hcaptcha.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_headers_carry_keys_where_protocols_want_them(fake, make, verify):
    friendly_token = fake.issue("friendly_v2")
    verify(make("friendly_v2"), friendly_token)
    verify(make("gk_docs"), fake.issue("gk_docs"), remote_ip="198.51.100.4")
    verify(make("trustcaptcha"), fake.issue("trustcaptcha"))
    friendly, gk, trust = fake.state.seen
    assert friendly.headers["X-API-Key"] == "fake-secret-0123456789"
    assert json.loads(friendly.body) == {"response": friendly_token, "sitekey": "fake-site-key"}
    assert gk.headers["Authorization"] == "Bearer fake-secret-0123456789"
    assert json.loads(gk.body)["clientIP"] == "198.51.100.4"
    assert trust.method == "GET" and trust.body == b""
    assert trust.headers["Authorization"] == "Bearer fake-secret-0123456789"


def _tc_token(vid: str, **extra) -> str:
    import base64

    return base64.b64encode(json.dumps({"verificationId": vid, **extra}).encode()).decode()
