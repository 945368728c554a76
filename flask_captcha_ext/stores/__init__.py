"""Storage backends for self-hosted CAPTCHA state, chosen by URL.

``memory://`` (one process only), ``sqlite:///relative/path`` or ``sqlite:////absolute/path``
(every process on one host), ``redis://host:port/db`` or ``rediss://...`` (many hosts).
"""

from __future__ import annotations

from .base import Store, StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "open_store"]


def open_store(url: str) -> Store:
    """Build the store that ``url`` names; backends are imported only when used.

    Opening does no I/O: an unreachable backend shows as StoreUnavailable on first use
    (or call ``ping()``). Raises ValueError for an unknown scheme or a malformed URL.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError("store URL needs a scheme: memory://, sqlite:///path or redis://host")
    if scheme == "memory":
        from .memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        # As SQLAlchemy spells it: sqlite:///relative/path and sqlite:////absolute/path.
        if not rest.startswith("/") or len(rest) < 2:
            raise ValueError("SQLite store URL must be sqlite:///path/to/file.db")
        from .sqlite import SQLiteStore

        return SQLiteStore(rest[1:])
    if scheme in ("redis", "rediss"):
        from .redis import RedisStore

        return RedisStore(f"{scheme}://{rest}")
    raise ValueError(
        f"unknown store URL scheme {scheme!r}: use memory://, sqlite:/// or redis(s)://"
    )
