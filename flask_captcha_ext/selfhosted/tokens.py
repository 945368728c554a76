"""Short-lived success tokens: HS256 JWTs (``jws.py``) that the store lets through exactly once.

A token proves that a challenge of one site key was solved, of which type, on which host and for
which action. Its ``aud`` names the store epoch it was issued under (stores/base.py): a random id
kept in the store, so every worker and host sharing the store accepts it, and an app that merely
shares the SECRET_KEY (another deployment, a copy of the README's example) does not. Its ``jti``
is claimed atomically in the store on first verification, within that epoch, so a replay fails
even on another worker or host, and even after the store lost its data: a store that lost it is in
a new epoch, which refuses every token issued before (``token-invalid``, logged).

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

from ..result import VerificationResult
from ..stores import Store, StoreUnavailable
from ..stores.base import EpochChanged
from . import jws

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


def looks_like_own_token(token: Any) -> bool:
    """Whether ``token`` claims to be one of our JWTs (unverified: only to pick a verifier)."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > MAX_TOKEN_LENGTH:
        return False
    if not token.isascii():
        return False
    try:
        return jws.unverified_claims(token).get("iss") == ISSUER
    except jws.InvalidToken:
        return False


#: Claims every token must carry (not null), as PyJWT's ``require`` option checks them.
REQUIRED = ("iss", "aud", "sub", "jti", "iat", "exp", "typ", "wrk")


class _OtherEpoch(jws.InvalidToken):
    """A signed token of ours whose ``aud`` is not the store epoch it was checked against."""


class TokenService:
    """Issues and verifies success tokens for one app."""

    def __init__(
        self, secret: bytes, store: Store, ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self._store = store
        self.ttl = ttl
        self._clock = clock  # wall-clock seconds; tests inject a skewed one

    def issue(
        self,
        site_id: str,
        challenge_type: str,
        hostname: Optional[str] = None,
        action: Optional[str] = None,
        work: float = 1.0,
        epoch: Optional[str] = None,
    ) -> str:
        """A token for ``site_id``, valid ``ttl`` seconds, once, in this store epoch only
        (``epoch``: the one the caller just acted in; default: as this process last saw it)."""
        now = int(self._clock())
        claims: Dict[str, Any] = {
            "iss": ISSUER,
            "aud": epoch or self._store.epoch().id,
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
        return jws.sign(payload, self._secret)

    def _decode(self, token: str) -> Dict[str, Any]:
        """The token's claims once its signature, issuer and audience check out.

        The audience must be the store's epoch. The epoch this process last saw is tried first;
        a token of another epoch has it read afresh once (another worker may have noticed a
        new epoch first), so only signed tokens ever cost that read.
        """
        claims = jws.verify(token, self._secret)
        if any(claims.get(name) is None for name in REQUIRED) or claims["iss"] != ISSUER:
            raise jws.InvalidToken("not a token of ours")
        if claims["aud"] == self._store.epoch().id:
            return claims
        if not isinstance(claims["aud"], str) or claims["aud"] != self._store.epoch(fresh=True).id:
            raise _OtherEpoch("issued under another store epoch")
        return claims

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
            claims = self._decode(token)
        except StoreUnavailable:
            return VerificationResult.failure(PROVIDER, [STORE_DOWN])
        except _OtherEpoch:
            log.info(
                "self-hosted token refused: issued under another store epoch (before this "
                "store lost or replaced its data, or by another deployment sharing the secret)"
            )
            return VerificationResult.failure(PROVIDER, [INVALID])
        except jws.InvalidToken:
            return VerificationResult.failure(PROVIDER, [INVALID])
        if not all(isinstance(claims.get(name), str) for name in ("jti", "sub", "typ", "aud")):
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
            first = self._store.claim("jti:" + claims["jti"], keep, epoch=claims["aud"])
        except StoreUnavailable as exc:
            return VerificationResult.failure(PROVIDER, [store_error(exc)], claims)
        except EpochChanged as changed:
            log.info(
                "self-hosted token refused: issued under store epoch %s, but the store is now "
                "in %s (begun %s): it lost or replaced its data, and the token may have been "
                "spent before",
                changed.expected,
                changed.current.id,
                _when(changed.current.began),
            )
            return VerificationResult.failure(PROVIDER, [INVALID], claims)
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


def _when(timestamp: float) -> str:
    """A wall-clock time for a log line (UTC, seconds)."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


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
