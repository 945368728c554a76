"""Images per second: our image captcha vs the `captcha` package's ImageCaptcha, same run.

Run by hand from the repository root (needs ``pip install captcha``)::

    python bench/bench_image.py [--rounds 7] [--seconds 1.0]

Both make a 160x60 PNG (bytes) of 4 random characters. Rounds alternate between the two on one
core (when the OS allows pinning); each side's figure is the median of its rounds. Target: ours
>= 5x theirs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))

TARGET = 5.0


def _rate(make: Callable[[str], bytes], texts: list[str], seconds: float) -> float:
    """Images per second over about ``seconds``."""
    n, i = 0, 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            make(texts[i])
            i = (i + 1) % len(texts)
        n += 20
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0, help="per round and side")
    opts = parser.parse_args()

    from captcha.image import ImageCaptcha

    from flask_captcha_ext.selfhosted.image import random_text, render_png

    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        pinned = f"pinned to CPU {min(os.sched_getaffinity(0))}"
    except (AttributeError, OSError):
        pinned = "not pinned"

    theirs = ImageCaptcha(width=160, height=60)
    sides: dict[str, Callable[[str], bytes]] = {
        "ours": lambda text: render_png(text, 160, 60),
        "captcha": lambda text: theirs.generate(text).getvalue(),
    }
    texts = [random_text(4) for _ in range(1000)]
    _rate(sides["ours"], texts, 3.0)  # warm up: our glyph cache fills on first use
    _rate(sides["captcha"], texts, 1.0)

    rates: dict[str, list[float]] = {name: [] for name in sides}
    print(f"160x60 PNG, 4 chars, {opts.rounds} rounds of {opts.seconds}s per side, {pinned}")
    for i in range(opts.rounds):
        for name, make in sides.items():
            rates[name].append(_rate(make, texts, opts.seconds))
        ours, base = rates["ours"][-1], rates["captcha"][-1]
        print(f"  round {i + 1}: ours {ours:7.0f}/s  captcha {base:6.0f}/s")
    ours, base = statistics.median(rates["ours"]), statistics.median(rates["captcha"])
    ratio = ours / base
    verdict = "meets" if ratio >= TARGET else "misses"
    print(
        f"median: ours {ours:.0f} images/s, captcha {base:.0f} images/s -> "
        f"{ratio:.1f}x (target >= {TARGET:.0f}x: {verdict})"
    )
    size = statistics.mean(len(render_png(t)) for t in texts[:200])
    theirs_size = statistics.mean(len(sides["captcha"](t)) for t in texts[:200])
    print(f"mean PNG size: ours {size:.0f} bytes, captcha {theirs_size:.0f} bytes")


if __name__ == "__main__":
    main()
