"""Verification latency: flask-captcha-ext's pooled client against Flask-WTF's ``Recaptcha``.

Run by hand from the repository root (needs ``trustme``, in the dev extra)::

    python bench/bench_verify_latency.py [--rounds 5] [--calls 200] [--hang-attempts 2]

Both verify fresh reCAPTCHA tokens against the same loopback HTTPS fake (tests/providers/fakes.py,
certificate from a throwaway trustme CA that both trust: ours via REQUESTS_CA_BUNDLE, Flask-WTF's
urllib via SSL_CERT_FILE). Rounds alternate the two so machine load hits both alike. Then both face
a provider that never answers: one that accepts the connection and stays silent, and one whose
accept queue is full (connecting never completes). Ours must give up within connect + read
timeouts + 0.5 s; Flask-WTF sets no timeout, so its wait is capped here and reported as a hang.
All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trustme  # noqa: E402
from flask import Flask  # noqa: E402
from flask_wtf.recaptcha.validators import Recaptcha  # noqa: E402

from flask_captcha_ext import verification
from tests.providers.fakes import SECRET, Blackhole, FakeServer, FakeState  # noqa: E402
from tests.support import build_app  # noqa: E402

PATH = "/recaptcha/api/siteverify"


def tls_setup() -> Tuple[object, str]:
    """A server context from a fresh CA, and the CA file both clients are told to trust."""
    import ssl

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    path = os.path.join(tempfile.mkdtemp(), "ca.pem")
    ca.cert_pem.write_to_path(path)
    os.environ["REQUESTS_CA_BUNDLE"] = path  # ours (read when the provider is built)
    os.environ["SSL_CERT_FILE"] = path  # urllib's default context (Flask-WTF)
    return context, path


def ours(url: str, timeout: Tuple[float, float]) -> Callable[[str], bool]:
    app = build_app(
        "bench_ours",
        SECRET_KEY="bench-secret-0123456789abcdef0123",
        CAPTCHA_PROVIDER="recaptcha",
        CAPTCHA_SITE_KEY="site",
        CAPTCHA_SECRET_KEY=SECRET,
        CAPTCHA_VERIFY_URL=url,
        CAPTCHA_TIMEOUT=timeout,
        CAPTCHA_STORE_URL="memory://",
    )
    captcha = verification

    def check(token: str) -> bool:
        with app.app_context():
            return captcha.verify(token, remote_ip="127.0.0.1").success

    return check


def flask_wtf(url: str) -> Callable[[str], bool]:
    app = Flask("bench_flask_wtf")
    app.config.update(RECAPTCHA_PRIVATE_KEY=SECRET, RECAPTCHA_VERIFY_SERVER=url)
    validator = Recaptcha()
    field = SimpleNamespace(gettext=lambda text: text)

    def check(token: str) -> bool:
        with app.test_request_context(method="POST", data={"g-recaptcha-response": token}):
            try:
                validator(None, field)
            except Exception:  # noqa: BLE001 - ValidationError or a network error: not verified
                return False
            return True

    return check


def timed(check: Callable[[str], bool], tokens: List[str]) -> List[float]:
    times = []
    for token in tokens:
        started = time.perf_counter()
        ok = check(token)
        times.append(time.perf_counter() - started)
        if not ok:
            raise SystemExit("a verification failed: the bench would measure errors")
    return times


def latency(args: argparse.Namespace, server_context: object) -> bool:
    state = FakeState()
    server = FakeServer(state, server_context)  # type: ignore[arg-type]
    url = f"https://127.0.0.1:{server.port}{PATH}"
    mine, theirs = ours(url, (3.0, 5.0)), flask_wtf(url)
    conns = {"ours": 0, "flask-wtf": 0}
    for name, check in (("ours", mine), ("flask-wtf", theirs)):  # warm up: imports, TLS context
        before = state.connections
        timed(check, [state.issue("recaptcha") for _ in range(5)])
        conns[name] += state.connections - before
    all_ours: List[float] = []
    all_theirs: List[float] = []
    print(f"verification latency: {args.rounds} rounds x {args.calls} calls each, loopback HTTPS")
    head = ("round", "ours median", "ours worst", "wtf median", "wtf worst")
    print(f"{head[0]:>5}  {head[1]:>12} {head[2]:>11}  {head[3]:>11} {head[4]:>10}")
    for number in range(1, args.rounds + 1):
        timings: Dict[str, List[float]] = {}
        # Rounds alternate which side goes first, so load drifting over a round hits both alike.
        order = [("ours", mine), ("flask-wtf", theirs)]
        for side, verify in order if number % 2 else order[::-1]:
            before = state.connections
            timings[side] = timed(verify, [state.issue("recaptcha") for _ in range(args.calls)])
            conns[side] += state.connections - before
        a, b = timings["ours"], timings["flask-wtf"]
        all_ours += a
        all_theirs += b
        print(
            f"{number:>5}  {ms(statistics.median(a)):>12} {ms(max(a)):>11}  "
            f"{ms(statistics.median(b)):>11} {ms(max(b)):>10}"
        )
    med_ours, med_theirs = statistics.median(all_ours), statistics.median(all_theirs)
    ratio = med_theirs / med_ours
    print(
        f"overall: ours median {ms(med_ours)} (p95 {ms(p95(all_ours))}, worst {ms(max(all_ours))})"
        f"; Flask-WTF median {ms(med_theirs)} (p95 {ms(p95(all_theirs))}, worst "
        f"{ms(max(all_theirs))})"
    )
    total = args.rounds * args.calls + 5
    print(
        f"TCP connections for {total} verifications each: ours {conns['ours']}, "
        f"Flask-WTF {conns['flask-wtf']}"
    )
    ok = ratio >= 3
    print(f"median ratio Flask-WTF / ours: {ratio:.1f}x (target >= 3x) {'PASS' if ok else 'FAIL'}")
    server.stop()
    return ok


def hang(args: argparse.Namespace, server_context: object) -> bool:
    timeout = (args.connect, args.read)
    limit = sum(timeout) + 0.5
    silent_state = FakeState(fault="slow", delay=3600)
    silent = FakeServer(silent_state, server_context)  # type: ignore[arg-type]
    hole = Blackhole()
    ok = True
    logging.getLogger("flask_captcha_ext").setLevel(logging.ERROR)  # the expected warnings
    print(f"\nprovider that never answers (ours: CAPTCHA_TIMEOUT={timeout}, limit {limit:g} s)")
    cases = (("accepts, never replies", silent.port), ("connect never completes", hole.port))
    for name, port in cases:
        url = f"https://127.0.0.1:{port}{PATH}"
        mine = ours(url, timeout)
        worst = 0.0
        for _ in range(args.hang_attempts):
            started = time.perf_counter()
            if mine("tok-any"):
                raise SystemExit("a provider that never answers passed: fail-open is off")
            worst = max(worst, time.perf_counter() - started)
        verdict = "PASS" if worst <= limit else "FAIL"
        ok = ok and worst <= limit
        print(f"  {name}: ours worst {worst:.2f} s over {args.hang_attempts} attempts {verdict}")
        waited = capped(flask_wtf(url), args.cap)
        if waited is None:
            print(f"  {name}: Flask-WTF hung: no answer after {args.cap:g} s (it sets no timeout)")
        else:
            print(f"  {name}: Flask-WTF gave up after {waited:.2f} s")
    hole.close()
    return ok


def capped(check: Callable[[str], bool], cap: float) -> Optional[float]:
    """Seconds ``check`` took, or None if it was still waiting after ``cap`` (left behind)."""
    done = threading.Event()
    started = time.perf_counter()

    def run() -> None:
        check("tok-any")
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return time.perf_counter() - started if done.wait(cap) else None


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def p95(values: List[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200, help="verifications per round and side")
    parser.add_argument("--hang-attempts", type=int, default=2)
    parser.add_argument("--connect", type=float, default=3.0, help="our connect timeout (s)")
    parser.add_argument("--read", type=float, default=5.0, help="our read timeout (s)")
    parser.add_argument("--cap", type=float, default=15.0, help="how long to wait for Flask-WTF")
    args = parser.parse_args()
    context, _ = tls_setup()
    fast = latency(args, context)
    bounded = hang(args, context)
    sys.exit(0 if fast and bounded else 1)


if __name__ == "__main__":
    main()
