"""Contract tests for every store backend, against real SQLite files and a real Redis server."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
import redis as redis_py

from flask_captcha_ext.stores import Store, StoreUnavailable, open_store
from flask_captcha_ext.stores import sqlite as sqlite_module
from flask_captcha_ext.stores.memory import MemoryStore
from flask_captcha_ext.stores.redis import RedisStore
from flask_captcha_ext.stores.sqlite import SQLiteStore
from tests.support import RedisServer, free_port, store_url_of

BACKENDS = ["memory", "sqlite", "redis"]
SHORT = 0.3  # a ttl that expires within the test, yet outlives a few calls on a busy machine
PAST_SHORT = 0.45  # sleep long enough for SHORT to have run out
SLACK = 0.05  # Redis reports whole milliseconds


def _url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url_of(request, backend, tmp_path / "store")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each backend, opened from its URL."""
    opened = open_store(_url(request.param, request, tmp_path))
    yield opened
    opened.close()


# The four operations and their neighbours.


def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)
    store.ping()


def test_put_get(store: Store) -> None:
    assert store.get("missing") is None
    store.put("a", "1", 60)
    store.put("b", "2", None)
    assert store.get("a") == "1"
    assert store.get("b") == "2"


def test_put_overwrites_value_and_ttl(store: Store) -> None:
    store.put("k", "old", 60)
    store.put("k", "new", 60)
    assert store.get("k") == "new"
    store.put("short", "v", None)
    store.put("short", "v2", SHORT)  # the new ttl replaces "forever"
    store.put("long", "v", SHORT)
    store.put("long", "v2", None)  # and "forever" replaces a ttl
    time.sleep(PAST_SHORT)
    assert store.get("short") is None
    assert store.get("long") == "v2"


def test_ttl_expiry_hides_entry_from_every_read(store: Store) -> None:
    for key in ("get", "take", "scan"):
        store.put(key, "v", SHORT)
    assert store.get("get") == "v"
    time.sleep(PAST_SHORT)
    assert store.get("get") is None
    assert store.take("take") is None
    assert list(store.scan("")) == []


def test_ttl_none_is_persistent(store: Store) -> None:
    store.put("forever", "v", None)
    assert store.claim("claimed", None)
    time.sleep(PAST_SHORT)
    assert store.get("forever") == "v"
    assert store.claim("claimed", None) is False


def test_take_returns_value_once(store: Store) -> None:
    store.put("k", "secret", 60)
    assert store.take("k") == "secret"
    assert store.take("k") is None
    assert store.get("k") is None
    assert store.take("never-set") is None


def test_claim_once(store: Store) -> None:
    assert store.claim("jti", 60) is True
    assert store.claim("jti", 60) is False
    assert store.get("jti") == "1"
    assert store.claim("other", 60, value="owner-a") is True
    assert store.claim("other", 60, value="owner-b") is False
    assert store.get("other") == "owner-a"


def test_claim_loses_to_put(store: Store) -> None:
    store.put("k", "v", 60)
    assert store.claim("k", 60, value="x") is False
    assert store.get("k") == "v"


def test_claim_succeeds_again_after_expiry(store: Store) -> None:
    assert store.claim("jti", SHORT, value="first") is True
    assert store.claim("jti", SHORT) is False
    time.sleep(PAST_SHORT)
    assert store.claim("jti", 60, value="second") is True
    assert store.get("jti") == "second"
    assert store.claim("jti", 60) is False


def test_incr_counts_within_window(store: Store) -> None:
    start = time.monotonic()
    count, left = store.incr("rl", 10)
    assert count == 1
    assert 10 - (time.monotonic() - start) - SLACK <= left <= 10 + 1e-6
    time.sleep(0.1)
    count, left = store.incr("rl", 10)
    assert count == 2
    # The window started at the first increment, not this one.
    assert 10 - (time.monotonic() - start) - SLACK <= left <= 9.9 + SLACK
    assert store.incr("rl", 10, amount=5)[0] == 7
    assert store.incr("other", 10)[0] == 1


def test_incr_window_resets(store: Store) -> None:
    assert store.incr("rl", SHORT)[0] == 1
    assert store.incr("rl", SHORT)[0] == 2
    time.sleep(PAST_SHORT)
    start = time.monotonic()
    count, left = store.incr("rl", 10)
    assert count == 1
    assert 10 - (time.monotonic() - start) - SLACK <= left <= 10


def test_incr_seconds_left_counts_down(store: Store) -> None:
    before_first = time.monotonic()
    _, first = store.incr("rl", 2)
    after_first = time.monotonic()
    time.sleep(0.3)
    before_second = time.monotonic()
    _, later = store.incr("rl", 2)
    after_second = time.monotonic()
    assert later < first
    assert before_second - after_first - SLACK <= first - later
    assert first - later <= after_second - before_first + SLACK


def test_take_counted_takes_while_every_count_is_within_its_limit(store: Store) -> None:
    for name in ("a", "b", "c"):
        store.put(name, f"value-{name}", 60)
    counters = [("rl:tight", 10, 2), ("rl:loose", 10, 5)]
    value, counts = store.take_counted("a", counters)
    assert value == "value-a"
    assert [count for count, _ in counts] == [1, 1]
    assert all(10 - 1 <= left <= 10 + 1e-6 for _, left in counts)
    assert store.get("a") is None
    # Spent: counted again, but nothing to take.
    value, counts = store.take_counted("a", counters)
    assert value is None
    assert [count for count, _ in counts] == [2, 2]
    # The tight counter is now over its limit: refused, and "b" stays for a later attempt.
    value, counts = store.take_counted("b", counters)
    assert value is None
    assert [count for count, _ in counts] == [3, 3]
    assert store.get("b") == "value-b"
    # The counters are the ones incr sees.
    assert store.incr("rl:tight", 10, amount=0)[0] == 3
    assert store.take_counted("c", []) == ("value-c", [])


def test_take_counted_live_counters_count_only_attempts_at_a_live_key(store: Store) -> None:
    """A site key's quota (a live counter) is never spent by requests for made-up ids."""
    always, live = [("rl:net", 10, 100)], [("rl:site", 10, 1)]
    for _ in range(3):
        value, counts = store.take_counted("made-up", always, live)
        assert value is None and counts[1] == (0, 0.0)
    assert store.incr("rl:site", 10, amount=0) == (0, 0.0)  # never created
    assert store.incr("rl:net", 10, amount=0)[0] == 3
    store.put("real", "v", 60)
    store.put("real2", "v2", 60)
    value, counts = store.take_counted("real", always, live)
    assert value == "v" and counts[1][0] == 1
    value, counts = store.take_counted("real2", always, live)  # the site's quota is used up
    assert value is None and counts[1][0] == 2 and store.get("real2") == "v2"


def test_take_counted_window_resets(store: Store) -> None:
    store.put("k", "v", 60)
    assert store.take_counted("k", [("rl:w", SHORT, 1)])[0] == "v"
    store.put("k", "v2", 60)
    assert store.take_counted("k", [("rl:w", SHORT, 1)])[0] is None
    time.sleep(PAST_SHORT)
    value, counts = store.take_counted("k", [("rl:w", 10, 1)])
    assert value == "v2"
    assert counts[0][0] == 1


def test_delete(store: Store) -> None:
    store.put("k", "v", 60)
    store.put("keep", "v", 60)
    store.delete("k")
    store.delete("k")  # absent: no error
    assert store.get("k") is None
    assert store.get("keep") == "v"
    assert store.claim("k", 60) is True


def test_scan_by_prefix_excludes_expired_and_others(store: Store) -> None:
    store.put("site:a", "1", 60)
    store.put("site:b", "2", None)
    store.put("site:old", "3", SHORT)
    store.put("sitex", "4", 60)
    store.put("other:site:c", "5", 60)
    time.sleep(PAST_SHORT)
    assert sorted(store.scan("site:")) == [("site:a", "1"), ("site:b", "2")]
    assert sorted(store.scan("")) == [
        ("other:site:c", "5"),
        ("site:a", "1"),
        ("site:b", "2"),
        ("sitex", "4"),
    ]
    assert list(store.scan("nothing:")) == []


def test_scan_prefix_is_literal(store: Store) -> None:
    """Glob (Redis) and LIKE (SQL) wildcards in a prefix match only themselves."""
    for key in ("a*b:1", "axb:1", "a?b:1", "a%b:1", "a_b:1", "a[b]:1", "ab:1", "a\\b:1"):
        store.put(key, key, 60)
    for prefix in ("a*b", "a?b", "a%b", "a_b", "a[b]", "a\\b"):
        assert [k for k, _ in store.scan(prefix)] == [prefix + ":1"]


def test_unicode_keys_and_values(store: Store) -> None:
    value = "Ünïcødé ✓ 漢字 🎉 e\u0301\nline two \"quoted\" 'single' \\ back"
    key = "ключ:🔑:漢"
    store.put(key, value, 60)
    assert store.get(key) == value
    assert list(store.scan("ключ:")) == [(key, value)]
    assert store.take(key) == value
    assert store.claim("🎫", 60, value=value) is True
    assert store.get("🎫") == value


def test_close_then_reuse(store: Store) -> None:
    store.put("k", "v", 60)
    store.close()
    store.close()
    assert store.get("k") == "v"
    store.ping()


# Purging expired entries without reads of them.


def test_memory_sweeps_expired_entries_on_writes() -> None:
    store = MemoryStore(sweep_interval=0.1)
    for i in range(200):
        store.put(f"old:{i}", "x", SHORT)
    store.put("live", "x", 60)
    assert len(store._data) == 201
    time.sleep(PAST_SHORT)
    store.put("trigger", "x", 60)  # a write of another key, no read of the expired ones
    assert len(store._data) == 2


def _row_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM captcha_store").fetchone()[0])


def test_sqlite_purges_expired_rows_on_writes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sqlite_module, "PURGE_MARGIN", 0.0)
    path = tmp_path / "purge.sqlite3"
    store = SQLiteStore(path, purge_interval=0.1)
    for i in range(200):
        store.put(f"old:{i}", "x", SHORT)
    store.put("live", "x", 60)
    assert _row_count(path) == 201
    time.sleep(PAST_SHORT)
    store.incr("trigger", 60)
    assert _row_count(path) == 2


def test_sqlite_purge_is_rate_limited(tmp_path: Path) -> None:
    """Writes within the purge interval do not each scan the table."""
    path = tmp_path / "purge.sqlite3"
    store = SQLiteStore(path, purge_interval=60)
    store.put("first", "x", 0.05)  # the first write purges and arms the interval
    time.sleep(0.1)
    store.put("second", "x", 60)
    assert _row_count(path) == 2
    assert store.get("first") is None


def test_sqlite_purge_survives_a_clock_stepped_forward(tmp_path: Path, monkeypatch) -> None:
    """A wall clock stepped an hour ahead, then back, made the purge delete live claims (20 of 20
    tokens then passed again). The purge now goes by the earliest wall clock it has seen,
    carried on the monotonic clock, less a margin: the claim survives the jump."""
    real_time = time.time

    class SteppedClock:
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def time() -> float:
            return real_time() + 3600

    store = SQLiteStore(tmp_path / "jump.sqlite3", purge_interval=0)
    assert store.claim("jti:x", 60)
    monkeypatch.setattr(sqlite_module, "time", SteppedClock)
    store.incr("trigger", 60)  # a write an hour "later": the purge runs
    monkeypatch.setattr(sqlite_module, "time", time)
    assert not store.claim("jti:x", 60), "the purge deleted a live claim"


def test_sqlite_purges_in_bounded_chunks(tmp_path: Path, monkeypatch) -> None:
    """Many rows expiring together cost each write at most one chunk, and later writes take the
    rest: no visitor's request pays for thousands."""
    monkeypatch.setattr(sqlite_module, "PURGE_MARGIN", 0.0)
    path = tmp_path / "chunks.sqlite3"
    store = SQLiteStore(path, purge_interval=3600)
    store.put("arm", "x", 60)  # the first write purges (nothing yet) and arms the interval
    chunk = sqlite_module.PURGE_CHUNK
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO captcha_store (key, value, expires_at) VALUES (?, 'x', ?)",
            [(f"old:{i}", time.time() - 1) for i in range(3 * chunk + 10)],
        )
    store._next_purge = 0.0  # the interval is up
    store.put("one", "x", 60)
    assert _row_count(path) == 2 * chunk + 10 + 2  # one chunk went, not all
    for i in range(3):  # a full chunk has the next write purge again, without waiting
        store.put(f"more:{i}", "x", 60)
    assert _row_count(path) == 2 + 3  # the live rows only


# Outages and bad locations.


def test_redis_unreachable_raises_quickly() -> None:
    store = RedisStore(f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0")
    calls = {
        "put": lambda: store.put("k", "v", 60),
        "get": lambda: store.get("k"),
        "take": lambda: store.take("k"),
        "claim": lambda: store.claim("k", 60),
        "incr": lambda: store.incr("k", 60),
        "delete": lambda: store.delete("k"),
        "scan": lambda: list(store.scan("")),
        "ping": store.ping,
    }
    for name, call in calls.items():
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as info:
            call()
        assert time.monotonic() - started < 3, name
        assert "hunter2" not in str(info.value), name
        assert "hunter2" not in str(info.value.__cause__), name
    assert "hunter2" not in repr(store) + store.safe_url


def test_redis_recovers_after_server_restart() -> None:
    with RedisServer() as server:
        store = RedisStore(server.url)
        store.put("k", "v", 60)
        assert store.incr("n", 60)[0] == 1
        server.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get("k")
        with pytest.raises(StoreUnavailable):
            store.claim("c", 60)
        assert time.monotonic() - started < 3
        server.start()
        # The same object, first call after the restart: stale pooled sockets are replaced.
        store.put("k2", "v2", 60)
        assert store.get("k2") == "v2"
        assert store.incr("n", 60)[0] == 1  # the restart lost data (no persistence) and scripts
        assert store.claim("c", 60) is True
        store.ping()


def test_redis_prefix_isolates_stores(redis_url: str) -> None:
    a = open_store(redis_url + "?prefix=app-a:")
    b = open_store(redis_url + "?prefix=app-b:")
    default = open_store(redis_url)
    a.put("k", "from-a", 60)
    assert b.get("k") is None
    assert default.get("k") is None
    assert b.claim("k", 60) is True
    default.put("k", "plain", 60)
    assert list(a.scan("")) == [("k", "from-a")]
    raw = redis_py.Redis.from_url(redis_url, decode_responses=True)
    every = ["app-a:epoch", "app-a:k", "app-b:epoch", "app-b:k", "captcha:epoch", "captcha:k"]
    assert sorted(raw.keys("*")) == every  # each prefix has its own data, and its own epoch
    assert raw.ttl("captcha:k") > 0
    raw.close()


@pytest.mark.parametrize(
    "location",
    [
        "/proc/no-such-dir/captcha.sqlite3",  # the parent cannot be created
        "{tmp}/a-file/captcha.sqlite3",  # the parent is a regular file
        "{tmp}",  # the database is a directory
    ],
)
def test_sqlite_impossible_location_is_unavailable(tmp_path: Path, location: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    store = open_store("sqlite:///" + location.format(tmp=tmp_path))
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.put("k", "v", 60)
    with pytest.raises(StoreUnavailable):
        store.take("k")


def test_sqlite_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(os.urandom(8192))
    store = SQLiteStore(path)
    with pytest.raises(StoreUnavailable):
        store.put("k", "v", 60)


def test_sqlite_lock_beyond_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    store = SQLiteStore(path, timeout=0.2)
    store.put("k", "v", 60)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            store.claim("c", 60)
        with pytest.raises(StoreUnavailable):
            store.take("k")
        assert time.monotonic() - started < 2
        assert store.get("k") == "v"  # WAL: readers are not blocked by a writer
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.claim("c", 60) is True
    assert store.take("k") == "v"


def test_sqlite_take_without_returning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite < 3.35 lacks DELETE ... RETURNING; the BEGIN IMMEDIATE path must be as atomic."""
    monkeypatch.setattr(sqlite_module, "_HAS_RETURNING", False)
    store = SQLiteStore(tmp_path / "old.sqlite3")
    store.put("k", "v", 60)
    store.put("gone", "v", 0.05)
    time.sleep(0.1)
    assert store.take("gone") is None
    assert store.take("k") == "v"
    assert store.take("k") is None
    keys = [f"k{i}" for i in range(50)]
    for key in keys:
        store.put(key, key, 60)
    with ThreadPoolExecutor(16) as pool:
        rounds = pool.map(lambda _: [store.take(k) for k in keys], range(16))
        taken = [value for values in rounds for value in values if value is not None]
    assert sorted(taken) == sorted(keys)


def _forked_child(store: SQLiteStore) -> None:
    store.put("from-child", str(os.getpid()), 60)
    assert store.take("from-parent") == "hello"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_sqlite_connection_reopened_after_fork(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "fork.sqlite3")
    store.put("from-parent", "hello", 60)  # the parent's thread now has a connection
    child = multiprocessing.get_context("fork").Process(target=_forked_child, args=(store,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert store.get("from-child") == str(child.pid)
    assert store.get("from-parent") is None
    store.put("parent-still-works", "yes", 60)
    assert store.get("parent-still-works") == "yes"


# Choosing a backend by URL.


def test_open_store_by_scheme(tmp_path: Path, redis_url: str) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    absolute = open_store(f"sqlite:///{tmp_path}/abs.sqlite3")
    assert isinstance(absolute, SQLiteStore)
    assert absolute.path == f"{tmp_path}/abs.sqlite3"
    assert isinstance(open_store(redis_url), RedisStore)
    assert isinstance(open_store(redis_url.replace("redis://", "REDIS://")), RedisStore)


def test_open_store_relative_sqlite_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/rel.sqlite3")
    store.put("k", "v", 60)
    assert (tmp_path / "data" / "rel.sqlite3").is_file()


@pytest.mark.parametrize("url", ["mysql://localhost/db", "postgres://x", "memcached://h:1"])
def test_open_store_unknown_scheme(url: str) -> None:
    with pytest.raises(ValueError, match=url.split(":")[0]):
        open_store(url)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "/no/scheme"])
def test_open_store_malformed(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url)


def test_redis_url_password_is_masked_for_display() -> None:
    url = "redis://user:p4ssw0rd@127.0.0.1:1/0"
    store = open_store(url)
    assert isinstance(store, RedisStore)
    assert store.url == url  # the URL still reopens the same backend
    assert store.safe_url == "redis://user:***@127.0.0.1:1/0"
    assert "p4ssw0rd" not in repr(store)
    store = open_store("redis://127.0.0.1:1/0?password=p4ssw0rd")
    assert isinstance(store, RedisStore)
    assert "p4ssw0rd" not in store.safe_url + repr(store)
