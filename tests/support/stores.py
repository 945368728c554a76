"""Which store URL a test or bench uses for a backend name: memory, sqlite or redis."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Union

BACKENDS = ("memory", "sqlite", "redis")


def store_url_for(
    backend: str,
    folder: Union[str, os.PathLike],
    *,
    redis_url: Union[str, Callable[[], str], None] = None,
    filename: str = "captcha.sqlite3",
) -> str:
    """The store URL for ``backend``: ``memory://``, a SQLite file ``filename`` in ``folder``, or
    ``redis_url`` (a URL, or a callable asked only when the backend is redis, e.g. one that starts
    the Redis fixture)."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return "sqlite:///" + str(Path(folder) / filename)
    if backend == "redis":
        if redis_url is None:
            raise ValueError("the redis backend needs a redis_url")
        return redis_url() if callable(redis_url) else redis_url
    raise ValueError(f"unknown store backend {backend!r}; one of {', '.join(BACKENDS)}")


def store_url_of(
    request: Any, backend: str, folder: Union[str, os.PathLike], filename: str = "captcha.sqlite3"
) -> str:
    """``store_url_for`` in a pytest test: ``request`` is its ``pytest.FixtureRequest``, and redis
    is the ``redis_url`` fixture (tests/support/fixtures.py), requested only for that backend."""
    return store_url_for(
        backend, folder, filename=filename, redis_url=lambda: request.getfixturevalue("redis_url")
    )
