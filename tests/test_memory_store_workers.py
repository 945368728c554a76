"""``memory://`` lives in one process: behind several gunicorn workers init_app says so (each
worker had its own store, and 77% of tokens passed twice); behind one it stays quiet."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from flask_captcha_ext.extension import server_workers
from tests.support import Gunicorn

WARNING = "keeps its data in one process, but this server runs"


def _log_of_gunicorn(tmp_path: Path, workers: int) -> str:
    log = tmp_path / "gunicorn.log"
    server = Gunicorn(
        "tests.live_app:create_test_app('memory://')",
        workers,
        options=["--capture-output", "--error-logfile", str(log)],
    )
    def answers() -> bool:
        try:
            urllib.request.urlopen(server.base + "/", timeout=5)
        except urllib.error.HTTPError:  # any HTTP answer (a 404 here) means a worker is up
            pass
        return True

    try:
        assert server.wait_until(answers)
        # Both workers load the app at boot; give the second a moment to log.
        if workers > 1:
            server.wait_until(lambda: log.read_text().count(WARNING) >= 2, timeout=10)
    finally:
        server.stop()
    return log.read_text(encoding="utf-8", errors="replace")


def test_several_gunicorn_workers_on_memory_are_reported(tmp_path: Path) -> None:
    text = _log_of_gunicorn(tmp_path, 2)
    assert WARNING in text and "2 workers" in text and "CAPTCHA_STORE_URL" in text


def test_one_gunicorn_worker_on_memory_is_fine(tmp_path: Path) -> None:
    assert WARNING not in _log_of_gunicorn(tmp_path, 1)


@pytest.mark.parametrize(
    "argv, env, expected",
    [
        (["gunicorn", "-w", "4", "app:app"], {}, 4),
        (["gunicorn", "--workers=3", "app:app"], {}, 3),
        (["gunicorn", "-w2", "app:app"], {}, 2),
        (["gunicorn", "app:app"], {"GUNICORN_CMD_ARGS": "--workers 5"}, 5),
        (["gunicorn", "app:app"], {"WEB_CONCURRENCY": "6"}, 6),
        (["gunicorn", "app:app"], {}, 1),
    ],
)
def test_worker_count_under_gunicorn(monkeypatch, argv, env, expected) -> None:
    import sys

    import gunicorn  # noqa: F401 - server_workers looks for it in sys.modules

    monkeypatch.setattr(sys, "argv", argv)
    for name in ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert server_workers() == expected
