"""The SQLite store's bounds (issue 13, point 3): a WAL that stays small, and a request that waits
for another process's write lock no longer than the busy timeout, then answers 503."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flask_captcha_ext.stores.sqlite import WAL_SIZE_LIMIT, SQLiteStore
from tests.helpers import generate, validate_body
from tests.support import rate_limits

MIB = 1024 * 1024
#: SQLiteStore's busy timeout (the extension opens its store with the default).
BUSY_TIMEOUT = inspect.signature(SQLiteStore).parameters["timeout"].default


def test_the_wal_stays_under_five_mib_after_many_writes(tmp_path: Path) -> None:
    path = tmp_path / "captcha.sqlite3"
    store = SQLiteStore(path)
    wal = Path(str(path) + "-wal")
    largest = 0
    for i in range(6000):  # about 40 MiB of WAL frames: a 16 MiB WAL would show
        store.put(f"challenge:{i}", "x" * 600, 600)
        if i % 3 == 0:
            store.take(f"challenge:{i - 1}")
        if i % 50 == 0:
            largest = max(largest, wal.stat().st_size)
    largest = max(largest, wal.stat().st_size)
    assert largest > 2 * MIB  # the writes did fill the WAL up to a checkpoint
    assert largest < 5 * MIB, largest
    assert WAL_SIZE_LIMIT <= 4 * MIB


_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT OR REPLACE INTO captcha_store VALUES ('held', 'x', NULL)")
print("locked", flush=True)
time.sleep(120)
"""


def test_a_stopped_lock_holder_delays_validate_by_the_busy_timeout_only(
    make_app, tmp_path: Path
) -> None:
    assert BUSY_TIMEOUT <= 10  # well under gunicorn's 30 s worker timeout
    app = make_app(CAPTCHA_POW_TARGET_MS=50, **rate_limits(None))
    client = app.test_client()
    data, answer = generate(app)
    body = validate_body(app, data, answer)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "captcha.sqlite3")],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"locked\n"
        os.kill(holder.pid, signal.SIGSTOP)  # a worker stopped inside its write transaction
        started = time.monotonic()
        response = client.post("/captcha/validate", json=body)
        waited = time.monotonic() - started
    finally:
        holder.kill()  # a stopped process dies too, and its lock goes with it
        holder.wait()
    assert response.status_code == 503, response.get_json()
    assert "unavailable" in response.get_json()["detail"]
    assert response.headers["Retry-After"] == "1"  # a rolled-back SQLite call spends nothing
    assert waited < BUSY_TIMEOUT + 3, waited
    # The lock holder is gone: the same challenge (not spent) passes.
    passed = client.post("/captcha/validate", json=body)
    assert passed.get_json()["valid"] is True, passed.get_json()
