"""SQLite store: the zero-configuration default, shared by every worker process on one host.

One table, WAL journal, one connection per thread (re-opened after ``fork``). Each operation is a
single statement or a ``BEGIN IMMEDIATE`` transaction, so it is atomic across processes, not only
threads. Expired rows are invisible at once and deleted by a purge that writes trigger at most
every ``purge_interval`` seconds (on the monotonic clock), so the file stays small without a cron
job; the purge keeps rows a margin past their expiry and never trusts a wall clock that stepped
forward (see ``_purge_cutoff``).

Each connection checks, before every operation, that the path still names the file it opened
(device and inode): a file deleted or replaced under a running app is noticed and reopened, and a
replacement that carries the epoch we had (a restored copy) gets a new one, so nothing spent
since the copy was made passes again.

The file holds live challenges and site keys, so it is private: created 0600 before SQLite opens it
(SQLite gives its -wal and -shm files the same mode), in folders it creates 0700, and never in a
world-writable folder, where another user could swap or pre-create it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
import time
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple, Union

from .base import (
    CountedInParts,
    Epoch,
    EpochChanged,
    StoreUnavailable,
    new_epoch,
)

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS captcha_store "
    "(key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL)",
    "CREATE INDEX IF NOT EXISTS captcha_store_expires_at ON captcha_store (expires_at)",
    # The store's epoch: one row, never purged (see stores/base.py).
    "CREATE TABLE IF NOT EXISTS captcha_epoch "
    "(one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL, began REAL NOT NULL)",
)
_EPOCH = "SELECT id, began FROM captcha_epoch"
_BEGIN_EPOCH = "INSERT OR IGNORE INTO captcha_epoch (one, id, began) VALUES (1, ?, ?)"
_ROTATE_EPOCH = "UPDATE captcha_epoch SET id = ?, began = ? WHERE id = ?"
_NEW_EPOCH = "INSERT OR REPLACE INTO captcha_epoch (one, id, began) VALUES (1, ?, ?)"
# Each operation is one statement; the names say which.
_PUT = "INSERT OR REPLACE INTO captcha_store (key, value, expires_at) VALUES (?, ?, ?)"
_GET = "SELECT value FROM captcha_store WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
_GET_ROW = (
    "SELECT value, expires_at FROM captcha_store "
    "WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
)
_TAKE = "DELETE FROM captcha_store WHERE key = ? RETURNING value, expires_at"
_READ_ANY = "SELECT value, expires_at FROM captcha_store WHERE key = ?"
_DELETE = "DELETE FROM captcha_store WHERE key = ?"
_PURGE = (
    "DELETE FROM captcha_store WHERE rowid IN "
    "(SELECT rowid FROM captcha_store WHERE expires_at <= ? LIMIT ?)"
)
#: Seconds an expired row stays before the purge deletes it (reads ignore it at once).
PURGE_MARGIN = 60.0
#: Rows one purge deletes at most: a visitor's write never pays for thousands (100k expired rows
#: took 0.65 s in one request); a full chunk has the next write purge again.
PURGE_CHUNK = 500
_SCAN = (
    "SELECT key, value FROM captcha_store WHERE key >= ? AND substr(key, 1, ?) = ? "
    "AND (expires_at IS NULL OR expires_at > ?) ORDER BY key"
)
# claim and incr as one UPSERT statement each (atomic on their own, and one write instead of a
# read plus a write inside BEGIN IMMEDIATE: the hot path of every validate).
_CLAIM = (
    "INSERT INTO captcha_store (key, value, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
    "WHERE captcha_store.expires_at IS NOT NULL AND captcha_store.expires_at <= ? RETURNING 1"
)
# _CLAIM only while the store is in the epoch named by the last parameter.
_CLAIM_IN_EPOCH = (
    "INSERT INTO captcha_store (key, value, expires_at) "
    "SELECT ?, ?, ? WHERE (SELECT id FROM captcha_epoch) = ? "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
    "WHERE captcha_store.expires_at IS NOT NULL AND captcha_store.expires_at <= ? RETURNING 1"
)
_INCR = (
    "INSERT INTO captcha_store (key, value, expires_at) VALUES (:key, :amount, :now + :window) "
    "ON CONFLICT(key) DO UPDATE SET "
    "value = CASE WHEN expires_at IS NOT NULL AND expires_at <= :now THEN :amount "
    "ELSE CAST(value AS INTEGER) + :amount END, "
    "expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at <= :now THEN :now + :window "
    "ELSE COALESCE(expires_at, :now + :window) END "
    "RETURNING value, expires_at"
)
#: WAL pages after which a commit checkpoints them into the database: SQLite's default (about
#: 4 MiB at 4 KiB pages). 4000 let the WAL grow to 16 MiB before its first checkpoint, too much
#: for a small disk, and bench_validate.py showed no gain from it beyond its noise (about 7%).
WAL_CHECKPOINT_PAGES = 1000
#: Bytes the WAL file is truncated to after a checkpoint that emptied it.
WAL_SIZE_LIMIT = 4 * 1024 * 1024
# RETURNING arrived in SQLite 3.35; older libraries use BEGIN IMMEDIATE transactions instead.
_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
# File modes are enforced where they mean something (not on Windows, whose st_mode is made up).
_POSIX = os.name == "posix"
# Files SQLite keeps beside the database, with the same content.
_SIDE_FILES = ("-wal", "-shm", "-journal")


class UnsafeStoreLocation(PermissionError):
    """The database would sit in a folder other users can write to; never opened there.

    Not a :class:`StoreUnavailable` (an outage some callers may tolerate) but a deployment
    error that must be fixed, so it propagates as it is.
    """


def _make_private_dirs(folder: str) -> None:
    """Create ``folder`` and its missing ancestors, each 0700 (existing ones are left alone)."""
    missing: List[str] = []
    current = folder
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:  # another worker made it first; a file there still fails
            if not os.path.isdir(path):
                raise


def _refuse_world_writable(folder: str) -> None:
    """Raise UnsafeStoreLocation when any user may create, replace or delete files in ``folder``."""
    if _POSIX and os.stat(folder).st_mode & stat.S_IWOTH:
        raise UnsafeStoreLocation(
            f"refusing to keep the CAPTCHA SQLite store in {folder!r}: the folder is "
            "world-writable, so other users could replace or pre-create the database; use a "
            "folder only this user can write to (CAPTCHA_STORE_URL)"
        )


def _tighten(path: str, mode: int, target: Union[str, int]) -> None:
    """Make a database file owner-only if group or other users may read or write it.

    ``target`` is what to chmod: the path, or an open descriptor of it.
    """
    if _POSIX and mode & 0o077:
        os.chmod(target, stat.S_IMODE(mode) & 0o700)
        log.warning(
            "CAPTCHA SQLite file %r was readable or writable by other users (mode %o); "
            "tightened it to owner-only",
            path,
            stat.S_IMODE(mode),
        )


class SQLiteStore(CountedInParts):
    """A :class:`~flask_captcha_ext.stores.base.Store` in one SQLite file.

    ``timeout`` is SQLite's busy timeout: how long an operation waits for another process's
    write lock before it raises :class:`StoreUnavailable`.
    """

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        timeout: float = 5.0,
        purge_interval: float = 5.0,
    ) -> None:
        self.path = os.fspath(path)
        if not self.path or self.path == ":memory:" or self.path.startswith("file:"):
            raise ValueError("SQLiteStore needs a file path (an in-memory database is per thread)")
        self.url = f"sqlite:///{self.path}"
        self._timeout = timeout
        self._purge_interval = purge_interval
        self._next_purge = 0.0  # monotonic
        self._wall_offset = time.time() - time.monotonic()
        self._local = threading.local()
        self._generation = 0  # bumped by close(); stale per-thread connections reopen
        self._inherited: List[sqlite3.Connection] = []
        self._epoch: Optional[Epoch] = None  # as this process last read it

    def __repr__(self) -> str:
        return f"<SQLiteStore {self.path!r}>"

    # Connections.

    def _prepare_files(self) -> None:
        """Make the folder and the database file private before SQLite opens them."""
        path = os.path.abspath(self.path)
        parent = os.path.dirname(path)
        _make_private_dirs(parent)
        _refuse_world_writable(parent)
        # Create the file 0600 ourselves: SQLite would create it 0644 (umask permitting). Only a
        # new file is ever opened here: closing any descriptor of an existing database file
        # drops every POSIX lock this process holds on it, including those of SQLite
        # connections open in other threads; another process's last connection would then
        # think itself alone, checkpoint and delete the WAL under them, and the processes would
        # stop seeing each other's writes. An existing file is checked by path.
        try:
            fd = os.open(
                path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600
            )
        except FileExistsError:
            _tighten(path, os.stat(path).st_mode, path)
        else:
            try:
                _tighten(path, os.fstat(fd).st_mode, fd if os.chmod in os.supports_fd else path)
            finally:
                os.close(fd)
        for suffix in _SIDE_FILES:  # left over by a crash or by an older version
            try:
                mode = os.stat(path + suffix).st_mode
            except FileNotFoundError:
                continue
            _tighten(path + suffix, mode, path + suffix)

    def _connect(self) -> sqlite3.Connection:
        self._prepare_files()
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        try:
            self._switch_to_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            for statement in _SCHEMA:
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        """``journal_mode=WAL``, retried: on a brand-new file, workers starting together get
        "database is locked" at once (SQLite's busy handler does not cover this PRAGMA)."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use, again after fork or close(), and
        again when the path no longer names the file it has open."""
        local = self._local
        conn: Optional[sqlite3.Connection] = getattr(local, "conn", None)
        replaced = False
        if conn is not None:
            if local.pid == os.getpid() and local.generation == self._generation:
                # Checked once per transaction: inside one (a batch) the file is the same.
                if conn.in_transaction or self._identity() == local.identity:
                    return conn
                replaced = True
            if local.pid == os.getpid():
                conn.close()
            else:
                # Inherited over fork: closing it here could disturb the parent's locks and WAL,
                # so keep it referenced and never touch it again.
                self._inherited.append(conn)
            local.conn = None
        conn = self._connect()
        local.conn, local.pid, local.generation = conn, os.getpid(), self._generation
        local.identity = self._identity()
        if replaced:
            self._reopened(conn)
        return conn

    def _identity(self) -> Optional[Tuple[int, int]]:
        """Device and inode of the file the path names now (None: no file there)."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return info.st_dev, info.st_ino

    def _reopened(self, conn: sqlite3.Connection) -> None:
        """The file this thread had open was deleted or replaced, and ``conn`` is open on what
        the path names now. If that file carries the epoch we knew (a restored copy), it gets a
        new one: tokens spent since the copy was made must not pass again."""
        log.warning(
            "CAPTCHA SQLite file %r was deleted or replaced while open; reopened it. Tokens "
            "and challenges issued before are refused (a new store epoch)",
            self.path,
        )
        known, self._epoch = self._epoch, None
        if known is not None:
            fresh = new_epoch()
            conn.execute(_ROTATE_EPOCH, (fresh.id, fresh.began, known.id))

    def _drop_conn(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local.conn = None

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection; SQLite and OS errors become StoreUnavailable.

        UnsafeStoreLocation is not an outage: it propagates, so nothing runs on that file.
        """
        try:
            conn = self._conn()
            yield conn
        except (sqlite3.ProgrammingError, UnsafeStoreLocation):  # a bug, a deployment error
            raise
        except (sqlite3.DatabaseError, OSError) as exc:
            # Roll back by reconnecting: the next call starts from a clean connection.
            self._drop_conn()
            raise StoreUnavailable(f"SQLite store {self.path!r} failed: {exc}") from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run the block's operations in one write transaction: one commit instead of one each.

        What the block wrote is committed even when it raises (a refused request's rate-limit
        count must stick); a failing SQLite call inside rolls back by reconnecting.
        """
        with self._db() as conn:
            nested = conn.in_transaction
            if not nested:
                conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            if not nested:
                with self._db() as conn:
                    if conn.in_transaction:
                        conn.execute("COMMIT")

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the database lock up front (no upgrade deadlocks)."""
        with self._db() as conn:
            if conn.in_transaction:  # inside batch(): already holds the write lock
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _after_write(self, now: float) -> None:
        """Delete expired rows, at most once per purge interval in this process (scheduled on
        the monotonic clock), and only rows expired by :meth:`_purge_cutoff`."""
        tick = time.monotonic()
        if tick < self._next_purge:
            return
        self._next_purge = tick + self._purge_interval
        try:
            with self._db() as conn:
                deleted = conn.execute(
                    _PURGE, (self._purge_cutoff(now, tick), PURGE_CHUNK)
                ).rowcount
            if deleted >= PURGE_CHUNK:  # more are waiting: the next write takes the next chunk
                self._next_purge = tick
        except StoreUnavailable as exc:  # the write itself succeeded; purge again next time
            log.debug("purge of expired captcha rows failed: %s", exc)
            self._next_purge = tick

    def _purge_cutoff(self, now: float, tick: float) -> float:
        """The wall-clock time before which rows may be deleted: the earliest wall clock this
        process has seen, carried forward on the monotonic clock, less :data:`PURGE_MARGIN`.
        A wall clock stepped forward (then back) thus never purges rows that are still live."""
        self._wall_offset = min(self._wall_offset, now - tick)
        return tick + self._wall_offset - PURGE_MARGIN

    @staticmethod
    def _expiry(now: float, ttl: Optional[float]) -> Optional[float]:
        return None if ttl is None else now + ttl

    # Store protocol.

    def put(self, key: str, value: str, ttl: Optional[float]) -> None:
        """Set ``key`` to ``value`` for ``ttl`` seconds (None: until deleted)."""
        now = time.time()
        with self._db() as conn:
            conn.execute(_PUT, (key, value, self._expiry(now, ttl)))
        self._after_write(now)

    def get(self, key: str) -> Optional[str]:
        """The live value of ``key``, or None."""
        with self._db() as conn:
            row = conn.execute(_GET, (key, time.time())).fetchone()
        return None if row is None else row[0]

    def take(self, key: str) -> Optional[str]:
        """Delete ``key`` and return its live value; one statement, so one caller wins."""
        now = time.time()
        if _HAS_RETURNING:
            with self._db() as conn:
                # fetchall() steps the statement to completion, which commits it.
                rows = conn.execute(_TAKE, (key,)).fetchall()
        else:
            with self._immediate() as conn:
                rows = conn.execute(_READ_ANY, (key,)).fetchall()
                conn.execute(_DELETE, (key,))
        if not rows:
            return None
        value, expires_at = rows[0]
        return value if expires_at is None or expires_at > now else None

    def epoch(self, fresh: bool = False) -> Epoch:
        """The file's epoch (read once per process unless ``fresh``), begun if it has none."""
        if self._epoch is not None and not fresh:
            return self._epoch
        with self._db() as conn:
            row = conn.execute(_EPOCH).fetchone()
            if row is None:
                conn.execute(_BEGIN_EPOCH, new_epoch())  # the first of racing workers wins
                row = conn.execute(_EPOCH).fetchone()
        if row is None:
            raise StoreUnavailable(f"SQLite store {self.path!r} did not keep its epoch")
        self._epoch = Epoch(row[0], row[1])
        return self._epoch

    def begin_epoch(self) -> Epoch:
        """Replace the file's epoch with a new one."""
        fresh = new_epoch()
        with self._db() as conn:
            conn.execute(_NEW_EPOCH, fresh)
        self._epoch = fresh
        return fresh

    def _check_epoch(self, epoch: str) -> None:
        """Raise EpochChanged unless the file is in ``epoch`` now."""
        current = self.epoch(fresh=True)
        if current.id != epoch:
            raise EpochChanged(epoch, current)

    def claim(
        self, key: str, ttl: Optional[float], value: str = "1", epoch: Optional[str] = None
    ) -> bool:
        """Set ``key`` only if absent or expired, in one statement (or one write transaction);
        with ``epoch``, only while the file is in that epoch."""
        now = time.time()
        if _HAS_RETURNING:
            with self._db() as conn:
                if epoch is None:
                    params: Tuple[object, ...] = (key, value, self._expiry(now, ttl), now)
                    won = conn.execute(_CLAIM, params).fetchone()
                else:
                    params = (key, value, self._expiry(now, ttl), epoch, now)
                    won = conn.execute(_CLAIM_IN_EPOCH, params).fetchone()
            if won:
                self._after_write(now)
            elif epoch is not None:
                self._check_epoch(epoch)  # lost to another claim, or the epoch is over
            return won is not None
        with self._immediate() as conn:
            if epoch is not None:
                self._check_epoch(epoch)
            live = conn.execute(_GET, (key, now)).fetchone()
            if live is None:
                conn.execute(_PUT, (key, value, self._expiry(now, ttl)))
        if live is None:
            self._after_write(now)
        return live is None

    def incr(self, key: str, window: float, amount: int = 1) -> Tuple[int, float]:
        """Add ``amount`` to a counter whose window starts at its first increment."""
        now = time.time()
        if _HAS_RETURNING and amount != 0:
            params = {"key": key, "amount": amount, "now": now, "window": window}
            with self._db() as conn:
                value, expires_at = conn.execute(_INCR, params).fetchone()
            self._after_write(now)
            return int(value), max(0.0, expires_at - now)
        with self._immediate() as conn:
            row = conn.execute(_GET_ROW, (key, now)).fetchone()
            if row is None and amount == 0:
                return 0, 0.0
            count = amount if row is None else int(row[0]) + amount
            expires_at = row[1] if row is not None and row[1] is not None else now + window
            conn.execute(_PUT, (key, str(count), expires_at))
        self._after_write(now)
        return count, max(0.0, expires_at - now)

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        with self._db() as conn:
            conn.execute(_DELETE, (key,))

    def scan(self, prefix: str) -> Iterator[Tuple[str, str]]:
        """Live ``(key, value)`` pairs whose key starts with ``prefix``, sorted by key."""
        with self._db() as conn:
            rows = conn.execute(_SCAN, (prefix, len(prefix), prefix, time.time())).fetchall()
        return iter(rows)

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database file can be opened and read."""
        with self._db() as conn:
            conn.execute("SELECT 1 FROM captcha_store LIMIT 1").fetchall()

    def close(self) -> None:
        """Close this thread's connection; other threads reopen theirs on their next call."""
        self._generation += 1
        self._drop_conn()
