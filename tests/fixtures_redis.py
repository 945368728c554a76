"""Pytest fixtures for a real Redis server (loaded from tests/conftest.py via pytest_plugins).

A missing ``redis-server`` fails the tests instead of skipping them: CI installs it, and a
silently skipped backend would hide exactly the bugs these tests exist for.
"""

from __future__ import annotations

import socket
from typing import Iterator

import pytest

from tests.redis_server import RedisServer, redis_server_binary


def _flushall(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        reply = sock.recv(64)
    assert reply.startswith(b"+OK"), reply


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
    _flushall(redis_server.port)
    return redis_server.url
