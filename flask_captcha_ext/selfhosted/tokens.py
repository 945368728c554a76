"""Short-lived success tokens: HS256 JWTs that the store lets through exactly once.

A token proves that a challenge of one site key was solved. Its ``jti`` is claimed atomically in the
store on first verification, so a replay fails even on another worker or host.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Dict, Optional

import jwt
from jwt.algorithms import HMACAlgorithm

from ..result import VerificationResult
from ..stores import Store, StoreUnavailable

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
RATE_LIMITED = "rate-limited"


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

    def __init__(self, secret: bytes, store: Store, ttl: int) -> None:
        self._secret = secret
        self._store = store
        self.ttl = ttl
        self._signer = jwt.PyJWS(algorithms=[])
        self._signer.register_algorithm("HS256", _CheckedKeyHMAC(secret))

    def issue(self, site_id: str, challenge_type: str, hostname: Optional[str] = None) -> str:
        """A token for ``site_id``, valid ``ttl`` seconds and once."""
        now = int(time.time())
        claims: Dict[str, Any] = {
            "iss": ISSUER,
            "sub": site_id,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + self.ttl,
            "typ": challenge_type,
        }
        if hostname:
            claims["hst"] = hostname
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return self._signer.encode(payload, self._secret, algorithm="HS256", headers={"typ": "JWT"})

    def verify(self, token: Any, site_id: Optional[str]) -> VerificationResult:
        """Check signature, issuer, expiry and site, then spend the token.

        ``site_id`` None accepts any site key of this deployment (the caller checks it).
        """
        if not isinstance(token, str) or not token:
            return VerificationResult.failure(PROVIDER, [MISSING])
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return VerificationResult.failure(PROVIDER, [INVALID])
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["iss", "sub", "jti", "iat", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            return VerificationResult.failure(PROVIDER, [EXPIRED])
        except jwt.InvalidTokenError:
            return VerificationResult.failure(PROVIDER, [INVALID])
        if not isinstance(claims.get("jti"), str) or not isinstance(claims.get("sub"), str):
            return VerificationResult.failure(PROVIDER, [INVALID])
        if site_id is not None and not secrets.compare_digest(claims["sub"], site_id):
            return VerificationResult.failure(PROVIDER, [WRONG_SITE], claims)
        left = max(1.0, float(claims["exp"]) - time.time() + 1.0)
        try:
            first = self._store.claim("jti:" + claims["jti"], left)
        except StoreUnavailable:
            return VerificationResult.failure(PROVIDER, [STORE_DOWN], claims)
        if not first:
            return VerificationResult.failure(PROVIDER, [DUPLICATE], claims)
        issued = datetime.fromtimestamp(int(claims["iat"]), tz=timezone.utc)
        return VerificationResult(
            success=True,
            provider=PROVIDER,
            score=1.0,
            hostname=claims.get("hst"),
            challenge_ts=issued.isoformat().replace("+00:00", "Z"),
            raw=claims,
        )
