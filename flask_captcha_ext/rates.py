"""Rate limits written as strings ("100/hour", "10 per minute; 1000/day"), and their counters.

The notation, and the counter names each limit gives the store, are the ``limits`` library's
(``limits.parse_many``, ``RateLimitItem.key_for``), so existing settings, site keys' own limits
and counters already in a store mean what they meant. Only this much of ``limits`` was used, and
importing it cost every app ~20 ms at start: its package imports all its storage backends, the
asyncio ones included. ``tests/test_rates.py`` checks both against the library.
"""

from __future__ import annotations

import re
from typing import Any, List, NamedTuple

#: Seconds in one unit of each granularity (a month is 30 days, a year 12 such months).
GRANULARITIES = {
    "year": 60 * 60 * 24 * 30 * 12,
    "month": 60 * 60 * 24 * 30,
    "day": 60 * 60 * 24,
    "hour": 60 * 60,
    "minute": 60,
    "second": 1,
}
NAMESPACE = "LIMITER"

_ONE = r"\s*([0-9]+)\s*(/|\s*per\s*)\s*([0-9]+)?\s*([a-z]+)\s*"
_SEPARATORS = re.compile(r"[,;|]{1}")
_SINGLE = re.compile(_ONE, re.IGNORECASE)
# "(:?" as in limits (an optional colon before each separator), so both accept the same strings.
_MANY = re.compile(rf"^{_ONE}(:?[,;|]{{1}}{_ONE})*$", re.IGNORECASE)


class RateLimit(NamedTuple):
    """``amount`` hits per ``multiples`` ``granularity`` (e.g. 100 per 1 hour), counted in
    fixed windows. Method names are ``limits``' ``RateLimitItem``'s."""

    amount: int
    multiples: int
    granularity: str

    def get_expiry(self) -> int:
        """The window, in seconds."""
        return GRANULARITIES[self.granularity] * self.multiples

    def key_for(self, *identifiers: Any) -> str:
        """The counter's name for ``identifiers`` (``limits``' own: ``LIMITER/a/b/100/1/hour``)."""
        parts = [NAMESPACE, *map(str, identifiers), str(self.amount), str(self.multiples)]
        return "/".join([*parts, self.granularity])

    def __str__(self) -> str:
        return f"{self.amount} per {self.multiples} {self.granularity}"


def per_minute(amount: int) -> RateLimit:
    return RateLimit(int(amount), 1, "minute")


def parse_many(text: str) -> List[RateLimit]:
    """The limits in ``text`` ("1/second; 5 per 2 minutes"); ValueError when it is not one."""
    if not (isinstance(text, str) and _MANY.match(text)):
        raise ValueError(f"couldn't parse rate limit string {text!r}")
    found = []
    for part in _SEPARATORS.split(text):
        match = _SINGLE.match(part)
        if match:
            amount, _, multiples, unit = match.groups()
            found.append(RateLimit(int(amount), int(multiples or 0) or 1, _granularity(unit)))
    return found


def _granularity(unit: str) -> str:
    unit = unit.lower()
    for name in GRANULARITIES:
        if unit in (name, name + "s"):
            return name
    raise ValueError(f"no granularity matched for {unit}")
