"""Tesseract's solve rate on our image challenge vs the `captcha` package's (bench_solvers' part).

Run by hand from the repository root (needs the ``tesseract`` binary and ``pip install captcha``)::

    python bench/bench_ocr.py [--n 200] [--workers 2]

Kept for its name: it is ``python bench/bench_solvers.py --solvers tesseract``, where the
preprocessing settings (``bench/solver_tesseract.py``) and the way ours is asked through the real
generate/validate API are described.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_solvers import main  # noqa: E402

if __name__ == "__main__":
    main(["--solvers", "tesseract", *sys.argv[1:]])
