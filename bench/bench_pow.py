"""What proof of work costs the server compared with the client, and what pow validate can serve.

Run by hand from the repository root::

    python bench/bench_pow.py [--challenges 30] [--algorithm NAME] [--target-ms MS] [--node]
                              [--browser-solve-ms MS] [--requests 2000] [--rounds 5]
                              [--harness both|http|client] [--skip-throughput]

(a) Cost asymmetry. The same ``--challenges`` challenges (issued by the real ``ProofOfWork`` at
the base work, with CAPTCHA_POW_ALGORITHM and CAPTCHA_POW_TARGET_MS, defaults unless given) are
solved by the ``altcha`` library's Python solver, and each solved payload is checked by
``ProofOfWork.check`` (what ``validate`` runs) many times. It prints the median solve time, the
median check time and their ratio; the target is check <= 1/1000 of solve. ``--node`` (with
``--algorithm ALTCHA-V1`` only) also solves them with the ALTCHA v1 widget's own loop (WebCrypto
``subtle.digest``, one worker) under Node. The browser figure is measured elsewhere
(``bench_pow_browser.py``, ``bench_attack.py``): pass its median with ``--browser-solve-ms`` to
get that ratio too.

(b) Throughput: ``bench_validate.py``'s harnesses with pow challenges (a pre-solved payload each
time: solving is the client's cost, measured in (a)). One app on the SQLite store serves
``POST /captcha/validate`` and a bare JSON endpoint under gunicorn (one sync worker pinned to one
core, client threads on the other) and, beside it, through Flask's in-process test client.
Rounds alternate the order; medians of requests/s and their ratio are printed (target >= 0.6x).
Rate limits stay on, set high enough never to trip, so their store writes are part of the cost.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import altcha

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_validate  # noqa: E402
from flask_captcha_ext.selfhosted.pow import ALGORITHMS, V1, ProofOfWork  # noqa: E402
from flask_captcha_ext.settings import DEFAULTS  # noqa: E402

TARGET_ASYMMETRY = 1000

# The ALTCHA v1 widget's worker loop (dist_external/worker.js), for Node >= 19 (global
# WebCrypto): solves ALTCHA-V1 challenges.
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


def solve(challenge: Dict[str, Any]) -> str:
    """Solve an issued challenge with the ``altcha`` library's Python solver (v2, or v1), to the
    payload a widget posts."""
    if "parameters" in challenge:
        solution = altcha.solve_challenge(altcha.Challenge.from_dict(challenge))
        assert solution is not None
        payload = {"challenge": challenge, "solution": solution.to_dict()}
        return base64.b64encode(json.dumps(payload).encode()).decode()
    found = altcha.solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    assert found is not None
    return altcha.PayloadV1(
        challenge["algorithm"], challenge["challenge"], found.number, challenge["salt"],
        challenge["signature"],
    ).to_base64()


def asymmetry(pow: ProofOfWork, count: int, node: bool) -> Dict[str, float]:
    """Median Python (and optionally Node) solve time vs median check time of the same payloads."""
    solves_ms, checks_us, publics = [], [], []
    for i in range(count):
        issued = pow.issue(f"bench-{i}", 1.0)
        publics.append(issued.public)
        start = time.perf_counter()
        payload = solve(issued.public)
        solves_ms.append((time.perf_counter() - start) * 1e3)
        assert pow.check(issued.state, payload)
        state = issued.state
        checks_us.append(_median_us(lambda s=state, p=payload: pow.check(s, p), 200))
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


# -- (b) throughput: bench_validate's harnesses with pow challenges ---------------------------


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--challenges", type=int, default=30)
    parser.add_argument("--algorithm", choices=sorted(ALGORITHMS),
                        default=DEFAULTS["CAPTCHA_POW_ALGORITHM"],
                        help="CAPTCHA_POW_ALGORITHM (default: the setting's default)")
    parser.add_argument("--target-ms", type=int, default=DEFAULTS["CAPTCHA_POW_TARGET_MS"],
                        help="CAPTCHA_POW_TARGET_MS (default: the setting's default)")
    parser.add_argument("--node", action="store_true",
                        help="also solve with the ALTCHA v1 widget's WebCrypto loop under Node "
                        "(--algorithm ALTCHA-V1 only)")
    parser.add_argument("--browser-solve-ms", type=float, default=None,
                        help="median browser solve time measured elsewhere, for its ratio")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round and side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--harness", choices=("both", "http", "client"), default="both")
    parser.add_argument("--skip-throughput", action="store_true")
    opts = parser.parse_args(argv)
    if opts.node and opts.algorithm != V1:
        parser.error(f"--node solves {V1} challenges only: add --algorithm {V1}")

    pow = ProofOfWork(
        opts.algorithm, opts.target_ms, secrets.token_bytes(32), DEFAULTS["CAPTCHA_CHALLENGE_TTL"]
    )
    print(f"(a) cost asymmetry, {opts.algorithm} at the base work (target {opts.target_ms} ms, "
          f"{pow.bound(1.0)} counters), {opts.challenges} challenges")
    a = asymmetry(pow, opts.challenges, opts.node)
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
    print(f"(b) throughput, {opts.requests} requests x {opts.rounds} rounds")
    bench_validate.run("pow", opts.harness, opts.requests, opts.rounds)


if __name__ == "__main__":
    main()
