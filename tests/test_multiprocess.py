"""Several processes on one store: what one worker issues, another honours, exactly once."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from typing import Iterator, List

import pytest
import requests

from tests.helpers import generate, live_validate_body, validate_body
from tests.support import ROOT, free_port, store_url_of


def _start(store_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.live_app", store_url, str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"live app failed to start: {line!r}"
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(params=["sqlite", "redis"])
def two_workers(request, tmp_path) -> Iterator[List[str]]:
    url = store_url_of(request, request.param, tmp_path, "shared.sqlite3")
    procs = [_start(url) for _ in range(2)]
    try:
        yield [base for _, base in procs]
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(timeout=10)


def test_generate_on_one_validate_and_verify_on_the_other(two_workers):
    a, b = two_workers
    site_key = requests.get(a + "/_site_key", timeout=5).json()["site_key"]
    assert requests.get(b + "/_site_key", timeout=5).json()["site_key"] == site_key
    for kind in ("image", "math"):
        gen = requests.post(
            a + "/captcha/generate", json={"site_key": site_key, "type": kind}, timeout=5
        ).json()
        body = live_validate_body(a, site_key, gen["captcha_id"])
        valid = requests.post(b + "/captcha/validate", json=body, timeout=5).json()
        assert valid["valid"] is True
        # Spent on b means spent on a too.
        assert requests.post(a + "/captcha/validate", json=body, timeout=5).status_code == 400
        token = valid["token"]
        first = requests.post(a + "/protected", json={"captcha-token": token}, timeout=5)
        assert first.status_code == 200
        replay = requests.post(b + "/protected", json={"captcha-token": token}, timeout=5)
        assert replay.status_code == 400
        assert replay.json()["error_codes"] == ["token-duplicate"]


# -- races: many threads and processes validating one challenge / spending one token ----------


def _validate_worker(args: tuple) -> List[int]:
    """In a fresh process: post each validate body once, at a shared start time."""
    store_url, bodies, start_at = args
    from tests.live_app import create_test_app

    client = create_test_app(store_url).test_client()
    time.sleep(max(0.0, start_at - time.time()))
    wins = []
    for index, body in enumerate(bodies):
        reply = client.post("/captcha/validate", json=body)
        if reply.status_code == 200 and reply.get_json()["valid"]:
            wins.append(index)
    return wins


def _token_worker(args: tuple) -> List[int]:
    store_url, tokens, start_at = args
    from tests.live_app import create_test_app

    client = create_test_app(store_url).test_client()
    time.sleep(max(0.0, start_at - time.time()))
    return [
        i
        for i, t in enumerate(tokens)
        if client.post("/protected", json={"captcha-token": t}).status_code == 200
    ]


def _challenges(app, count: int) -> List[dict]:
    """The validate bodies answering ``count`` new math challenges right (proof included)."""
    return [validate_body(app, *generate(app, "math")) for _ in range(count)]


@pytest.fixture
def race_store(store_url):
    return store_url


def test_32_threads_validating_one_captcha_give_one_pass(race_store):
    from concurrent.futures import ThreadPoolExecutor

    from tests.live_app import create_test_app

    app = create_test_app(race_store)
    for body in _challenges(app, 20):

        def attempt(_: int, body: dict = body) -> bool:
            reply = app.test_client().post("/captcha/validate", json=body)
            return reply.status_code == 200 and reply.get_json()["valid"]

        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(attempt, range(32)))
        assert results.count(True) == 1


def test_32_threads_spending_one_token_give_one_pass(race_store):
    from concurrent.futures import ThreadPoolExecutor

    from tests.helpers import solve
    from tests.live_app import create_test_app

    app = create_test_app(race_store)
    for _ in range(10):
        token = solve(app)

        def attempt(_: int, token: str = token) -> bool:
            reply = app.test_client().post("/protected", json={"captcha-token": token})
            return reply.status_code == 200

        with ThreadPoolExecutor(32) as pool:
            assert list(pool.map(attempt, range(32))).count(True) == 1


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_4_processes_validating_and_spending_give_one_pass_each(backend, tmp_path, request):
    from tests.helpers import solve
    from tests.live_app import create_test_app

    url = store_url_of(request, backend, tmp_path, "race.sqlite3")
    app = create_test_app(url)
    items = _challenges(app, 60)
    tokens = [solve(app) for _ in range(60)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        start_at = time.time() + 3.0
        wins = pool.map(_validate_worker, [(url, items, start_at)] * 4)
        start_at = time.time() + 2.0
        spent = pool.map(_token_worker, [(url, tokens, start_at)] * 4)
    for outcome, total in ((wins, len(items)), (spent, len(tokens))):
        flat = sorted(i for worker in outcome for i in worker)
        assert flat == list(range(total)), "every challenge/token must pass exactly once"
