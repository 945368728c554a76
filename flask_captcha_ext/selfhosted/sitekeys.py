"""Site keys: who may ask for challenges, and the secret that verifies their tokens.

Only SHA-256 hashes of site keys and secrets are stored (both are long random strings, so a plain
hash is enough); a lost key cannot be recovered, only revoked and replaced. The app's own key pair
comes from settings and is never written to the store.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Tuple

from ..settings import derive_secret
from ..stores import Store

KEY_PREFIX = "sitekey:"
SECRET_PREFIX = "sitesecret:"  # noqa: S105 - a key prefix


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def key_id(site_key: str) -> str:
    """The public, stable id of a site key (the ``sub`` of its tokens)."""
    return _digest(site_key)[:20]


def derived_key_pair(master: bytes) -> Tuple[str, str]:
    """The app's own site key and secret, derived from its master secret."""

    def part(purpose: str, length: int) -> str:
        raw = derive_secret(master, purpose)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:length]

    return "sk_" + part("site-key", 24), "ss_" + part("secret-key", 40)


@dataclass(frozen=True)
class SiteKey:
    """A site key's record; ``id`` is public, neither the key nor its secret is kept."""

    id: str
    name: str
    secret_hash: str
    origins: Tuple[str, ...] = ()
    created: float = field(default_factory=time.time)
    revoked: bool = False
    builtin: bool = False
    #: Challenge types this key may get and pass (empty: the app's CAPTCHA_CHALLENGE_TYPES).
    types: Tuple[str, ...] = ()
    #: This key's quotas ("100/hour"; "none": no quota; None: CAPTCHA_RATE_LIMIT_GENERATE /
    #: _VALIDATE).
    generate_limit: Optional[str] = None
    validate_limit: Optional[str] = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SiteKey:
        data = json.loads(text)
        data["origins"] = tuple(data.get("origins") or ())
        data["types"] = tuple(data.get("types") or ())
        return cls(**data)

    def secret_matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.secret_hash, _digest(secret))


class SiteKeyRegistry:
    """Creates, finds and revokes site keys kept in the store, plus the app's own pair."""

    def __init__(self, store: Store, own_site_key: str, own_secret: str) -> None:
        self._store = store
        self.own_site_key = own_site_key
        self._own = SiteKey(
            id=key_id(own_site_key),
            name="(this app)",
            secret_hash=_digest(own_secret),
            created=0.0,
            builtin=True,
        )

    @property
    def own(self) -> SiteKey:
        """The app's own key (from settings, never stored)."""
        return self._own

    def create(
        self,
        name: str,
        origins: Tuple[str, ...] = (),
        types: Tuple[str, ...] = (),
        generate_limit: Optional[str] = None,
        validate_limit: Optional[str] = None,
    ) -> Tuple[str, str, SiteKey]:
        """A new key pair; the plain key and secret are returned once and never stored."""
        site_key = "sk_" + secrets.token_urlsafe(18)
        secret = "ss_" + secrets.token_urlsafe(30)
        record = SiteKey(
            id=key_id(site_key),
            name=name,
            secret_hash=_digest(secret),
            origins=origins,
            types=types,
            generate_limit=generate_limit,
            validate_limit=validate_limit,
        )
        self._store.put(KEY_PREFIX + record.id, record.to_json(), None)
        self._store.put(SECRET_PREFIX + record.secret_hash, record.id, None)
        return site_key, secret, record

    def lookup(self, site_key: str) -> Optional[SiteKey]:
        """The live record of ``site_key`` (revoked ones too; callers check), or None."""
        if secrets.compare_digest(site_key.encode(), self.own_site_key.encode()):
            return self._own
        return self.by_id(key_id(site_key))

    def by_id(self, ident: str) -> Optional[SiteKey]:
        if ident == self._own.id:
            return self._own
        text = self._store.get(KEY_PREFIX + ident)
        return SiteKey.from_json(text) if text else None

    def by_secret(self, secret: str) -> Optional[SiteKey]:
        """The key whose secret this is (for siteverify), or None."""
        if self._own.secret_matches(secret):
            return self._own
        ident = self._store.get(SECRET_PREFIX + _digest(secret))
        record = self.by_id(ident) if ident else None
        return record if record and record.secret_matches(secret) else None

    def list(self) -> List[SiteKey]:
        records = [SiteKey.from_json(value) for _, value in self._store.scan(KEY_PREFIX)]
        return [self._own, *sorted(records, key=lambda r: r.created)]

    def revoke(self, ident: str) -> Optional[SiteKey]:
        """Revoke the key with this id (or a unique prefix of it); the revoked record or None."""
        matches = [r for r in self.list() if r.id.startswith(ident) and not r.builtin]
        if len(ident) < 6 or len(matches) != 1:
            return None
        record = SiteKey(**{**asdict(matches[0]), "revoked": True})
        self._store.put(KEY_PREFIX + record.id, record.to_json(), None)
        return record
