"""Test support: each helper the tests and benches share, written once.

- ``net``: ``free_port()``; ``paths``: ``ROOT``, the repository root;
- ``apps``: ``build_app(...)``, the app factory (Flask + CaptchaExt from keyword config; the
  ``make_app`` fixture, tests/live_app.py and bench/apps.py build on it), ``rate_limits()``,
  ``SECRET``;
- ``stores``: ``store_url_for(backend, folder)``, the memory/sqlite/redis store URL choice, and
  ``store_url_of(request, backend, folder)`` for tests (redis: the ``redis_url`` fixture);
- ``live_server``: ``ThreadedServer`` (a WSGI app on 127.0.0.1 in a thread), ``make_wsgi_server``;
- ``gunicorn_runner``: ``Gunicorn``, an app spec under gunicorn on a free port;
- ``redis_server``: ``RedisServer``, a throwaway redis-server;
- ``fixtures``: the pytest plugin (the ``redis_server`` and ``redis_url`` fixtures);
  not imported here, so benches need no pytest.

Benches import this as ``tests.support`` once the repository root is on ``sys.path`` (each
bench script puts it there).
"""

from .apps import ALL_TYPES, SECRET, build_app, rate_limits
from .gunicorn_runner import Gunicorn
from .live_server import ThreadedServer, make_wsgi_server
from .net import free_port
from .paths import ROOT
from .redis_server import RedisServer, flushall, redis_server_binary
from .stores import BACKENDS, store_url_for, store_url_of

__all__ = [
    "ALL_TYPES",
    "BACKENDS",
    "ROOT",
    "SECRET",
    "Gunicorn",
    "RedisServer",
    "ThreadedServer",
    "build_app",
    "flushall",
    "free_port",
    "make_wsgi_server",
    "rate_limits",
    "redis_server_binary",
    "store_url_for",
    "store_url_of",
]
