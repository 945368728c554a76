"""In-process store: a dict behind one lock.

For tests and single-process development only: every worker process has its own copy, so nothing
is shared between workers or hosts. Expired entries are dropped lazily when read and, so memory
stays bounded without a cron job, by a sweep that writes trigger at most every ``sweep_interval``
seconds.
"""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext
from typing import ContextManager, Dict, Iterator, List, Optional, Tuple

from .base import CountedInParts, Epoch, EpochChanged, new_epoch

_Entry = Tuple[str, Optional[float]]  # (value, monotonic expiry or None)


class MemoryStore(CountedInParts):
    """A thread-safe, process-local :class:`~flask_captcha_ext.stores.base.Store`."""

    def __init__(self, *, sweep_interval: float = 5.0) -> None:
        self.url = "memory://"
        self._data: Dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._sweep_interval = sweep_interval
        self._next_sweep = time.monotonic() + sweep_interval
        self._epoch = new_epoch()  # the data lives and dies with this object

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._data)} entries>"

    # Helpers; callers hold the lock.

    @staticmethod
    def _expiry(now: float, ttl: Optional[float]) -> Optional[float]:
        return None if ttl is None else now + ttl

    def _live(self, key: str, now: float) -> Optional[_Entry]:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires_at = entry[1]
        if expires_at is not None and expires_at <= now:
            del self._data[key]
            return None
        return entry

    def _maybe_sweep(self, now: float) -> None:
        """Drop every expired entry, at most once per sweep interval (amortised O(1) per write)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_interval
        dead = [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]
        for key in dead:
            del self._data[key]

    # Store protocol.

    def put(self, key: str, value: str, ttl: Optional[float]) -> None:
        """Set ``key`` to ``value`` for ``ttl`` seconds (None: until deleted)."""
        with self._lock:
            now = time.monotonic()
            self._data[key] = (value, self._expiry(now, ttl))
            self._maybe_sweep(now)

    def get(self, key: str) -> Optional[str]:
        """The live value of ``key``, or None."""
        with self._lock:
            entry = self._live(key, time.monotonic())
            return None if entry is None else entry[0]

    def take(self, key: str) -> Optional[str]:
        """Read and delete ``key`` under the lock: one caller gets the value."""
        with self._lock:
            entry = self._live(key, time.monotonic())
            if entry is None:
                return None
            del self._data[key]
            return entry[0]

    def epoch(self, fresh: bool = False) -> Epoch:
        """This object's epoch: its data lives exactly as long."""
        return self._epoch

    def begin_epoch(self) -> Epoch:
        """A new epoch for this object's data."""
        self._epoch = new_epoch()
        return self._epoch

    def claim(
        self, key: str, ttl: Optional[float], value: str = "1", epoch: Optional[str] = None
    ) -> bool:
        """Set ``key`` only if absent or expired; True for the one winner."""
        if epoch is not None and epoch != self._epoch.id:
            raise EpochChanged(epoch, self._epoch)
        with self._lock:
            now = time.monotonic()
            if self._live(key, now) is not None:
                return False
            self._data[key] = (value, self._expiry(now, ttl))
            self._maybe_sweep(now)
            return True

    def incr(self, key: str, window: float, amount: int = 1) -> Tuple[int, float]:
        """Add ``amount`` to a counter whose window starts at its first increment."""
        with self._lock:
            now = time.monotonic()
            entry = self._live(key, now)
            if entry is None and amount == 0:
                return 0, 0.0
            count = amount if entry is None else int(entry[0]) + amount
            expires_at = entry[1] if entry is not None and entry[1] is not None else now + window
            self._data[key] = (str(count), expires_at)
            self._maybe_sweep(now)
            return count, max(0.0, expires_at - now)

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        with self._lock:
            self._data.pop(key, None)

    def scan(self, prefix: str) -> Iterator[Tuple[str, str]]:
        """Live ``(key, value)`` pairs whose key starts with ``prefix``, sorted by key."""
        with self._lock:
            now = time.monotonic()
            found: List[Tuple[str, str]] = [
                (k, v)
                for k, (v, exp) in self._data.items()
                if k.startswith(prefix) and (exp is None or exp > now)
            ]
        return iter(sorted(found))

    def batch(self) -> ContextManager[None]:
        """Each operation is already atomic on its own here; nothing to group."""
        return nullcontext()

    def ping(self) -> None:
        """Always answers: the store lives in this process."""

    def close(self) -> None:
        """Nothing to release; the data stays until the object is dropped."""
