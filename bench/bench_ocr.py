"""How often off-the-shelf OCR (tesseract) solves our image captchas vs the `captcha` package's.

Run by hand from the repository root (needs the ``tesseract`` binary and ``pip install captcha``)::

    python bench/bench_ocr.py [--n 200] [--workers 2]

Both generators draw 4-character texts from our ALPHABET, and tesseract gets the same character
whitelist for both. Each image is tried raw and with a few binarising preprocessings; a generator's
figure is its best attempt's solve rate (exact match, case-insensitive). The "any" line counts an
image as solved when any attempt got it, an upper bound an attacker could reach by voting.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

sys.path.append(str(Path(__file__).resolve().parents[1]))

LENGTH = 4


def _binarize(png: bytes, median: int, scale: int) -> bytes:
    """Grey, optional median filter (removes dots), Otsu-like threshold, upscale."""
    img = ImageOps.autocontrast(Image.open(io.BytesIO(png)).convert("L"))
    if median:
        img = img.filter(ImageFilter.MedianFilter(median))
    hist = img.histogram()
    threshold = _otsu(hist)
    img = img.point(lambda v: 255 if v > threshold else 0)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.LANCZOS)
    img = ImageOps.expand(img, border=10, fill=255)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _otsu(hist: list[int]) -> int:
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


ATTEMPTS = {
    "raw psm7": (lambda p: p, "7"),
    "raw psm8": (lambda p: p, "8"),
    "otsu x2 psm7": (lambda p: _binarize(p, 0, 2), "7"),
    "median3 otsu x2 psm7": (lambda p: _binarize(p, 3, 2), "7"),
    "median3 otsu x2 psm8": (lambda p: _binarize(p, 3, 2), "8"),
}


def _solve(args: tuple[bytes, str, str]) -> str:
    png, attempt, alphabet = args
    prep, psm = ATTEMPTS[attempt]
    out = subprocess.run(
        ["tesseract", "stdin", "stdout", "--psm", psm, "-c", f"tessedit_char_whitelist={alphabet}"],
        input=prep(png),
        capture_output=True,
        check=False,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return "".join(out.stdout.decode(errors="replace").split()).upper()


def _images(n: int) -> dict[str, list[tuple[str, bytes]]]:
    from captcha.image import ImageCaptcha

    from flask_captcha_ext.selfhosted.image import random_text, render_png

    theirs = ImageCaptcha(width=160, height=60)
    ours_set, theirs_set = [], []
    for _ in range(n):
        text = random_text(LENGTH)
        ours_set.append((text, render_png(text)))
        text = random_text(LENGTH)
        theirs_set.append((text, theirs.generate(text).getvalue()))
    return {"ours": ours_set, "captcha": theirs_set}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="images per generator")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", type=Path, help="write the images into this folder")
    opts = parser.parse_args()

    from flask_captcha_ext.selfhosted.image import ALPHABET

    sets = _images(opts.n)
    if opts.save:
        opts.save.mkdir(parents=True, exist_ok=True)
        for name, items in sets.items():
            for i, (text, png) in enumerate(items[:20]):
                (opts.save / f"{name}-{i:02d}-{text}.png").write_bytes(png)
    jobs = [
        (name, i, attempt)
        for name, items in sets.items()
        for i in range(len(items))
        for attempt in ATTEMPTS
    ]
    with ProcessPoolExecutor(opts.workers) as pool:
        answers = list(
            pool.map(
                _solve,
                [(sets[name][i][1], attempt, ALPHABET) for name, i, attempt in jobs],
                chunksize=8,
            )
        )
    solved: dict[tuple[str, str], set[int]] = {}
    for (name, i, attempt), answer in zip(jobs, answers):
        if answer == sets[name][i][0].upper():
            solved.setdefault((name, attempt), set()).add(i)

    best: dict[str, float] = {}
    print(f"{opts.n} images each, {LENGTH} chars from {ALPHABET!r}, tesseract whitelist = alphabet")
    for name in sets:
        for attempt in ATTEMPTS:
            rate = len(solved.get((name, attempt), ())) / opts.n
            best[name] = max(best.get(name, 0.0), rate)
            print(f"  {name:8} {attempt:22} {rate:6.1%}")
        anyset = set().union(*(solved.get((name, a), set()) for a in ATTEMPTS))
        print(f"  {name:8} {'any attempt':22} {len(anyset) / opts.n:6.1%}")
    print(
        f"best attempt: ours {best['ours']:.1%}, captcha {best['captcha']:.1%} -> "
        f"ours <= captcha: {best['ours'] <= best['captcha']}"
    )


if __name__ == "__main__":
    main()
