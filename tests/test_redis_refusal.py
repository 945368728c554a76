"""A refusal does not spend (issue 13, point 5), on a real redis-server.

A paused Redis (SIGSTOP) still receives what pooled connections send and runs it when it resumes,
after the client has given up. So a spending call (take, claim, take_counted) that got no reply
is ``StoreUnavailable(maybe_done=True)`` and the answer asks for a new challenge, with no
``Retry-After``; a call refused before anything was sent still invites a retry.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List

import pytest
import redis as redis_py
from flask import Flask

from flask_captcha_ext import captcha_protected
from flask_captcha_ext.selfhosted.blueprint import TIMED_OUT
from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair
from flask_captcha_ext.selfhosted.tokens import STORE_DOWN, STORE_TIMEOUT
from flask_captcha_ext.state import get_state
from flask_captcha_ext.stores import StoreUnavailable
from flask_captcha_ext.stores.redis import RedisStore
from tests.helpers import generate, solve, validate_body
from tests.support import SECRET, RedisServer, free_port, rate_limits

# The store's timeout is 1 s; a refusal must come well before a worker's timeout, and a loaded
# 2-core machine may add a second or two.
PROMPT = 6.0
OWN_SECRET = derived_key_pair(SECRET.encode())[1]


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A redis-server of this test alone: pausing it must not stall other tests."""
    server = RedisServer(appendonly="yes")  # as recommended: init_app stays quiet
    server.start()
    yield server
    server.cleanup()


@contextmanager
def paused(server: RedisServer) -> Iterator[None]:
    """SIGSTOP the server for the block; SIGCONT whatever happens, then wait until it answers."""
    assert server.process is not None
    pid = server.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
    raw = redis_py.Redis.from_url(server.url, socket_timeout=5)
    raw.ping()  # answered after everything sent before it: the paused commands have run
    raw.close()


def refusal(call: Callable[[], Any]) -> StoreUnavailable:
    """The StoreUnavailable ``call`` raises, checked to come promptly."""
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        call()
    assert time.monotonic() - started < PROMPT
    return info.value


# -- the store ------------------------------------------------------------------------------


def test_an_unanswered_spend_is_maybe_done_and_was_done(server: RedisServer) -> None:
    store = RedisStore(server.url)
    counters = [("n", 60, 100)]
    store.put("warm", "x", 60)
    assert store.take_counted("warm", counters)[0] == "x"  # loads the Lua script
    raw = redis_py.Redis.from_url(server.url, decode_responses=True)
    spends = {
        "take": (lambda: store.take("a"), lambda: raw.exists("captcha:a") == 0),
        "claim": (lambda: store.claim("c", 60), lambda: raw.get("captcha:c") == "1"),
        "take_counted": (
            lambda: store.take_counted("b", counters),
            # counted once, not twice: the command was not sent again
            lambda: raw.exists("captcha:b") == 0 and raw.get("captcha:n") == "2",
        ),
    }
    for name, (spend, applied) in spends.items():
        store.put("a", "1", 60)  # each spend goes out on a pooled, connected socket
        store.put("b", "1", 60)
        with paused(server):
            error = refusal(spend)
        assert error.maybe_done, name
        assert applied(), name  # what the caller was refused ran once Redis resumed
    raw.close()


def test_reads_and_puts_on_a_paused_server_are_not_maybe_done(server: RedisServer) -> None:
    store = RedisStore(server.url)
    store.put("a", "1", 60)
    with paused(server):
        assert not refusal(lambda: store.get("a")).maybe_done
        assert not refusal(lambda: store.put("b", "1", 60)).maybe_done
        # No pooled socket is left: connecting times out before the command is sent.
        assert not refusal(lambda: store.take("a")).maybe_done
    assert store.get("a") == "1"


def test_a_refused_connection_is_not_maybe_done() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    for spend in (
        lambda: store.take("a"),
        lambda: store.claim("c", 60),
        lambda: store.take_counted("b", [("n", 60, 10)]),
    ):
        assert not refusal(spend).maybe_done


def test_a_connection_lost_while_awaiting_the_reply_is_maybe_done(server: RedisServer) -> None:
    """The server dies after the command was sent: it may have run, so no retry and
    ``maybe_done`` (a retry would have met a refused connection and said nothing was spent)."""
    store = RedisStore(server.url, timeout=10.0)
    store.put("a", "1", 60)
    errors: List[StoreUnavailable] = []

    def take() -> None:
        try:
            store.take("a")
        except StoreUnavailable as exc:
            errors.append(exc)

    assert server.process is not None
    pid = server.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        worker = threading.Thread(target=take)
        worker.start()
        time.sleep(1.5)  # the GETDEL is sent and awaits its reply
    finally:
        os.kill(pid, signal.SIGKILL)  # a stopped process dies too; its sockets close
    worker.join(PROMPT)
    assert not worker.is_alive()
    assert len(errors) == 1 and errors[0].maybe_done, errors


# -- over HTTP ------------------------------------------------------------------------------


def _app(make_app: Callable[..., Flask], server: RedisServer) -> Flask:
    app = make_app(CAPTCHA_STORE_URL=server.url, CAPTCHA_POW_TARGET_MS=50, **rate_limits(None))

    @app.post("/protected")
    @captcha_protected
    def protected() -> Any:
        return {"ok": True}

    solve(app)  # a running site: the Lua script is loaded, the deployment id known
    return app


def test_validate_that_timed_out_asks_for_a_new_challenge(make_app, server) -> None:
    app = _app(make_app, server)
    client = app.test_client()
    data, answer = generate(app)
    body = validate_body(app, data, answer)
    with paused(server):
        started = time.monotonic()
        response = client.post("/captcha/validate", json=body)
        assert time.monotonic() - started < PROMPT
    assert response.status_code == 503, response.get_json()
    assert response.get_json() == {"detail": TIMED_OUT}
    assert "new challenge" in TIMED_OUT
    assert "Retry-After" not in response.headers
    # As the answer said: the challenge was spent once Redis resumed; a retry cannot pass.
    again = client.post("/captcha/validate", json=body)
    assert again.status_code == 400, again.get_json()
    fresh, answer = generate(app)
    passed = client.post("/captcha/validate", json=validate_body(app, fresh, answer))
    assert passed.get_json()["valid"] is True


def test_validate_on_a_stopped_server_invites_a_retry(make_app, server) -> None:
    app = _app(make_app, server)
    data, answer = generate(app)
    server.stop()  # connection refused: nothing is sent, nothing spent
    response = app.test_client().post("/captcha/validate", json=validate_body(app, data, answer))
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "1"
    assert "try again shortly" in response.get_json()["detail"]


def test_siteverify_that_timed_out_does_not_invite_a_retry(make_app, server) -> None:
    app = _app(make_app, server)
    token = solve(app)
    with paused(server):
        response = app.test_client().post(
            "/captcha/siteverify", data={"secret": OWN_SECRET, "response": token}
        )
    assert response.status_code == 503, response.get_json()
    assert response.get_json() == {"detail": TIMED_OUT}
    assert "Retry-After" not in response.headers
    again = app.test_client().post(
        "/captcha/siteverify", data={"secret": OWN_SECRET, "response": token}
    )
    assert again.get_json()["error-codes"] == ["timeout-or-duplicate"]  # spent, as said


def test_a_form_check_that_timed_out_says_store_timeout(make_app, server) -> None:
    app = _app(make_app, server)
    client = app.test_client()
    token = solve(app)
    with paused(server):
        response = client.post("/protected", json={"captcha-token": token})
    assert response.status_code == 503
    assert response.get_json()["error_codes"] == [STORE_TIMEOUT]
    assert "complete the CAPTCHA again" in response.get_json()["detail"]
    assert "Retry-After" not in response.headers
    assert client.post("/protected", json={"captcha-token": token}).status_code == 400
    server.stop()
    down = client.post("/protected", json={"captcha-token": solve_offline(app)})
    assert down.get_json()["error_codes"] == [STORE_DOWN]


def solve_offline(app: Flask) -> str:
    """A token of ``app``'s deployment, issued without the store (its id is already known)."""
    service = get_state(app).service
    return service.tokens.issue(service.site_keys.own.id, "pow")
