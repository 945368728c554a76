"""Start-up: ``import flask_captcha_ext`` and a default ``init_app`` vs ``import flask_wtf``.

Run by hand from the repository root::

    python bench/bench_import.py [--rounds 7]

Each measurement is a fresh Python process (so nothing is imported already), timing its own
statements with ``time.perf_counter`` and reporting its peak RSS (``ru_maxrss``) at the end:

- ``flask_wtf``: ``import flask_wtf`` (the baseline: Flask, WTForms, Flask-WTF);
- ``import``: ``import flask_captcha_ext``;
- ``init_app``: ``import flask_captcha_ext``, ``Flask(...)`` with SECRET_KEY set and its instance
  folder in a fresh temporary directory, and a default ``CaptchaExt(app)`` (self-hosted, SQLite
  store in the instance folder, default challenge types), timed together;
- ``init_pow``: the same with ``CAPTCHA_CHALLENGE_TYPES = ("pow",)``: what the image renderer
  (Pillow, and its outlines drawn at ``init_app``) adds to the default.

One untimed run of each first writes the bytecode caches (``__pycache__``, as ``pip install``
compiles an installed package; PYTHONDONTWRITEBYTECODE is dropped for these processes, since
compiling our sources on every start would be measured against Flask-WTF's cached bytecode).
``--root DIR`` measures the package in another checkout (e.g. ``git archive`` of an older
commit). Rounds alternate the three (in a
rotating order) so that machine load hits them alike; medians are printed with the ratio to the
baseline. Target (issue 14): ``init_app`` <= 1.2x ``flask_wtf``, peak RSS within 10 MiB of it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
TIME_RATIO = 1.2
RSS_MARGIN_MIB = 10.0

_REPORT = """
import json, resource
print(json.dumps({"ms": (_t1 - _t0) * 1000,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
CASES: Dict[str, str] = {
    "flask_wtf": """
import time
_t0 = time.perf_counter()
import flask_wtf
_t1 = time.perf_counter()
""",
    "import": """
import time
_t0 = time.perf_counter()
import flask_captcha_ext
_t1 = time.perf_counter()
""",
    "init_app": """
import sys, time
_t0 = time.perf_counter()
import flask_captcha_ext
from flask import Flask
app = Flask("bench", instance_path=sys.argv[1])
app.config["SECRET_KEY"] = "bench-secret-0123456789abcdef0123"
flask_captcha_ext.CaptchaExt(app)
_t1 = time.perf_counter()
""",
}
CASES["init_pow"] = CASES["init_app"].replace(
    "flask_captcha_ext.CaptchaExt(app)",
    'app.config["CAPTCHA_CHALLENGE_TYPES"] = ("pow",)\nflask_captcha_ext.CaptchaExt(app)',
)


def run(case: str, root: Path = ROOT) -> Dict[str, float]:
    """One fresh process running ``case``: its timed milliseconds and peak RSS (MiB)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as instance:
        out = subprocess.run(
            [sys.executable, "-c", CASES[case] + _REPORT, instance],
            env=env,
            cwd=instance,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="measurements of each (>= 5)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to import ours from")
    args = parser.parse_args()
    names = list(CASES)
    for name in names:
        run(name, args.root)  # bytecode caches
    results: Dict[str, List[Dict[str, float]]] = {name: [] for name in names}
    for i in range(args.rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            results[name].append(run(name, args.root))
        line = "  ".join(f"{n} {results[n][-1]['ms']:6.1f} ms" for n in names)
        print(f"round {i + 1}: {line}", flush=True)

    ms = {n: statistics.median(r["ms"] for r in results[n]) for n in names}
    rss = {n: statistics.median(r["rss_mib"] for r in results[n]) for n in names}
    base = "flask_wtf"
    print(f"\nPython {sys.version.split()[0]}, {args.rounds} rounds, ours from {args.root}:")
    print(f"{'':10} {'time ms':>8} {'vs flask_wtf':>13} {'peak RSS MiB':>13} {'vs flask_wtf':>13}")
    for n in names:
        print(
            f"{n:10} {ms[n]:8.1f} {ms[n] / ms[base]:12.2f}x {rss[n]:13.1f} "
            f"{rss[n] - rss[base]:+12.1f}"
        )
    ratio, extra = ms["init_app"] / ms[base], rss["init_app"] - rss[base]
    meets = ratio <= TIME_RATIO and extra <= RSS_MARGIN_MIB
    print(
        f"\ntarget: import + default init_app <= {TIME_RATIO}x import flask_wtf "
        f"({ratio:.2f}x) and peak RSS within {RSS_MARGIN_MIB:.0f} MiB ({extra:+.1f} MiB): "
        f"{'meets' if meets else 'misses'}"
    )


if __name__ == "__main__":
    main()
