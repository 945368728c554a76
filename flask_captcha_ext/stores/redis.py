"""Redis store: shares CAPTCHA state between worker processes and hosts.

Needs redis-py (``pip install flask-captcha-ext[redis]``) and Redis >= 6.2 (for ``GETDEL``).
Each of put, get, take, claim, incr and take_counted is one command or one Lua script: atomic for
all clients.
Redis expires keys itself. Socket timeouts are short so an outage answers in about a second
with :class:`StoreUnavailable`; the pooled connections reconnect once the server is back.

The store's epoch (see stores/base.py) is a hash with no TTL that also names the server process
that wrote it (its ``run_id``). Every new connection compares the two: a server that restarted
(from an old snapshot, or empty) or failed over to a replica may have lost recent claims, so its
first connection begins a new epoch and everything issued before is refused. A flushed database
is noticed by the first script that finds the epoch gone.

A command that spends (take, claim, take_counted) is sent once, on one pooled connection, and
never again: a reply that does not come is ``StoreUnavailable(maybe_done=True)``, since the
server may have run it, or may run it later (a paused Redis runs what was sent once it resumes).
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ContextManager,
    Dict,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import EPOCH_KEY, Counter, Epoch, EpochChanged, StoreUnavailable, new_epoch

if TYPE_CHECKING:
    import redis as redis_py

T = TypeVar("T")
log = logging.getLogger(__name__)


class Durability(NamedTuple):
    """What a Redis server does with our keys under pressure and on restart; None: unknown
    (CONFIG is disabled, as on some managed services)."""

    policy: Optional[str]  # maxmemory-policy: anything but "noeviction" may drop live keys
    persistent: Optional[bool]  # AOF (appendonly) or RDB snapshots (save) keep data over a restart


DEFAULT_PREFIX = "captcha:"
#: Seconds between two warnings that this process began a new epoch for the same reason.
NEW_EPOCH_WARNING_INTERVAL = 60.0

# INCRBY, then start the window when the key has no expiry yet (it is new); returns count, PTTL.
# An increment of 0 only reads: it never creates the counter.
_INCR_SCRIPT = """
if ARGV[1] == '0' and redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 0}
end
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
"""

# count_one(): INCR ``key``, starting its window of ``window`` ms when it is new; count and PTTL.
_COUNT = """
local function count_one(key, window)
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = tonumber(window)
  end
  return count, ttl
end
"""

# What the scripts read of the server (INFO; '0' and '' where INFO is not allowed): how many keys
# it has evicted, and the id of the data set it holds (master_replid: a new one after a resync
# from another server or a promotion). Scripts record both with the epoch; either one moving
# means keys may have been lost since (maybe spent tokens' claims), so a new epoch begins.
_SERVER_STATE = """
local function server_state()
  local info = redis.pcall('INFO', 'stats', 'replication')
  if type(info) ~= 'string' or not string.find(info, 'master_replid:', 1, true) then
    local stats, replication = redis.pcall('INFO', 'stats'), redis.pcall('INFO', 'replication')
    info = (type(stats) == 'string' and stats or '') ..
           (type(replication) == 'string' and replication or '')
  end
  return string.match(info, 'evicted_keys:(%d+)') or '0',
         string.match(info, 'master_replid:(%w+)') or ''
end
"""

# settle(): the epoch at ``key``, begun anew (``id``, ``began``, ``run``) when it is gone, when the
# server process is another than the one that wrote it (``check_run``: the caller knows the run
# id), when the server holds another data set, or (``watch``) when it evicted keys since. Returns
# id, began and why a new one began ('' when it stays).
_SETTLE = _SERVER_STATE + """
local function settle(key, id, began, run, watch, check_run)
  local known = redis.call('HMGET', key, 'id', 'began', 'run', 'evicted', 'replid')
  local evicted, replid = server_state()
  local why = ''
  if not known[1] then
    why = 'gone'
  elseif check_run and known[3] ~= run then
    why = 'restarted'
  elseif known[5] ~= replid then
    why = 'resynced'
  elseif watch and known[4] ~= evicted then
    why = 'evicted'
  else
    return known[1], known[2], ''
  end
  redis.call('HSET', key, 'id', id, 'began', began, 'run', run, 'evicted', evicted,
             'replid', replid)
  return id, began, why
end
"""

# The epoch (KEYS[1]), begun (ARGV id, began, run id) unless it holds; returns {id, began}.
_BEGIN_EPOCH = _SETTLE + """
local id, began = settle(KEYS[1], ARGV[1], ARGV[2], ARGV[3], false, false)
return {id, began}
"""

# On every new connection: settle() with the run id this connection read (ARGV[1]), the epoch
# to begin (ARGV[2], ARGV[3]) and whether evictions are watched (ARGV[4] '1'). Returns {id,
# began, why}; a missing epoch is 'none' here (a new database, or one flushed before we came).
_CONNECT_EPOCH = _SETTLE + """
local id, began, why = settle(KEYS[1], ARGV[2], ARGV[3], ARGV[1], ARGV[4] == '1', true)
if why == 'gone' then
  why = 'none'
end
return {id, began, why}
"""

# The preamble of scripts that act only within an epoch: KEYS[1] the epoch, ARGV[1] the one
# expected ('' for none), ARGV[2..4] the epoch to begin (id, began, run id) and ARGV[5] '1' when
# evictions are watched, for settle(). Refuses with an "EPOCH <id> <began> [<why a new one
# began>]" error reply, having changed nothing else.
_IN_EPOCH = _SETTLE + """
if ARGV[1] ~= '' then
  local id, began, why = settle(KEYS[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] == '1', false)
  if id ~= ARGV[1] then
    return redis.error_reply('EPOCH ' .. id .. ' ' .. began .. ' ' .. why)
  end
end
"""

# claim within an epoch: _IN_EPOCH, then SET KEYS[2] ARGV[6] NX with PX ARGV[7] ('' for none).
_CLAIM_SCRIPT = _IN_EPOCH + """
if ARGV[7] == '' then
  return redis.call('SET', KEYS[2], ARGV[6], 'NX') and 1 or 0
end
return redis.call('SET', KEYS[2], ARGV[6], 'NX', 'PX', ARGV[7]) and 1 or 0
"""

# take_counted: _IN_EPOCH, then KEYS[2] the key to take, KEYS[3..] counters; ARGV[6] how many
# counters count always (the rest only when KEYS[2] exists), then window ms and limit per
# counter. Counts as _INCR_SCRIPT does, then GETDELs KEYS[2] unless a count is over its limit.
# Returns {value or false, count1, pttl1, count2, pttl2, ...}: one round trip for validate.
_TAKE_COUNTED_SCRIPT = _IN_EPOCH + _COUNT + """
local reply = {false}
local over = false
local always = tonumber(ARGV[6])
local live = redis.call('EXISTS', KEYS[2]) == 1
for i = 3, #KEYS do
  local count, ttl = 0, 0
  if i - 2 <= always or live then
    count, ttl = count_one(KEYS[i], ARGV[2 * i + 1])
  end
  if count > tonumber(ARGV[2 * i + 2]) then
    over = true
  end
  reply[#reply + 1] = count
  reply[#reply + 1] = ttl
end
if not over then
  reply[1] = redis.call('GETDEL', KEYS[2])
end
return reply
"""


# put_counted: _IN_EPOCH, then KEYS[2] the key to put, KEYS[3..] counters; ARGV[6] the value,
# ARGV[7] its TTL in ms ('' for none), then window ms and limit per counter. Counts each counter
# as _INCR_SCRIPT does, in turn, stopping at the first over its limit; SETs KEYS[2] unless one
# was. Returns {1 if put else 0, count1, pttl1, ...} (0, 0 for counters left alone).
_PUT_COUNTED_SCRIPT = _IN_EPOCH + _COUNT + """
local reply = {0}
local over = false
for i = 3, #KEYS do
  local count, ttl = 0, 0
  if not over then
    count, ttl = count_one(KEYS[i], ARGV[2 * i + 2])
    over = count > tonumber(ARGV[2 * i + 3])
  end
  reply[#reply + 1] = count
  reply[#reply + 1] = ttl
end
if not over then
  if ARGV[7] == '' then
    redis.call('SET', KEYS[2], ARGV[6])
  else
    redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[7])
  end
  reply[1] = 1
end
return reply
"""


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The Redis store needs redis-py: pip install flask-captcha-ext[redis]"
        ) from exc
    return redis


def _redact_url(url: str) -> str:
    """``url`` with any password (in the userinfo or a ``password=`` query) masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        netloc = f"{user}:***@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _split_prefix(url: str) -> Tuple[str, Optional[str]]:
    """Remove our own ``prefix=`` query parameter, which redis-py would not accept."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [v for k, v in pairs if k == "prefix"]
    if not prefixes:
        return url, None
    query = urlencode([(k, v) for k, v in pairs if k != "prefix"])
    return urlunsplit(parts._replace(query=query)), prefixes[-1]


def _checkout(pool: Any) -> Any:
    """A connected connection of ``pool`` (redis-py before 5.3 wants a command name)."""
    try:
        return pool.get_connection()
    except TypeError:  # pragma: no cover - depends on the redis-py version
        return pool.get_connection("EVALSHA")


def _info_field(info: Any, name: str) -> str:
    """One ``name:value`` line of an INFO reply ("" when absent)."""
    if isinstance(info, bytes):
        info = info.decode(errors="replace")
    for line in str(info).splitlines():
        field, sep, value = line.partition(":")
        if sep and field == name:
            return value.strip()
    return ""


class _Refused(NamedTuple):
    """An ``_IN_EPOCH`` script's refusal: the store's epoch, and why the script began it."""

    epoch: Epoch
    why: str


def _epoch_refusal(message: str) -> Optional[_Refused]:
    """The store's epoch, and why this script began it ("" when it did not), from an
    ``_IN_EPOCH`` script's "EPOCH <id> <began> [<why>]" refusal; None for any other error."""
    parts = message.split()
    if len(parts) not in (3, 4) or parts[0] != "EPOCH":
        return None
    try:
        return _Refused(Epoch(parts[1], float(parts[2])), parts[3] if len(parts) == 4 else "")
    except ValueError:
        return None


#: Why a new epoch began, for the log line (the scripts' words).
_WHY_NEW_EPOCH = {
    "restarted": "answers from a new server process (restarted or failed over: it may have "
    "lost recent writes)",
    "evicted": "evicted keys (its maxmemory-policy is not noeviction: spent tokens' claims may "
    "be among them)",
    "gone": "lost the epoch record (the database was flushed or its keys deleted)",
    "resynced": "holds another copy of the data than when the epoch began (its replication id "
    "changed: a resync from another server, or a failover)",
}


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _ms(seconds: float) -> int:
    """Seconds as positive whole milliseconds (Redis rejects an expiry of 0)."""
    return max(1, math.ceil(seconds * 1000))


class RedisStore:
    """A :class:`~flask_captcha_ext.stores.base.Store` on a Redis server.

    Keys are stored under ``prefix`` (default ``"captcha:"``, or ``?prefix=`` in the URL) so
    the database can be shared. ``timeout`` bounds connecting and each reply, in seconds; redis-py
    options in the URL query (``?socket_timeout=5``) take precedence.
    """

    def __init__(self, url: str, *, prefix: Optional[str] = None, timeout: float = 1.0) -> None:
        redis = _import_redis()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url  # reopens the same backend; may hold a password, so log safe_url instead
        url, url_prefix = _split_prefix(url)
        self.safe_url = _redact_url(url)
        self.prefix = prefix if prefix is not None else (url_prefix or DEFAULT_PREFIX)
        try:
            pool = redis.ConnectionPool.from_url(
                url,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                # No retries inside redis-py: _run() retries once itself, and only for a
                # connection error, so a stale pooled socket is replaced but an outage is not
                # waited out.
                retry=Retry(NoBackoff(), 0),
                decode_responses=True,
                redis_connect_func=self._on_connect,
            )
        except ValueError as exc:  # re-raised without the chain, which holds the raw URL
            raise ValueError(f"invalid Redis URL {self.safe_url}: {exc}") from None
        self._client: redis_py.Redis = redis.Redis(connection_pool=pool)
        self._incr_script = self._client.register_script(_INCR_SCRIPT)
        self._take_counted_script = self._client.register_script(_TAKE_COUNTED_SCRIPT)
        self._claim_script = self._client.register_script(_CLAIM_SCRIPT)
        self._begin_epoch_script = self._client.register_script(_BEGIN_EPOCH)
        self._put_counted_script = self._client.register_script(_PUT_COUNTED_SCRIPT)
        self._scripts = (
            self._incr_script,
            self._take_counted_script,
            self._put_counted_script,
            self._claim_script,
            self._begin_epoch_script,
        )
        self._errors = redis.exceptions.RedisError
        self._reconnectable = redis.exceptions.ConnectionError
        self._refused = redis.exceptions.ResponseError
        self._epoch_key = self.prefix + EPOCH_KEY
        self._epoch: Optional[Epoch] = None  # as this process last saw it
        self._run_id = ""  # of the server our connections last reached ("" when INFO is off)
        #: Begin a new epoch whenever the server has evicted keys (CAPTCHA_REDIS_ALLOW_EVICTION
        #: turns it off, giving up single use after an eviction for a database shared with a
        #: cache, where evictions never stop).
        self.watch_evictions = True
        self._warned: Dict[str, float] = {}  # why -> monotonic time of the last warning
        # No reply after sending: the server may have run the command, or may run it later.
        self._unanswered = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._not_run = redis.exceptions.BusyLoadingError  # a LOADING reply: nothing ran
        self._no_script = redis.exceptions.NoScriptError

    def _on_connect(self, connection: Any) -> None:
        """redis-py's handshake, then the epoch check: a server process other than the one
        that wrote the epoch (a restart, a failover), or evictions since, begin a new one
        before this connection runs anything else."""
        connection.on_connect()
        try:
            connection.send_command("INFO", "server")
            info = connection.read_response()
        except self._refused:  # INFO renamed or not allowed (some managed services)
            info = ""
        run_id = _info_field(info, "run_id")
        if not run_id and "no-info" not in self._warned:
            self._warned["no-info"] = time.monotonic()
            log.warning(
                "Redis store %s does not allow INFO: a restart, failover or eviction that "
                "loses spent tokens' claims cannot be noticed (a flush still is)",
                self.safe_url,
            )
        fresh = new_epoch()
        watch = "1" if self.watch_evictions else "0"
        connection.send_command(
            "EVAL", _CONNECT_EPOCH, 1, self._epoch_key, run_id, fresh.id, repr(fresh.began), watch
        )
        ident, began, why = connection.read_response()
        # Load the scripts now: an EVALSHA that met NOSCRIPT after a restart would not have run,
        # and a spend whose reply timed out must be one that did (or will) run.
        for script in self._scripts:
            connection.send_command("SCRIPT", "LOAD", script.script)
        for _ in self._scripts:
            connection.read_response()
        self._run_id = run_id
        self._epoch = Epoch(ident, float(began))
        self._log_new_epoch(why)

    def _log_new_epoch(self, why: str) -> None:
        """Say why this process began a new epoch (nothing for the very first one), at most
        once a minute per reason as a warning: a Redis that keeps evicting must not flood the
        log."""
        if why not in _WHY_NEW_EPOCH:
            return
        tick = time.monotonic()
        if tick - self._warned.get(why, -math.inf) < NEW_EPOCH_WARNING_INTERVAL:
            log.debug("Redis store %s %s; began a new store epoch", self.safe_url, why)
        else:
            self._warned[why] = tick
            log.warning(
                "Redis store %s %s; began a new CAPTCHA store epoch, so tokens and challenges "
                "issued before are refused",
                self.safe_url,
                _WHY_NEW_EPOCH[why],
            )

    @property
    def connection_pool(self) -> Any:
        """The store's redis-py connection pool, for other Redis users of the same backend."""
        return self._client.connection_pool

    def __repr__(self) -> str:
        return f"<RedisStore {self.safe_url} prefix={self.prefix!r}>"

    def _run(self, op: Callable[[], T]) -> T:
        """Run ``op``; a dropped connection is retried once, any Redis error is an outage."""
        try:
            try:
                return op()
            except self._reconnectable:
                return op()
        except self._errors as exc:
            raise StoreUnavailable(f"Redis store {self.safe_url} unavailable: {exc}") from exc

    def _spend(self, *command: Any, script: Optional[str] = None, spends: bool = True) -> Any:
        """Send ``command``, one that spends (GETDEL, SET NX, EVALSHA of ``script``), on one
        pooled connection, and never send it twice.

        Taking the connection (connecting, or replacing a stale socket) comes first and is
        retried like any call: nothing was sent yet. Once the command is sent, a reply that
        does not come (a timeout, a connection lost) raises StoreUnavailable with
        ``maybe_done``: the server may have run it, or run it later, and spent what the caller
        is refused. A script the server does not hold (NOSCRIPT: nothing ran) is sent whole.
        A ResponseError (a script's refusal) propagates as it is. ``spends`` False (a command
        that is safe to run twice) reports a lost reply as a plain outage.
        """
        pool = self._client.connection_pool
        connection = self._run(lambda: _checkout(pool))
        try:
            try:
                connection.send_command(*command)
                return connection.read_response()
            except self._no_script:
                if script is None:
                    raise
                connection.send_command("EVAL", script, *command[2:])
                return connection.read_response()
        except self._not_run as exc:
            connection.disconnect()
            raise StoreUnavailable(f"Redis store {self.safe_url} unavailable: {exc}") from exc
        except self._refused:
            raise
        except self._unanswered as exc:
            connection.disconnect()  # a late reply must not be read as the next command's
            raise StoreUnavailable(
                f"Redis store {self.safe_url} did not answer: {exc}", maybe_done=spends
            ) from exc
        except self._errors as exc:
            raise StoreUnavailable(f"Redis store {self.safe_url} unavailable: {exc}") from exc
        finally:
            pool.release(connection)

    # Store protocol.

    def put(self, key: str, value: str, ttl: Optional[float]) -> None:
        """Set ``key`` to ``value`` for ``ttl`` seconds (None: until deleted)."""
        px = None if ttl is None else _ms(ttl)
        self._run(lambda: self._client.set(self.prefix + key, value, px=px))

    def get(self, key: str) -> Optional[str]:
        """The live value of ``key``, or None."""
        return self._run(lambda: self._client.get(self.prefix + key))

    def take(self, key: str) -> Optional[str]:
        """``GETDEL``: one command, so one caller gets the value."""
        return self._spend("GETDEL", self.prefix + key)

    def epoch(self, fresh: bool = False) -> Epoch:
        """The store's epoch (as the last new connection or script saw it unless ``fresh``),
        begun if the database has none."""
        if self._epoch is not None and not fresh:
            return self._epoch

        def read() -> Epoch:
            begin = new_epoch()
            args = [begin.id, repr(begin.began), self._run_id]
            ident, began = self._begin_epoch_script(keys=[self._epoch_key], args=args)
            return Epoch(ident, float(began))

        self._epoch = self._run(read)
        return self._epoch

    def begin_epoch(self) -> Epoch:
        """Delete the epoch record and begin a new one (a script running in between begins
        one itself: a new epoch either way)."""
        self._run(lambda: self._client.delete(self._epoch_key))
        return self.epoch(fresh=True)

    def _epoch_args(self, epoch: Optional[str]) -> List[str]:
        """The ARGV that scripts starting with ``_IN_EPOCH`` take first."""
        begin = new_epoch()
        watch = "1" if self.watch_evictions else "0"
        return [epoch or "", begin.id, repr(begin.began), self._run_id, watch]

    def _in_epoch(
        self,
        script: Any,
        keys: List[str],
        args: List[Any],
        epoch: Optional[str],
        spends: bool = True,
    ) -> Any:
        """Run an ``_IN_EPOCH`` script (sent once, see ``_spend``); its EPOCH refusal becomes
        EpochChanged."""

        every_key = [self._epoch_key, *keys]
        command = ("EVALSHA", script.sha, len(every_key), *every_key, *self._epoch_args(epoch))
        try:
            reply = self._spend(*command, *args, script=script.script, spends=spends)
        except self._refused as exc:
            reply = _epoch_refusal(str(exc))
            if reply is None:
                raise StoreUnavailable(f"Redis store {self.safe_url} failed: {exc}") from exc
        if isinstance(reply, _Refused):
            self._epoch = reply.epoch
            self._log_new_epoch(reply.why)
            raise EpochChanged(epoch or "", self._epoch)
        return reply

    def claim(
        self, key: str, ttl: Optional[float], value: str = "1", epoch: Optional[str] = None
    ) -> bool:
        """``SET NX`` (in a script checking the epoch when ``epoch`` is given): True for the one
        caller that created ``key``."""
        if epoch is None:
            expiry = () if ttl is None else ("PX", _ms(ttl))
            return bool(self._spend("SET", self.prefix + key, value, "NX", *expiry))
        px_arg = "" if ttl is None else _ms(ttl)
        return bool(self._in_epoch(self._claim_script, [self.prefix + key], [value, px_arg], epoch))

    def incr(self, key: str, window: float, amount: int = 1) -> Tuple[int, float]:
        """Add ``amount`` to a counter whose window starts at its first increment."""
        count, ttl_ms = self._run(
            lambda: self._incr_script(keys=[self.prefix + key], args=[amount, _ms(window)])
        )
        return int(count), max(0.0, int(ttl_ms) / 1000)

    def take_counted(
        self,
        key: str,
        counters: Sequence[Counter],
        live_counters: Sequence[Counter] = (),
        epoch: Optional[str] = None,
    ) -> Tuple[Optional[str], List[Tuple[int, float]]]:
        """Count, then ``GETDEL`` unless a limit is exceeded: one Lua script, one round trip
        (which checks the epoch first when ``epoch`` is given)."""
        every = [*counters, *live_counters]
        keys = [self.prefix + key] + [self.prefix + counter_key for counter_key, _, _ in every]
        args: List[int] = [len(counters)]
        for _, window, limit in every:
            args += [_ms(window), limit]
        reply = self._in_epoch(self._take_counted_script, keys, args, epoch)
        counts = [
            (int(count), max(0.0, int(ttl_ms) / 1000))
            for count, ttl_ms in zip(reply[1::2], reply[2::2])
        ]
        return reply[0], counts

    def put_counted(
        self,
        key: str,
        value: str,
        ttl: Optional[float],
        counters: Sequence[Counter],
        epoch: Optional[str] = None,
    ) -> Tuple[bool, List[Tuple[int, float]]]:
        """Count, then ``SET`` unless a limit is exceeded: one Lua script, one round trip (which
        checks the epoch first when ``epoch`` is given). Not a spend: safe to retry."""
        keys = [self.prefix + key] + [self.prefix + counter_key for counter_key, _, _ in counters]
        args: List[Any] = [value, "" if ttl is None else _ms(ttl)]
        for _, window, limit in counters:
            args += [_ms(window), limit]
        reply = self._in_epoch(self._put_counted_script, keys, args, epoch, spends=False)
        counts = [
            (int(count), max(0.0, int(ttl_ms) / 1000))
            for count, ttl_ms in zip(reply[1::2], reply[2::2])
        ]
        return bool(reply[0]), counts

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        self._run(lambda: self._client.delete(self.prefix + key))

    def scan(self, prefix: str) -> Iterator[Tuple[str, str]]:
        """Live ``(key, value)`` pairs whose key starts with ``prefix``, sorted by key."""
        return iter(self._run(lambda: self._scan(prefix)))

    def _scan(self, prefix: str) -> List[Tuple[str, str]]:
        pattern = _glob_escape(self.prefix + prefix) + "*"
        keys = sorted(set(self._client.scan_iter(match=pattern, count=1000)))
        found: List[Tuple[str, str]] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for full_key, value in zip(chunk, self._client.mget(chunk)):
                if value is not None:  # expired or deleted since SCAN saw it
                    found.append((full_key[len(self.prefix) :], value))
        return found

    def batch(self) -> ContextManager[None]:
        """Each operation is already atomic on its own here; nothing to group."""
        return nullcontext()

    def ping(self) -> None:
        """Raise StoreUnavailable unless the server answers."""
        self._run(self._client.ping)

    def durability(self) -> Durability:
        """Read the server's eviction policy and persistence (CONFIG GET); raises
        StoreUnavailable when the server does not answer."""
        import redis

        def read() -> Durability:
            try:
                policy = self._client.config_get("maxmemory-policy").get("maxmemory-policy")
                aof = self._client.config_get("appendonly").get("appendonly")
                save = self._client.config_get("save").get("save")
            except redis.exceptions.ResponseError:  # CONFIG renamed or not allowed
                return Durability(None, None)
            return Durability(policy, aof == "yes" or bool(save))

        return self._run(read)

    def close(self) -> None:
        """Close the pooled connections; the next call opens new ones."""
        self._client.connection_pool.disconnect()
