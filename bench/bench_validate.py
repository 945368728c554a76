"""Validate endpoint throughput against a bare JSON endpoint of the same app (SQLite store).

Run by hand from the repository root:
``python bench/bench_validate.py [--requests 2000] [--type math|image|pow]``.

Two harnesses, each measuring ours and the baseline side by side, rounds alternating:
- ``http``: the app under gunicorn (one sync worker, pinned to one core) on loopback, driven by
  four client threads (pinned to the other core); what a deployment sees.
- ``client``: Flask's test client in one thread: no sockets, so the ratio shows the bare cost of
  validation itself (JSON, site-key lookup, two rate-limit counters, the atomic take of the
  challenge, the answer check and the check of its proof of work, signing the token) against
  Flask's own overhead. The harsher one.
Challenges are generated before each timed round (written to the shared SQLite file), not timed;
each costs two PBKDF2 derivations (the challenge and, through the testing hook, its solution).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402

from bench.apps import create_app  # noqa: E402
from bench.harness import drive, start_gunicorn  # noqa: E402
from tests.helpers import generate, validate_body  # noqa: E402

TARGET = 0.6


def prepare(app: Flask, kind: str, count: int) -> List[dict]:
    """``count`` fresh challenges with their right answers (and the proofs of their PoW
    parts), as validate request bodies."""
    app.testing = True
    return [validate_body(app, *generate(app, kind)) for _ in range(count)]


def in_process(app: Flask) -> Callable[[str, List[dict]], float]:
    client = app.test_client()

    def rate(path: str, bodies: List[dict]) -> float:
        start = time.perf_counter()
        for body in bodies:
            reply = client.post(path, json=body)
            assert reply.status_code == 200, reply.get_data(as_text=True)
        return len(bodies) / (time.perf_counter() - start)

    return rate


def compare(
    app: Flask, rate: Callable[[str, List[dict]], float], kind: str, n: int, rounds: int
) -> Tuple[float, float]:
    ours: List[float] = []
    bare: List[float] = []
    for index in range(rounds):
        bodies = prepare(app, kind, n)
        pair = [("/bare", bare), ("/captcha/validate", ours)]
        for path, results in pair if index % 2 == 0 else pair[::-1]:
            results.append(rate(path, bodies))
    return statistics.median(ours), statistics.median(bare)


def report(name: str, ours: float, bare: float, rounds: int) -> None:
    ratio = ours / bare
    verdict = "meets" if ratio >= TARGET else "misses"
    print(f"[{name}] validate {ours:7.0f} req/s | bare {bare:7.0f} req/s | "
          f"ratio {ratio:.2f}x (median of {rounds}; target >= {TARGET}x: {verdict})")


def run(kind: str, harness: str, requests: int, rounds: int) -> None:
    """Measure and report validate of ``kind`` against the bare endpoint on ``harness``."""
    with tempfile.TemporaryDirectory() as folder:
        store_url = "sqlite:///" + os.path.join(folder, "bench.sqlite3")
        app = create_app(store_url)
        print(f"validate ({kind} challenges, SQLite store) against a bare JSON endpoint")
        if harness in ("both", "http"):
            cores = sorted(os.sched_getaffinity(0))
            server = start_gunicorn(f"bench.apps:create_app({store_url!r})", 1, cpu=cores[0])
            if len(cores) > 1:
                os.sched_setaffinity(0, set(cores[1:]))
            try:
                ours, bare = compare(
                    app, lambda p, b: drive(server.port, p, b), kind, requests, rounds
                )
                report("http, gunicorn 1 worker", ours, bare, rounds)
            finally:
                server.stop()
                os.sched_setaffinity(0, set(cores))
        if harness in ("both", "client"):
            ours, bare = compare(app, in_process(app), kind, requests, rounds)
            report("in-process test client", ours, bare, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--type", default="math", choices=["math", "image", "pow"])
    parser.add_argument("--harness", default="both", choices=["both", "http", "client"])
    args = parser.parse_args()
    run(args.type, args.harness, args.requests, args.rounds)


if __name__ == "__main__":
    main()
