"""Shared bench harness: serve a bench app under gunicorn on loopback and drive it over HTTP.

gunicorn's sync workers are what the README recommends for production; each request is a new
connection (sync workers do not keep connections alive), for the endpoint under test and its
baseline alike. The client runs in this process with a few threads, so the worker is kept busy.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Sequence

from tests.support import Gunicorn


def start_gunicorn(app_spec: str, workers: int = 1, cpu: Optional[int] = None) -> Gunicorn:
    """``gunicorn -w WORKERS`` serving ``app_spec`` (e.g. ``bench.apps:create_app(...)``), pinned
    to CPU ``cpu`` if given, once its ``POST /bare`` answers."""
    server = Gunicorn(app_spec, workers, options=["--backlog", "2048"], cpu=cpu)

    def answers() -> bool:
        post_json(server.port, "/bare", {"user_input": "x"})  # any reply will do
        return True

    if not server.wait_until(answers):
        server.stop()
        raise RuntimeError("gunicorn did not start")
    return server


def post_json(port: int, path: str, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def drive(port: int, path: str, bodies: Sequence[dict], concurrency: int = 4) -> float:
    """Requests per second for POSTing every body once, ``concurrency`` at a time."""

    def send(body: dict) -> int:
        return post_json(port, path, body)[0]

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses: List[int] = list(pool.map(send, bodies))
    elapsed = time.perf_counter() - start
    bad = [s for s in statuses if s != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} requests to {path} failed, e.g. status {bad[0]}")
    return len(bodies) / elapsed


def exchange(port: int, raw: bytes, timeout: float = 60) -> tuple[int, bytes]:
    """Send the prebuilt request ``raw`` on a new connection; the status code and the whole
    reply. The lean twin of ``post_json`` (no http.client): about a third of its client CPU,
    which on a 2-core machine leaves more of the cores to the server being measured."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    reply = b"".join(chunks)
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0
    return status, reply
