"""Pressure: how hard a client network and a site key are pushing, and what work that costs.

Every challenge asked for and every failed answer adds one to the pressure of the client's network
and of the site key. Pressure is the count of the last ``WINDOW`` seconds, kept as two fixed
windows half a window apart (so it decays in steps over minutes, never all at once) in the store
that every worker and host shares: one ``take_counted`` call, one round trip, counts them all.
CAPTCHA_POW_LEVELS turns pressure into a work multiplier: a network that asks once in a while stays
at the base level, one that keeps asking pays more with every few challenges (as mCaptcha raises
difficulty with traffic, and Anubis picks it per request).

An ask is counted in the same store call that stores its challenge (``counters``), so the
challenge is made before its pressure is known: at the level this process last saw for the
network and key (``expect``), remade in the rare case the count moved it (``after_ask``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple

from ..stores import Store
from ..stores.base import Counter

#: Seconds of history a pressure counts.
WINDOW = 600
PREFIX = "pr:"
# take_counted needs a key to take; this one never exists, so nothing is taken.
_NOTHING = "pr:none"
_NO_LIMIT = 2**31
#: Networks and keys whose last level this process remembers (the least recent go first).
REMEMBERED = 4096

#: (network pressure, site-key pressure, work multiplier): the first row whose network or site
#: threshold is reached, counting from the top, gives the level.
Level = Tuple[int, int, float]


class Pressure:
    """Counts asks and failures per network and per site key; picks the work for the next ask."""

    def __init__(self, store: Store, levels: Sequence[Level]) -> None:
        self.store = store
        self.levels = tuple(levels)
        self._seen: OrderedDict[Tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def counters(self, network: str, site_key_id: str) -> List[Counter]:
        """The counters one ask or failure adds to: both windows of both scopes (no limit)."""
        counters: List[Counter] = []
        for scope in (f"net:{network}", f"key:{site_key_id}"):
            counters += [(f"{PREFIX}{scope}:{name}", WINDOW, _NO_LIMIT) for name in windows()]
        return counters

    def expect(self, network: str, site_key_id: str) -> float:
        """The multiplier this process last saw an ask of ``network`` for the key get (the base
        level for one it has not seen): what to make the next challenge at."""
        with self._lock:
            return self._seen.get((network, site_key_id), self.levels[0][2])

    def after_ask(
        self, network: str, site_key_id: str, counts: Sequence[Tuple[int, float]]
    ) -> float:
        """The multiplier an ask gets from the ``counts`` of its ``counters`` (the pressure
        before it), remembered for ``expect``."""
        (net_a, _), (net_b, _), (key_a, _), (key_b, _) = counts
        work = self.multiplier(max(net_a, net_b) - 1, max(key_a, key_b) - 1)
        with self._lock:
            self._seen[(network, site_key_id)] = work
            self._seen.move_to_end((network, site_key_id))
            while len(self._seen) > REMEMBERED:
                self._seen.popitem(last=False)
        return work

    def peek(self, network: str, site_key_id: str) -> float:
        """The work multiplier an ask would get now, counting nothing (a page view's no-JS
        challenge: most page views come from visitors whose widget asks anyway)."""
        counts = []
        for scope in (f"net:{network}", f"key:{site_key_id}"):
            values = [self.store.get(f"{PREFIX}{scope}:{name}") for name in windows()]
            counts.append(max(int(v) if v else 0 for v in values))
        return self.multiplier(*counts)

    def fail(self, network: str, site_key_id: str) -> None:
        """Count a failed answer: guessing costs pressure like asking does."""
        self._add(network, site_key_id)

    def multiplier(self, network_pressure: int, site_pressure: int) -> float:
        """The work multiplier of the highest level either pressure reaches."""
        chosen = self.levels[0][2]
        for net_at, site_at, work in self.levels:
            if network_pressure >= net_at or site_pressure >= site_at:
                chosen = work
        return chosen

    def _add(self, network: str, site_key_id: str) -> Tuple[int, int]:
        """Add one to both windows of both scopes; each scope's pressure after the add."""
        _, counts = self.store.take_counted(_NOTHING, self.counters(network, site_key_id))
        (net_a, _), (net_b, _), (key_a, _), (key_b, _) = counts
        return max(net_a, net_b), max(key_a, key_b)


def windows(now: Optional[float] = None) -> Tuple[str, str]:
    """The names of the two windows that hold ``now``: one aligned to WINDOW, one offset by half
    of it. The older of the two has always seen at least half a window of history."""
    now = time.time() if now is None else now
    return f"a{int(now // WINDOW)}", f"b{int((now + WINDOW / 2) // WINDOW)}"
