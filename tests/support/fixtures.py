"""Pytest plugin of the support package (loaded from tests/conftest.py via ``pytest_plugins``):
the session's real Redis server (``redis_server``) and ``redis_url``, a clean database on it.

A missing ``redis-server`` fails the tests instead of skipping them: CI installs it, and a
silently skipped backend would hide exactly the bugs these tests exist for.
"""

from __future__ import annotations

from typing import Callable, Iterator, List, Tuple, Union

import pytest

from .redis_server import RedisServer, flushall, redis_server_binary


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session, on a free port."""
    if redis_server_binary() is None:
        pytest.fail(
            "redis-server is not installed but the Redis store tests need it "
            "(apt-get install redis-server, or put it on PATH)",
            pytrace=False,
        )
    error: Exception = RuntimeError("redis-server did not start")
    for _ in range(3):  # another process may grab the free port before redis binds it
        server = RedisServer()
        try:
            server.start()
        except RuntimeError as exc:
            server.cleanup()
            error = exc
            continue
        yield server
        server.cleanup()
        return
    pytest.fail(str(error), pytrace=False)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's Redis server, running and with an empty database."""
    redis_server.start()  # no-op unless a test stopped it
    flushall(redis_server.port)
    return redis_server.url


@pytest.fixture
def new_redis() -> Iterator[Callable[..., RedisServer]]:
    """Start a redis-server of the test's own (``new_redis(appendonly="yes", ...)``: options as
    ``RedisServer`` takes them), for tests that kill, pause, flush or reconfigure it; every one
    started is stopped and removed after the test."""
    started: List[RedisServer] = []

    def start(**options: Union[str, Tuple[str, ...]]) -> RedisServer:
        server = RedisServer(**options)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.cleanup()
