"""The result policy every provider applies after the provider itself said yes.

A provider's "success" only means the token was genuine. Whether it was genuine *for this form* is
ours to check: the challenge type (self-hosted tokens), the score threshold, the expected action,
the hostname the challenge was solved on, and how long ago. Each failed check adds its own error
code, so logs say exactly what was wrong. Comparisons of actions and hostnames are
case-insensitive (as in Google's official PHP client).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit

from ..result import VerificationResult

SCORE_TOO_LOW = "score-too-low"
SCORE_MISSING = "score-missing"
ACTION_MISMATCH = "action-mismatch"
HOSTNAME_MISMATCH = "hostname-mismatch"
CHALLENGE_TOO_OLD = "challenge-too-old"
CHALLENGE_TS_INVALID = "challenge-ts-invalid"
TYPE_NOT_ALLOWED = "challenge-type-not-allowed"
WORK_TOO_LOW = "work-too-low"
#: How far in the future a challenge timestamp may lie (clock skew) before it is refused.
CLOCK_SKEW = timedelta(seconds=300)

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE | re.ASCII,
)


@dataclass(frozen=True)
class Policy:
    """The app's checks (CAPTCHA_MIN_SCORE, _ACTION, _HOSTNAMES, _MAX_AGE) and a provider's rules.

    ``default_min_score`` applies when neither the call nor the app sets a threshold;
    ``score_required``: a reply without a score fails (reCAPTCHA v3, TrustCaptcha);
    ``default_action`` is expected when neither the call nor the app names an action (reCAPTCHA
    v3: the action its widget sends by default);
    ``action_required``: a reply without an action fails when one is expected (v3, Turnstile);
    providers that never report actions ignore the expected action;
    ``types``: the challenge types a self-hosted token may have (None: not a self-hosted policy;
    a call's ``types`` can only narrow them).
    """

    min_score: Optional[float] = None
    action: Optional[str] = None
    hostnames: Optional[Tuple[str, ...]] = None
    max_age: Optional[float] = None
    default_min_score: Optional[float] = None
    default_action: Optional[str] = None
    score_required: bool = False
    action_required: bool = False
    reports_action: bool = True
    types: Optional[Tuple[str, ...]] = None
    min_work: Optional[float] = None

    @classmethod
    def from_settings(cls, settings: Any, **rules: Any) -> Policy:
        return cls(
            min_score=settings.min_score,
            action=settings.action,
            hostnames=settings.hostnames,
            max_age=settings.max_age,
            **rules,
        )

    def check(
        self,
        result: VerificationResult,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        now: Optional[datetime] = None,
        types: Optional[Tuple[str, ...]] = None,
        min_work: Optional[float] = None,
    ) -> VerificationResult:
        """``result`` unchanged when every check passes, else failed with one code per check."""
        if not result.success:
            return result
        codes: List[str] = self._types(result.challenge_type, types)
        codes += self._work(result.work, min_work)
        if not result.fail_open:  # a failover pass has no meaningful score
            codes += self._score(result.score, min_score)
        codes += self._action(result.action, action)
        codes += self._hostname(result.hostname)
        codes += self._age(result.challenge_ts, now)
        if not codes:
            return result
        return replace(result.failed(*codes), fail_open=False)

    def _types(self, got: Optional[str], wanted: Optional[Tuple[str, ...]]) -> List[str]:
        if self.types is None:
            return []
        allowed = self.types if wanted is None else [t for t in wanted if t in self.types]
        return [] if got in allowed else [TYPE_NOT_ALLOWED]

    def _work(self, work: Optional[float], wanted: Optional[float]) -> List[str]:
        """A self-hosted token must show the work the call or the policy asks (the higher)."""
        if self.types is None:
            return []
        needed = max(wanted or 0.0, self.min_work or 0.0)
        return [WORK_TOO_LOW] if needed and (work or 0.0) < needed else []

    def _score(self, score: Optional[float], min_score: Optional[float]) -> List[str]:
        threshold = next(
            (t for t in (min_score, self.min_score, self.default_min_score) if t is not None), None
        )
        if score is None:
            return [SCORE_MISSING] if self.score_required else []
        if threshold is not None and score < threshold:
            return [SCORE_TOO_LOW]
        return []

    def _action(self, got: Optional[str], wanted: Optional[str]) -> List[str]:
        wanted = next(
            (a for a in (wanted, self.action, self.default_action) if a is not None), None
        )
        if not wanted or not self.reports_action:
            return []
        if not got:
            return [ACTION_MISMATCH] if self.action_required else []
        return [] if got.casefold() == wanted.casefold() else [ACTION_MISMATCH]

    def _hostname(self, got: Optional[str]) -> List[str]:
        if not self.hostnames:
            return []
        return [] if got and hostname_allowed(got, self.hostnames) else [HOSTNAME_MISMATCH]

    def _age(self, challenge_ts: Optional[str], now: Optional[datetime]) -> List[str]:
        if self.max_age is None:
            return []
        solved = parse_timestamp(challenge_ts)
        if solved is None:
            return [CHALLENGE_TS_INVALID]
        now = now or datetime.now(timezone.utc)
        if solved - now > CLOCK_SKEW:
            return [CHALLENGE_TS_INVALID]
        if (now - solved).total_seconds() > self.max_age:
            return [CHALLENGE_TOO_OLD]
        return []


def hostname_allowed(hostname: str, allowed: Tuple[str, ...]) -> bool:
    """Whether ``hostname`` is one of ``allowed``; ``*.example.com`` matches its subdomains only."""
    host = hostname.strip().rstrip(".").casefold()
    for pattern in allowed:
        pattern = pattern.strip().rstrip(".").casefold()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def host_of(origin: Any) -> Optional[str]:
    """The hostname of an origin such as ``https://example.com:8443`` (or a bare hostname)."""
    if not isinstance(origin, str) or not origin:
        return None
    if "://" in origin:
        try:
            return urlsplit(origin).hostname
        except ValueError:
            return None
    return origin


def parse_timestamp(value: Any) -> Optional[datetime]:
    """An aware datetime from ISO 8601 text or Unix seconds/milliseconds; None if unreadable.

    Written out rather than ``datetime.fromisoformat`` because Python 3.9/3.10 reject the ``Z``
    suffix and 7+ digit fractions that providers send.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    match = _ISO.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        tz = timezone.utc
        if zone and zone.upper() != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            # timezone() refuses offsets of a day or more ("+99:00"): unreadable, like a bad date.
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
        return stamp.astimezone(timezone.utc)  # OverflowError at the ends of the calendar
    except (ValueError, OverflowError):
        return None


def iso_timestamp(value: Any) -> Optional[str]:
    """A provider's timestamp as text for ``VerificationResult.challenge_ts``."""
    if isinstance(value, str):
        return value or None
    parsed = parse_timestamp(value)
    return parsed.isoformat().replace("+00:00", "Z") if parsed else None
