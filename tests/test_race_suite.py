"""Double spend under contention, through the service rather than raw store operations.

Racers (threads, or processes each running threads) share one store and walk the same list of
challenges (``CaptchaService.validate`` with the right answer) or tokens (``TokenService.verify``)
in the same order, lining up on a barrier every few items so that they hit each item together.
Every item must be won exactly once: no double pass, and no item lost to an error. Memory is
per process, so it races threads only; SQLite and Redis race threads and processes of threads.

Per store and per kind: ``CAPTCHA_RACE_ITEMS`` (default 2,500) items x 4 racers = 10,000 attempts.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import tempfile
import threading
import traceback
from collections import Counter
from pathlib import Path
from typing import Any, List, Sequence, Tuple

import pytest

from flask_captcha_ext.selfhosted.service import ApiError, CaptchaService
from flask_captcha_ext.selfhosted.tokens import DUPLICATE
from flask_captcha_ext.state import get_state
from tests.helpers import new_challenges
from tests.support import build_app, rate_limits, store_url_of

ITEMS = int(os.environ.get("CAPTCHA_RACE_ITEMS", "2500"))
RACERS = 4
SYNC_EVERY = 25  # racers line up again every SYNC_EVERY items
SECRET = "race-suite-secret-0123456789abcdef0123"
HIGH = "1000000000/hour"

Item = Tuple[str, str, str]  # (captcha_id, answer, proof of its PoW part) or (token, "", "")


def build_service(store_url: str) -> CaptchaService:
    """The service of a fresh app on ``store_url`` (same secret, so same keys, everywhere)."""
    app = build_app(
        "race_app",
        instance_path=tempfile.gettempdir(),
        TESTING=True,
        SECRET_KEY=SECRET,
        CAPTCHA_STORE_URL=store_url,
        CAPTCHA_CHALLENGE_TTL=3600,
        CAPTCHA_TOKEN_TTL=3600,
        **rate_limits(HIGH),
    )
    return get_state(app).service


def prepare(service: CaptchaService, kind: str, count: int) -> List[Item]:
    """``count`` live math challenges with their answers and proofs, or ``count`` fresh
    tokens."""
    # Create the store (SQLite: file, WAL mode, table) before the race: racing first use of a
    # fresh SQLite file is its own bug, see test_concurrent_first_use_of_a_fresh_sqlite_file.
    service.store.ping()
    own = service.site_keys.own
    if kind == "token":
        return [(service.tokens.issue(own.id, "math"), "", "") for _ in range(count)]
    return new_challenges(service, "math", count)


def race(
    service: CaptchaService, kind: str, items: Sequence[Item], barrier: Any, racer: int
) -> Tuple[List[int], Counter]:
    """Try to win every item once; the indexes won, and how the lost attempts were refused."""
    own = service.site_keys.own
    wins: List[int] = []
    outcomes: Counter = Counter()
    for index, (value, answer, proof) in enumerate(items):
        if index % SYNC_EVERY == 0:
            barrier.wait(timeout=60)
        if kind == "token":
            result = service.tokens.verify(value, own.id)
            if result.success:
                wins.append(index)
            else:
                outcomes["/".join(result.error_codes)] += 1
            continue
        try:
            reply = service.validate(
                service.site_keys.own_site_key, value, answer, f"10.0.0.{racer}", proof=proof
            )
        except ApiError as exc:
            outcomes[f"{exc.status} {exc.detail}"] += 1
            continue
        if reply["valid"]:
            wins.append(index)
        else:
            outcomes["valid: false"] += 1
    return wins, outcomes


def _racer_process(
    store_url: str,
    kind: str,
    items: List[Item],
    barrier: Any,
    results: Any,
    first: int,
    threads: int,
) -> None:
    """In a spawned process: ``threads`` racers on a store of its own opened from the URL."""
    try:
        service = build_service(store_url)
        run_threads(service, kind, items, barrier, threads, results, first)
    except BaseException:  # report for each thread, never leave the parent waiting
        for number in range(first, first + threads):
            results.put((number, [], Counter({"crash: " + traceback.format_exc(): 1})))


def run_threads(
    service: CaptchaService,
    kind: str,
    items: Sequence[Item],
    barrier: Any,
    threads: int,
    results: Any,
    first: int = 0,
) -> None:
    """``threads`` racers in this process; each puts (racer, wins, outcomes) on ``results``."""

    def racer(number: int) -> None:
        try:
            wins, outcomes = race(service, kind, items, barrier, number)
        except BaseException:
            wins, outcomes = [], Counter({"crash: " + traceback.format_exc(): 1})
            barrier.abort()
        results.put((number, wins, outcomes))

    workers = [
        threading.Thread(target=racer, args=(first + n,), daemon=True) for n in range(threads)
    ]
    # Switch threads every few microseconds instead of every 5 ms, so that they interleave
    # inside short critical sections too (the GIL would otherwise hide a get-then-delete).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=300)
    finally:
        sys.setswitchinterval(interval)


def check(kind: str, items: Sequence[Item], results: List[Tuple[int, List[int], Counter]]) -> None:
    """Every item won exactly once; every lost attempt refused as spent, never by an error."""
    assert len(results) == RACERS, f"{RACERS - len(results)} racers never reported"
    wins = Counter(index for _, won, _ in results for index in won)
    outcomes: Counter = sum((outcome for _, _, outcome in results), Counter())
    doubles = {index: n for index, n in wins.items() if n > 1}
    lost = [index for index in range(len(items)) if wins[index] == 0]
    assert not doubles, f"{len(doubles)} {kind}s passed more than once, e.g. {list(doubles)[:5]}"
    assert not lost, f"{len(lost)} {kind}s never passed, outcomes: {dict(outcomes)}"
    expected = DUPLICATE if kind == "token" else "400 invalid, expired or already used captcha"
    assert set(outcomes) == {expected}, dict(outcomes)
    assert sum(outcomes.values()) == (RACERS - 1) * len(items)
    assert sum(1 for _, won, _ in results if won) >= 2, "one racer won everything: no real race"


def _store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url_of(request, backend, tmp_path, "race-suite.sqlite3")


@pytest.mark.parametrize("kind", ["challenge", "token"])
@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_threads_never_double_spend(
    backend: str, kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """4 threads in one process, one service object, one store."""
    service = build_service(_store_url(backend, request, tmp_path))
    items = prepare(service, kind, ITEMS)
    results: queue.SimpleQueue = queue.SimpleQueue()
    run_threads(service, kind, items, threading.Barrier(RACERS), RACERS, results)
    check(kind, items, [results.get() for _ in range(RACERS)])


@pytest.mark.parametrize("kind", ["challenge", "token"])
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_processes_of_threads_never_double_spend(
    backend: str, kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """2 spawned processes x 2 threads, each process with its own store client."""
    url = _store_url(backend, request, tmp_path)
    items = prepare(build_service(url), kind, ITEMS)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RACERS)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_racer_process, args=(url, kind, items, barrier, results, 2 * n, 2))
        for n in range(RACERS // 2)
    ]
    for process in processes:
        process.start()
    try:
        reported = [results.get(timeout=300) for _ in range(RACERS)]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    check(kind, items, reported)


def test_concurrent_first_use_of_a_fresh_sqlite_file(tmp_path: Path) -> None:
    """4 threads use a brand-new SQLite file at once, 60 times over: no StoreUnavailable."""
    from flask_captcha_ext.stores import StoreUnavailable, open_store

    failures: List[str] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for round_ in range(60):
            store = open_store(f"sqlite:///{tmp_path}/fresh-{round_}.sqlite3")
            barrier = threading.Barrier(4)

            def first_use(store: Any = store, barrier: threading.Barrier = barrier) -> None:
                barrier.wait(timeout=30)
                try:
                    store.claim("first", 60)
                except StoreUnavailable as exc:
                    failures.append(str(exc))

            workers = [threading.Thread(target=first_use) for _ in range(4)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert not failures, f"{len(failures)} first uses failed, e.g. {failures[0]}"
