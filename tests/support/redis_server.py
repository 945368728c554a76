"""Run a throwaway ``redis-server`` for tests: free 127.0.0.1 port, temp dir, no persistence.

``stop()`` and ``start()`` keep the same port, so outage tests can take the server away and bring
it back under a client that is already connected.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional, Tuple, Union

from .net import free_port


def redis_server_binary() -> Optional[str]:
    """Path of ``redis-server``, or None when it is not installed."""
    return shutil.which("redis-server")


def _pong(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server on ``port`` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def flushall(port: int) -> None:
    """Empty every database of the Redis server on ``port``."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        reply = sock.recv(64)
    assert reply.startswith(b"+OK"), reply


class RedisServer:
    """One ``redis-server`` process bound to 127.0.0.1 on a fixed free port."""

    def __init__(self, port: Optional[int] = None, **options: Union[str, Tuple[str, ...]]) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed; the store tests need a real Redis "
                "(e.g. apt-get install redis-server)"
            )
        self.binary = binary
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="captcha-redis-"))
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.options = options  # more redis-server options, e.g. maxmemory_policy="allkeys-lru"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server (if stopped) and wait until it answers PING."""
        if self.running:
            return
        log = open(self.dir / "redis.log", "ab")  # the child inherits it
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "dir": str(self.dir),
            "save": "",
            "appendonly": "no",
            "daemonize": "no",
            **{name.replace("_", "-"): value for name, value in self.options.items()},
        }
        argv = [self.binary]
        for name, value in options.items():  # a tuple: several arguments (rename-command)
            argv += [f"--{name}", *(value if isinstance(value, tuple) else (value,))]
        self.process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _pong(self.port):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        tail = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail}")

    def stop(self) -> None:
        """Stop the server and wait until its port is closed."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def crash(self) -> None:
        """Kill the server with SIGKILL, as a crash or an OOM kill does: no final save."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop, then start again on the same port."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
