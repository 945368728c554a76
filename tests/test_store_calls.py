"""One store call per generate and per validate (issue: fast from the first request): the rate
limits, the pressure and the challenge go to the store together, on every backend. Counted at the
Store protocol (each call is one Redis round trip or one SQLite transaction), and on Redis also as
round trips on the wire."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, List

import pytest
import redis as redis_py
from flask import Flask

from flask_captcha_ext.state import get_state
from tests.helpers import generate, solve, validate_body
from tests.support.apps import ALL_TYPES

#: The Store protocol's methods that reach the backend.
STORE_CALLS = (
    "put", "get", "take", "claim", "incr", "take_counted", "put_counted", "delete", "scan",
)


@contextmanager
def store_calls(app: Flask) -> Iterator[List[str]]:
    """The names of the store calls made inside the block (``epoch(fresh=True)`` included; the
    cached ``epoch()`` makes none). A call that a store makes of its own methods (SQLite's and
    the memory store's ``put_counted`` is ``incr`` and ``put`` in one transaction) is part of
    the outer call."""
    store = get_state(app).store
    calls: List[str] = []
    depth = [0]

    def counting(name: str, method):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            fresh = name != "epoch" or kwargs.get("fresh") or (args and args[0])
            if fresh and depth[0] == 0:
                calls.append(name)
            depth[0] += 1
            try:
                return method(*args, **kwargs)
            finally:
                depth[0] -= 1

        return call

    for name in (*STORE_CALLS, "epoch"):
        setattr(store, name, counting(name, getattr(store, name)))
    try:
        yield calls
    finally:
        for name in (*STORE_CALLS, "epoch"):
            delattr(store, name)


@pytest.fixture
def app(make_app, store_url) -> Flask:
    app = make_app(CAPTCHA_STORE_URL=store_url, CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)
    solve(app, "math")  # a warm process: it knows the store's epoch and this network's level
    return app


@pytest.mark.parametrize("kind", ALL_TYPES)
def test_generate_is_one_store_call(app, kind) -> None:
    with store_calls(app) as calls:
        generate(app, kind)
    assert calls == ["put_counted"]


def test_a_right_answer_is_one_store_call(app) -> None:
    data, answer = generate(app, "math")
    body = validate_body(app, data, answer)
    with store_calls(app) as calls:
        reply = app.test_client().post("/captcha/validate", json=body).get_json()
    assert reply["valid"] is True
    assert calls == ["take_counted"]


def test_a_wrong_answer_costs_a_second_call_for_its_pressure(app) -> None:
    data, _ = generate(app, "math")
    body = validate_body(app, data, "wrong")
    with store_calls(app) as calls:
        reply = app.test_client().post("/captcha/validate", json=body).get_json()
    assert reply["valid"] is False
    assert calls == ["take_counted", "take_counted"]


def test_a_level_change_costs_one_more_call_only_when_it_happens(make_app, store_url) -> None:
    """Under rising pressure the challenge is remade at the new level (a second call) exactly on
    the ask that crosses a threshold; the asks between cost one call each."""
    app = make_app(
        CAPTCHA_STORE_URL=store_url,
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES,
        CAPTCHA_POW_LEVELS=[(0, 0, 1), (3, 10**6, 2)],
    )
    seen = []
    for _ in range(6):
        with store_calls(app) as calls:
            data, _ = generate(app, "math")
        seen.append((data["work"], list(calls)))
    assert seen == [
        (1, ["put_counted"]),
        (1, ["put_counted"]),
        (1, ["put_counted"]),
        (2, ["put_counted", "put"]),  # the fourth ask finds 3 before it: level 2, remade
        (2, ["put_counted"]),
        (2, ["put_counted"]),
    ]


def test_redis_generate_and_validate_are_one_round_trip_each(make_app, redis_url) -> None:
    app = make_app(CAPTCHA_STORE_URL=redis_url, CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)
    solve(app, "math")
    sent: List[bytes] = []
    original = redis_py.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):  # type: ignore[no-untyped-def]
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        return original(self, command, check_health)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis_py.connection.AbstractConnection, "send_packed_command", counting)
        data, answer = generate(app, "math")
        generated = len(sent)
        reply = app.test_client().post(
            "/captcha/validate", json=validate_body(app, data, answer)
        ).get_json()
    assert reply["valid"] is True
    assert (generated, len(sent) - generated) == (1, 1), sent
