"""Rate limits on the self-hosted endpoints, built on the ``limits`` library.

``limits`` keeps its counters in Redis through its own storage; for SQLite, which it lacks, and for
memory, ``StoreCounterStorage`` lends it our store's atomic ``incr`` (``limits``' MemoryStorage
restarts one expiry timer from every thread, and two threads can start the same one: a
``RuntimeError``, a 500, under a threaded server). So one limit holds across every worker that
shares the store.
"""

from __future__ import annotations

import math
import time
from typing import Optional, Sequence, Tuple

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from ..stores import Store, StoreUnavailable


class StoreCounterStorage(Storage):
    """A ``limits`` storage over any of our stores' ``incr`` (fixed windows only)."""

    STORAGE_SCHEME = None

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    @property
    def base_exceptions(self) -> Tuple[type, ...]:
        return (StoreUnavailable,)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.store.incr("rl:" + key, expiry, amount)[0]

    def get(self, key: str) -> int:
        value = self.store.get("rl:" + key)
        return int(value) if value else 0

    def get_expiry(self, key: str) -> float:
        _, left = self.store.incr("rl:" + key, 1, 0)  # amount 0 only reads
        return time.time() + max(left, 0.0)

    def check(self) -> bool:
        try:
            self.store.ping()
        except StoreUnavailable:
            return False
        return True

    def reset(self) -> Optional[int]:
        return None

    def clear(self, key: str) -> None:
        self.store.delete("rl:" + key)


def limits_storage_for(store: Store) -> Storage:
    """The ``limits`` storage that keeps counters where ``store`` keeps its data."""
    url = store.url
    if url.startswith(("redis://", "rediss://")):
        return RedisStorage(
            "redis://",
            connection_pool=store.connection_pool,  # type: ignore[attr-defined]
            wrap_exceptions=True,
            key_prefix=getattr(store, "prefix", "captcha:") + "limits",
        )
    return StoreCounterStorage(store)


class RateLimiter:
    """Counts hits against limits; ``hit`` answers how long to wait, or None when allowed."""

    def __init__(self, storage: Storage) -> None:
        self.limiter = FixedWindowRateLimiter(storage)

    def hit(self, items: Sequence[RateLimitItem], *identifiers: str) -> Optional[int]:
        """Count one hit on every item; the seconds until retry if any of them is exceeded."""
        retry_after: Optional[int] = None
        for item in items:
            try:
                allowed = self.limiter.hit(item, *identifiers)
                if not allowed:
                    reset_at, _ = self.limiter.get_window_stats(item, *identifiers)
                    wait = max(1, math.ceil(reset_at - time.time()))
                    retry_after = max(retry_after or 0, wait)
            except StorageError as exc:
                raise StoreUnavailable(f"rate-limit storage failed: {type(exc).__name__}") from exc
        return retry_after
