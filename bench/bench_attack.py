"""Proof of work: an attacker's native solver against a visitor's browser, and under pressure.

Run by hand from the repository root (needs Chromium, Playwright and ALTCHA's worker scripts:
bash tests/install.sh; ``pip install argon2-cffi`` for ARGON2ID)::

    python bench/bench_attack.py [--part both|speed|pressure] [--rounds 5] [--per-round 4]
                                 [--algorithms NAME ...] [--minutes 3] [--visit-every 5]
                                 [--one-visitor] [--quick] [--chromium /usr/bin/chromium]

(a) ``speed``: for each algorithm of ``pow.ALGORITHMS``, the real ``ProofOfWork`` issues
challenges at the base level (work 1, CAPTCHA_POW_TARGET_MS 500), and the same challenges are
solved four ways: natively, as an attacker would (``altcha.solve_challenge`` with ``hashlib``,
``cryptography``'s PBKDF2 (about twice ``hashlib``'s speed here) and ``argon2-cffi``; a plain
``hashlib.sha256`` loop for the SHA ones), on one core and on every core (processes trying
interleaved counters); and in headless Chromium by the widget's own solver
(``FlaskCaptcha.solvePow`` in widget.js, which runs ALTCHA's worker scripts from ``altcha/``),
with one worker and with as many as the widget starts here. Per round it takes the time per key
derivation of one core in two ways: CPU time (native: the processes'; Chromium: the renderer's,
where the page, its workers and WebCrypto run, read from /proc) and the finding core's own clock;
and the wall time per pass. It prints medians over the rounds, the native/browser ratio per core
(CPU), the one worker's ms per key (what ``browser_ms`` in ``pow.ALGORITHMS`` should say: on a
busy machine use the CPU figure, the clock counts other jobs' time too) and the visitor's median
wait with the widget's workers, start-up included. Targets: visitor median wait <= 1 s at the base
level; native/browser <= 3x for the default algorithm.

(b) ``pressure``: the real app under gunicorn (one sync worker, SQLite store, the extension's
defaults: rate limits and CAPTCHA_POW_LEVELS) is attacked from 127.0.0.2, which asks and solves as
fast as it can with the native solver on every core, while a visitor asks every ``--visit-every``
seconds, each time from a new network (127.0.1.x: one visit per visitor), or with
``--one-visitor`` always from 127.0.0.3. The app takes the network from the socket's peer address
(it trusts no forwarding header), so the clients bind their sockets to those loopback sources.
The visitor solves natively to answer, and its wait is what its derivations cost the widget in
Chromium: ``(counter // workers + 1) * browser_ms``. Each interval (a minute; 10 s with
``--quick``) it prints the attacker's passes, its CPU-seconds per pass, its work multiplier and
what a pass at that work is expected to cost it, its refusals (429), and the visitor's visits,
work, median wait and refusals (any non-200 or invalid answer). Targets: within two minutes the
attacker pays >= 10 CPU-seconds per pass; the visitor passes every time at the base level, with
0 refusals.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import logging
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import altcha
from altcha import v1 as altcha_v1

try:  # an attacker takes the fastest PBKDF2 at hand
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
except ImportError:  # pragma: no cover
    PBKDF2HMAC = None
PBKDF2_BY = "hashlib" if PBKDF2HMAC is None else "cryptography"

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, abort, send_from_directory  # noqa: E402

from flask_captcha_ext.rates import parse_many  # noqa: E402
from flask_captcha_ext.selfhosted.pow import ALGORITHMS, ProofOfWork  # noqa: E402
from flask_captcha_ext.selfhosted.pressure import Pressure  # noqa: E402
from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair  # noqa: E402
from flask_captcha_ext.settings import DEFAULTS  # noqa: E402
from tests.support import ROOT, Gunicorn, ThreadedServer, build_app  # noqa: E402

SECRET = "bench-attack-secret-0123456789abcdef0123"
OWN_KEY, _ = derived_key_pair(SECRET.encode())
TARGET_MS = DEFAULTS["CAPTCHA_POW_TARGET_MS"]
DEFAULT_ALGORITHM = DEFAULTS["CAPTCHA_POW_ALGORITHM"]
PREFIX = DEFAULTS["CAPTCHA_URL_PREFIX"]
TARGET_WAIT_S = 1.0
TARGET_RATIO = 3.0
TARGET_CPU_S = 10.0
TARGET_WITHIN_S = 120.0
ATTACKER = "127.0.0.2"
VISITOR = "127.0.0.3"

STATIC = ROOT / "flask_captcha_ext" / "static" / "flask_captcha_ext"
#: Where ALTCHA's worker scripts may be: the copy the widget serves, else the npm package.
ALTCHA_DIRS = (STATIC / "altcha", ROOT / "tests" / "node_modules" / "altcha3" / "dist" / "workers")

# -- the attacker's native solver ------------------------------------------------------------


def derive_sha(parameters: altcha.ChallengeParameters, salt: bytes, password: bytes) -> bytes:
    """The library's iterated SHA-256 key, with ``hashlib.sha256`` called directly (faster)."""
    digest = hashlib.sha256(salt + password).digest()
    for _ in range(parameters.cost - 1):
        digest = hashlib.sha256(digest).digest()
    return digest[: parameters.key_length]


def derive_pbkdf2(parameters: altcha.ChallengeParameters, salt: bytes, password: bytes) -> bytes:
    """The library's PBKDF2 key, by ``cryptography`` when installed (its wheel's OpenSSL derives
    about twice as fast here as the one ``hashlib`` links), else by the library (``hashlib``)."""
    if PBKDF2HMAC is None:
        return altcha.derive_key_pbkdf2(parameters, salt, password)
    kdf = PBKDF2HMAC(hashes.SHA256(), parameters.key_length, salt, parameters.cost)
    return kdf.derive(password)


NATIVE: Dict[str, Callable[..., bytes]] = {
    "PBKDF2/SHA-256": derive_pbkdf2,
    "SHA-256": derive_sha,
    "SCRYPT": altcha.derive_key_scrypt,
    "ARGON2ID": altcha.derive_key_argon2id,
}

_solved: Any = None  # in each pool process: the shared number of the last job solved


class _Stop(Exception):
    pass


def _init_process(solved: Any) -> None:
    global _solved
    _solved = solved


def _search(job: int, public: Dict[str, Any], start: int, step: int) -> Tuple[Any, ...]:
    """Try counters start, start + step, ... of one challenge until one solves it or another
    process has: (counter or None, derived key hex, derivations, CPU seconds)."""
    began = time.process_time()
    if "parameters" in public:
        found = _search_v2(job, public, start, step)
    else:
        found = _search_v1(job, public, start, step)
    return (*found, time.process_time() - began)


def _search_v2(job: int, public: Dict[str, Any], start: int, step: int) -> Tuple[Any, ...]:
    challenge = altcha.Challenge.from_dict(public)
    derive = NATIVE[challenge.parameters.algorithm]
    done = 0

    def counted(parameters: Any, salt: bytes, password: bytes) -> bytes:
        nonlocal done
        if _solved.value >= job:
            raise _Stop
        done += 1
        return derive(parameters, salt, password)

    try:
        solution = altcha.solve_challenge(
            challenge, counted, counter_start=start, counter_step=step, timeout=0
        )
    except _Stop:
        return None, "", done
    assert solution is not None  # no timeout
    _solved.value = job
    return solution.counter, solution.derived_key, done


def _search_v1(job: int, public: Dict[str, Any], start: int, step: int) -> Tuple[Any, ...]:
    target = bytes.fromhex(public["challenge"])
    salt = public["salt"].encode()
    sha256 = hashlib.sha256
    done = 0
    for number in range(start, public["maxnumber"] + 1, step):
        if done % 1024 == 0 and _solved.value >= job:
            break
        done += 1
        if sha256(salt + str(number).encode()).digest() == target:
            _solved.value = job
            return number, "", done
    return None, "", done


class Run(NamedTuple):
    """One solved challenge: the counter, the derived key (v2), the time the finding core took
    (native: its CPU time; browser: the worker's own clock) and the keys it derived, the wall
    time of the pass, and the CPU time of all cores (native: every process; browser: the
    renderer, where the page and its workers run) with the keys they derived."""

    counter: int
    key: str
    core_s: float
    core_derivations: int
    wall_s: float
    cpu_s: float = 0.0
    derivations: int = 0


class NativeSolver:
    """Processes that search one challenge together, process i of n trying i, i + n, ...: an
    attacker's solver on every core. ``solve`` returns None if ``deadline`` passes first."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.solved = multiprocessing.Value("q", 0, lock=False)
        self.pool = multiprocessing.Pool(processes, _init_process, (self.solved,))
        self.jobs = 0

    def solve(
        self, public: Dict[str, Any], processes: int = 0, deadline: Optional[float] = None
    ) -> Optional[Run]:
        n = processes or self.processes
        self.jobs += 1
        began = time.perf_counter()
        pending = [self.pool.apply_async(_search, (self.jobs, public, i, n)) for i in range(n)]
        for result in pending:
            while not result.ready():
                if deadline is not None and time.monotonic() > deadline:
                    self.solved.value = self.jobs  # stop them
                result.wait(0.1)
        found = [result.get() for result in pending]
        wall = time.perf_counter() - began
        winner = [f for f in found if f[0] is not None]
        if not winner:
            return None
        counter, key, done, cpu = winner[0]
        return Run(counter, key, cpu, done, wall, sum(f[3] for f in found),
                   sum(f[2] for f in found))

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


def answer_of(public: Dict[str, Any], counter: int, key: str) -> str:
    """The base64 payload a widget posts for a solved challenge."""
    if "parameters" in public:
        data = {"challenge": public, "solution": {"counter": counter, "derivedKey": key}}
        return base64.b64encode(json.dumps(data).encode()).decode("ascii")
    payload = altcha_v1.Payload(
        public["algorithm"], public["challenge"], counter, public["salt"], public["signature"]
    )
    return payload.to_base64()


# -- the visitor's browser ------------------------------------------------------------------

PAGE = """<!doctype html><title>bench_attack</title>
<script src="/static/widget.js"></script>
<script>
// The widget's own solver: FlaskCaptcha.solvePow starts `workers` of ALTCHA's workers (default:
// as many as the widget starts here), worker i trying counters i, i + n, ...
window.solve = async ([challenge, workers]) => {
  const began = performance.now();
  const found = await window.FlaskCaptcha.solvePow(
    challenge, workers ? {workers, workersUrl: "/altcha/"} : {workersUrl: "/altcha/"});
  return {counter: found.counter, took: found.time, workers: found.workers,
          wall: performance.now() - began};
};
</script>"""


def altcha_dir(given: Optional[str]) -> Path:
    for folder in [Path(given)] if given else ALTCHA_DIRS:
        if (folder / "pbkdf2.js").is_file():
            return folder
    raise SystemExit("ALTCHA's worker scripts not found: bash tests/install.sh (or --altcha-dir)")


def page_app(workers_dir: Path) -> Flask:
    """Serves the bench page, the widget's script and ALTCHA's worker scripts."""
    app = Flask("bench_attack_page", static_folder=str(STATIC), static_url_path="/static")

    @app.get("/")
    def page() -> str:
        return PAGE

    @app.get("/altcha/<name>")
    def altcha_worker(name: str) -> Any:
        if not name.endswith(".js"):
            abort(404)
        return send_from_directory(workers_dir, name, mimetype="text/javascript")

    return app


def descendants(root: int) -> List[int]:
    """The processes below ``root``, from /proc (Linux)."""
    children: Dict[int, List[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Browser:
    """A headless Chromium page that solves challenges with the widget's workers."""

    ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

    def __init__(self, chromium: str, workers_dir: Path) -> None:
        from playwright.sync_api import sync_playwright

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self.server = ThreadedServer(page_app(workers_dir), name="bench-attack-page")
        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path=chromium, args=self.ARGS)
        self.page = self.browser.new_page()
        self.page.goto(self.server.url + "/")
        self.cores = int(self.page.evaluate("navigator.hardwareConcurrency || 1"))
        self.workers = 0  # how many the widget starts here: known after a solve
        self.renderers = [pid for pid in descendants(os.getpid())
                          if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def solve(self, public: Dict[str, Any], workers: int = 0) -> Run:
        """Solve with ``workers`` workers (0: as many as the widget starts)."""
        cpu = self.renderer_cpu_s()
        r = self.page.evaluate("(args) => window.solve(args)", [public, workers])
        cpu = self.renderer_cpu_s() - cpu
        if not workers:
            self.workers = r["workers"]
        derived = r["counter"] // r["workers"] + 1  # what the finding worker tried
        return Run(r["counter"], "", r["took"] / 1e3, derived, r["wall"] / 1e3, cpu,
                   derived * r["workers"])

    def renderer_cpu_s(self) -> float:
        """CPU seconds so far of this browser's renderer processes (page, workers, WebCrypto)."""
        ticks = 0
        for pid in self.renderers:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone
                continue
            ticks += int(stat[11]) + int(stat[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.browser.close()
        self.pw.stop()
        self.server.stop()


# -- (a) native vs browser --------------------------------------------------------------------


@dataclass
class Mode:
    name: str
    solve: Callable[[Dict[str, Any]], Any]  # a Run
    own_ms: List[float] = field(default_factory=list)  # per round: ms per key, finding core
    cpu_ms: List[float] = field(default_factory=list)  # per round: CPU ms per key, all cores
    pass_s: List[float] = field(default_factory=list)  # per round: wall s per pass
    walls: List[float] = field(default_factory=list)  # every pass


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p90(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else median(values)


def measure(
    name: str, solver: NativeSolver, browser: Browser, rounds: int, per_round: int
) -> Dict[str, Any]:
    """Solve the same base-level challenges natively and in Chromium, one core and all."""
    pow = ProofOfWork(name, TARGET_MS, b"bench-attack-hmac-key-0123456789", 600)
    cores = solver.processes
    warm = pow.issue("warm-up", 1.0).public
    browser.solve(warm)  # learns how many workers the widget starts
    modes = [
        Mode("native, 1 process", lambda c: solver.solve(c, 1)),
        Mode(f"native, {cores} processes", lambda c: solver.solve(c, cores)),
        Mode("Chromium, 1 worker", lambda c: browser.solve(c, 1)),
        Mode(f"Chromium, {browser.workers} workers", lambda c: browser.solve(c)),
    ]
    for mode in modes:  # worker scripts, WebAssembly, JIT, the pool's imports: not counted
        mode.solve(warm)
    load = os.getloadavg()[0]
    for r in range(rounds):
        challenges = [pow.issue(f"bench-{r}-{i}", 1.0).public for i in range(per_round)]
        counters: Dict[int, int] = {}
        for mode in modes if r % 2 == 0 else modes[::-1]:
            runs = [mode.solve(c) for c in challenges]
            for i, run in enumerate(runs):
                assert counters.setdefault(i, run.counter) == run.counter, "solvers disagree"
            own = sum(run.core_s for run in runs) / sum(run.core_derivations for run in runs)
            cpu = sum(run.cpu_s for run in runs) / sum(run.derivations for run in runs)
            mode.own_ms.append(own * 1e3)
            mode.cpu_ms.append(cpu * 1e3)
            mode.pass_s.append(sum(run.wall_s for run in runs) / len(runs))
            mode.walls += [run.wall_s for run in runs]
        load = max(load, os.getloadavg()[0])
    a = pow.algorithm
    params = ", ".join(
        f"{k}={v}" for k, v in (("cost", a.cost), ("memory", a.memory_cost),
                                ("parallelism", a.parallelism)) if v is not None
    )
    print(f"\n{name} ({params}): base level = {pow.bound(1.0):,} counters (browser_ms "
          f"{a.browser_ms} in pow.py); {rounds} rounds x {per_round} challenges; load up to "
          f"{load:.1f}")
    print(f"  {'':22} {'clock ms/key':>13} {'CPU ms/key':>11} {'s/pass':>8} {'p90 s/pass':>11}")
    for mode in modes:
        print(f"  {mode.name:22} {median(mode.own_ms):13.4f} {median(mode.cpu_ms):11.4f} "
              f"{median(mode.pass_s):8.3f} {p90(mode.walls):11.3f}")
    native = median(modes[0].cpu_ms)
    clock, cpu = median(modes[2].own_ms), median(modes[2].cpu_ms)
    ratio = cpu / native
    wait = median(modes[3].walls)
    print(f"  native/browser per core (CPU): {ratio:.2f}x (by the worker's clock: "
          f"{clock / native:.2f}x); per pass on every core (wall): "
          f"{median(modes[3].pass_s) / median(modes[1].pass_s):.2f}x")
    print(f"  one worker: {clock:.4g} ms per key by its clock, {cpu:.4g} CPU ms (pow.py: "
          f"{a.browser_ms}): the base level costs it {pow.bound(1.0) / 2 * cpu:.0f} CPU ms "
          f"on average (target {TARGET_MS})")
    print(f"  visitor wait at base, the widget's {browser.workers} workers (start-up included): "
          f"median {wait:.3f} s, p90 {p90(modes[3].walls):.3f} s")
    return {"name": name, "ratio": ratio, "wait": wait, "clock_ms": clock, "cpu_ms": cpu,
            "table_ms": a.browser_ms, "native_ms": native}


def run_speed(opts: argparse.Namespace, solver: NativeSolver) -> None:
    browser = Browser(opts.chromium, altcha_dir(opts.altcha_dir))
    try:
        print(f"native: {solver.processes} processes, PBKDF2 by {PBKDF2_BY}; "
              f"Chromium: navigator.hardwareConcurrency = {browser.cores}; "
              f"CAPTCHA_POW_TARGET_MS = {TARGET_MS}")
        results = [measure(name, solver, browser, opts.rounds, opts.per_round)
                   for name in opts.algorithms]
    finally:
        browser.close()
    print("\nsummary (base level):")
    print(f"  {'algorithm':16} {'native CPU ms':>13} {'worker clock ms':>15} {'worker CPU ms':>13} "
          f"{'pow.py':>8} {'native/browser':>14} {'visitor wait':>12}")
    for r in results:
        print(f"  {r['name']:16} {r['native_ms']:13.4g} {r['clock_ms']:15.4g} {r['cpu_ms']:13.4g} "
              f"{r['table_ms']:8g} {r['ratio']:13.2f}x {r['wait']:11.3f}s")
    for r in results:
        if r["name"] == DEFAULT_ALGORITHM:
            ok = r["ratio"] <= TARGET_RATIO and r["wait"] <= TARGET_WAIT_S
            print(f"  {DEFAULT_ALGORITHM}: native/browser {r['ratio']:.2f}x (target <= "
                  f"{TARGET_RATIO:g}x), visitor median wait {r['wait']:.3f} s (target <= "
                  f"{TARGET_WAIT_S:g} s): {'OK' if ok else 'MISSED'}")


# -- (b) pressure -----------------------------------------------------------------------------


def create_app(store_url: str, algorithm: str = DEFAULT_ALGORITHM) -> Flask:
    """The app under attack: the extension's defaults (rate limits, CAPTCHA_POW_LEVELS) on
    ``store_url``; gunicorn serves ``bench.bench_attack:create_app(...)``."""
    config = {"SECRET_KEY": SECRET, "CAPTCHA_STORE_URL": store_url}
    return build_app("bench_attack", config=config, CAPTCHA_POW_ALGORITHM=algorithm)


class Client:
    """One client network: every connection leaves from ``address`` (any 127.0.0.0/8 address
    can be bound on Linux), so the app sees that peer address."""

    def __init__(self, port: int, address: str) -> None:
        self.port = port
        self.address = address

    def post(self, endpoint: str, body: Dict[str, Any]) -> Tuple[int, Dict[str, Any], int]:
        """(status, JSON reply, Retry-After seconds or 0)."""
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=60, source_address=(self.address, 0)
        )
        try:
            conn.request("POST", f"{PREFIX}/{endpoint}", json.dumps(body),
                         {"Content-Type": "application/json"})
            response = conn.getresponse()
            reply = json.loads(response.read() or b"{}")
            return response.status, reply, int(response.getheader("Retry-After") or 0)
        finally:
            conn.close()

    def generate(self) -> Tuple[int, Dict[str, Any], int]:
        return self.post("generate", {"site_key": OWN_KEY, "type": "pow"})

    def validate(self, reply: Dict[str, Any], run: Run) -> bool:
        answer = answer_of(reply["challenge"], run.counter, run.key)
        body = {"site_key": OWN_KEY, "captcha_id": reply["captcha_id"], "user_input": answer}
        status, result, _ = self.post("validate", body)
        return status == 200 and result.get("valid") is True


class Event(NamedTuple):
    at: float  # seconds since the start
    ok: bool
    work: float = 0.0
    cpu_s: float = 0.0  # attacker: CPU seconds of the pass
    derivations: int = 0
    wait_s: float = 0.0  # visitor: the widget's time for the pass
    load: float = 0.0  # visitor: the machine's load average then


def attack(
    client: Client, solver: NativeSolver, start: float, end: float
) -> Tuple[List[Event], List[Event]]:
    """Ask and solve as fast as possible until ``end``: the challenges it got (their work), and
    its passes and refusals."""
    asks: List[Event] = []
    events: List[Event] = []
    while time.monotonic() < end:
        status, reply, retry = client.generate()
        if status != 200:
            events.append(Event(time.monotonic() - start, False))
            time.sleep(max(0.0, min(float(retry or 1), end - time.monotonic())))
            continue
        asks.append(Event(time.monotonic() - start, True, reply["work"]))
        run = solver.solve(reply["challenge"], deadline=end)
        if run is None:  # the run ended mid-pass
            break
        ok = client.validate(reply, run)
        events.append(Event(time.monotonic() - start, ok, reply["work"], run.cpu_s,
                            run.counter + 1))
    return asks, events


def visit(port: int, opts: argparse.Namespace, browser_ms: float, start: float,
          end: float, events: List[Event]) -> None:
    """A visitor every ``opts.visit_every`` seconds; solves natively on one core, and counts
    the wait its derivations cost the widget's workers in Chromium."""
    n = 0
    while time.monotonic() < end:
        due = start + n * opts.visit_every
        if due >= end:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        address = VISITOR if opts.one_visitor else f"127.0.{1 + n // 250}.{2 + n % 250}"
        n += 1
        client = Client(port, address)
        status, reply, _ = client.generate()
        if status != 200:
            events.append(Event(time.monotonic() - start, False, load=os.getloadavg()[0]))
            continue
        challenge = reply["challenge"]
        if "parameters" in challenge:
            parsed = altcha.Challenge.from_dict(challenge)
            derive = NATIVE[parsed.parameters.algorithm]
            solution = altcha.solve_challenge(parsed, derive, timeout=0)
            assert solution is not None
            counter, key = solution.counter, solution.derived_key
        else:
            found = altcha_v1.solve_challenge(
                challenge["challenge"], challenge["salt"], "SHA-256", challenge["maxnumber"]
            )
            assert found is not None
            counter, key = found.number, ""
        run = Run(counter, key, 0.0, counter + 1, 0.0)
        wait = (counter // opts.widget_workers + 1) * browser_ms / 1e3
        ok = client.validate(reply, run)
        events.append(Event(time.monotonic() - start, ok, reply["work"], 0.0, counter + 1, wait,
                            os.getloadavg()[0]))


def run_pressure(opts: argparse.Namespace, solver: NativeSolver) -> None:
    algorithm = opts.algorithms[0] if len(opts.algorithms) == 1 else DEFAULT_ALGORITHM
    pow = ProofOfWork(algorithm, TARGET_MS, b"-", 1)
    browser_ms = pow.algorithm.browser_ms
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/captcha.sqlite3"
        server = Gunicorn(f"bench.bench_attack:create_app({url!r}, {algorithm!r})", 1)
        try:
            if not server.wait_until(lambda: Client(server.port, "127.0.0.1").post(
                    "nothing", {})[0] == 404):
                raise RuntimeError("gunicorn did not start")
            duration = opts.minutes * 60
            print(f"\npressure: {algorithm}, {duration:g} s, attacker {ATTACKER} on "
                  f"{solver.processes} processes; a visitor every {opts.visit_every:g} s from "
                  f"{VISITOR if opts.one_visitor else 'a new network (127.0.1.x) each time'}; "
                  f"wait = derivations at browser_ms {browser_ms} over {opts.widget_workers} "
                  f"workers; levels {DEFAULTS['CAPTCHA_POW_LEVELS']}")
            start = time.monotonic()
            end = start + duration
            visits: List[Event] = []
            visitor = threading.Thread(
                target=visit, args=(server.port, opts, browser_ms, start, end, visits)
            )
            visitor.start()
            asks, attacks = attack(Client(server.port, ATTACKER), solver, start, end)
            visitor.join()
        finally:
            server.stop()
    report(asks, attacks, visits, pow, opts.interval, duration, solver.processes)


def projection(pow: ProofOfWork, cpu_ms: float, cores: int) -> Optional[Tuple[float, int, float]]:
    """When an attacker that owns ``cores`` idle cores (``cpu_ms`` CPU-ms per key) first asks
    for a pass of >= TARGET_CPU_S expected CPU-s, by the default levels and per-network generate
    limit (fixed windows from the first ask): (seconds, ask number, work), or None if never."""
    levels = Pressure(None, DEFAULTS["CAPTCHA_POW_LEVELS"])  # type: ignore[arg-type]
    limits = parse_many(DEFAULTS["CAPTCHA_RATE_LIMIT_IP_GENERATE"] or "1000000/second")
    now, windows = 0.0, [[0.0, 0] for _ in limits]  # per limit: window start, asks in it
    for ask in range(1, 100_000):
        for item, window in zip(limits, windows):
            if now >= window[0] + item.get_expiry():
                window[:] = [now, 0]
            if window[1] >= item.amount:  # refused until the window ends
                now = window[0] + item.get_expiry()
                window[:] = [now, 0]
        for window in windows:
            window[1] += 1
        work = levels.multiplier(ask - 1, 0)
        cost = pow.bound(work) / 2 * cpu_ms / 1e3
        if cost >= TARGET_CPU_S:
            return now, ask, work
        now += cost / cores
    return None


def report(asks: List[Event], attacks: List[Event], visits: List[Event], pow: ProofOfWork,
           interval: float, duration: float, cores: int) -> None:
    """Per interval: the attacker's passes, CPU-s per pass, the work it was last given and what a
    pass at that work is expected to cost it, its refusals; the visitor's visits, work, median
    wait, refusals; the load average. Then the verdicts."""
    passes = [e for e in attacks if e.ok and e.work]
    derived = sum(e.derivations for e in passes)
    cpu_ms = sum(e.cpu_s for e in passes) / derived * 1e3 if derived else float("nan")

    def expected_cpu_s(work: float) -> float:
        return pow.bound(work) / 2 * cpu_ms / 1e3

    print(f"  native: {cpu_ms:.4f} CPU-ms per derivation (all attacker passes)")
    print(f"  {'until':>6} | {'passes':>6} {'CPU-s/pass':>10} {'work':>6} {'expected':>9} "
          f"{'refused':>7} | {'visits':>6} {'work':>6} {'median wait':>11} {'refused':>7} | "
          "load")
    work = 1.0
    for i in range(math.ceil(duration / interval)):
        lo, hi = i * interval, (i + 1) * interval
        done = [e for e in passes if lo <= e.at < hi]
        refused = sum(1 for e in attacks if lo <= e.at < hi and not e.ok)
        work = ([e.work for e in asks if e.at < hi] or [work])[-1]
        came = [e for e in visits if lo <= e.at < hi]
        per_pass = sum(e.cpu_s for e in done) / len(done) if done else float("nan")
        works = sorted({e.work for e in came if e.work})
        print(f"  {hi:5.0f}s | {len(done):6} {per_pass:10.2f} {work:6g} "
              f"{expected_cpu_s(work):9.2f} {refused:7} | {len(came):6} "
              f"{'/'.join(f'{w:g}' for w in works) or '-':>6} "
              f"{median([e.wait_s for e in came if e.ok]):10.3f}s "
              f"{sum(1 for e in came if not e.ok):7} | "
              f"{median([e.load for e in came]):4.1f}")
    reached = [i for i, e in enumerate(asks) if expected_cpu_s(e.work) >= TARGET_CPU_S]
    if reached:
        first = asks[reached[0]]
        print(f"  attacker: ask {reached[0] + 1} (at {first.at:.0f} s, work {first.work:g}) is the "
              f"first whose pass costs >= {TARGET_CPU_S:g} CPU-s (expected at its work; target "
              f"<= {TARGET_WITHIN_S:g} s): {'OK' if first.at <= TARGET_WITHIN_S else 'LATE'}")
    else:
        top = max([e.work for e in asks] or [1.0])
        need = next((w for w in range(1, 10_000) if expected_cpu_s(w) >= TARGET_CPU_S), 0)
        print(f"  attacker: never reached {TARGET_CPU_S:g} CPU-s per pass: the top work it got "
              f"({top:g}) costs {expected_cpu_s(top):.2f} CPU-s; {TARGET_CPU_S:g} needs work "
              f">= {need}")
    spent = sum(e.cpu_s for e in passes)
    print(f"  attacker: {len(passes)} passes, {sum(1 for e in attacks if not e.ok)} refused, "
          f"{spent:.0f} CPU-s spent: {spent / duration:.2f} of its {cores} cores on average")
    projected = projection(pow, cpu_ms, cores) if derived else None
    if projected:
        at, ask, work = projected
        print(f"  projected on {cores} idle cores at {cpu_ms:.4f} CPU-ms per key, under the "
              f"default levels and generate limit: ask {ask} (work {work:g}) is the first to "
              f"cost >= {TARGET_CPU_S:g} CPU-s, asked at {at:.0f} s (target <= "
              f"{TARGET_WITHIN_S:g} s): {'OK' if at <= TARGET_WITHIN_S else 'LATE'}")
    waits = [e.wait_s for e in visits if e.ok]
    refused = sum(1 for e in visits if not e.ok)
    base = all(e.work == 1 for e in visits if e.ok)
    ok = refused == 0 and base and bool(visits)
    print(f"  visitor: {len(visits)} visits, {refused} refused, works "
          f"{sorted({e.work for e in visits if e.work})}, median wait {median(waits):.3f} s, "
          f"max {max(waits or [float('nan')]):.3f} s: {'OK' if ok else 'MISSED'}")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("both", "speed", "pressure"), default="both")
    parser.add_argument("--algorithms", nargs="+", choices=list(ALGORITHMS),
                        default=list(ALGORITHMS),
                        help="(a): all; (b): the one given, else the default algorithm")
    parser.add_argument("--rounds", type=int, default=5, help="(a) rounds (medians)")
    parser.add_argument("--per-round", type=int, default=4, help="(a) challenges per round")
    parser.add_argument("--minutes", type=float, default=3.0, help="(b) duration")
    parser.add_argument("--interval", type=float, default=60.0, help="(b) seconds per line")
    parser.add_argument("--visit-every", type=float, default=5.0, help="(b) seconds")
    parser.add_argument("--one-visitor", action="store_true",
                        help=f"(b) every visit from {VISITOR}, not a new network each")
    parser.add_argument("--widget-workers", type=int, default=0,
                        help="(b) workers the visitor's wait assumes (default: cores, at most 4)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2,
                        help="the attacker's processes (default: every core)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 rounds x 1 challenge, 30 s of pressure, 10 s lines")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--altcha-dir", default=None, help="folder of ALTCHA's worker scripts")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.rounds, opts.per_round, opts.minutes, opts.interval = 2, 1, 0.5, 10.0
    opts.widget_workers = opts.widget_workers or min(4, os.cpu_count() or 2)

    solver = NativeSolver(opts.processes)
    try:
        if opts.part in ("both", "speed"):
            run_speed(opts, solver)
        if opts.part in ("both", "pressure"):
            run_pressure(opts, solver)
    finally:
        solver.close()


if __name__ == "__main__":
    main()
