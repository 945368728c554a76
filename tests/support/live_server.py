"""Serve a WSGI app on 127.0.0.1 with werkzeug: in a daemon thread, or in the foreground."""

from __future__ import annotations

import threading
from typing import Any, Optional, Type

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


def make_wsgi_server(
    app: Any, port: int = 0, request_handler: Optional[Type[WSGIRequestHandler]] = None
) -> BaseWSGIServer:
    """A threaded werkzeug server for ``app`` bound to 127.0.0.1:``port`` (0: a free port)."""
    if request_handler is None:
        return make_server("127.0.0.1", port, app, threaded=True)
    return make_server("127.0.0.1", port, app, threaded=True, request_handler=request_handler)


class ThreadedServer:
    """``app`` served on 127.0.0.1 from a daemon thread, started at once; ``url`` is its base
    (``http://127.0.0.1:PORT``). ``stop()`` (or leaving the ``with`` block) shuts it down."""

    def __init__(
        self,
        app: Any,
        port: int = 0,
        request_handler: Optional[Type[WSGIRequestHandler]] = None,
        name: str = "live-server",
    ) -> None:
        self.server = make_wsgi_server(app, port, request_handler)
        self.port: int = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()

    def __enter__(self) -> ThreadedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
