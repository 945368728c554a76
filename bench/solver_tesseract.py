"""Tesseract as an off-the-shelf attacker: a few preprocessing settings, one reading each.

Moved here from ``bench_ocr.py`` so that ``bench_solvers.py`` and ``bench_ocr.py`` share it. Each
setting is a preprocessing (none, or grey + optional median filter + Otsu threshold + upscale to
at least ``MIN_HEIGHT`` pixels) and a page segmentation mode (7: one line, 8: one word); tesseract
gets the alphabet as its character whitelist. Needs the ``tesseract`` binary.
"""

from __future__ import annotations

import io
import os
import subprocess
from collections import Counter
from collections.abc import Callable, Sequence

from PIL import Image, ImageFilter, ImageOps

#: Binarised images are scaled up to at least this height (tesseract likes tall glyphs).
MIN_HEIGHT = 120


def binarize(png: bytes, median: int) -> bytes:
    """Grey, optional median filter (removes dots), Otsu threshold, upscale, white border."""
    img = ImageOps.autocontrast(Image.open(io.BytesIO(png)).convert("L"))
    if median:
        img = img.filter(ImageFilter.MedianFilter(median))
    threshold = otsu(img.histogram())
    img = img.point(lambda v: 255 if v > threshold else 0)
    scale = -(-MIN_HEIGHT // img.height)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.LANCZOS)
    img = ImageOps.expand(img, border=10, fill=255)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def otsu(hist: list[int]) -> int:
    """Otsu's threshold of a 256-bin histogram."""
    total = sum(hist)
    sum_all = sum(i * h for i, h in enumerate(hist))
    best, best_t, w_b, sum_b = 0.0, 127, 0, 0
    for t, h in enumerate(hist):
        w_b += h
        if w_b == 0:
            continue
        w_f = total - w_b
        if w_f == 0:
            break
        sum_b += t * h
        m_b, m_f = sum_b / w_b, (sum_all - sum_b) / w_f
        between = w_b * w_f * (m_b - m_f) ** 2
        if between > best:
            best, best_t = between, t
    return best_t


def _raw(png: bytes) -> bytes:
    return png


#: name -> (preprocessing, page segmentation mode)
SETTINGS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "raw psm7": (_raw, "7"),
    "raw psm8": (_raw, "8"),
    "otsu psm7": (lambda p: binarize(p, 0), "7"),
    "median3 otsu psm7": (lambda p: binarize(p, 3), "7"),
    "median3 otsu psm8": (lambda p: binarize(p, 3), "8"),
}


def read(png: bytes, setting: str, alphabet: str) -> str:
    """Tesseract's reading of ``png`` under ``setting``: whitespace removed, upper case."""
    prep, psm = SETTINGS[setting]
    out = subprocess.run(
        ["tesseract", "stdin", "stdout", "--psm", psm, "-c", f"tessedit_char_whitelist={alphabet}"],
        input=prep(png),
        capture_output=True,
        check=False,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return "".join(out.stdout.decode(errors="replace").split()).upper()


def vote(readings: Sequence[str], length: int) -> str:
    """One answer from several readings: the most frequent of the right length (ties: the
    earliest setting's), else the first reading. What an attacker with one guess would send."""
    fitting = [r for r in readings if len(r) == length]
    if not fitting:
        return readings[0] if readings else ""
    counts = Counter(fitting)
    top = max(counts.values())
    return next(r for r in fitting if counts[r] == top)
