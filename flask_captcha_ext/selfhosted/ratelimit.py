"""Rate limits on the self-hosted endpoints: fixed windows counted in our own store.

Limits are parsed and their counters named as the ``limits`` library does (``..rates``); each
counter is the store's atomic ``incr``, so one limit holds across every worker that shares the
store (``limits`` has no SQLite storage, and its MemoryStorage restarts one expiry timer from
every thread, so two threads can start the same one: a ``RuntimeError``, a 500, under a threaded
server).

Generate counts its limits and stores its challenge with one store call (``put_within_limits``),
validate counts its limits and spends the challenge with one (``hit_and_take``): on Redis one Lua
script, one round trip, where one call per limit would cost one each.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

from ..rates import RateLimit
from ..stores import Store
from ..stores.base import Counter

COUNTER_PREFIX = "rl:"

# Limits on one scope, the identifiers that name its counters, and whether they count only
# attempts at a live challenge (a site key's quota) or every request (a network's burst limit).
LimitGroup = Tuple[Sequence[RateLimit], Tuple[str, ...], bool]


class RateLimiter:
    """Counts hits against limits within the store call that acts on them (``put_within_limits``
    for generate, ``hit_and_take`` for validate)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def put_within_limits(
        self,
        key: str,
        value: str,
        ttl: Optional[float],
        groups: Sequence[Tuple[Sequence[RateLimit], Tuple[str, ...]]],
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


def _counter(item: RateLimit, identifiers: Sequence[str]) -> Counter:
    """The store counter ``hit`` keeps for ``item`` of ``identifiers``: same key, same window."""
    return COUNTER_PREFIX + item.key_for(*identifiers), item.get_expiry(), item.amount
