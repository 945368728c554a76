"""How long the widget takes to solve proof of work in headless Chromium, and what verifying costs.

Run by hand from the repository root (needs Chromium and Playwright: bash tests/install.sh)::

    python bench/bench_pow_browser.py [--challenges 15] [--target-ms MS] [--cores N]
                                      [--chromium /usr/bin/chromium]

The example app (SQLite store, rate limits off) serves a page with one ``challenge_type="pow"``
widget; Chromium opens it, then the widget is reset ``--challenges`` times. Each round is timed in
the page: from the reset (generate request) to the token (``fce:verified``), and the solve alone
(``fce:solved``: from the challenge to the found counter, workers included; "hashing" is the
workers' own time). The challenges are the app's defaults (CAPTCHA_POW_ALGORITHM, at the base
work: no pressure from one visitor), ``--target-ms`` sets CAPTCHA_POW_TARGET_MS. In the same run,
the server side is measured on exactly those challenges:

- check: ``ProofOfWork.check`` (what validate runs on the payload: parse, the signature HMAC, the
  derived key's HMAC), re-timed on each real (state, payload) pair, median of batches of 10;
- validate: the whole ``POST validate`` request inside the WSGI app (store take, rate limits,
  JWT), as the server saw it.

It prints median and p90 of each, and the ratios check/solve and validate/solve: the work a bot
must do per attempt against what the server spends. Target: check <= 1/1000 of the solve.
``--cores N`` makes the page report N CPU cores (``navigator.hardwareConcurrency``), which sets
how many workers the widget starts (at most 4).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.append(str(Path(__file__).resolve().parents[1]))

from flask import Flask, render_template_string  # noqa: E402
from werkzeug.serving import WSGIRequestHandler  # noqa: E402

from flask_captcha_ext.state import get_state  # noqa: E402
from tests.browser.pages import MEASURE_POW  # noqa: E402
from tests.support import ThreadedServer, rate_limits  # noqa: E402

TARGET_RATIO = 1000

PAGE = """{% extends "base.html" %}
{% block title %}pow bench{% endblock %}
{% block content %}
<form method="post" action="{{ url_for('widgets_check') }}">
  {{ captcha_widget(nonce=csp_nonce, id="bench", challenge_type="pow") }}
</form>
{% endblock %}"""


class TimedValidate:
    """WSGI middleware: how long the app spends on each POST .../validate."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.ms: List[float] = []

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("PATH_INFO", "").endswith("/validate"):
            return self.app(environ, start_response)
        began = time.perf_counter()
        body = b"".join(self.app(environ, start_response))
        self.ms.append((time.perf_counter() - began) * 1e3)
        return [body]


class Quiet(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def make_app(store_dir: str, target_ms: Optional[int]) -> Flask:
    from example import create_app

    config: Dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "bench-pow-browser-secret-0123456789abcdef",
        "CAPTCHA_STORE_URL": f"sqlite:///{store_dir}/captcha.sqlite3",
        **rate_limits(None),
    }
    if target_ms:
        config["CAPTCHA_POW_TARGET_MS"] = target_ms
    app = create_app(config)
    app.add_url_rule("/_bench/pow", "bench_pow", lambda: render_template_string(PAGE))
    return app


def record_checks(app: Flask) -> Tuple[List[Tuple[str, Any]], Callable[..., bool]]:
    """Wrap the service's proof-of-work check to keep each real (state, proof) it sees; returns
    them and the unwrapped check."""
    pow = get_state(app).service.pow
    seen: List[Tuple[str, Any]] = []
    original = pow.check

    def check(state: str, proof: Any) -> bool:
        seen.append((state, proof))
        return original(state, proof)

    pow.check = check  # type: ignore[method-assign]
    return seen, original


def median_check_us(check: Callable[..., bool], args: Tuple[str, Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        for _ in range(10):
            check(*args)
        samples.append((time.perf_counter() - began) / 10 * 1e6)
    return statistics.median(samples)


def p90(values: List[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--challenges", type=int, default=15)
    parser.add_argument("--target-ms", type=int, default=None,
                        help="CAPTCHA_POW_TARGET_MS (default: the setting's default)")
    parser.add_argument("--cores", type=int, default=None,
                        help="navigator.hardwareConcurrency the page reports (sets the workers)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    opts = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as store_dir:
        app = make_app(store_dir, opts.target_ms)
        pow = get_state(app).service.pow
        seen, check = record_checks(app)
        timed = TimedValidate(app.wsgi_app)
        app.wsgi_app = timed  # type: ignore[method-assign]
        server = ThreadedServer(app, request_handler=Quiet)
        url = server.url + "/_bench/pow"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=opts.chromium,
                    args=["--headless", "--no-sandbox", "--disable-gpu"],
                )
                page = browser.new_page()
                if opts.cores:
                    page.add_init_script(
                        "Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', "
                        f"{{get: () => {int(opts.cores)}}});"
                    )
                page.goto(url)
                page.wait_for_function(
                    "() => window.FlaskCaptcha && window.FlaskCaptcha.token('#bench') !== ''",
                    timeout=120_000,
                )  # the first solve warms up (worker script, JIT); not counted
                warm = len(seen), len(timed.ms)
                runs = [
                    page.evaluate(MEASURE_POW, ["bench", 120000]) for _ in range(opts.challenges)
                ]
                browser.close()
        finally:
            server.stop()

        assert all(check(*args) for args in seen[warm[0]:]), "a payload did not check"
        checks = [median_check_us(check, args, 50) for args in seen[warm[0]:]]
        validate_ms = timed.ms[warm[1]:]

    total = [r["total"] for r in runs]
    solve = [r["solve"] for r in runs]
    hashing = [r["hashing"] for r in runs]
    print(f"pow in headless Chromium: {pow.algorithm.name} (cost {pow.algorithm.cost}), target "
          f"{pow.target_ms} ms, {len(runs)} challenges, {runs[0]['workers']} worker(s)")
    for name, values in (
        ("generate -> token ", total),
        ("solve (in browser)", solve),
        ("workers' hashing  ", hashing),
    ):
        print(f"  {name}  median {statistics.median(values):8.1f} ms   p90 {p90(values):8.1f} ms")
    check_us = statistics.median(checks)
    validate = statistics.median(validate_ms)
    print(f"  server pow check    median {check_us:8.1f} us   (ProofOfWork.check, {len(checks)} "
          "real payloads)")
    print(f"  server validate     median {validate:8.2f} ms   p90 {p90(validate_ms):8.2f} ms "
          "(whole request in the app)")
    solve_us = statistics.median(solve) * 1e3
    ratio = check_us / solve_us
    ok = "OK" if ratio <= 1 / TARGET_RATIO else "ABOVE TARGET"
    print(f"  check/solve    = 1/{1 / ratio:,.0f}  ({ok}; target <= 1/{TARGET_RATIO})")
    print(f"  validate/solve = 1/{solve_us / (validate * 1e3):,.0f}  (the whole request)")


if __name__ == "__main__":
    main()
