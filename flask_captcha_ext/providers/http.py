"""The one HTTP client an app uses to reach its CAPTCHA provider (sync, over ``requests``).

Built once per app in ``build_provider`` and shared by every request and thread: a keep-alive
connection pool, (connect, read) timeouts on every socket operation, one deadline (connect + read)
over the whole exchange, no redirects, verified TLS, a size cap on replies and a JSON-only body.
A call ends in one of three ways:

- ``ServerUnreachable``, the one failure CAPTCHA_FAIL_OPEN may turn into a pass, for exactly:
  a timeout (connect, read, or the deadline over connect, status line, headers and body), a
  connection refused, reset or closed early by a host whose name resolved, or an HTTP 5xx;
- ``UnknownError``, which always fails, for everything else: a host name that does not resolve,
  any TLS failure (untrusted or self-signed certificate, wrong host name, a handshake with a port
  that does not speak TLS), a port that does not speak HTTP (an SSH banner, random bytes), an
  HTTP protocol error (malformed status line or headers), a proxy that answers with an error (one
  that refuses the connection or times out counts as above), a redirect (never followed), a 1xx,
  a reply over the size cap (raw or once decompressed), in an unknown encoding or badly
  compressed, a 2xx that is not a JSON object, and any other failure (no route to the host...).
  Most of these are a wrong CAPTCHA_VERIFY_URL or CAPTCHA_PROXY, and fail-open must not turn
  that into a pass for every token;
- otherwise (a 2xx JSON object, or a 4xx): a ``Reply``, whose ``data`` is None for a 4xx without
  a JSON object, left to the provider module to judge like all a provider *says* (``success:
  false``, an HTTP 403...).

A reply is judged as its bytes arrive (``ReplyReader``): bytes that prove it bogus fail it at
once, so the deadline can only fire while nothing bogus has been seen. Error messages are short
and name no URL (URLs may carry keys).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import ssl
import time
import zlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, HeaderParsingError, NewConnectionError
from urllib3.util.response import assert_header_parsing

from ..result import CaptchaError, ServerUnreachable, UnknownError
from ..settings import ConfigError

#: Replies larger than this are refused (providers answer with a few hundred bytes).
MAX_BODY = 64 * 1024
#: Environment variables naming a CA bundle to trust instead of certifi's (tests, private CAs).
CA_BUNDLE_ENV = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
USER_AGENT = "flask-captcha-ext/0.1"
_HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity"}


@dataclass(frozen=True)
class Call:
    """One request to a provider, built by a provider module, sent by either client."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    form: Optional[Mapping[str, str]] = None
    json: Optional[Mapping[str, Any]] = None
    #: Provider data carried from building the call to reading its reply (never sent).
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """A provider's answer: its status, and its JSON object (None for a 4xx without one)."""

    status: int
    data: Optional[Dict[str, Any]]


@dataclass(frozen=True)
class ClientOptions:
    """What both clients are built from (CAPTCHA_TIMEOUT, CAPTCHA_PROXY, a CA bundle)."""

    timeout: Tuple[float, float] = (3.0, 5.0)
    proxy: Optional[str] = None
    ca_bundle: Optional[str] = None
    pool_size: int = 10
    max_body: int = MAX_BODY

    def __post_init__(self) -> None:
        if self.ca_bundle is not None and not isinstance(self.ca_bundle, str):
            raise TypeError("ca_bundle is a CA file path; certificate checks cannot be turned off")

    @property
    def deadline(self) -> float:
        """Seconds the whole exchange may take: connect plus read."""
        return self.timeout[0] + self.timeout[1]

    @property
    def verify(self) -> Union[bool, str]:
        """``requests``' verify argument: always on, optionally with our own CA bundle."""
        return self.ca_bundle or True


def ca_bundle_from_env() -> Optional[str]:
    """A CA bundle path named by REQUESTS_CA_BUNDLE or SSL_CERT_FILE, checked to exist.

    A typo here would make every call fail TLS, so a missing file is a configuration error
    rather than a runtime failure.
    """
    for name in CA_BUNDLE_ENV:
        path = os.environ.get(name)
        if path:
            if not os.path.isfile(path):
                raise ConfigError(f"{name}={path!r} is not a file; it must name a CA bundle")
            return path
    return None


# -- the deadline ------------------------------------------------------------------------------
#
# Socket timeouts bound each read, not a reply: a server that drips its status line, headers or
# body a byte at a time, each inside the read timeout, could hold a worker for ever. So while a
# call runs, its deadline sits in ``_DEADLINE``; our urllib3 connections read every reply through
# ``_DeadlineReader``, which lowers the socket timeout to what is left of the deadline before each
# read, and give the TLS handshake only what connecting left. No thread, no timer: one clock read
# per socket read, and the pool keeps its keep-alive connections.

#: The monotonic deadline of the call running in this context (set by ``HttpClient.send``).
_DEADLINE: ContextVar[Optional[float]] = ContextVar("flask_captcha_ext_deadline", default=None)
_HTTP = b"HTTP/"


class DeadlineExceeded(socket.timeout):
    """The call's deadline passed while we waited for the provider (a timeout, so unreachable)."""


def check_head(seen: bytes, data: Any) -> bytes:
    """The first bytes of a reply so far (up to 5); UnknownError once they cannot start ``HTTP/``.

    A port speaking another protocol (an SSH banner, random bytes) fails on its first bytes
    rather than when the deadline fires, which would count as a timeout.
    """
    head = seen + bytes(data[: len(_HTTP) - len(seen)])
    if not _HTTP.startswith(head):
        raise UnknownError("the provider's port does not speak HTTP")
    return head


class _DeadlineReader(socket.SocketIO):
    """A reply's socket reader: no read waits past the call's deadline; checks the first bytes."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__(sock, "rb")
        # What sock.makefile() does: the socket stays open until this reader is closed too.
        sock._io_refs += 1  # type: ignore[attr-defined]
        self._deadline = deadline
        self._timeout = sock.gettimeout()
        self._head = b""

    def readinto(self, buffer: Any) -> Optional[int]:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("the call's deadline passed")
        if self._timeout is None or remaining < self._timeout:
            self._sock.settimeout(remaining)
        count = super().readinto(buffer)
        if count and len(self._head) < len(_HTTP):
            self._head = check_head(self._head, memoryview(buffer)[:count])
        return count


class _Makefile:
    """Hands ``http.client.HTTPResponse`` our reader where it would call ``sock.makefile``."""

    def __init__(self, reader: io.BufferedReader) -> None:
        self._reader = reader

    def makefile(self, mode: str) -> io.BufferedReader:
        return self._reader


class _DeadlineResponse(http.client.HTTPResponse):
    """``http.client``'s response (status line, headers, body), read under the call's deadline."""

    def __init__(
        self, sock: Any, debuglevel: int = 0, method: Optional[str] = None, url: Any = None
    ) -> None:
        deadline = _DEADLINE.get()
        if deadline is not None:
            sock = _Makefile(io.BufferedReader(_DeadlineReader(sock, deadline)))
        super().__init__(sock, debuglevel, method, url)


def _rest_of_deadline(conn: HTTPConnection, sock: socket.socket) -> socket.socket:
    """Leave the TLS handshake (and a proxy tunnel) only what connecting left of the deadline."""
    deadline = _DEADLINE.get()
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            sock.close()
            raise ConnectTimeoutError(conn, "the call's deadline passed while connecting")
        timeout = sock.gettimeout()
        if timeout is None or remaining < timeout:
            sock.settimeout(remaining)
    return sock


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse

    def _new_conn(self) -> socket.socket:
        return _rest_of_deadline(self, super()._new_conn())


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse

    def _new_conn(self) -> socket.socket:
        return _rest_of_deadline(self, super()._new_conn())


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter, whose pools (direct or through the proxy) hold our connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        return manager


# -- the client --------------------------------------------------------------------------------

#: What a transport failure may surface as; ``classify`` sorts them out.
_TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class HttpClient:
    """A pooled, keep-alive ``requests.Session`` with the rules above; safe to share."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        session = requests.Session()
        # No environment proxies, netrc credentials or CA overrides behind our back: the app's
        # CAPTCHA_* settings (and ca_bundle) say everything about where the secret goes.
        session.trust_env = False
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = _DeadlineAdapter(
            pool_connections=2, pool_maxsize=options.pool_size, max_retries=0, pool_block=False
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.clear()
        session.headers.update(_HEADERS)
        if options.proxy:
            session.proxies = {"http": options.proxy, "https": options.proxy}
        session.verify = options.verify
        self.session = session

    def send(self, call: Call) -> Reply:
        """Send ``call``: its Reply, else ServerUnreachable or UnknownError (see above)."""
        token = _DEADLINE.set(time.monotonic() + self.options.deadline)
        try:
            return self._exchange(call)
        except CaptchaError:
            raise
        except _TRANSPORT_ERRORS as exc:
            raise classify(exc) from None
        finally:
            _DEADLINE.reset(token)

    def _exchange(self, call: Call) -> Reply:
        opts = self.options
        response = self.session.request(
            call.method,
            call.url,
            headers=dict(call.headers),
            data=call.form,
            json=call.json,
            timeout=opts.timeout,
            allow_redirects=False,
            stream=True,
            verify=opts.verify,
        )
        try:
            raw = response.raw
            check_header_lines(getattr(raw, "_original_response", None))
            reader = ReplyReader(response.status_code, response.headers, opts.max_body)
            # read1 returns after each network read, so every chunk is judged as it arrives.
            read: Callable[..., bytes] = getattr(raw, "read1", None) or raw.read
            while True:
                chunk = read(16384, decode_content=False)
                if not chunk:
                    return reader.reply()
                reader.feed(chunk)
        finally:
            # Once the body was read to its end the connection is already back in the pool and
            # this only tidies up; on any other path it drops the half-read connection.
            response.close()

    def close(self) -> None:
        self.session.close()


def check_header_lines(original: Optional[http.client.HTTPResponse]) -> None:
    """UnknownError for headers ``http.client`` only half parsed (a line without a colon...)."""
    if original is None:
        return
    try:
        assert_header_parsing(original.msg)
    except (HeaderParsingError, TypeError):
        raise UnknownError("the reply's headers are malformed") from None


# -- judging a reply ---------------------------------------------------------------------------

#: What may come before a JSON object's ``{``: JSON whitespace and a UTF-8 byte order mark.
_LEADING = b" \t\r\n\xef\xbb\xbf"


class ReplyReader:
    """Judges a reply as it arrives, so bytes that prove it no provider's fail it at once.

    Built from the status and headers: a 5xx (ServerUnreachable), a redirect or 1xx, an announced
    size over the cap, an unknown encoding or a 2xx that is not JSON fail before any body is
    read. Then fed the raw body chunk by chunk: over the cap raw or once decompressed
    (decompression stops at the cap), corrupt compressed data, or a 2xx whose first byte cannot
    start a JSON object fail on the chunk that shows it. Whatever the clock says afterwards, a
    reply proven bogus stays ``UnknownError``.
    """

    def __init__(self, status: int, headers: Mapping[str, str], limit: int) -> None:
        check_status(status)
        check_length(headers.get("Content-Length"), limit)
        self.status = status
        self.limit = limit
        self.not_json = _not_json(headers.get("Content-Type") or "")
        if self.not_json and status < 300:
            raise UnknownError(self.not_json)
        self._inflater = _inflater(headers.get("Content-Encoding") or "")
        self._raw = 0
        self._size = 0
        self._chunks: List[bytes] = []
        self._sniff = status < 300

    def feed(self, chunk: bytes) -> None:
        """Take the next raw body bytes; UnknownError as soon as they prove the reply bogus."""
        if not chunk:
            return
        self._raw += len(chunk)
        if self._raw > self.limit:
            raise too_large(self.limit)
        if self._inflater is not None:
            chunk = self._inflate(chunk)
            if not chunk:
                return
        self._size += len(chunk)
        if self._size > self.limit:
            raise too_large(self.limit)
        if self._sniff:
            rest = chunk.lstrip(_LEADING)
            if rest:
                # UTF-16/32 JSON (a NUL or a UTF-16 byte order mark first) is left to the parser.
                self._sniff = False
                if rest[:1] not in (b"{", b"\x00", b"\xfe", b"\xff"):
                    raise UnknownError("the reply is not a JSON object")
        self._chunks.append(chunk)

    def _inflate(self, chunk: bytes) -> bytes:
        inflater = self._inflater
        assert inflater is not None
        if inflater.eof:
            raise UnknownError("the reply is not valid compressed data")  # bytes after the end
        try:
            out = inflater.decompress(chunk, self.limit + 1 - self._size)
        except zlib.error:
            raise UnknownError("the reply is not valid compressed data") from None
        if inflater.unconsumed_tail or len(out) + self._size > self.limit:
            raise UnknownError(f"the reply is larger than {self.limit} bytes once decompressed")
        if inflater.unused_data:
            raise UnknownError("the reply is not valid compressed data")
        return out

    def reply(self) -> Reply:
        """The whole body read: the Reply (a 2xx must be a JSON object, else UnknownError)."""
        if self._inflater is not None and self._raw and not self._inflater.eof:
            raise UnknownError("the reply is not valid compressed data")  # cut short
        if self.not_json:
            return Reply(self.status, None)
        data = _json_object(b"".join(self._chunks))
        if isinstance(data, str):
            if self.status < 300:
                raise UnknownError(data)
            return Reply(self.status, None)
        return Reply(self.status, data)


def check_status(status: int) -> None:
    """A 5xx is a provider that is down (unreachable); a redirect or a 1xx is no provider's."""
    if status >= 500:
        raise ServerUnreachable(f"the provider answered HTTP {status}")
    if 300 <= status < 400:
        raise UnknownError(f"the verify URL redirected (HTTP {status}); not followed")
    if status < 200:
        raise UnknownError(f"the verify URL answered HTTP {status}")


def check_length(value: Optional[str], limit: int) -> None:
    """Refuse a reply whose Content-Length announces more than ``limit`` bytes."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit() and int(value) > limit:
        raise too_large(limit)


def too_large(limit: int) -> UnknownError:
    return UnknownError(f"the reply is larger than {limit} bytes")


def _inflater(encoding: str) -> Any:
    """A bounded gzip/deflate decompressor (we ask for identity; some servers compress anyway)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnknownError(f"the reply uses an unsupported encoding {encoding[:20]!r}")
    return zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header


def _not_json(content_type: str) -> Optional[str]:
    """Why a Content-Type is not JSON's, or None if it is."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in ("application/json", "text/json") or mime.endswith("+json"):
        return None
    return f"the reply is not JSON (Content-Type {mime[:40] or 'missing'!r})"


def _json_object(body: bytes) -> Union[Dict[str, Any], str]:
    """The body's JSON object, or a string saying why there is none."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return "the reply is not valid JSON"
    if not isinstance(data, dict):
        return "the reply is not a JSON object"
    return data


# -- classifying transport failures ------------------------------------------------------------

#: A connection the host had accepted, then closed or reset before the reply was complete.
_CLOSED = (
    ConnectionResetError,  # also http.client.RemoteDisconnected: closed without a reply
    ConnectionAbortedError,
    BrokenPipeError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)
_TIMEOUTS = (
    socket.timeout,
    TimeoutError,
    urllib3.exceptions.TimeoutError,
    requests.Timeout,
)


def classify(exc: BaseException) -> CaptchaError:
    """What a transport exception means: ServerUnreachable only for a timeout, a refused or reset
    connection (to a host that resolved); UnknownError for everything else. Short, no URLs."""
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, CaptchaError):
            return cause
    if _find(causes, socket.gaierror):
        return UnknownError("the provider's host name did not resolve")
    tls = _find(causes, (ssl.SSLError, ssl.CertificateError), unless=_CLOSED)
    if tls is None and not _find(causes, _CLOSED):
        tls = _find(causes, (urllib3.exceptions.SSLError, requests.exceptions.SSLError))
    if tls is not None:
        return UnknownError(f"TLS with the provider failed ({type(tls).__name__})")
    bad = _find(causes, (urllib3.exceptions.InvalidChunkLength,)) or _find(
        causes,
        (http.client.HTTPException, HeaderParsingError, urllib3.exceptions.InvalidHeader),
        unless=(http.client.RemoteDisconnected, http.client.IncompleteRead),
    )
    if bad is not None:
        return UnknownError(f"the reply is not valid HTTP ({type(bad).__name__})")
    if _find(causes, DeadlineExceeded):
        return ServerUnreachable("the exchange took longer than connect + read timeouts")
    timeout = _find(causes, _TIMEOUTS, unless=(NewConnectionError,))
    if timeout is not None:
        if _find(causes, (ConnectTimeoutError, requests.ConnectTimeout), unless=NewConnectionError):
            return ServerUnreachable("connecting to the provider timed out")
        return ServerUnreachable(f"the provider did not answer in time ({type(timeout).__name__})")
    if _find(causes, ConnectionRefusedError):
        return ServerUnreachable("the provider refused the connection")
    closed = _find(causes, _CLOSED) or _find(
        causes, http.client.IncompleteRead, unless=urllib3.exceptions.InvalidChunkLength
    )
    if closed is not None:
        return ServerUnreachable(f"the provider closed the connection ({type(closed).__name__})")
    if _find(causes, (requests.exceptions.ProxyError, urllib3.exceptions.ProxyError)):
        return UnknownError("the proxy refused or failed the request")
    errno = next((c.errno for c in causes if isinstance(c, OSError) and c.errno), None)
    if isinstance(errno, int) and errno > 0:
        name = os.strerror(errno)
        return UnknownError(f"the connection failed ({name})")
    return UnknownError(f"the request failed ({type(exc).__name__})")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and all it wraps: causes, contexts, urllib3 reasons, args, exception groups."""
    seen = set()
    todo = [exc]
    while todo and len(seen) < 64:
        item = todo.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        linked = [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
        group = getattr(item, "exceptions", None)
        if isinstance(group, (list, tuple)):
            linked.extend(group)
        todo.extend(link for link in linked if isinstance(link, BaseException))


def _find(
    causes: List[BaseException], types: Any, unless: Any = ()
) -> Optional[BaseException]:
    """The first of ``causes`` that is one of ``types`` and none of ``unless``."""
    for cause in causes:
        if isinstance(cause, types) and not isinstance(cause, unless):
            return cause
    return None
