"""Run an app under gunicorn on a free 127.0.0.1 port, from the repository root."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Callable, Optional, Sequence

from .net import free_port
from .paths import ROOT


class Gunicorn:
    """``gunicorn -w WORKERS [OPTIONS] APP_SPEC`` (e.g. ``tests.live_app:create_test_app(...)``),
    optionally pinned to one CPU with taskset; its output is discarded.

    The constructor starts the process and returns at once: ``wait_until`` a probe says it serves.
    """

    def __init__(
        self,
        app_spec: str,
        workers: int = 1,
        *,
        options: Sequence[str] = (),
        cpu: Optional[int] = None,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "gunicorn", "-w", str(workers),
                   "-b", f"127.0.0.1:{self.port}", *options, app_spec]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def wait_until(self, probe: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Call ``probe`` until it returns True (True) or ``timeout`` s pass (False). An OSError
        from it (connection refused; requests' errors are OSErrors too) means not yet: retry
        after 0.2 s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if probe():
                    return True
            except OSError:
                time.sleep(0.2)
        return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)
