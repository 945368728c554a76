"""What proof of work costs the server compared with the client, and what pow validate can serve.

Run by hand from the repository root::

    python bench/bench_pow.py [--challenges 30] [--max-number 100000] [--node]
                              [--browser-solve-ms MS] [--requests 1000] [--rounds 5]
                              [--harness client|http] [--no-limits] [--skip-throughput]

(a) Cost asymmetry. The same ``--challenges`` challenges (made by the real ``pow`` kind at the
configured difficulty) are solved by the ``altcha`` library's Python solver, and each solved
payload is checked by the kind's ``check`` (what ``validate`` runs) many times. It prints the
median solve time, the median check time and their ratio; the target is check <= 1/1000 of solve.
``--node`` also solves them with the ALTCHA widget's own loop (WebCrypto ``subtle.digest``, one
worker) under Node. The browser figure is measured elsewhere: pass its median with
``--browser-solve-ms`` (or call ``report_browser(ms)`` from another script) to get that ratio too.

(b) Throughput. One app with the SQLite store serves ``POST /captcha/validate`` (a pre-solved pow
challenge each time: solving is the client's cost, measured in (a)) and a bare JSON endpoint
(parse the JSON body, answer JSON) through the same harness: Flask's test client in-process
(``client``, the default: no socket noise) or a threaded werkzeug server on loopback with a
``requests`` session (``http``). Rounds alternate the order; medians of requests/s and their ratio
are printed (target >= 0.6). Rate limits stay on, set high enough never to trip, so their store
writes are part of the cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import altcha

sys.path.append(str(Path(__file__).resolve().parents[1]))

from flask import Flask, jsonify, request  # noqa: E402

from flask_captcha_ext import CaptchaExt  # noqa: E402
from flask_captcha_ext.selfhosted.pow import PowChallenge  # noqa: E402
from flask_captcha_ext.settings import DEFAULTS  # noqa: E402

TARGET_ASYMMETRY = 1000
TARGET_THROUGHPUT = 0.6
HIGH_LIMIT = "100000000/hour"

# The ALTCHA widget's worker loop (dist_external/worker.js), for Node >= 19 (global WebCrypto).
NODE_SOLVER = """
const enc = new TextEncoder();
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const out = [];
for (const c of JSON.parse(process.argv[1])) {
  const t0 = performance.now();
  for (let n = 0; n <= c.maxnumber; n++) {
    if (hex(await crypto.subtle.digest("SHA-256", enc.encode(c.salt + n))) === c.challenge) break;
  }
  out.push(performance.now() - t0);
}
console.log(JSON.stringify(out));
"""


def make_app(store_dir: str, max_number: int, limits: bool = True) -> Flask:
    """The benchmark app: SQLite store, pow at ``max_number``, limits on but never tripping.

    ``limits=False`` switches rate limiting off, to see what its counters cost.
    """
    high = HIGH_LIMIT if limits else None
    app = Flask("bench_pow", instance_path=store_dir)
    app.config.update(
        TESTING=True,  # lets the bench learn each challenge's answer (record_answers)
        SECRET_KEY="bench-secret-key-0123456789abcdef",
        CAPTCHA_STORE_URL=f"sqlite:///{store_dir}/captcha.sqlite3",
        CAPTCHA_POW_MAX_NUMBER=max_number,
        CAPTCHA_RATE_LIMIT_VALIDATE=high,
        CAPTCHA_RATE_LIMIT_IP_VALIDATE=high,
        CAPTCHA_RATE_LIMIT_GENERATE=high,
        CAPTCHA_RATE_LIMIT_IP_GENERATE=high,
    )
    CaptchaExt(app)

    @app.post("/bare")
    def bare():  # type: ignore[no-untyped-def]
        data = request.get_json(force=True)
        return jsonify(valid=bool(data), echo=len(data))

    return app


# -- (a) cost asymmetry ----------------------------------------------------------------------


def _median_us(fn: Callable[[], object], repeat: int) -> float:
    """Median of ``repeat`` timings of ``fn`` in microseconds (batches of 10 to beat timer cost)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(10):
            fn()
        samples.append((time.perf_counter() - start) / 10 * 1e6)
    return statistics.median(samples)


def asymmetry(kind: PowChallenge, count: int, node: bool) -> Dict[str, float]:
    """Median Python (and optionally Node) solve time vs median check time of the same payloads."""
    solves_ms, checks_us, publics = [], [], []
    for i in range(count):
        new = kind.create(f"bench-{i}")
        ch = new.public["challenge"]
        publics.append(ch)
        start = time.perf_counter()
        solution = altcha.solve_challenge_v1(
            ch["challenge"], ch["salt"], ch["algorithm"], ch["maxnumber"]
        )
        solves_ms.append((time.perf_counter() - start) * 1e3)
        assert solution is not None
        payload = altcha.PayloadV1(
            ch["algorithm"], ch["challenge"], solution.number, ch["salt"], ch["signature"]
        ).to_base64()
        assert kind.check(f"bench-{i}", new.state, payload)
        state = new.state
        checks_us.append(_median_us(lambda s=state, p=payload: kind.check("x", s, p), 200))
    result = {
        "python_solve_ms": statistics.median(solves_ms),
        "check_us": statistics.median(checks_us),
    }
    if node:
        out = subprocess.run(
            ["node", "--input-type=module", "-e", NODE_SOLVER, json.dumps(publics)],
            capture_output=True, text=True, check=True, timeout=600,
        )
        result["node_solve_ms"] = statistics.median(json.loads(out.stdout))
    return result


def report_browser(check_us: float, browser_solve_ms: float) -> float:
    """Hook for the browser measurement: print and return solve/check for a browser median."""
    ratio = browser_solve_ms * 1e3 / check_us
    ok = "OK" if ratio >= TARGET_ASYMMETRY else "BELOW TARGET"
    print(f"  browser solve median {browser_solve_ms:10.1f} ms -> solve/check {ratio:>10,.0f}x "
          f"({ok})")
    return ratio


# -- (b) throughput ----------------------------------------------------------------------------


def _solved_challenges(app: Flask, n: int) -> List[Dict[str, str]]:
    """``n`` stored pow challenges of the app's own key, each with its solved payload."""
    from flask_captcha_ext.testing import record_answers

    service = app.extensions["captcha"].service
    bodies = []
    with record_answers(app) as answers:
        for _ in range(n):
            data = service.new_challenge(service.site_keys.own, "pow")
            bodies.append({
                "site_key": service.site_keys.own_site_key,
                "captcha_id": data["captcha_id"],
                "user_input": answers[data["captcha_id"]],
            })
    return bodies


class ClientHarness:
    """Flask's test client, in-process, one thread."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def post(self, path: str, body: Dict[str, str]) -> Tuple[int, dict]:
        response = self.client.post(path, json=body)
        return response.status_code, response.get_json()

    def close(self) -> None:
        pass


class HttpHarness:
    """A threaded werkzeug server on loopback and one keep-alive ``requests`` session."""

    def __init__(self, app: Flask) -> None:
        import requests
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args: object, **kwargs: object) -> None:
                pass  # one log line per request would be part of what is measured

        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.session = requests.Session()

    def post(self, path: str, body: Dict[str, str]) -> Tuple[int, dict]:
        response = self.session.post(self.base + path, json=body, timeout=10)
        return response.status_code, response.json()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _rate(
    harness: ClientHarness | HttpHarness,
    path: str,
    bodies: List[Dict[str, str]],
    expect: Callable[[dict], bool],
) -> float:
    start = time.perf_counter()
    for body in bodies:
        status, reply = harness.post(path, body)
        if status != 200 or not expect(reply):
            raise SystemExit(f"unexpected reply from {path}: {status} {reply}")
    return len(bodies) / (time.perf_counter() - start)


def throughput(app: Flask, harness_name: str, requests_n: int, rounds: int) -> Dict[str, float]:
    """Median requests/s of pow validate and of the bare endpoint, same app, same harness."""
    harness = (HttpHarness if harness_name == "http" else ClientHarness)(app)
    validate_rates, bare_rates = [], []
    try:
        _rate(harness, "/bare", _solved_challenges(app, 50), lambda r: r["valid"])  # warm up
        for i in range(rounds):
            bodies = _solved_challenges(app, requests_n)
            bare_bodies = [dict(b) for b in bodies]
            runs = [
                ("validate", "/captcha/validate", bodies, lambda r: r["valid"] is True),
                ("bare", "/bare", bare_bodies, lambda r: r["valid"] is True),
            ]
            for name, path, items, expect in runs if i % 2 == 0 else reversed(runs):
                rate = _rate(harness, path, items, expect)
                (validate_rates if name == "validate" else bare_rates).append(rate)
            print(f"  round {i + 1}: validate {validate_rates[-1]:8.0f}/s, "
                  f"bare {bare_rates[-1]:8.0f}/s")
    finally:
        harness.close()
    return {
        "validate_rps": statistics.median(validate_rates),
        "bare_rps": statistics.median(bare_rates),
    }


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--challenges", type=int, default=30)
    parser.add_argument("--max-number", type=int, default=None,
                        help="difficulty (default: CAPTCHA_POW_MAX_NUMBER's default)")
    parser.add_argument("--node", action="store_true",
                        help="also solve with the ALTCHA widget's WebCrypto loop under Node")
    parser.add_argument("--browser-solve-ms", type=float, default=None,
                        help="median browser solve time measured elsewhere, for its ratio")
    parser.add_argument("--requests", type=int, default=1000, help="requests per round and side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--harness", choices=("client", "http"), default="client")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--no-limits", action="store_true",
                        help="switch rate limits off in (b), to see what their counters cost")
    opts = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as store_dir:
        max_number = opts.max_number or DEFAULTS["CAPTCHA_POW_MAX_NUMBER"]
        app = make_app(store_dir, max_number, limits=not opts.no_limits)
        kind = app.extensions["captcha"].service.kinds["pow"]
        print(f"(a) cost asymmetry, maxnumber={kind.max_number}, {opts.challenges} challenges")
        a = asymmetry(kind, opts.challenges, opts.node)
        ratio = a["python_solve_ms"] * 1e3 / a["check_us"]
        ok = "OK" if ratio >= TARGET_ASYMMETRY else "BELOW TARGET"
        print(f"  check (validate's pow check)  {a['check_us']:10.1f} us median")
        print(f"  altcha Python solver median   {a['python_solve_ms']:10.1f} ms -> solve/check "
              f"{ratio:>10,.0f}x ({ok}; target >= {TARGET_ASYMMETRY}x)")
        if "node_solve_ms" in a:
            node_ratio = a["node_solve_ms"] * 1e3 / a["check_us"]
            print(f"  Node WebCrypto (1 worker)     {a['node_solve_ms']:10.1f} ms -> solve/check "
                  f"{node_ratio:>10,.0f}x")
        if opts.browser_solve_ms is not None:
            report_browser(a["check_us"], opts.browser_solve_ms)

        if opts.skip_throughput:
            return
        limits = "off" if opts.no_limits else "on"
        print(f"(b) throughput, SQLite store, harness={opts.harness}, rate limits {limits}, "
              f"{opts.requests} requests x {opts.rounds} rounds")
        b = throughput(app, opts.harness, opts.requests, opts.rounds)
        share = b["validate_rps"] / b["bare_rps"]
        ok = "OK" if share >= TARGET_THROUGHPUT else "BELOW TARGET"
        print(f"  median: validate {b['validate_rps']:.0f}/s, bare {b['bare_rps']:.0f}/s -> "
              f"{share:.2f}x ({ok}; target >= {TARGET_THROUGHPUT}x)")


if __name__ == "__main__":
    main()
