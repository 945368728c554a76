"""Image challenges: our renderer and generate endpoint vs the `captcha` package's, same run.

Run by hand from the repository root, after ``bash tests/install.sh`` (it installs ``captcha``
and gunicorn) and ``apt-get install wrk`` (the warm endpoint load; without it a Python client
at concurrency 1 stands in)::

    python bench/bench_image.py                 # about 2 minutes on a loaded 2-core machine
    python bench/bench_image.py --quick         # smoke run, under a minute
    python bench/bench_image.py [--rounds 7] [--cold-rounds 5] [--requests 100] [--seconds 1.0]

Every image is 320x120 (ours by default, shown at 160x60 CSS px) of the default answer length,
5 characters from our ALPHABET. The bench process sits on one core, the servers on the other.
Lines printed:

1. ``renderer, warm``: images/s of ``render_png(text)`` vs the package's
   ``ImageCaptcha(width=320, height=120).generate(text).getvalue()`` in this process after a
   warm-up: ``--rounds`` rounds of ``--seconds`` per side, the order rotating; medians and their
   ratio. Target >= 5x. The previous renderer (see 4) at 320x120 runs alongside, for context.
2. ``cold``: per round, three fresh gunicorn processes (1 sync worker each) of
   ``bench.apps:create_app`` (SQLite store in a temp dir), one per endpoint, the order rotating:
   ours, ``POST /captcha/generate {"site_key": own key, "type": "image"}``; captcha, ``POST
   /captcha-package`` (the package's image of a random text, base64, jsonify: a minimal Flask
   view); bare, ``POST /bare``. Each is timed over its first ``--requests`` requests, one at a
   time, once its worker has loaded the app (gunicorn's post_worker_init hook) and with no
   warm-up, so lazy imports and first uses fall in them. ms per request, medians over
   ``--cold-rounds`` processes; net = minus bare's; the ratio is captcha net / ours net. Target
   >= 5x. ``worker CPU``: the same from the worker's own CPU time (/proc/PID/schedstat), which
   other jobs on the machine disturb less than the clock. ``first request`` alone, and ``boot``
   (process start to worker ready), are not in the figures.
3. ``warm endpoint``: the last cold round's three servers after a warm-up, requests/s with wrk
   (1 thread, 2 connections; ``--seconds`` x 3, in whole seconds, per endpoint and round, the
   order rotating), medians over ``--rounds``; net ms = 1000/rate - 1000/bare's rate; the ratio
   is captcha net / ours net. Target >= 5x. ``worker CPU`` as in 2.
4. ``PNG size``: mean bytes of 200 images from ours, the previous renderer (``git show
   872f5b0:flask_captcha_ext/selfhosted/image.py``, loaded from git into a throwaway module) and
   the package, all 320x120; and the previous one at its own default (160x60, 4 characters), what
   was sent before. Target: ours <= previous at 320x120.

The bench app sets ``CAPTCHA_POW_LEVELS=[(0, 0, 1)]`` so that every one of the many challenges
asked from 127.0.0.1 carries the base work (by default pressure multiplies the work of later
ones) and ``CAPTCHA_MAX_LIVE_CHALLENGES`` high; bench.apps sets the rate limits too high to trip.
gunicorn's sync workers close every connection, so each request is a new one, for every endpoint
alike. Trust the ratios over the absolute figures on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import exchange, raw_request  # noqa: E402
from flask_captcha_ext.settings import DEFAULTS  # noqa: E402
from tests.support import ROOT, Gunicorn  # noqa: E402

TARGET = 5.0
PREVIOUS = "872f5b0"  # the last commit with the previous renderer
WIDTH, HEIGHT = 320, 120
LENGTH = DEFAULTS["CAPTCHA_IMAGE_LENGTH"]  # the default answer length, as the endpoints serve
APP_SETTINGS = "CAPTCHA_POW_LEVELS=[(0, 0, 1)], CAPTCHA_MAX_LIVE_CHALLENGES=100000000"
ENDPOINTS = {"ours": "/captcha/generate", "captcha": "/captcha-package", "bare": "/bare"}
READY_HOOK = """
def post_worker_init(worker):
    open({path!r}, "w").close()
"""
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d\\n", summary.requests, summary.errors.status,
                         summary.duration))
end
"""

Render = Callable[[str], bytes]


def verdict(ratio: float) -> str:
    return f"target >= {TARGET:.0f}x: {'meets' if ratio >= TARGET else 'misses'}"


def rotated(names: list[str], index: int) -> list[str]:
    """``names`` starting at ``index`` (mod its length): who goes first changes every round."""
    k = index % len(names)
    return names[k:] + names[:k]


# -- 1. the renderers in this process ------------------------------------------------------------


def images_per_second(make: Render, texts: list[str], seconds: float) -> float:
    """Images per second over about ``seconds``, cycling through ``texts``."""
    n, i = 0, 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(10):
            make(texts[i])
            i = (i + 1) % len(texts)
        n += 10
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def bench_renderer(sides: dict[str, Render], texts: list[str], rounds: int, seconds: float) -> None:
    """Line 1: warm images/s of each side, the order rotating from round to round."""
    for make in sides.values():
        images_per_second(make, texts, seconds / 2)  # warm-up: caches, allocator
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for index in range(rounds):
        for name in rotated(list(sides), index):
            rates[name].append(images_per_second(sides[name], texts, seconds))
    med = {name: statistics.median(values) for name, values in rates.items()}
    ratio = med["ours"] / med["captcha"]
    per_round = [a / b for a, b in zip(rates["ours"], rates["captcha"])]
    print(f"1. renderer, warm ({WIDTH}x{HEIGHT}, {LENGTH} chars, median of {rounds} x "
          f"{seconds:g} s): ours {med['ours']:.0f} images/s ({1000 / med['ours']:.2f} ms), captcha "
          f"{med['captcha']:.0f} images/s ({1000 / med['captcha']:.2f} ms) -> {ratio:.1f}x "
          f"({verdict(ratio)})")
    line = f"   per-round ratios {min(per_round):.1f}x to {max(per_round):.1f}x"
    if "previous" in med:
        line += (f"; previous renderer at {WIDTH}x{HEIGHT}: {med['previous']:.0f} images/s "
                 f"({1000 / med['previous']:.2f} ms)")
    print(line)


# -- 2 and 3. the endpoints under gunicorn -------------------------------------------------------


def cpu_ns(pid: int) -> int:
    """CPU time process ``pid`` (its main thread: a sync worker has no other) has had, in ns."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


class Server(NamedTuple):
    gunicorn: Gunicorn
    worker: int  # the worker's pid
    boot: float  # seconds from process start to the worker's app loaded


def start_cold(app_spec: str, folder: str, cpu: Optional[int]) -> Server:
    """A fresh gunicorn (1 sync worker) of ``app_spec``, returned once its worker has loaded the
    app and before any request (bench.harness.start_gunicorn's probe request would warm it)."""
    ready = Path(tempfile.mkdtemp(dir=folder), "ready")
    config = ready.with_name("gunicorn_conf.py")
    config.write_text(READY_HOOK.format(path=str(ready)))
    start = time.perf_counter()
    server = Gunicorn(app_spec, 1, options=["-c", str(config), "--backlog", "2048"], cpu=cpu)
    while not ready.exists():
        if server.proc.poll() is not None or time.perf_counter() - start > 60:
            server.stop()
            raise RuntimeError(f"gunicorn did not start: {app_spec}")
        time.sleep(0.002)
    boot = time.perf_counter() - start
    pid = server.proc.pid  # taskset execs gunicorn: the same pid
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        worker = int(children.read().split()[0])
    return Server(server, worker, boot)


class Cold(NamedTuple):
    ms: float  # per request, mean
    cpu_ms: float  # the worker's CPU per request, mean
    first_ms: float
    boot: float


def time_cold(server: Server, raw: bytes, requests: int, expect: bytes) -> Cold:
    """The first ``requests`` requests of a fresh server, one at a time."""
    times = []
    cpu = cpu_ns(server.worker)
    for _ in range(requests):
        start = time.perf_counter()
        status, reply = exchange(server.gunicorn.port, raw)
        times.append(time.perf_counter() - start)
        if status != 200 or expect not in reply:
            raise RuntimeError(f"status {status}: {reply[:300]!r}")
    cpu_ms = (cpu_ns(server.worker) - cpu) / 1e6 / requests
    return Cold(1000 * statistics.mean(times), cpu_ms, 1000 * times[0], server.boot)


def wrk_rate(port: int, path: str, body: dict, seconds: int) -> tuple[float, int]:
    """Requests/s of ``POST path`` over ``seconds`` with wrk (1 thread, 2 connections: the one
    sync worker always has the next request waiting), and how many were answered."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder, "post.lua")
        script.write_text(WRK_SCRIPT.format(body=json.dumps(json.dumps(body))))
        command = ["wrk", "-t", "1", "-c", "2", "-d", f"{seconds}s", "-s", str(script),
                   f"http://127.0.0.1:{port}{path}"]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"wrk printed no result: {out.stdout} {out.stderr}")
    done, bad, duration_us = (int(v) for v in lines[-1].split()[1:])
    if bad or not done:
        raise RuntimeError(f"{bad} of {done} requests to {path} failed")
    return done / (duration_us / 1e6), done


def python_rate(port: int, raw: bytes, seconds: int) -> tuple[float, int]:
    """Like ``wrk_rate`` with the raw-socket client, one request at a time."""
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        status, reply = exchange(port, raw)
        if status != 200:
            raise RuntimeError(f"status {status}: {reply[:300]!r}")
        n += 1
    return n / (time.perf_counter() - start), n


def net_line(med: dict[str, float], unit: str = "ms") -> str:
    """Ours and captcha net of bare, and their ratio."""
    ours, theirs = med["ours"] - med["bare"], med["captcha"] - med["bare"]
    ratio = theirs / ours
    return f"ours {ours:.2f} {unit}, captcha {theirs:.2f} {unit} -> {ratio:.1f}x ({verdict(ratio)})"


def bench_endpoints(opts: argparse.Namespace, folder: str, server_cpu: Optional[int]) -> None:
    """Lines 2 and 3: fresh servers' first requests, then the last round's servers warm."""
    from bench.apps import create_app
    from tests.helpers import own_site_key

    site_key = own_site_key(create_app("memory://"))  # derived from SECRET_KEY alone
    bodies = {
        "ours": {"site_key": site_key, "type": "image"},
        "captcha": {"type": "image"},
        "bare": {"user_input": "x"},
    }
    expect = {"ours": b'"image"', "captcha": b'"image"', "bare": b'"valid"'}
    cold: dict[str, list[Cold]] = {name: [] for name in ENDPOINTS}
    servers: dict[str, Server] = {}
    try:
        for index in range(opts.cold_rounds):
            last = index == opts.cold_rounds - 1
            for name in rotated(list(ENDPOINTS), index):
                store = "sqlite:///" + os.path.join(folder, f"{name}-{index}.sqlite3")
                server = start_cold(f"bench.apps:create_app({store!r}, {APP_SETTINGS})", folder,
                                    server_cpu)
                try:
                    raw = raw_request(server.gunicorn.port, ENDPOINTS[name], bodies[name])
                    cold[name].append(time_cold(server, raw, opts.requests, expect[name]))
                finally:
                    if last:
                        servers[name] = server
                    else:
                        server.gunicorn.stop()
        report_cold(cold, opts)
        warm_endpoints(servers, bodies, opts)
    finally:
        for server in servers.values():
            server.gunicorn.stop()


def report_cold(cold: dict[str, list[Cold]], opts: argparse.Namespace) -> None:
    """Line 2."""

    def median(field: str) -> dict[str, float]:
        return {name: statistics.median(getattr(c, field) for c in runs)
                for name, runs in cold.items()}

    ms, cpu, first, boot = median("ms"), median("cpu_ms"), median("first_ms"), median("boot")
    print(f"2. cold: first {opts.requests} requests of a fresh gunicorn worker, one at a time, "
          f"median of {opts.cold_rounds} processes each: ours {ms['ours']:.2f} ms/request, "
          f"captcha {ms['captcha']:.2f}, bare {ms['bare']:.2f}")
    print(f"   net of bare: {net_line(ms)}")
    print(f"   worker CPU per request: ours {cpu['ours']:.2f} ms, captcha {cpu['captcha']:.2f}, "
          f"bare {cpu['bare']:.2f}; net of bare: {net_line(cpu)}")
    per_round = [
        (t.ms - b.ms) / (o.ms - b.ms)
        for o, t, b in zip(cold["ours"], cold["captcha"], cold["bare"])
        if o.ms > b.ms
    ]
    if per_round:
        print(f"   per-round net ratios {min(per_round):.1f}x to {max(per_round):.1f}x")
    print(f"   first request alone: ours {first['ours']:.1f} ms, captcha {first['captcha']:.1f}, "
          f"bare {first['bare']:.1f}; boot to worker ready (not timed above): ours "
          f"{boot['ours']:.2f} s, captcha {boot['captcha']:.2f}, bare {boot['bare']:.2f}")


def warm_endpoints(servers: dict[str, Server], bodies: dict[str, dict],
                   opts: argparse.Namespace) -> None:
    """Line 3: requests/s of each endpoint on its own (now warm) server."""
    seconds = max(1, round(3 * opts.seconds))  # wrk takes whole seconds
    use_wrk = shutil.which("wrk") is not None

    def rate(name: str, how_long: int) -> tuple[float, float]:
        """Requests/s and the worker's CPU ms per request."""
        server = servers[name]
        port, path = server.gunicorn.port, ENDPOINTS[name]
        cpu = cpu_ns(server.worker)
        if use_wrk:
            per_second, done = wrk_rate(port, path, bodies[name], how_long)
        else:
            per_second, done = python_rate(port, raw_request(port, path, bodies[name]), how_long)
        return per_second, (cpu_ns(server.worker) - cpu) / 1e6 / done

    names = list(servers)
    for name in names:
        rate(name, 1)  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    for index in range(opts.rounds):
        for name in rotated(names, index):
            per_second, cpu_ms = rate(name, seconds)
            rates[name].append(per_second)
            cpus[name].append(cpu_ms)
    med = {name: statistics.median(values) for name, values in rates.items()}
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    client = "wrk -t1 -c2" if use_wrk else "Python client, concurrency 1"
    print(f"3. warm endpoint ({client}, median of {opts.rounds} x {seconds} s): ours "
          f"{med['ours']:.0f} req/s, captcha {med['captcha']:.0f}, bare {med['bare']:.0f}")
    print(f"   net of bare: {net_line({name: 1000 / r for name, r in med.items()})}")
    print(f"   worker CPU per request: ours {cpu['ours']:.2f} ms, captcha {cpu['captcha']:.2f}, "
          f"bare {cpu['bare']:.2f}; net of bare: {net_line(cpu)}")


# -- 4. PNG sizes --------------------------------------------------------------------------------


def previous_renderer() -> Optional[types.ModuleType]:
    """The previous image module, from git (it imports only the standard library and Pillow),
    or None outside a git checkout that has it."""
    path = "flask_captcha_ext/selfhosted/image.py"
    try:
        source = subprocess.run(
            ["git", "show", f"{PREVIOUS}:{path}"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("previous_image")
    exec(compile(source, f"{PREVIOUS}:{path}", "exec"), module.__dict__)
    return module


def bench_sizes(sides: dict[str, Render], old: Optional[types.ModuleType],
                texts: list[str]) -> None:
    """Line 4: mean PNG bytes."""
    sample = texts[:200]

    def mean(make: Render, sample: list[str]) -> float:
        return statistics.mean(len(make(text)) for text in sample)

    ours, theirs = mean(sides["ours"], sample), mean(sides["captcha"], sample)
    if old is None:
        print(f"4. PNG size, {WIDTH}x{HEIGHT}: ours {ours:.0f} bytes, captcha {theirs:.0f}; the "
              f"previous renderer ({PREVIOUS}) is not in git here")
        return
    previous = mean(sides["previous"], sample)
    previous_default = mean(lambda text: old.render_png(text[:4]), sample)
    met = "meets" if ours <= previous else "misses"
    print(f"4. PNG size, {WIDTH}x{HEIGHT}, mean of {len(sample)}: ours {ours:.0f} bytes, previous "
          f"renderer {previous:.0f}, captcha {theirs:.0f} -> ours/previous {ours / previous:.2f} "
          f"(target <= 1: {met})")
    print(f"   previous renderer at its default 160x60, 4 characters: {previous_default:.0f} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="renderer and warm endpoint rounds")
    parser.add_argument("--cold-rounds", type=int, default=5, help="fresh processes per endpoint")
    parser.add_argument("--requests", type=int, default=100, help="timed per fresh process")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="per renderer round and side (endpoint rounds: 3x)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 rounds, 2 cold rounds, 0.3 s")
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds, opts.cold_rounds, opts.seconds = 3, 2, 0.3

    from captcha.image import ImageCaptcha

    from flask_captcha_ext.selfhosted.image import random_text, render_png

    cores = sorted(os.sched_getaffinity(0))
    server_cpu = cores[0] if len(cores) > 1 else None
    os.sched_setaffinity(0, {cores[-1]})
    where = "the other" if server_cpu is not None else "the same"
    print(f"bench on core {cores[-1]}, servers on {where}; load average {os.getloadavg()[0]:.1f}")
    package = ImageCaptcha(width=WIDTH, height=HEIGHT)
    sides: dict[str, Render] = {
        "ours": render_png,
        "captcha": lambda text: package.generate(text).getvalue(),
    }
    old = previous_renderer()
    if old is not None:
        sides["previous"] = lambda text: old.render_png(text, WIDTH, HEIGHT)
    texts = [random_text(LENGTH) for _ in range(1000)]
    try:
        bench_renderer(sides, texts, opts.rounds, opts.seconds)
        with tempfile.TemporaryDirectory() as folder:
            bench_endpoints(opts, folder, server_cpu)
        bench_sizes(sides, old, texts)
    finally:
        os.sched_setaffinity(0, set(cores))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
