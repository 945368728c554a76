"""Races that a non-atomic take or claim would lose: many threads, then many processes, per key.

Every key must be won exactly once overall. Threads line up on a barrier before each key;
processes (spawned, each opening its own store from the URL) line up once and then walk the
same keys in the same order.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from flask_captcha_ext.stores import Store, open_store
from tests.support import store_url_of

THREADS = 32
THREAD_KEYS = 200
PROCESSES = 4
PROCESS_KEYS = 300
SHARED_LIMIT = 500  # of PROCESSES x PROCESS_KEYS attempts


def _url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url_of(request, backend, tmp_path, "races.sqlite3")


def _attempt(store: Store, op: str, key: str) -> bool:
    """One try at winning ``key``: take its value (plain or counted), or claim it."""
    if op == "take":
        return store.take(key) == f"value-of-{key}"
    if op == "take_counted":
        return store.take_counted(key, [("rl:race", 60, 10**9)])[0] == f"value-of-{key}"
    if op == "admitted":  # whether this attempt fell within one limit shared by everyone
        return store.take_counted(key, [("rl:shared", 60, SHARED_LIMIT)])[1][0][0] <= SHARED_LIMIT
    return store.claim(key, 60, value="won")


def _prepare(store: Store, op: str, keys: List[str]) -> None:
    for key in keys:
        if op in ("take", "take_counted"):
            store.put(key, f"value-of-{key}", 60)
        else:
            store.delete(key)


def _assert_each_won_once(keys: List[str], wins: List[str]) -> None:
    counts = Counter(wins)
    assert not [k for k in keys if counts[k] != 1], "keys not won exactly once: " + str(
        {k: counts[k] for k in keys if counts[k] != 1}
    )
    assert len(wins) == len(keys)


@pytest.mark.parametrize("op", ["take", "take_counted", "claim"])
@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_threads_win_each_key_once(
    backend: str, op: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = open_store(_url(backend, request, tmp_path))
    keys = [f"{op}:{i}" for i in range(THREAD_KEYS)]
    _prepare(store, op, keys)
    barrier = threading.Barrier(THREADS)

    def contend() -> List[str]:
        won = []
        for key in keys:
            barrier.wait(timeout=30)
            if _attempt(store, op, key):
                won.append(key)
        return won

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(contend) for _ in range(THREADS)]
        wins = [key for future in futures for key in future.result(timeout=60)]
    store.close()
    _assert_each_won_once(keys, wins)


def _process_worker(url: str, op: str, keys: List[str], barrier: Any, results: Any) -> None:
    """Runs in a spawned process: open the store, line up, contend for every key."""
    try:
        store = open_store(url)
        store.ping()  # connect (and create the SQLite schema) before the start line
        barrier.wait(timeout=60)
        won = [key for key in keys if _attempt(store, op, key)]
        store.close()
        results.put(("ok", won))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def _run_processes(url: str, op: str, keys: List[str]) -> List[str]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(url, op, keys, barrier, results))
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    outcomes: List[Tuple[str, Any]] = []
    try:
        for _ in procs:
            outcomes.append(results.get(timeout=90))
    except queue.Empty:
        pytest.fail(f"workers did not report; exit codes {[p.exitcode for p in procs]}")
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    errors = [detail for status, detail in outcomes if status != "ok"]
    assert not errors, errors[0]
    return [key for _, won in outcomes for key in won]


@pytest.mark.parametrize("op", ["take", "take_counted", "claim"])
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_processes_win_each_key_once(
    backend: str, op: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _url(backend, request, tmp_path)
    keys = [f"{op}:{i}" for i in range(PROCESS_KEYS)]
    if op != "claim":  # claim starts from a store that does not exist yet
        store = open_store(url)
        _prepare(store, op, keys)
        store.close()
    wins = _run_processes(url, op, keys)
    _assert_each_won_once(keys, wins)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_processes_share_one_limit(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Every attempt counts once on the shared counter, so exactly the limit is admitted."""
    url = _url(backend, request, tmp_path)
    keys = [f"admitted:{i}" for i in range(PROCESS_KEYS)]
    admitted = _run_processes(url, "admitted", keys)
    assert len(admitted) == SHARED_LIMIT
    store = open_store(url)
    assert store.incr("rl:shared", 60, amount=0)[0] == PROCESSES * PROCESS_KEYS
    store.close()
