"""The outcome of a check, and the errors every provider maps its failures onto.

A provider never raises to its caller: every failure becomes a ``VerificationResult`` with
``success=False`` and one or more error codes. The exception classes exist so that provider
modules can share one vocabulary (and one mapping to codes) for what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional, Sequence, Tuple


@dataclass(frozen=True)
class VerificationResult:
    """What one verification decided, and why.

    ``score`` is normalised so that higher always means *more likely human* (0.0 .. 1.0),
    whatever direction the provider uses; the provider's own reply stays in ``raw``. Self-hosted
    tokens carry no score; they say which ``challenge_type`` was solved and how much ``work`` it
    demanded (in base challenges: 1 is what a visitor under no pressure pays). ``fallback`` marks a
    self-hosted token accepted in a third-party provider's place (CAPTCHA_FALLBACK): a weaker
    path a view may treat differently.
    """

    success: bool
    provider: str
    score: Optional[float] = None
    action: Optional[str] = None
    hostname: Optional[str] = None
    challenge_ts: Optional[str] = None
    error_codes: Tuple[str, ...] = ()
    fail_open: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)
    challenge_type: Optional[str] = None
    work: Optional[float] = None
    fallback: bool = False

    def __bool__(self) -> bool:
        return self.success

    def failed(self, *codes: str) -> VerificationResult:
        """A copy of this result turned into a failure with ``codes`` added."""
        merged = tuple(dict.fromkeys((*self.error_codes, *codes)))
        return replace(self, success=False, error_codes=merged)

    @classmethod
    def failure(
        cls, provider: str, codes: Sequence[str], raw: Optional[Mapping[str, Any]] = None
    ) -> VerificationResult:
        return cls(success=False, provider=provider, error_codes=tuple(codes), raw=dict(raw or {}))


class CaptchaError(Exception):
    """Base of every verification failure; ``code`` is the error code put in results."""

    code = "unknown-error"

    def __init__(self, detail: str = "", code: Optional[str] = None) -> None:
        super().__init__(detail or self.__class__.__doc__ or self.code)
        if code:
            self.code = code

    @property
    def detail(self) -> str:
        return str(self.args[0])


class ApiKeyInvalid(CaptchaError):
    """The provider rejected our secret or API key."""

    code = "invalid-input-secret"


class TokenInvalid(CaptchaError):
    """The token is malformed, forged or was issued for something else."""

    code = "invalid-input-response"


class TokenMissing(CaptchaError):
    """No token was sent."""

    code = "missing-input-response"


class NotFound(CaptchaError):
    """The provider knows no verification for this token."""

    code = "verification-not-found"


class NotFinished(CaptchaError):
    """The visitor has not finished the challenge yet."""

    code = "verification-not-finished"


class ExpiredOrDuplicate(CaptchaError):
    """The token expired or was already used."""

    code = "timeout-or-duplicate"


class RetrievalLimit(CaptchaError):
    """The provider refuses to hand out this result again."""

    code = "retrieval-limit-reached"


class ServerUnreachable(CaptchaError):
    """The provider could not be reached (or answered with garbage); the only fail-open case."""

    code = "server-unreachable"


class ClientReportedUnreachable(CaptchaError):
    """The widget claims the provider was down; never trusted on its own."""

    code = "client-reported-unreachable"


class UnknownError(CaptchaError):
    """The provider answered in a way we do not understand."""

    code = "unknown-error"
