"""Redis store: shares CAPTCHA state between worker processes and hosts.

Needs redis-py (``pip install flask-captcha-ext[redis]``) and Redis >= 6.2 (for ``GETDEL``).
Each of put, get, take, claim, incr and take_counted is one command or one Lua script: atomic for
all clients.
Redis expires keys itself. Socket timeouts are short so an outage answers in about a second
with :class:`StoreUnavailable`; the pooled connections reconnect once the server is back. A
command that spends (take, claim, take_counted) is never sent twice, and its unanswered reply is
``StoreUnavailable(maybe_done=True)``: it may have run.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ContextManager,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import Counter, StoreUnavailable

if TYPE_CHECKING:
    import redis as redis_py

T = TypeVar("T")


class Durability(NamedTuple):
    """What a Redis server does with our keys under pressure and on restart; None: unknown
    (CONFIG is disabled, as on some managed services)."""

    policy: Optional[str]  # maxmemory-policy: anything but "noeviction" may drop live keys
    persistent: Optional[bool]  # AOF (appendonly) or RDB snapshots (save) keep data over a restart


DEFAULT_PREFIX = "captcha:"

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

# take_counted: KEYS[1] the key to take, KEYS[2..] counters; ARGV[1] how many counters count
# always (the rest only when KEYS[1] exists), then window ms and limit per counter. Counts as
# _INCR_SCRIPT does, then GETDELs KEYS[1] unless a count is over its limit.
# Returns {value or false, count1, pttl1, count2, pttl2, ...}: one round trip for validate.
_TAKE_COUNTED_SCRIPT = """
local reply = {false}
local over = false
local always = tonumber(ARGV[1])
local live = redis.call('EXISTS', KEYS[1]) == 1
for i = 2, #KEYS do
  local window = tonumber(ARGV[2 * i - 2])
  local count, ttl = 0, 0
  if i - 1 <= always or live then
    count = redis.call('INCR', KEYS[i])
    ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], window)
      ttl = window
    end
  end
  if count > tonumber(ARGV[2 * i - 1]) then
    over = true
  end
  reply[#reply + 1] = count
  reply[#reply + 1] = ttl
end
if not over then
  reply[1] = redis.call('GETDEL', KEYS[1])
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
            )
        except ValueError as exc:  # re-raised without the chain, which holds the raw URL
            raise ValueError(f"invalid Redis URL {self.safe_url}: {exc}") from None
        self._client: redis_py.Redis = redis.Redis(connection_pool=pool)
        self._incr_script = self._client.register_script(_INCR_SCRIPT)
        self._take_counted_script = self._client.register_script(_TAKE_COUNTED_SCRIPT)
        self._errors = redis.exceptions.RedisError
        self._reconnectable = redis.exceptions.ConnectionError
        # No reply after sending: the server may have run the command, or may run it later.
        self._unanswered = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._refused = redis.exceptions.BusyLoadingError  # a LOADING reply: not run

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

    def _spend(self, op: Callable[[Any], T]) -> T:
        """Run ``op``, a command that spends (take, claim, take_counted), on a client of one
        connection, and never send it twice.

        Taking the connection from the pool (connecting, or replacing a stale socket) comes
        first, retried like any call: nothing was sent yet. Once the command is sent, a reply
        that does not come (a timeout, a connection lost) raises StoreUnavailable with
        ``maybe_done``: the server may have run it, or run it later (a paused Redis runs what
        was sent once it resumes), and spent what the caller is refused.
        """
        client = self._run(self._client.client)
        try:
            return op(client)
        except self._refused as exc:
            raise StoreUnavailable(f"Redis store {self.safe_url} unavailable: {exc}") from exc
        except self._unanswered as exc:
            raise StoreUnavailable(
                f"Redis store {self.safe_url} did not answer: {exc}", maybe_done=True
            ) from exc
        except self._errors as exc:
            raise StoreUnavailable(f"Redis store {self.safe_url} unavailable: {exc}") from exc
        finally:
            client.close()

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
        return self._spend(lambda client: client.getdel(self.prefix + key))

    def claim(self, key: str, ttl: Optional[float], value: str = "1") -> bool:
        """``SET NX``: True for the one caller that created ``key``."""
        px = None if ttl is None else _ms(ttl)
        won = self._spend(lambda client: client.set(self.prefix + key, value, nx=True, px=px))
        return bool(won)

    def incr(self, key: str, window: float, amount: int = 1) -> Tuple[int, float]:
        """Add ``amount`` to a counter whose window starts at its first increment."""
        count, ttl_ms = self._run(
            lambda: self._incr_script(keys=[self.prefix + key], args=[amount, _ms(window)])
        )
        return int(count), max(0.0, int(ttl_ms) / 1000)

    def take_counted(
        self, key: str, counters: Sequence[Counter], live_counters: Sequence[Counter] = ()
    ) -> Tuple[Optional[str], List[Tuple[int, float]]]:
        """Count, then ``GETDEL`` unless a limit is exceeded: one Lua script, one round trip."""
        every = [*counters, *live_counters]
        keys = [self.prefix + key] + [self.prefix + counter_key for counter_key, _, _ in every]
        args: List[int] = [len(counters)]
        for _, window, limit in every:
            args += [_ms(window), limit]
        reply = self._spend(
            lambda client: self._take_counted_script(keys=keys, args=args, client=client)
        )
        counts = [
            (int(count), max(0.0, int(ttl_ms) / 1000))
            for count, ttl_ms in zip(reply[1::2], reply[2::2])
        ]
        return reply[0], counts

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
