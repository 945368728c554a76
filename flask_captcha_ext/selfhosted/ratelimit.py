"""Rate limits on the self-hosted endpoints, built on the ``limits`` library.

``limits`` parses the limits, names the counters and runs the fixed-window strategy; the counters
live in our own store through ``StoreCounterStorage``, which lends ``limits`` the store's atomic
``incr`` (``limits`` has no SQLite storage, and its MemoryStorage restarts one expiry timer from
every thread, so two threads can start the same one: a ``RuntimeError``, a 500, under a threaded
server). So one limit holds across every worker that shares the store.

Validate counts its limits and spends the challenge with one store call (``hit_and_take``): on
Redis one Lua script, one round trip, where ``limits``' own calls would cost one per limit.
"""

from __future__ import annotations

import math
import time
from typing import List, Optional, Sequence, Tuple

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from ..stores import Store, StoreUnavailable
from ..stores.base import Counter

COUNTER_PREFIX = "rl:"

# Limits on one scope, the identifiers that name its counters, and whether they count only
# attempts at a live challenge (a site key's quota) or every request (a network's burst limit).
LimitGroup = Tuple[Sequence[RateLimitItem], Tuple[str, ...], bool]


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
        return self.store.incr(COUNTER_PREFIX + key, expiry, amount)[0]

    def get(self, key: str) -> int:
        value = self.store.get(COUNTER_PREFIX + key)
        return int(value) if value else 0

    def get_expiry(self, key: str) -> float:
        _, left = self.store.incr(COUNTER_PREFIX + key, 1, 0)  # amount 0 only reads
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
        self.store.delete(COUNTER_PREFIX + key)


class RateLimiter:
    """Counts hits against limits; ``hit`` answers how long to wait, or None when allowed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.limiter = FixedWindowRateLimiter(StoreCounterStorage(store))

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

    def put_within_limits(
        self,
        key: str,
        value: str,
        ttl: Optional[float],
        groups: Sequence[Tuple[Sequence[RateLimitItem], Tuple[str, ...]]],
        extra: Sequence[Counter] = (),
        epoch: Optional[str] = None,
    ) -> Tuple[bool, Optional[Tuple[int, int]], List[Tuple[int, float]]]:
        """Count one hit on every limit of every group in turn, then the ``extra`` counters, and
        put ``key`` unless a limit is exceeded: one store call (``put_counted``).

        Counting stops at the first exceeded limit, as separate ``hit`` calls that stop at the
        first refusal would. Returns whether ``key`` was put, the index of the first group with
        an exceeded limit and the seconds until it allows again (None when none), and the
        ``extra`` counters' counts.
        """
        owners: List[int] = []
        counters: List[Counter] = []
        for index, (items, identifiers) in enumerate(groups):
            for item in items:
                owners.append(index)
                counters.append(_counter(item, identifiers))
        stored, counts = self.store.put_counted(key, value, ttl, [*counters, *extra], epoch)
        for owner, (count, left), (_, _, limit) in zip(owners, counts, counters):
            if count > limit:
                return stored, (owner, max(1, math.ceil(left))), counts[len(counters) :]
        return stored, None, counts[len(counters) :]

    def hit_and_take(
        self, key: str, groups: Sequence[LimitGroup], epoch: Optional[str] = None
    ) -> Tuple[Optional[str], Optional[Tuple[int, int]]]:
        """Count one hit on every limit of every group, and take ``key`` if none is exceeded
        (a live-only group counts only when ``key`` exists); with ``epoch``, only while the
        store is in it (else the store's EpochChanged, having counted nothing).

        Returns the taken value (None if absent or refused) and, when refused, the index of the
        first group with an exceeded limit and the seconds until it allows again. The counters
        are the ones ``hit`` counts, under the same keys and fixed windows.
        """
        always: List[Tuple[int, Counter]] = []
        live: List[Tuple[int, Counter]] = []
        for index, (items, identifiers, live_only) in enumerate(groups):
            for item in items:
                (live if live_only else always).append((index, _counter(item, identifiers)))
        ordered = always + live
        counters = [counter for _, counter in ordered]
        value, counts = self.store.take_counted(
            key, counters[: len(always)], counters[len(always) :], epoch
        )
        waits = {}  # group index -> longest wait among its exceeded limits
        owners = [index for index, _ in ordered]
        for owner, (count, left), (_, _, limit) in zip(owners, counts, counters):
            if count > limit:
                waits[owner] = max(waits.get(owner, 1), math.ceil(left))
        if waits:
            first = min(waits)
            return None, (first, waits[first])
        return value, None


def _counter(item: RateLimitItem, identifiers: Sequence[str]) -> Counter:
    """The store counter ``hit`` keeps for ``item`` of ``identifiers``: same key, same window."""
    return COUNTER_PREFIX + item.key_for(*identifiers), item.get_expiry(), item.amount
