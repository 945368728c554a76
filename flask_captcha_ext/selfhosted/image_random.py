"""Randomness for an image's layout and noise: ``os.urandom`` bytes, read in bulk.

Not secret (the answer comes from :mod:`secrets`), but not predictable either: a solver must not
be able to replay the renderer's choices, so no seeded PRNG.
"""

from __future__ import annotations

import os
from array import array

__all__ = ["Chance"]

_SCALE = 1 / 65536


class Chance:
    """Uniform numbers from ``os.urandom``, 16 bits each, fetched ``batch`` at a time."""

    def __init__(self, batch: int = 256) -> None:
        self._batch = batch
        self._values = array("H")
        self._i = 0

    def unit(self) -> float:
        """A float in [0, 1)."""
        if self._i >= len(self._values):
            self._values = array("H", os.urandom(2 * self._batch))
            self._i = 0
        self._i += 1
        return self._values[self._i - 1] * _SCALE

    def uniform(self, lo: float, hi: float) -> float:
        """A float in [lo, hi)."""
        return lo + (hi - lo) * self.unit()

    def below(self, n: int) -> int:
        """An int in [0, n)."""
        return int(self.unit() * n)

    def sign(self) -> int:
        """-1 or +1."""
        return 1 if self.unit() < 0.5 else -1
