"""The shared result policy: thresholds, actions, hostnames, challenge age, timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from flask_captcha_ext.providers.policy import (
    Policy,
    host_of,
    hostname_allowed,
    iso_timestamp,
    parse_timestamp,
)
from flask_captcha_ext.result import VerificationResult

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def ok(**fields) -> VerificationResult:
    return VerificationResult(success=True, provider="test", **fields)


def test_threshold_precedence_call_then_app_then_provider():
    policy = Policy(min_score=0.7, default_min_score=0.5)
    assert policy.check(ok(score=0.6)).error_codes == ("score-too-low",)
    assert policy.check(ok(score=0.6), min_score=0.6).success  # equal passes
    assert Policy(default_min_score=0.5).check(ok(score=0.5)).success
    assert not Policy(default_min_score=0.5).check(ok(score=0.49)).success
    assert Policy(min_score=0.0).check(ok(score=0.0)).success


def test_missing_score():
    assert Policy(min_score=0.9).check(ok()).success  # the provider has no scores
    required = Policy(default_min_score=0.5, score_required=True)
    assert required.check(ok()).error_codes == ("score-missing",)


def test_fail_open_results_skip_the_score_but_not_the_hostname():
    flagged = ok(fail_open=True, hostname="evil.test")
    assert Policy(min_score=0.9, score_required=True).check(flagged).success
    assert not Policy(hostnames=("example.com",)).check(flagged).success


def test_actions():
    policy = Policy(action="Login", action_required=True)
    assert policy.check(ok(action="login")).success
    assert policy.check(ok(action="signup")).error_codes == ("action-mismatch",)
    assert policy.check(ok()).error_codes == ("action-mismatch",)
    assert policy.check(ok(action="signup"), action="SIGNUP").success
    assert Policy(action="login").check(ok()).success  # optional action, absent in the reply
    assert Policy(action="login", reports_action=False).check(ok(action="x")).success


def test_default_action_applies_when_neither_call_nor_app_names_one():
    policy = Policy(default_action="submit", action_required=True)
    assert policy.check(ok(action="submit")).success
    assert policy.check(ok(action="login")).error_codes == ("action-mismatch",)
    assert policy.check(ok()).error_codes == ("action-mismatch",)
    assert policy.check(ok(action="login"), action="login").success  # the call's action wins
    app = Policy(action="login", default_action="submit", action_required=True)
    assert app.check(ok(action="login")).success  # then the app's
    assert app.check(ok(action="submit")).error_codes == ("action-mismatch",)


def test_every_failure_gets_its_code():
    policy = Policy(min_score=0.5, action="a", hostnames=("h.test",), max_age=10)
    result = policy.check(
        ok(score=0.1, action="b", hostname="x.test", challenge_ts="2025-03-01T11:00:00Z"),
        now=NOW,
    )
    assert result.error_codes == (
        "score-too-low",
        "action-mismatch",
        "hostname-mismatch",
        "challenge-too-old",
    )


def test_failures_pass_through_untouched():
    failed = VerificationResult.failure("test", ["timeout-or-duplicate"])
    assert Policy(min_score=0.9).check(failed) is failed


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("example.com", True),
        ("EXAMPLE.com.", True),
        ("shop.example.org", True),
        ("a.b.example.org", True),
        ("example.org", False),  # *.example.org: subdomains only
        ("evilexample.com", False),
        ("example.com.evil.test", False),
        ("", False),
    ],
)
def test_hostnames(host, allowed):
    assert hostname_allowed(host, ("Example.com", "*.example.org")) is allowed


def test_host_of_origins():
    assert host_of("https://Shop.Example.org:8443") == "shop.example.org"
    assert host_of("example.com") == "example.com"
    assert host_of(None) is None and host_of("") is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2025-03-01T12:00:00Z", NOW),
        ("2025-03-01T12:00:00.123Z", NOW + timedelta(milliseconds=123)),
        ("2025-03-01T12:00:00.1234567Z", NOW + timedelta(microseconds=123456)),
        ("2025-03-01T14:00:00+02:00", NOW),
        ("2025-03-01T07:00:00-0500", NOW),
        ("2025-03-01 12:00:00", NOW),
        (1740830400, NOW),
        (1740830400000, NOW),
        (1740830400.5, NOW + timedelta(milliseconds=500)),
    ],
)
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "yesterday",
        "2025-13-01T00:00:00Z",
        True,
        [],
        1e30,
        "2026-01-01T00:00:00+99:00",  # an offset of a day or more
        "2026-01-01T00:00:00-24:00",
        "2026-01-01T00:00:00+23:60",
        "0001-01-01T00:00:00+05:00",  # before the first representable UTC moment
        "9999-12-31T23:59:59-05:00",  # after the last
        "2026-01-01T00:00:00+\u0661\u0662:00",  # non-ASCII digits
    ],
)
def test_unreadable_timestamps(value):
    assert parse_timestamp(value) is None


@pytest.mark.parametrize("stamp", ["2025-03-01T12:00:00+99:00", "0001-01-01T00:00:00+05:00"])
def test_an_impossible_offset_fails_the_age_check(stamp):
    result = Policy(max_age=120).check(ok(challenge_ts=stamp), now=NOW)
    assert not result.success and result.error_codes == ("challenge-ts-invalid",)


def test_iso_timestamp():
    assert iso_timestamp(1740830400) == "2025-03-01T12:00:00Z"
    assert iso_timestamp("2025-03-01T12:00:00Z") == "2025-03-01T12:00:00Z"
    assert iso_timestamp(None) is None


def test_max_age():
    policy = Policy(max_age=120)
    fresh = (NOW - timedelta(seconds=119)).isoformat()
    stale = (NOW - timedelta(seconds=121)).isoformat()
    future = (NOW + timedelta(hours=1)).isoformat()
    assert policy.check(ok(challenge_ts=fresh), now=NOW).success
    assert policy.check(ok(challenge_ts=stale), now=NOW).error_codes == ("challenge-too-old",)
    assert policy.check(ok(challenge_ts=future), now=NOW).error_codes == ("challenge-ts-invalid",)
    assert policy.check(ok(), now=NOW).error_codes == ("challenge-ts-invalid",)
    assert Policy().check(ok(), now=NOW).success  # no max age: no timestamp needed
