"""Single use that survives the store: after a store loses or replaces its data, what was spent
before must not pass again (issue: no replay after data loss, eviction or clock skew).

Each test spends tokens (siteverify) and challenges (validate) on a real store, then breaks the
store as production stores break: Redis killed with SIGKILL and restarted from its snapshot or
empty, flushed, evicting under ``maxmemory``; an SQLite file truncated, deleted, or replaced by
an older copy while the app holds it. Then every token and challenge is tried again: none may
pass (the store epoch refuses them), and a new visitor passes without restarting the app.
Clock skew is covered in tests/test_tokens.py (verifier and issuer clocks) and
tests/test_stores.py (a wall clock stepped forward under the SQLite purge).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import List, Tuple

import jwt
import pytest
import redis as redis_py
from flask import Flask

from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair
from tests.helpers import generate, solve, validate_body
from tests.support import RedisServer
from tests.support.apps import SECRET, build_app, rate_limits

OWN_SECRET = derived_key_pair(SECRET.encode())[1]
#: Tokens and challenges spent before each fault.
SPENT = 12
#: Redis's own default snapshot schedule ("default persistence").
DEFAULT_SAVE = "3600 1 300 100 60 10000"


def _app(store_url: str, instance: Path, **config: object) -> Flask:
    return build_app(
        "store_loss",
        instance_path=instance,
        TESTING=True,
        SECRET_KEY=SECRET,
        CAPTCHA_STORE_URL=store_url,
        CAPTCHA_CHALLENGE_TYPES=("pow", "math"),
        **rate_limits(None),
        **config,
    )


def _siteverify(app: Flask, token: str) -> dict:
    response = app.test_client().post(
        "/captcha/siteverify", data={"secret": OWN_SECRET, "response": token}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _validate(app: Flask, body: dict) -> Tuple[int, dict]:
    response = app.test_client().post("/captcha/validate", json=body)
    return response.status_code, response.get_json()


def _challenges(app: Flask, count: int) -> List[dict]:
    """``count`` answered validate bodies of fresh math challenges (not yet sent)."""
    bodies = []
    for _ in range(count):
        data, answer = generate(app, "math")
        bodies.append(validate_body(app, data, answer))
    return bodies


def _spend(app: Flask, tokens: List[str], bodies: List[dict]) -> None:
    """Spend every token and challenge once: each passes."""
    assert all(_siteverify(app, token)["success"] for token in tokens)
    for body in bodies:
        status, reply = _validate(app, body)
        assert status == 200 and reply["valid"] is True, reply


def _double_passes(app: Flask, tokens: List[str], bodies: List[dict]) -> int:
    """How many already spent tokens and challenges pass a second time (must be 0)."""
    passes = 0
    for token in tokens:
        response = app.test_client().post(
            "/captcha/siteverify", data={"secret": OWN_SECRET, "response": token}
        )
        assert response.status_code in (200, 503), response.get_data(as_text=True)
        passes += response.status_code == 200 and response.get_json()["success"] is True
    for body in bodies:
        status, reply = _validate(app, body)
        assert status in (400, 503), reply  # refused or unavailable, never a 500
        passes += status == 200 and reply.get("valid") is True
    return passes


def _recovers(app: Flask) -> None:
    """A new visitor passes on the same app object: no restart needed."""
    token = solve(app, "math")
    assert _siteverify(app, token)["success"] is True
    assert _siteverify(app, token)["error-codes"] == ["timeout-or-duplicate"]


# -- Redis --------------------------------------------------------------------------------------


def _raw(server: RedisServer) -> redis_py.Redis:
    return redis_py.Redis.from_url(server.url, decode_responses=True)


def test_redis_killed_and_restarted_from_its_last_snapshot(new_redis, tmp_path, caplog):
    """Default persistence (RDB snapshots): the snapshot holds the epoch and the challenges but
    not the claims written after it. SIGKILL, restart: the server reloads the snapshot, with a
    new run id, and the first connection begins a new epoch."""
    server = new_redis(save=DEFAULT_SAVE, appendonly="no")
    app = _app(server.url, tmp_path)
    tokens = [solve(app, "math") for _ in range(SPENT)]
    bodies = _challenges(app, SPENT)
    raw = _raw(server)
    raw.save()  # what the snapshot schedule does every minute or hour
    raw.close()
    _spend(app, tokens, bodies)
    server.crash()
    server.start()
    assert _raw(server).exists("captcha:challenge:" + bodies[0]["captcha_id"])  # from the snapshot
    with caplog.at_level(logging.WARNING):
        assert _double_passes(app, tokens, bodies) == 0
    assert any("new server process" in r.getMessage() for r in caplog.records)
    _recovers(app)


def test_redis_killed_and_restarted_empty(new_redis, tmp_path):
    server = new_redis()  # no persistence: it comes back empty
    app = _app(server.url, tmp_path)
    tokens = [solve(app, "math") for _ in range(SPENT)]
    _spend(app, tokens, [])
    server.crash()
    server.start()
    assert _double_passes(app, tokens, []) == 0
    _recovers(app)


def test_redis_flushed_under_a_running_app(new_redis, tmp_path, caplog):
    server = new_redis(appendonly="yes")
    app = _app(server.url, tmp_path)
    tokens = [solve(app, "math") for _ in range(SPENT)]
    _spend(app, tokens, [])
    _raw(server).flushall()
    with caplog.at_level(logging.WARNING):
        assert _double_passes(app, tokens, []) == 0
    assert any("lost the epoch record" in r.getMessage() for r in caplog.records)
    _recovers(app)


def test_after_a_flush_a_worker_that_only_generates_makes_challenges_that_pass(
    new_redis, tmp_path
):
    """Two apps stand for two workers: one serves generate, the other validate. After a flush
    the generating one has not spent anything yet, so it still knows the old epoch; its put
    checks the epoch in the same call and makes the challenge in the new one (before, 10 of 10
    were refused until it verified something)."""
    server = new_redis(appendonly="yes")
    generating, validating = _app(server.url, tmp_path / "a"), _app(server.url, tmp_path / "b")
    solve(generating, "math")
    solve(validating, "math")
    _raw(server).flushall()
    solve(validating, "math")  # the validating worker meets the new epoch first
    for body in _challenges(generating, 5):
        status, reply = _validate(validating, body)
        assert status == 200 and reply["valid"] is True, reply


def _replicating(raw: redis_py.Redis, primary: RedisServer) -> None:
    raw.replicaof("127.0.0.1", primary.port)
    for _ in range(200):
        if raw.info("replication").get("master_link_status") == "up":
            return
        time.sleep(0.05)
    raise AssertionError("the replica never caught up")


def test_redis_primary_resynced_from_a_lagging_copy(new_redis, tmp_path, caplog):
    """Split brain or a failback: the same primary process (its run id unchanged) takes the data
    of a copy that fell behind. Its replication id changes, and the scripts see it."""
    primary = new_redis(appendonly="yes")
    copy = new_redis(appendonly="yes")
    raw_copy = _raw(copy)
    _replicating(raw_copy, primary)  # (a primary's first replica gives it a new replication id)
    app = _app(primary.url, tmp_path)
    tokens = [solve(app, "math") for _ in range(SPENT)]
    bodies = _challenges(app, SPENT)
    assert _raw(primary).wait(1, 10000) == 1  # the copy has everything so far
    raw_copy.replicaof("no", "one")  # the copy stops here, holding the epoch and no claims
    _spend(app, tokens, bodies)
    raw_primary = _raw(primary)
    _replicating(raw_primary, copy)
    raw_primary.replicaof("no", "one")
    with caplog.at_level(logging.WARNING):
        assert _double_passes(app, tokens, bodies) == 0
    assert any("replication id changed" in r.getMessage() for r in caplog.records)
    _recovers(app)


def _evict(server: RedisServer) -> int:
    """Fill the server past its maxmemory with other keys until it has evicted some."""
    raw = _raw(server)
    start = int(raw.info("stats")["evicted_keys"])
    for batch in range(200):
        pipe = raw.pipeline(transaction=False)
        for i in range(100):
            pipe.set(f"cache:{batch}:{i}", "x" * 2000, ex=3600)
        pipe.execute()
        if int(raw.info("stats")["evicted_keys"]) > start:
            break
    evicted = int(raw.info("stats")["evicted_keys"]) - start
    raw.close()
    return evicted


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru"])
def test_redis_switched_to_an_evicting_policy_at_runtime(new_redis, tmp_path, policy, caplog):
    """init_app refuses an evicting policy (tests/test_redis_durability.py); one set later with
    CONFIG SET is caught by the scripts themselves: keys evicted since the epoch began end it."""
    server = new_redis(appendonly="yes")
    app = _app(server.url, tmp_path)
    tokens = [solve(app, "math") for _ in range(SPENT)]
    _spend(app, tokens, [])
    raw = _raw(server)
    raw.config_set("maxmemory", "4mb")
    raw.config_set("maxmemory-policy", policy)
    assert _evict(server) > 0
    with caplog.at_level(logging.WARNING):
        assert _double_passes(app, tokens, []) == 0
    assert any("evicted keys" in r.getMessage() for r in caplog.records)
    raw.config_set("maxmemory-policy", "noeviction")
    raw.delete(*raw.keys("cache:*"))
    raw.close()
    _recovers(app)


def test_eviction_allowed_keeps_people_passing(new_redis, tmp_path):
    """CAPTCHA_REDIS_ALLOW_EVICTION (a database shared with a cache, where evictions never stop)
    gives up the epoch's eviction watch, as documented: people keep passing, once each."""
    server = new_redis(maxmemory="4mb", maxmemory_policy="allkeys-lru")
    app = _app(server.url, tmp_path, CAPTCHA_REDIS_ALLOW_EVICTION=True)
    solve(app, "math")
    assert _evict(server) > 0
    _recovers(app)


def test_a_redis_without_info_still_catches_a_flush_and_says_what_it_cannot(
    new_redis, tmp_path, caplog
):
    """Managed services may disable INFO: restarts and evictions then go unnoticed (said at the
    first connection), but a flush still ends the epoch."""
    server = new_redis(appendonly="yes", rename_command=("INFO", ""))
    with caplog.at_level(logging.WARNING):
        app = _app(server.url, tmp_path)
        tokens = [solve(app, "math") for _ in range(3)]
    assert any("does not allow INFO" in r.getMessage() for r in caplog.records)
    _spend(app, tokens, [])
    _raw(server).flushall()
    assert _double_passes(app, tokens, []) == 0
    _recovers(app)


# -- SQLite -------------------------------------------------------------------------------------


def _sqlite(tmp_path: Path) -> Tuple[Path, str]:
    folder = tmp_path / "store"
    folder.mkdir(mode=0o700)
    path = folder / "captcha.sqlite3"
    return path, "sqlite:///" + str(path)


def _remove_with_side_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def test_sqlite_truncated_to_zero_under_a_running_app(tmp_path):
    """The connection finds its tables gone (one 503), reopens, and the new file is a new
    epoch."""
    path, url = _sqlite(tmp_path)
    app = _app(url, tmp_path / "instance")
    tokens = [solve(app, "math") for _ in range(SPENT)]
    bodies = _challenges(app, SPENT)
    _spend(app, tokens, [])
    with closing(sqlite3.connect(path)) as conn:  # all in the main file, then it is lost
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.truncate(path, 0)
    assert _double_passes(app, tokens, bodies) == 0
    _recovers(app)


def test_sqlite_deleted_under_running_workers(tmp_path, caplog):
    """Two app objects on one file stand for two workers: after the file is deleted, both move
    to the new file (no split), and nothing spent before passes on either."""
    path, url = _sqlite(tmp_path)
    first = _app(url, tmp_path / "one")
    second = _app(url, tmp_path / "two")
    tokens = [solve(first, "math") for _ in range(SPENT)]
    bodies = _challenges(second, SPENT)
    _spend(second, tokens, bodies)
    _remove_with_side_files(path)
    with caplog.at_level(logging.WARNING):
        assert _double_passes(first, tokens, bodies) == 0
        assert _double_passes(second, tokens, bodies) == 0
    assert any("deleted or replaced" in r.getMessage() for r in caplog.records)
    token = solve(first, "math")  # issued by one worker, spent by the other: one store again
    assert _siteverify(second, token)["success"] is True
    assert _siteverify(first, token)["success"] is False
    _recovers(first)


def test_sqlite_replaced_by_an_older_copy(tmp_path, caplog):
    """A backup restored over the live file carries the epoch we had but none of the claims
    written since: the running app notices the new inode and begins a new epoch."""
    path, url = _sqlite(tmp_path)
    app = _app(url, tmp_path / "instance")
    tokens = [solve(app, "math") for _ in range(SPENT)]
    bodies = _challenges(app, SPENT)
    backup = tmp_path / "backup.sqlite3"
    with closing(sqlite3.connect(path)) as live, closing(sqlite3.connect(backup)) as copy:
        live.backup(copy)
    _spend(app, tokens, bodies)
    _remove_with_side_files(path)
    shutil.copy(backup, path)
    os.chmod(path, 0o600)
    with caplog.at_level(logging.WARNING):
        assert _double_passes(app, tokens, bodies) == 0
    assert any("deleted or replaced" in r.getMessage() for r in caplog.records)
    _recovers(app)


# -- Restores the store cannot notice -----------------------------------------------------------


def _restore_then_new_epoch(app: Flask, restore) -> None:  # type: ignore[no-untyped-def]
    """Spend, restore a backup taken before the spending with ``restore``, then run
    ``flask captcha epoch --new`` as the README says: nothing spent before passes again."""
    tokens = [solve(app, "math") for _ in range(SPENT)]
    bodies = _challenges(app, SPENT)
    backup = restore(None)  # take the backup
    _spend(app, tokens, bodies)
    restore(backup)
    result = app.test_cli_runner().invoke(args=["captcha", "epoch", "--new"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("began a new epoch ") and "refused" in result.output
    assert _double_passes(app, tokens, bodies) == 0
    _recovers(app)


def test_sqlite_backup_restored_into_the_live_file_then_a_new_epoch(tmp_path):
    """SQLite's backup API (and the shell's .restore) writes the old pages into the open file:
    same inode, old epoch. The operator's `flask captcha epoch --new` ends it."""
    path, url = _sqlite(tmp_path)
    app = _app(url, tmp_path / "instance")
    copy = tmp_path / "backup.sqlite3"

    def restore(backup):  # type: ignore[no-untyped-def]
        source, target = (path, copy) if backup is None else (copy, path)
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        return copy

    _restore_then_new_epoch(app, restore)


def test_redis_keys_restored_into_a_running_server_then_a_new_epoch(new_redis, tmp_path):
    """DUMP/RESTORE (as backup tools do) brings the old epoch record back."""
    server = new_redis(appendonly="yes")
    app = _app(server.url, tmp_path)
    raw = redis_py.Redis.from_url(server.url)

    def restore(backup):  # type: ignore[no-untyped-def]
        if backup is None:
            return {key: raw.dump(key) for key in raw.keys("*")}
        raw.flushall()
        for key, blob in backup.items():
            raw.restore(key, 0, blob, replace=True)
        return backup

    _restore_then_new_epoch(app, restore)


def test_the_epoch_command_shows_the_epoch(tmp_path):
    _, url = _sqlite(tmp_path)
    app = _app(url, tmp_path / "instance")
    result = app.test_cli_runner().invoke(args=["captcha", "epoch"])
    assert result.exit_code == 0
    shown = result.output.split()[1]
    assert shown == _token_epoch(solve(app, "math"))


def _token_epoch(token: str) -> str:
    """The epoch a token names (its unverified ``aud``)."""
    return jwt.decode(token, options={"verify_signature": False})["aud"]
