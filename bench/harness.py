"""Shared bench harness: serve a bench app under gunicorn on loopback and drive it over HTTP.

gunicorn's sync workers are what the README recommends for production; each request is a new
connection (sync workers do not keep connections alive), for the endpoint under test and its
baseline alike. Three load generators, each POSTing a list of JSON bodies: wrk (C, epoll; the
leanest, so on 2 cores the server keeps nearly all of them), a raw-socket Python client, and
http.client (``drive``); the Python ones run in this process with a few threads.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

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


def raw_request(port: int, path: str, body: dict) -> bytes:
    """A prebuilt ``POST path`` of ``body`` as JSON, for ``exchange`` (the connection closes)."""
    payload = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode() + payload


def drive_raw(port: int, path: str, bodies: Sequence[dict], concurrency: int = 4) -> float:
    """Like ``drive`` (requests/s, every body once, ``concurrency`` at a time) with ``exchange``:
    the fallback when wrk is missing."""
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(lambda b: exchange(port, raw_request(port, path, b), 30)[0],
                                 bodies))
    elapsed = time.perf_counter() - start
    bad = [status for status in statuses if status != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} requests to {path} failed, e.g. status {bad[0]}")
    return len(bodies) / elapsed


# wrk runs for a fixed time. Thread i sends bodies i, i + threads, ... once each (or round and
# round when args[3] is "reuse"); answers are counted as they come. A thread that runs out of
# bodies says so (the run needs more of them).
WRK_SCRIPT = """
local threads, next_id = {}, 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  bodies, step, reuse = {}, tonumber(args[2]), args[3] == "reuse"
  local index = 0
  for line in io.lines(args[1]) do
    if index % step == id then bodies[#bodies + 1] = line end
    index = index + 1
  end
  sent, ok, bad, short = 0, 0, 0, 0
end
function request()
  sent = sent + 1
  local body = bodies[sent]
  if body == nil then
    if not reuse then short = 1 end
    body = bodies[(sent - 1) % #bodies + 1]
  end
  return wrk.format("POST", args_path, {["Content-Type"] = "application/json"}, body)
end
function response(status)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary)
  local ok_all, bad_all, short_all = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_all = ok_all + thread:get("ok")
    bad_all = bad_all + thread:get("bad")
    short_all = short_all + thread:get("short")
  end
  io.write(string.format("RESULT %d %d %d %d\\n", ok_all, bad_all, short_all, summary.duration))
end
"""
WRK_SECONDS = 5


def drive_wrk(
    port: int,
    path: str,
    bodies: Sequence[dict],
    concurrency: int = 4,
    *,
    seconds: int = WRK_SECONDS,
    reuse: bool = False,
) -> float:
    """Requests/s over ``seconds`` with wrk as the load generator (``apt-get install wrk``). Every
    body is sent at most once, so there must be more bodies than the server can answer meanwhile
    (``reuse``: round and round, for endpoints that do not spend them)."""
    threads = 2
    if len(bodies) < threads:
        raise ValueError(f"wrk's {threads} threads need a body each at least")
    with tempfile.TemporaryDirectory() as folder:
        script, lines = Path(folder, "post.lua"), Path(folder, "bodies.jsonl")
        script.write_text(f"args_path = {json.dumps(path)}\n" + WRK_SCRIPT)
        lines.write_text("".join(json.dumps(body) + "\n" for body in bodies))
        command = [
            "wrk", "-t", str(threads), "-c", str(max(concurrency, threads)),
            "-d", f"{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}{path}",
            "--", str(lines), str(threads), "reuse" if reuse else "once",
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    result = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if not result:
        raise RuntimeError(f"wrk printed no result: {out.stdout} {out.stderr}")
    ok, bad, short, duration_us = (int(v) for v in result[-1].split()[1:])
    if short:
        raise TooFewBodies(
            f"wrk ran out of the {len(bodies)} bodies: more are needed", ok / (duration_us / 1e6)
        )
    if bad:
        raise RuntimeError(f"{bad} requests to {path} failed ({ok} passed)")
    return ok / (duration_us / 1e6)


class TooFewBodies(RuntimeError):
    """wrk answered more requests than it had bodies for: measure again with more. ``rate``:
    requests/s answered all the same (a floor of what the server can do)."""

    def __init__(self, message: str, rate: float) -> None:
        super().__init__(message)
        self.rate = rate


Driver = Callable[[int, str, Sequence[dict], int], float]
CLIENTS: Dict[str, Driver] = {"http": drive, "raw": drive_raw, "wrk": drive_wrk}


def default_client() -> str:
    """wrk when it is installed, else the raw-socket client."""
    return "wrk" if shutil.which("wrk") else "raw"
