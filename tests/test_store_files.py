"""The SQLite store's files are private: 0600 files, 0700 folders, no world-writable folder."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Iterator

import pytest

from flask_captcha_ext.stores import open_store
from flask_captcha_ext.stores.sqlite import SQLiteStore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A umask that lets files be created group- and world-readable (SQLite's 0644 default)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("loose_umask")
def test_fresh_store_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "captcha.sqlite3"
    store = open_store("sqlite:///" + str(path))
    try:
        store.put("k", "v", 60)  # a write, so the -wal and -shm files exist
        assert store.get("k") == "v"
        for name in ("captcha.sqlite3", "captcha.sqlite3-wal", "captcha.sqlite3-shm"):
            assert (tmp_path / name).exists(), name
            assert _mode(tmp_path / name) == 0o600, name
    finally:
        store.close()


@pytest.mark.usefixtures("loose_umask")
def test_missing_folders_are_created_0700(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nested" / "captcha.sqlite3"
    store = SQLiteStore(path)
    try:
        store.put("k", "v", 60)
    finally:
        store.close()
    assert _mode(tmp_path / "new") == 0o700
    assert _mode(tmp_path / "new" / "nested") == 0o700
    assert _mode(path) == 0o600


def test_existing_loose_file_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "captcha.sqlite3"
    first = SQLiteStore(path)
    first.put("k", "v", 60)
    first.close()
    for name in ("captcha.sqlite3", "captcha.sqlite3-wal", "captcha.sqlite3-shm"):
        if (tmp_path / name).exists():
            os.chmod(tmp_path / name, 0o644)
    caplog.set_level(logging.WARNING, logger="flask_captcha_ext.stores.sqlite")
    store = SQLiteStore(path)
    try:
        assert store.get("k") == "v"
        assert _mode(path) == 0o600
        for name in ("captcha.sqlite3-wal", "captcha.sqlite3-shm"):
            if (tmp_path / name).exists():
                assert _mode(tmp_path / name) == 0o600, name
    finally:
        store.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(path) in r.getMessage() for r in warnings)


@pytest.mark.parametrize("folder_mode", [0o777, 0o1777, 0o757])
def test_world_writable_folder_is_refused(tmp_path: Path, folder_mode: int) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, folder_mode)
    store = open_store("sqlite:///" + str(folder / "captcha.sqlite3"))
    for call in (store.ping, lambda: store.put("k", "v", 60), lambda: store.take("k")):
        with pytest.raises(PermissionError, match="world-writable") as raised:
            call()
        assert str(folder) in str(raised.value)
    assert not (folder / "captcha.sqlite3").exists()  # refused before anything was created
    store.close()


def test_private_folder_is_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "private"
    folder.mkdir()
    os.chmod(folder, 0o755)  # others may read the folder, only the file must be private
    store = SQLiteStore(folder / "captcha.sqlite3")
    try:
        store.put("k", "v", 60)
        assert store.take("k") == "v"
    finally:
        store.close()


def test_a_new_connection_keeps_the_processes_other_locks(tmp_path):
    """Preparing the file for a new thread's connection must not close a descriptor of the open
    database (that drops every POSIX lock of the process): another process's last connection
    would delete the WAL under ours, and the two would stop seeing each other's writes."""
    import subprocess
    import sys
    import threading

    path = str(tmp_path / "shared.sqlite3")

    def other_process(code: str) -> str:
        script = (
            "from flask_captcha_ext.stores.sqlite import SQLiteStore\n"
            f"s = SQLiteStore({path!r})\n{code}\ns.close()\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    store = SQLiteStore(path)
    try:
        store.put("a", "1", None)  # this thread's connection stays open, as a worker's does
        second = threading.Thread(target=lambda: store.get("x"))  # a new connection
        second.start()
        second.join()
        other_process('s.put("b", "2", None)')  # another worker writes; its connection closes
        store.put("c", "3", None)
        assert store.get("b") == "2"
        assert other_process('print(s.get("a"), s.get("c"))') == "1 3"
    finally:
        store.close()
