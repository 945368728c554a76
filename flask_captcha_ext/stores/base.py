"""The storage protocol every backend implements.

A few atomic operations carry all self-hosted state (challenges, spent tokens, rate-limit counters,
site keys): put with a TTL, take (get-and-delete), claim (set-if-absent), incr within a window, and
take_counted (validate's counters and take in one call). "Atomic" means across processes and hosts
sharing the backend, not only across threads. Values are text; callers serialise what they keep. A
``ttl`` of ``None`` keeps an entry until it is deleted. Expired entries are never returned and are
purged by the store itself, without a cron job.

Single use rests on the store remembering every claim. A store that lost its data (a Redis
restarted from an old snapshot or empty, flushed; an SQLite file truncated, deleted or replaced)
would forget them, so every store has an :class:`Epoch`: a record made once, with a random id,
and made anew when the data it lived with is gone. Tokens and challenges carry the epoch they were
issued under, and ``claim`` and ``take_counted`` given an ``epoch`` act only while the store is
still in it (else :class:`EpochChanged`): what was issued before a loss is refused, never
spent a second time.
"""

from __future__ import annotations

import secrets
import time
from typing import (
    ContextManager,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    runtime_checkable,
)

# A rate-limit counter for ``take_counted``: its key, its window in seconds, the highest count
# allowed in one window.
Counter = Tuple[str, float, int]


#: Where a key-value store keeps its epoch record (no TTL).
EPOCH_KEY = "epoch"


class StoreUnavailable(Exception):
    """The backend cannot be reached or failed; callers answer 503 and accept nothing.

    ``maybe_done``: the operation may have been applied although it reported no result (the
    command was sent and its reply never came: a timeout, a connection lost). What it was
    spending (a challenge, a token) must not be offered for a retry: ask for a new one.
    """

    def __init__(self, *args: object, maybe_done: bool = False) -> None:
        super().__init__(*args)
        self.maybe_done = maybe_done


class Epoch(NamedTuple):
    """One lifetime of a store's data: a random id and the wall-clock time it began."""

    id: str
    began: float


def new_epoch() -> Epoch:
    """A fresh epoch: an id nobody can guess or repeat, begun now."""
    return Epoch(secrets.token_urlsafe(16), time.time())


class EpochChanged(Exception):
    """The store is no longer in the epoch the caller named: it lost or replaced its data since
    (or another process noticed first). Nothing was changed; ``current`` is the store's epoch."""

    def __init__(self, expected: str, current: Epoch) -> None:
        super().__init__(f"store epoch {expected!r} is over; the store is in {current.id!r}")
        self.expected = expected
        self.current = current


@runtime_checkable
class Store(Protocol):
    """A key-value store with expiry and the atomic operations CAPTCHA state needs."""

    url: str

    def put(self, key: str, value: str, ttl: Optional[float]) -> None:
        """Set ``key`` to ``value``, replacing any current value, for ``ttl`` seconds."""

    def get(self, key: str) -> Optional[str]:
        """The live value of ``key``, or None."""

    def take(self, key: str) -> Optional[str]:
        """Atomically read and delete ``key``: of many concurrent callers, one gets the value."""

    def epoch(self, fresh: bool = False) -> Epoch:
        """The store's epoch as this process last saw it (``fresh``: as the store has it now),
        beginning one, atomically, when the store has none."""

    def begin_epoch(self) -> Epoch:
        """End the current epoch and begin a new one now: everything issued before is refused
        (after restoring a backup of the store, which brings an old epoch back)."""

    def claim(
        self, key: str, ttl: Optional[float], value: str = "1", epoch: Optional[str] = None
    ) -> bool:
        """Atomically set ``key`` only if it is absent (or expired); True for the one winner.

        With ``epoch``, only while the store is in that epoch; else :class:`EpochChanged`.
        """

    def incr(self, key: str, window: float, amount: int = 1) -> Tuple[int, float]:
        """Add ``amount`` to a counter living ``window`` seconds from its first increment.

        Returns the new count and the seconds left until the window resets. ``amount=0`` only
        reads: a missing counter stays missing and reads as ``(0, 0.0)``.
        """

    def take_counted(
        self,
        key: str,
        counters: Sequence[Counter],
        live_counters: Sequence[Counter] = (),
        epoch: Optional[str] = None,
    ) -> Tuple[Optional[str], List[Tuple[int, float]]]:
        """Add 1 to every counter, then ``take(key)`` only if no count is above its limit.

        ``live_counters`` count only when ``key`` exists (a request that names no live entry
        reads them as ``(0, 0.0)`` and leaves them alone): a site key's quota is spent by
        attempts at its real challenges, never by made-up ids. Returns the taken value (None when
        absent or when a limit is exceeded) and each counter's ``incr`` result, ``counters``
        first. The validate hot path: Redis does it in one round trip, SQLite in one transaction.
        With ``epoch``, nothing is counted or taken unless the store is in that epoch
        (:class:`EpochChanged`).
        """

    def put_counted(
        self,
        key: str,
        value: str,
        ttl: Optional[float],
        counters: Sequence[Counter],
        epoch: Optional[str] = None,
    ) -> Tuple[bool, List[Tuple[int, float]]]:
        """Add 1 to each counter in turn, stopping at the first that goes over its limit, then
        ``put(key, value, ttl)`` only if none did.

        Returns whether ``key`` was put and each counter's ``incr`` result (``(0, 0.0)`` for
        those after the one over its limit, which are left alone). With ``epoch``, nothing is
        counted or put unless the store is in that epoch (:class:`EpochChanged`). The generate
        hot path: its rate limits, its pressure and the new challenge in one store call.
        """

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    def scan(self, prefix: str) -> Iterator[Tuple[str, str]]:
        """Live ``(key, value)`` pairs whose key starts with ``prefix`` (for admin listings)."""

    def batch(self) -> ContextManager[None]:
        """Group the block's operations into one write where the backend gains from it (SQLite:
        one transaction and one commit). Each operation stays atomic either way."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers."""

    def close(self) -> None:
        """Release connections; the store may be used again afterwards (it reconnects)."""


def put_counted_in_parts(
    store: Store,
    key: str,
    value: str,
    ttl: Optional[float],
    counters: Sequence[Counter],
    epoch: Optional[str] = None,
) -> Tuple[bool, List[Tuple[int, float]]]:
    """``put_counted`` from ``epoch``, ``incr`` and ``put`` inside one ``batch`` (one SQLite
    transaction)."""
    with store.batch():
        if epoch is not None:
            current = store.epoch(fresh=True)
            if current.id != epoch:
                raise EpochChanged(epoch, current)
        counts: List[Tuple[int, float]] = []
        over = False
        for counter_key, window, limit in counters:
            if over:
                counts.append((0, 0.0))
                continue
            counts.append(store.incr(counter_key, window))
            over = counts[-1][0] > limit
        if not over:
            store.put(key, value, ttl)
        return not over, counts


def take_counted_in_parts(
    store: Store,
    key: str,
    counters: Sequence[Counter],
    live_counters: Sequence[Counter] = (),
    epoch: Optional[str] = None,
) -> Tuple[Optional[str], List[Tuple[int, float]]]:
    """``take_counted`` from ``epoch``, ``get``, ``incr`` and ``take`` inside one ``batch``: one
    transaction on SQLite; on the memory store each step is atomic on its own, which is all a
    limit needs (and its epoch never changes)."""
    with store.batch():
        if epoch is not None:
            current = store.epoch(fresh=True)
            if current.id != epoch:
                raise EpochChanged(epoch, current)
        live = bool(live_counters) and store.get(key) is not None
        counts = [store.incr(counter_key, window) for counter_key, window, _ in counters]
        counts += [
            store.incr(counter_key, window) if live else (0, 0.0)
            for counter_key, window, _ in live_counters
        ]
        limits = [limit for _, _, limit in (*counters, *live_counters)]
        if any(count > limit for (count, _), limit in zip(counts, limits)):
            return None, counts
        return store.take(key), counts


class CountedInParts:
    """``take_counted`` and ``put_counted`` built from a store's own simpler operations inside
    one ``batch`` (one transaction on SQLite): for the stores that have no scripts."""

    def take_counted(
        self,
        key: str,
        counters: Sequence[Counter],
        live_counters: Sequence[Counter] = (),
        epoch: Optional[str] = None,
    ) -> Tuple[Optional[str], List[Tuple[int, float]]]:
        """Count, then take unless a limit is exceeded (see the Store protocol)."""
        return take_counted_in_parts(self, key, counters, live_counters, epoch)  # type: ignore[arg-type]

    def put_counted(
        self,
        key: str,
        value: str,
        ttl: Optional[float],
        counters: Sequence[Counter],
        epoch: Optional[str] = None,
    ) -> Tuple[bool, List[Tuple[int, float]]]:
        """Count, then put unless a limit is exceeded (see the Store protocol)."""
        return put_counted_in_parts(self, key, value, ttl, counters, epoch)  # type: ignore[arg-type]
