"""Our rate-limit strings and counter names are the ``limits`` library's, string for string."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_captcha_ext.rates import RateLimit, parse_many, per_minute

limits = pytest.importorskip("limits")

SAMPLES = [
    "100/hour",
    "200/hour",
    "10/minute;1000/day",
    "1 per second, 5 per 2 minutes | 7/3 Hours",
    "  3 / 0 days ",
    "1/second:;2/minute",
    "5 PER MONTH",
    "2/years",
    "1/fortnight",
    "",
    "/hour",
    "1/",
    "one/hour",
    "1/hour;",
    "1/hour;;2/day",
    "-1/hour",
    "1.5/hour",
    "1/\u212aminute",
]


def _theirs(text):
    try:
        return [(i.amount, i.multiples, i.GRANULARITY.name) for i in limits.parse_many(text)]
    except ValueError:
        return "ValueError"


def _ours(text):
    try:
        return [tuple(item) for item in parse_many(text)]
    except ValueError:
        return "ValueError"


@pytest.mark.parametrize("text", SAMPLES)
def test_parses_as_limits_does(text):
    assert _ours(text) == _theirs(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 /;,|:per PERsecondminutehourdaymonthyear", max_size=30))
def test_parses_any_string_as_limits_does(text):
    assert _ours(text) == _theirs(text)


@pytest.mark.parametrize("text", ["100/hour", "7 per 3 minutes", "1/second", "2/month", "1/year"])
def test_counter_names_and_windows_are_limits_own(text):
    (ours,), (theirs,) = parse_many(text), limits.parse_many(text)
    ids = ("validate", "ip", "127.0.0.1")
    assert ours.key_for(*ids) == theirs.key_for(*ids)
    assert ours.get_expiry() == theirs.get_expiry()
    assert ours.amount == theirs.amount


def test_per_minute():
    assert per_minute(12) == RateLimit(12, 1, "minute")
    assert per_minute(12).key_for("live") == limits.RateLimitItemPerMinute(12).key_for("live")


def test_not_a_string_is_a_value_error():
    with pytest.raises(ValueError):
        parse_many(None)  # type: ignore[arg-type]
