"""The self-hosted CAPTCHA service: generate, validate and check, with no Flask in sight.

The HTTP layer parses and answers; this module decides; the store only keeps. Every refusal is an
``ApiError`` carrying the HTTP status and a ``detail`` that tells the client what is wrong.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ..result import VerificationResult
from ..settings import Settings
from ..stores import Store, StoreUnavailable
from .challenges import ChallengeKind
from .ratelimit import RateLimiter
from .sitekeys import SiteKey, SiteKeyRegistry
from .tokens import MISSING, PROVIDER, STORE_DOWN, TokenService

CHALLENGE_PREFIX = "challenge:"
MAX_ID_LENGTH = 64
MAX_INPUT_LENGTH = 4096


class ApiError(Exception):
    """A refusal of the self-hosted API: HTTP status, detail and extra headers."""

    def __init__(self, status: int, detail: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class CaptchaService:
    """Issues challenges, checks answers, and hands out single-use success tokens."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        kinds: Mapping[str, ChallengeKind],
        site_keys: SiteKeyRegistry,
        tokens: TokenService,
        limiter: RateLimiter,
    ) -> None:
        self.settings = settings
        self.store = store
        self.kinds = kinds
        self.site_keys = site_keys
        self.tokens = tokens
        self.limiter = limiter
        # Set only by flask_captcha_ext.testing, and only for apps in testing mode.
        self.answer_observer: Optional[Callable[[str, str], None]] = None

    # -- the API ---------------------------------------------------------------------------

    def generate(self, site_key: Any, kind_name: Any, client_ip: str) -> Dict[str, Any]:
        """A new challenge of ``kind_name`` for ``site_key``; the answer stays in the store."""
        key = self._site_key(site_key)
        allowed_kinds = [k for k in self.settings.challenge_types if k in self.kinds]
        if not isinstance(kind_name, str) or kind_name not in allowed_kinds:
            allowed = ", ".join(allowed_kinds)
            raise ApiError(400, f"'type' must be one of: {allowed}")
        s = self.settings
        self._limit(s.rate_limit_generate, "generate", "key", key.id)
        self._limit(s.rate_limit_ip_generate, "generate", "ip", client_ip)
        return self.new_challenge(key, kind_name)

    def new_challenge(self, key: SiteKey, kind_name: str) -> Dict[str, Any]:
        """Create and store a challenge without rate limiting (for server-rendered fallbacks)."""
        challenge_id = secrets.token_urlsafe(18)
        public, state, answer = self.kinds[kind_name].create(challenge_id)
        if self.answer_observer is not None:
            self.answer_observer(challenge_id, answer)
        record = {"k": kind_name, "s": key.id, "st": state, "t": time.time()}
        self.store.put(CHALLENGE_PREFIX + challenge_id, json.dumps(record), self.settings.challenge_ttl)
        return {
            "captcha_id": challenge_id,
            "type": kind_name,
            **public,
            "expires_in": self.settings.challenge_ttl,
        }

    def validate(
        self, site_key: Any, captcha_id: Any, user_input: Any, client_ip: str
    ) -> Dict[str, Any]:
        """Spend the challenge and answer ``{"valid": True, "token"}`` or ``{"valid": False}``."""
        key = self._site_key(site_key)
        if not isinstance(captcha_id, str) or not 0 < len(captcha_id) <= MAX_ID_LENGTH:
            raise ApiError(400, "'captcha_id' must be a non-empty string")
        if isinstance(user_input, bool) or not isinstance(user_input, (str, int)):
            raise ApiError(400, "'user_input' must be a string")
        if len(str(user_input)) > MAX_INPUT_LENGTH:
            raise ApiError(400, f"'user_input' is longer than {MAX_INPUT_LENGTH} characters")
        s = self.settings
        self._limit(s.rate_limit_validate, "validate", "key", key.id)
        self._limit(s.rate_limit_ip_validate, "validate", "ip", client_ip)
        solved, kind_name = self.solve(key, captcha_id, user_input)
        if not solved:
            return {"valid": False}
        return {"valid": True, "token": self.tokens.issue(key.id, kind_name)}

    def solve(self, key: SiteKey, captcha_id: str, user_input: Any) -> Tuple[bool, str]:
        """Spend challenge ``captcha_id`` of ``key``: whether ``user_input`` solves it, and its kind.

        The first attempt spends the challenge, right or wrong. An unknown, expired, spent or
        other-site challenge is an ApiError (400), not a mere wrong answer.
        """
        text = self.store.take(CHALLENGE_PREFIX + captcha_id)
        if text is None:
            raise ApiError(400, "invalid, expired or already used captcha")
        record = json.loads(text)
        if not secrets.compare_digest(record["s"], key.id):
            raise ApiError(400, "invalid, expired or already used captcha")
        kind_name = record["k"]
        return self.kinds[kind_name].check(captcha_id, record["st"], user_input), kind_name

    def check_answer(self, captcha_id: Any, answer: Any) -> VerificationResult:
        """Check a server-rendered (no-JavaScript) challenge of the app's own key, spending it."""
        if not isinstance(captcha_id, str) or not 0 < len(captcha_id) <= MAX_ID_LENGTH:
            return VerificationResult.failure(PROVIDER, [MISSING])
        if not isinstance(answer, str) or len(answer) > MAX_INPUT_LENGTH:
            return VerificationResult.failure(PROVIDER, ["invalid-input-response"])
        try:
            solved, kind_name = self.solve(self.site_keys.own, captcha_id, answer)
        except ApiError:
            return VerificationResult.failure(PROVIDER, ["challenge-invalid-or-used"])
        except StoreUnavailable:
            return VerificationResult.failure(PROVIDER, [STORE_DOWN])
        if not solved:
            return VerificationResult.failure(PROVIDER, ["wrong-answer"])
        return VerificationResult(success=True, provider=PROVIDER, score=1.0, raw={"type": kind_name})

    def verify_token(self, token: Any, site_id: Optional[str]) -> VerificationResult:
        """Verify (and spend) a success token of ``site_id``."""
        return self.tokens.verify(token, site_id)

    # -- helpers ---------------------------------------------------------------------------

    def _site_key(self, site_key: Any) -> SiteKey:
        if not isinstance(site_key, str) or not site_key:
            raise ApiError(400, "'site_key' must be a non-empty string")
        key = self.site_keys.lookup(site_key[:256])
        if key is None:
            raise ApiError(403, "unknown site key")
        if key.revoked:
            raise ApiError(403, "this site key has been revoked")
        return key

    def _limit(self, items: Any, endpoint: str, scope: str, ident: str) -> None:
        retry_after = self.limiter.hit(items, endpoint, scope, ident)
        if retry_after is not None:
            raise ApiError(
                429,
                f"rate limit exceeded for this {'site key' if scope == 'key' else 'client'}; "
                f"retry in {retry_after} s",
                {"Retry-After": str(retry_after)},
            )
