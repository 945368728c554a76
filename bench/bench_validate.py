"""Validate endpoint throughput against a bare JSON endpoint of the same app (SQLite store).

Run by hand: ``python bench/bench_validate.py [--requests 2000] [--rounds 5]``.

Both endpoints go through the same harness (Flask's test client in one thread, pinned to one
core), so the ratio shows what validation itself costs: JSON parsing, the site-key lookup, two
rate-limit counters, the atomic take of the challenge, the answer check and signing the token.
Challenges are generated before each timed round and are not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, jsonify, request  # noqa: E402

from flask_captcha_ext import CaptchaExt  # noqa: E402
from flask_captcha_ext.testing import record_answers  # noqa: E402


def build_app(folder: str, kind: str) -> Flask:
    app = Flask("bench", instance_path=folder)
    app.config.update(
        TESTING=True,
        SECRET_KEY="bench-secret-0123456789abcdef0123456789",
        CAPTCHA_STORE_URL="sqlite:///" + os.path.join(folder, "bench.sqlite3"),
        CAPTCHA_RATE_LIMIT_GENERATE="10000000/hour",
        CAPTCHA_RATE_LIMIT_VALIDATE="10000000/hour",
        CAPTCHA_RATE_LIMIT_IP_GENERATE="10000000/minute",
        CAPTCHA_RATE_LIMIT_IP_VALIDATE="10000000/minute",
    )
    CaptchaExt(app)

    @app.post("/bare")
    def bare() -> Any:
        data = request.get_json()
        return jsonify(valid=bool(data.get("user_input")))

    return app


def prepare(app: Flask, kind: str, count: int) -> List[dict]:
    service = app.extensions["captcha"].service
    site_key = service.site_keys.own_site_key
    client = app.test_client()
    bodies = []
    with record_answers(app) as answers:
        for _ in range(count):
            cid = client.post("/captcha/generate", json={"site_key": site_key, "type": kind})
            captcha_id = cid.get_json()["captcha_id"]
            bodies.append({"site_key": site_key, "captcha_id": captcha_id,
                           "user_input": answers[captcha_id]})
    return bodies


def timed(app: Flask, path: str, bodies: List[dict]) -> float:
    client = app.test_client()
    start = time.perf_counter()
    for body in bodies:
        response = client.post(path, json=body)
        assert response.status_code == 200, response.get_data(as_text=True)
    return len(bodies) / (time.perf_counter() - start)


def run(kind: str, requests: int, rounds: int) -> Tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(folder, kind)
        ours, bare = [], []
        for _ in range(rounds):
            bodies = prepare(app, kind, requests)
            bare.append(timed(app, "/bare", bodies))
            ours.append(timed(app, "/captcha/validate", bodies))
        return statistics.median(ours), statistics.median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--type", default="math", choices=["math", "image"])
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    ours, bare = run(args.type, args.requests, args.rounds)
    print(f"validate ({args.type}, sqlite store): {ours:8.0f} req/s (median of {args.rounds})")
    print(f"bare JSON endpoint:            {bare:8.0f} req/s")
    print(f"ratio validate/bare: {ours / bare:.2f}x (target >= 0.6x)")


if __name__ == "__main__":
    main()
