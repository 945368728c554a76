"""Validate endpoint throughput against a bare JSON endpoint of the same app, on SQLite and Redis.

Run by hand from the repository root, after ``apt-get install wrk`` (the load generator)::

    python bench/bench_validate.py                     # both stores, math: about 4.5 minutes
    python bench/bench_validate.py [--store sqlite|redis|both] [--type math|image|pow]
        [--rounds 5] [--seconds 5] [--client wrk|raw|http] [--harness http|client|both]

Two harnesses, each measuring ours and the baseline side by side:
- ``http`` (what a deployment sees): per store, one gunicorn server (1 sync worker, pinned to
  the first core) of ``bench.apps:create_app(store)``, which serves ``POST /captcha/validate``
  and the bare ``POST /bare``; this process, the load generator and redis-server share the other
  core. Every round drives each store's two endpoints with the same client, the whole order
  reversed every other round (so which endpoint, and which store, goes first alternates). The
  client is wrk (``--seconds`` per endpoint, 4 connections, each validate body sent once; bare
  gets the same bodies round and round), else the raw-socket ``bench.harness.exchange`` client
  (``--requests`` bodies, 4 threads). Sync workers close every connection, so each request is a
  new one for both endpoints.
- ``client``: Flask's test client in one thread, no sockets: validation's own cost (JSON,
  site-key lookup, two rate-limit counters and the take of the challenge in one store call, the
  answer and proof-of-work checks, signing the token) against Flask's overhead. The harsher one.

Stores: SQLite, a file in a temp dir; Redis, a throwaway ``redis-server`` on a free port with
``appendonly yes`` (the README's advice for production). Rate limits are on, too high to trip.
The challenges are made before each timed measurement by the service itself and answered right
(``bench.apps.validate_bodies``). Prints medians over ``--rounds``: ours/bare per store (target
>= 0.7x), with ``both`` Redis/SQLite of validate at one worker (target >= 1x), each the median of
the rounds' own ratios (a pair measured back to back; the ratio of the medians, which load that
comes and goes sways more, is printed beside it), where the CPU went
(``bench.machine``: the worker, redis-server, the client with wrk, other processes), and whether
the machine was quiet.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402

from bench.apps import create_app, validate_bodies  # noqa: E402
from bench.harness import (  # noqa: E402
    CLIENTS,
    TooFewBodies,
    default_client,
    drive_wrk,
    start_gunicorn,
)
from bench.machine import Quietness, children, cores_busy  # noqa: E402
from flask_captcha_ext.state import get_state  # noqa: E402
from tests.support import Gunicorn, RedisServer  # noqa: E402

TARGET = 0.7  # validate / bare, issue 14
REDIS_TARGET = 1.0  # Redis / SQLite validate at one worker, issue 14
CONCURRENCY = 4
VALIDATE, BARE = "/captcha/validate", "/bare"
STORES = ("sqlite", "redis")


@dataclass
class Served:
    """One store's app: this process's copy (to make challenges) and its gunicorn server."""

    name: str
    app: Flask
    server: Gunicorn
    redis_pid: Optional[int] = None
    best: float = 0.0  # the highest validate rate seen, to size the next round's bodies
    rates: Dict[str, List[float]] = field(default_factory=lambda: {VALIDATE: [], BARE: []})
    cores: Dict[str, List[Dict[str, float]]] = field(
        default_factory=lambda: {VALIDATE: [], BARE: []}
    )


def start_store(name: str, folder: str, stack: ExitStack) -> Tuple[str, Optional[int]]:
    """The store URL for ``name`` and its redis-server's pid (None for SQLite)."""
    if name == "sqlite":
        return "sqlite:///" + os.path.join(folder, "bench.sqlite3"), None
    redis = stack.enter_context(RedisServer(appendonly="yes"))
    assert redis.process is not None
    return redis.url, redis.process.pid


def bodies_for(served: Served, kind: str, client: str, requests: int, seconds: int) -> List[dict]:
    """Validate bodies for one measurement: with wrk, half as many again as the server can
    answer in ``seconds`` at the best rate seen so far; else ``requests``."""
    count = requests if client != "wrk" else int(served.best * seconds * 1.5) + 500
    return validate_bodies(get_state(served.app).service, kind, count)


def measure(
    served: Served, path: str, bodies: List[dict], client: str, seconds: int
) -> Tuple[float, Dict[str, float]]:
    """Requests/s of ``path`` on ``served``'s server, and the cores each component kept busy."""
    port = served.server.port

    def run() -> float:
        if client == "wrk":
            return drive_wrk(port, path, bodies, CONCURRENCY, seconds=seconds, reuse=path == BARE)
        return CLIENTS[client](port, path, bodies, CONCURRENCY)

    groups = {"worker": children(served.server.proc.pid)}
    if served.redis_pid is not None:
        groups["redis"] = [served.redis_pid]
    return cores_busy(run, groups)


def measure_enough(
    served: Served, path: str, bodies: Dict[str, List[dict]], kind: str, client: str,
    requests: int, seconds: int,
) -> Tuple[float, Dict[str, float]]:
    """``measure`` with the store's bodies in ``bodies``; when wrk runs out of them (the machine
    got quieter), again with new ones, twice as many as the rate it reached needs."""
    for _ in range(3):
        try:
            return measure(served, path, bodies[served.name], client, seconds)
        except TooFewBodies as short:
            served.best = 2 * max(served.best, short.rate)
            print(f"  {served.name}: {short}; measuring again", flush=True)
            bodies[served.name] = bodies_for(served, kind, client, requests, seconds)
    return measure(served, path, bodies[served.name], client, seconds)


def warm_up(served: Served, kind: str, client: str) -> None:
    """A short run of each endpoint: first requests, and (wrk) a first validate rate."""
    bodies = validate_bodies(get_state(served.app).service, kind, 3000 if client == "wrk" else 200)
    for path in (BARE, VALIDATE):
        rate, _ = measure(served, path, bodies, client, 1)
        if path == VALIDATE:
            served.best = rate


def http_rounds(
    stores: List[Served], kind: str, client: str, rounds: int, seconds: int, requests: int,
    quiet: Quietness,
) -> None:
    """``rounds`` rounds over every store and endpoint, the order reversed every other round."""
    for served in stores:
        warm_up(served, kind, client)
    order = [(served, path) for served in stores for path in (BARE, VALIDATE)]
    for index in range(rounds):
        bodies: Dict[str, List[dict]] = {}
        for served, path in order if index % 2 == 0 else order[::-1]:
            if served.name not in bodies:  # made just before the store's first endpoint
                bodies[served.name] = bodies_for(served, kind, client, requests, seconds)
            rate, cores = measure_enough(served, path, bodies, kind, client, requests, seconds)
            served.rates[path].append(rate)
            served.cores[path].append(cores)
            quiet.note(cores)
            if path == VALIDATE:
                served.best = max(served.best, rate)
            busy = ", ".join(f"{k} {v:.2f}" for k, v in cores.items())
            name = "validate" if path == VALIDATE else "bare"
            print(f"  round {index + 1} {served.name:6} {name:8} {rate:6.0f} req/s "
                  f"(cores busy: {busy})", flush=True)


def paired(ours: List[float], theirs: List[float]) -> Tuple[float, float, float]:
    """The median, lowest and highest of the rounds' own ratios ``ours / theirs``: each pair was
    measured back to back, so a load that comes and goes sways it less than the ratio of the
    two medians, which may take them from different rounds."""
    ratios = [a / b for a, b in zip(ours, theirs)]
    return statistics.median(ratios), min(ratios), max(ratios)


def report_http(served: Served, label: str) -> None:
    """Print ours/bare for one store and where the CPU went."""
    ours, bare = (statistics.median(served.rates[p]) for p in (VALIDATE, BARE))
    ratio, low, high = paired(served.rates[VALIDATE], served.rates[BARE])
    verdict = "meets" if ratio >= TARGET else "misses"
    rounds = len(served.rates[BARE])
    print(f"[{label}, {served.name}] validate/bare {ratio:.2f}x (median of {rounds} rounds, "
          f"{low:.2f}x to {high:.2f}x; target >= {TARGET}x: {verdict}); medians: "
          f"validate {ours:.0f} req/s, bare {bare:.0f} req/s ({ours / bare:.2f}x)")
    for path, rate in ((VALIDATE, ours), (BARE, bare)):
        mean = {k: statistics.mean(c[k] for c in served.cores[path])
                for k in served.cores[path][0]}
        parts = ", ".join(f"{k} {v:.2f}" for k, v in mean.items())
        cost = ", ".join(f"{k} {1e6 * v / rate:.0f}" for k, v in mean.items() if k != "other")
        name = "validate" if path == VALIDATE else "bare"
        print(f"    {name:8}: cores busy {parts}; CPU us per request: {cost}")


def run_http(
    names: List[str], kind: str, client: str, rounds: int, seconds: int, requests: int,
    folder: str,
) -> None:
    """The ``http`` harness over the stores ``names``."""
    cores = sorted(os.sched_getaffinity(0))
    worker_cpu = cores[0] if len(cores) > 1 else None
    quiet = Quietness()
    label = f"http, gunicorn 1 worker, {client}"
    with ExitStack() as stack:
        if worker_cpu is not None:  # this process, wrk and redis-server: the other core(s)
            os.sched_setaffinity(0, set(cores[1:]))
            stack.callback(os.sched_setaffinity, 0, set(cores))
        stores = []
        for name in names:
            url, redis_pid = start_store(name, folder, stack)
            server = start_gunicorn(f"bench.apps:create_app({url!r})", 1, cpu=worker_cpu)
            stack.callback(server.stop)
            stores.append(Served(name, create_app(url), server, redis_pid))
        how = f"{seconds} s per endpoint" if client == "wrk" else f"{requests} requests"
        print(f"validate ({kind} challenges) vs bare over HTTP: {label}, {how} x {rounds} "
              f"rounds, {CONCURRENCY} connections; worker on core {worker_cpu}, the rest on "
              f"{sorted(os.sched_getaffinity(0))}", flush=True)
        http_rounds(stores, kind, client, rounds, seconds, requests, quiet)
    for served in stores:
        report_http(served, label)
    if len(stores) == 2:
        by_name = {served.name: served.rates[VALIDATE] for served in stores}
        sqlite, redis = by_name["sqlite"], by_name["redis"]
        ratio, low, high = paired(redis, sqlite)
        verdict = "meets" if ratio >= REDIS_TARGET else "misses"
        print(f"Redis/SQLite, validate at one worker: {ratio:.2f}x (median of the rounds' own, "
              f"{low:.2f}x to {high:.2f}x; target >= {REDIS_TARGET}x: {verdict}); medians "
              f"{statistics.median(redis):.0f} vs {statistics.median(sqlite):.0f} req/s")
    print(quiet.report())


def in_process(app: Flask, kind: str, requests: int, rounds: int) -> Tuple[float, float]:
    """Medians of validate and bare requests/s through Flask's test client, rounds alternating
    which goes first."""
    client = app.test_client()
    results: Dict[str, List[float]] = {VALIDATE: [], BARE: []}
    for index in range(rounds):
        bodies = validate_bodies(get_state(app).service, kind, requests)
        for path in (BARE, VALIDATE) if index % 2 == 0 else (VALIDATE, BARE):
            start = time.perf_counter()
            for body in bodies:
                reply = client.post(path, json=body)
                assert reply.status_code == 200, reply.get_data(as_text=True)
            results[path].append(len(bodies) / (time.perf_counter() - start))
    return statistics.median(results[VALIDATE]), statistics.median(results[BARE])


def run_in_process(names: List[str], kind: str, requests: int, rounds: int, folder: str) -> None:
    """The ``client`` harness over the stores ``names``."""
    with ExitStack() as stack:
        for name in names:
            url, _ = start_store(name, folder, stack)
            ours, bare = in_process(create_app(url), kind, requests, rounds)
            print(f"[in-process test client, {name}] validate {ours:.0f} req/s | bare "
                  f"{bare:.0f} req/s | ratio {ours / bare:.2f}x (median of {rounds})")


def run(
    kind: str, harness: str, requests: int, rounds: int, store: str = "sqlite",
    client: Optional[str] = None, seconds: int = 5,
) -> None:
    """Measure and report validate of ``kind`` against the bare endpoint (bench_pow.py's entry
    point too)."""
    names = list(STORES) if store == "both" else [store]
    client = client or default_client()
    with tempfile.TemporaryDirectory() as folder:
        if harness in ("both", "http"):
            run_http(names, kind, client, rounds, seconds, requests, folder)
        if harness in ("both", "client"):
            run_in_process(names, kind, requests, rounds, tempfile.mkdtemp(dir=folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", default="both", choices=[*STORES, "both"])
    parser.add_argument("--type", default="math", choices=["math", "image", "pow"])
    parser.add_argument("--harness", default="both", choices=["both", "http", "client"])
    parser.add_argument("--client", default=default_client(), choices=sorted(CLIENTS),
                        help="HTTP load generator: wrk (default when installed), raw, http")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="per wrk measurement")
    parser.add_argument("--requests", type=int, default=2000,
                        help="per round and endpoint: the in-process and Python clients")
    args = parser.parse_args()
    if args.rounds < 5:
        print(f"note: {args.rounds} rounds; issue 14's figures are medians of at least 5")
    run(args.type, args.harness, args.requests, args.rounds, args.store, args.client,
        args.seconds)


if __name__ == "__main__":
    main()
