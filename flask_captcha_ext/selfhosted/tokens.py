"""Short-lived success tokens: HS256 JWTs that the store lets through exactly once.

A token proves that a challenge of one site key was solved, of which type, on which host and for
which action. Its ``aud`` names the deployment that issued it: a random id kept once in the store,
so every worker and host sharing the store accepts it, and an app that merely shares the
SECRET_KEY (another deployment, a copy of the README's example) does not. Its ``jti`` is claimed
atomically in the store on first verification, so a replay fails even on another worker or host.

Clocks: hosts that share a store may disagree by a few seconds. A token is accepted up to
:data:`CLOCK_LEEWAY` seconds before its ``iat`` and after its ``exp`` by the verifier's clock, and
its claim lives for the token's whole lifetime plus the leeway and :data:`CLAIM_MARGIN`, never for
``exp`` minus the local time: a verifier whose clock runs ahead must not let the claim lapse while
another host still accepts the token.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional

import jwt
from jwt.algorithms import HMACAlgorithm

from ..result import VerificationResult
from ..stores import Store, StoreUnavailable

log = logging.getLogger("flask_captcha_ext")

ISSUER = "flask-captcha-ext"
MAX_TOKEN_LENGTH = 4096
PROVIDER = "selfhosted"

# Error codes of token verification (each failure has its own).
MISSING = "missing-input-response"
INVALID = "token-invalid"
EXPIRED = "token-expired"
WRONG_SITE = "token-site-mismatch"
DUPLICATE = "token-duplicate"
STORE_DOWN = "store-unavailable"
#: The store was sent the claim (or take) but never answered: the token (or challenge) may be
#: spent, so the visitor needs a new challenge.
STORE_TIMEOUT = "store-timeout"
RATE_LIMITED = "rate-limited"
#: Seconds of clock difference between hosts that verification tolerates (on ``iat`` and ``exp``).
CLOCK_LEEWAY = 5
#: Seconds a claim outlives the token it spends, beyond its lifetime and the leeway.
CLAIM_MARGIN = 60
#: Where the deployment id lives in the store (no TTL).
DEPLOYMENT_KEY = "deployment"


def looks_like_own_token(token: Any) -> bool:
    """Whether ``token`` claims to be one of our JWTs (unverified: only to pick a verifier)."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > MAX_TOKEN_LENGTH:
        return False
    if not token.isascii():
        return False
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss") == ISSUER
    except jwt.InvalidTokenError:
        return False


class _CheckedKeyHMAC(HMACAlgorithm):
    """HS256 whose key PyJWT has checked once, not on every token it signs (that check dominated
    issuing, validate's hot path). ``verify`` goes through ``jwt.decode``, which checks it each
    time (about 11 us of its 60)."""

    def __init__(self, secret: bytes) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._secret = secret
        self._prepared = super().prepare_key(secret)

    def prepare_key(self, key: Any) -> bytes:
        return self._prepared if key is self._secret else super().prepare_key(key)


class TokenService:
    """Issues and verifies success tokens for one app."""

    def __init__(
        self, secret: bytes, store: Store, ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self._store = store
        self.ttl = ttl
        self._clock = clock  # wall-clock seconds; tests inject a skewed one
        self._signer = jwt.PyJWS(algorithms=[])
        self._signer.register_algorithm("HS256", _CheckedKeyHMAC(secret))
        self._deployment: Optional[str] = None

    def deployment(self) -> str:
        """This deployment's id (the ``aud`` of its tokens): made once, kept in the store, read
        once per process. Raises StoreUnavailable when the store cannot tell."""
        if self._deployment is None:
            self._store.claim(DEPLOYMENT_KEY, None, secrets.token_urlsafe(16))
            value = self._store.get(DEPLOYMENT_KEY)
            if not value:
                raise StoreUnavailable("the store did not keep the deployment id")
            self._deployment = value
        return self._deployment

    def issue(
        self,
        site_id: str,
        challenge_type: str,
        hostname: Optional[str] = None,
        action: Optional[str] = None,
        work: float = 1.0,
    ) -> str:
        """A token for ``site_id``, valid ``ttl`` seconds, once, in this deployment only."""
        now = int(self._clock())
        claims: Dict[str, Any] = {
            "iss": ISSUER,
            "aud": self.deployment(),
            "sub": site_id,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + self.ttl,
            "typ": challenge_type,
            "wrk": work,
        }
        if hostname:
            claims["hst"] = hostname
        if action:
            claims["act"] = action
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return self._signer.encode(payload, self._secret, algorithm="HS256", headers={"typ": "JWT"})

    def verify(self, token: Any, site_id: Optional[str]) -> VerificationResult:
        """Check signature, issuer, audience, expiry and site, then spend the token.

        ``site_id`` None accepts any site key of this deployment (the caller checks it). The
        result carries the token's challenge type, hostname and action for the policy.
        """
        if not isinstance(token, str) or not token:
            return VerificationResult.failure(PROVIDER, [MISSING])
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return VerificationResult.failure(PROVIDER, [INVALID])
        try:
            audience = self.deployment()
        except StoreUnavailable:
            return VerificationResult.failure(PROVIDER, [STORE_DOWN])
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=ISSUER,
                audience=audience,
                options={
                    "require": ["iss", "aud", "sub", "jti", "iat", "exp", "typ", "wrk"],
                    "verify_exp": False,  # checked below, on self._clock with the leeway
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidAudienceError:
            log.info("self-hosted token of another deployment refused (same secret, other store)")
            return VerificationResult.failure(PROVIDER, [INVALID])
        except jwt.InvalidTokenError:
            return VerificationResult.failure(PROVIDER, [INVALID])
        if not all(isinstance(claims.get(name), str) for name in ("jti", "sub", "typ")):
            return VerificationResult.failure(PROVIDER, [INVALID])
        lifetime = _lifetime(claims)
        if lifetime is None:
            return VerificationResult.failure(PROVIDER, [INVALID])
        now = self._clock()
        if claims["iat"] > now + CLOCK_LEEWAY:
            log.info("self-hosted token issued %.0f s in the future refused", claims["iat"] - now)
            return VerificationResult.failure(PROVIDER, [INVALID])
        if claims["exp"] <= now - CLOCK_LEEWAY:
            return VerificationResult.failure(PROVIDER, [EXPIRED])
        work = claims["wrk"]
        if isinstance(work, bool) or not isinstance(work, (int, float)):
            return VerificationResult.failure(PROVIDER, [INVALID])
        if site_id is not None and not secrets.compare_digest(claims["sub"], site_id):
            return VerificationResult.failure(PROVIDER, [WRONG_SITE], claims)
        keep = lifetime + CLOCK_LEEWAY + CLAIM_MARGIN  # the whole lifetime, whatever our clock
        try:
            first = self._store.claim("jti:" + claims["jti"], keep)
        except StoreUnavailable as exc:
            return VerificationResult.failure(PROVIDER, [store_error(exc)], claims)
        if not first:
            return VerificationResult.failure(PROVIDER, [DUPLICATE], claims)
        issued = datetime.fromtimestamp(int(claims["iat"]), tz=timezone.utc)
        return VerificationResult(
            success=True,
            provider=PROVIDER,
            hostname=claims.get("hst"),
            action=claims.get("act"),
            challenge_ts=issued.isoformat().replace("+00:00", "Z"),
            raw=claims,
            challenge_type=claims["typ"],
            work=float(work),
        )


def store_error(exc: StoreUnavailable) -> str:
    """The error code of a store failure while spending: :data:`STORE_TIMEOUT` when the
    operation may have been applied (ask for a new challenge), else :data:`STORE_DOWN`."""
    return STORE_TIMEOUT if exc.maybe_done else STORE_DOWN


def _lifetime(claims: Dict[str, Any]) -> Optional[float]:
    """Seconds from ``iat`` to ``exp`` when both are numbers and ``exp`` is later, else None."""
    iat, exp = claims.get("iat"), claims.get("exp")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in (iat, exp)):
        return None
    return float(exp - iat) if exp > iat else None
