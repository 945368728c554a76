"""Where the repository is."""

from __future__ import annotations

from pathlib import Path

#: The repository root (the working directory of subprocesses that import ``tests.*``/``bench.*``).
ROOT = Path(__file__).resolve().parents[2]
