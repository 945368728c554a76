"""The async twin of ``http.HttpClient``, over ``httpx.AsyncClient`` (extra ``[async]``).

Same rules, same ``Reply``, same failures, sorted the same way (``http.classify``):

- ``ServerUnreachable`` (CAPTCHA_FAIL_OPEN may pass it) for exactly: a timeout (connect, read, or
  the deadline over the whole exchange), a connection refused, reset or closed early by a host
  whose name resolved, or an HTTP 5xx;
- ``UnknownError`` (never passes) for everything else: a host name that does not resolve, any
  TLS failure (bad or self-signed certificate, wrong host name, a handshake with a port that
  does not speak TLS), a port that does not speak HTTP, an HTTP protocol error (httpx's
  ``RemoteProtocolError``, ``LocalProtocolError``, ``DecodingError``, unless the server simply
  closed the connection), a proxy that answers with an error, every reply that is no provider's
  (redirect, 1xx, over the size cap raw or decompressed, badly encoded, a 2xx that is not a JSON
  object), and any other failure.

httpx reports a DNS failure, a refused connection and a TLS failure alike as ``ConnectError``;
the exception it wraps tells them apart. Under httpx, a small wrapper of httpcore's network
streams checks the first bytes of every reply (not ``HTTP/``: the port speaks something else)
and notes when the peer closed the connection, so "the server disconnected" (unreachable) is told
apart from a malformed reply (unknown). ``asyncio.wait_for`` bounds the whole exchange (pool
wait, DNS, connect, TLS, status line, headers and body) by the deadline, connect + read; a reply
already proven bogus when it fires stays ``UnknownError``. Other rules as in the sync client:
no redirects, verified TLS, the size cap, JSON-only bodies. httpx is imported on first use, so
apps that never call ``verify_async`` need not install it.

Event loops: an ``httpx.AsyncClient``'s connections belong to the loop that opened them, so one
client per running loop is kept (created on first use in that loop, reused by every later call in
it). Limits: keep-alive reuse only happens within one loop. Frameworks that run each request in a
fresh loop (Flask's ``async def`` views do, through asgiref) get a new client, and a new connection,
per request; clients of loops that have closed are dropped (their sockets close when collected).
Under an ASGI server with one long-lived loop the pool works as in the sync client.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from contextvars import ContextVar
from typing import Any, Dict, Optional, Tuple

from ..result import CaptchaError, ServerUnreachable, UnknownError
from .http import _HEADERS, Call, ClientOptions, Reply, ReplyReader, check_head, classify


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise ImportError(
            "verify_async needs httpx: pip install 'flask-captcha-ext[async]'"
        ) from None
    return httpx


class _Exchange:
    """What the network layer saw during one call (shared through ``_EXCHANGE``)."""

    __slots__ = ("head", "closed", "proof")

    def __init__(self) -> None:
        self.head: Optional[bytes] = b""  # the reply's first bytes until they match HTTP/
        self.closed = False  # the peer closed the connection during the call
        self.proof: Optional[UnknownError] = None  # why the reply is bogus, once known

    def sent(self) -> None:
        """A request (or a proxy CONNECT) went out: a new reply starts."""
        self.head = b""

    def received(self, data: bytes) -> None:
        if not data:
            self.closed = True
        elif self.head is not None:
            try:
                head = check_head(self.head, data)
            except UnknownError as exc:
                self.proof = exc
                raise
            self.head = None if len(head) == 5 else head


#: The call running in this context (set by ``AsyncHttpClient.send``).
_EXCHANGE: ContextVar[Optional[_Exchange]] = ContextVar("flask_captcha_ext_exchange", default=None)


class _Stream:
    """An httpcore network stream that reports reads and writes to the current ``_Exchange``."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        data = await self._stream.read(max_bytes, timeout)
        exchange = _EXCHANGE.get()
        if exchange is not None:
            exchange.received(data)
        return data

    async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        exchange = _EXCHANGE.get()
        if exchange is not None:
            exchange.sent()
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> _Stream:
        return _Stream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend:
    """httpcore's network backend, handing out ``_Stream`` wrappers."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> _Stream:
        return _Stream(await self._backend.connect_tcp(host, port, **kwargs))

    async def connect_unix_socket(self, path: str, **kwargs: Any) -> _Stream:
        return _Stream(await self._backend.connect_unix_socket(path, **kwargs))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class AsyncHttpClient:
    """One ``httpx.AsyncClient`` per running event loop, all built from the same options."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._clients: Dict[int, Tuple[asyncio.AbstractEventLoop, Any]] = {}

    async def send(self, call: Call) -> Reply:
        """Send ``call``: its Reply, else ServerUnreachable or UnknownError (as ``HttpClient``)."""
        httpx = _httpx()
        client = self._client()
        exchange = _Exchange()
        token = _EXCHANGE.set(exchange)
        try:
            return await asyncio.wait_for(self._send(client, call), self.options.deadline)
        except CaptchaError:
            raise
        except asyncio.TimeoutError:
            # A reply proven bogus stays bogus, whatever the clock said after.
            raise exchange.proof or ServerUnreachable(
                f"the exchange took longer than {self.options.deadline:g} s"
            ) from None
        except httpx.RemoteProtocolError as exc:
            if exchange.closed and exchange.proof is None:
                raise ServerUnreachable(
                    f"the provider closed the connection ({type(exc).__name__})"
                ) from None
            raise UnknownError(f"the reply is not valid HTTP ({type(exc).__name__})") from None
        except (httpx.ProtocolError, httpx.DecodingError) as exc:
            raise UnknownError(f"the reply is not valid HTTP ({type(exc).__name__})") from None
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(f"the provider timed out ({type(exc).__name__})") from None
        except httpx.ProxyError:
            raise UnknownError("the proxy refused or failed the request") from None
        except (httpx.HTTPError, httpx.StreamError, OSError, ssl.SSLError) as exc:
            raise classify(exc) from None
        finally:
            _EXCHANGE.reset(token)

    async def _send(self, client: Any, call: Call) -> Reply:
        request = client.build_request(
            call.method, call.url, headers=dict(call.headers), data=call.form, json=call.json
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            reader = ReplyReader(response.status_code, response.headers, self.options.max_body)
            async for chunk in response.aiter_raw():
                reader.feed(chunk)
            return reader.reply()
        except UnknownError as exc:
            exchange = _EXCHANGE.get()
            if exchange is not None:
                exchange.proof = exc
            raise
        finally:
            await response.aclose()

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._clients.get(id(loop))
            if entry is not None and entry[0] is loop:
                return entry[1]
            for key, (other, _) in list(self._clients.items()):
                if other.is_closed():
                    del self._clients[key]
            client = self._new_client()
            self._clients[id(loop)] = (loop, client)
            return client

    def _new_client(self) -> Any:
        httpx = _httpx()
        opts = self.options
        connect, read = opts.timeout
        verify: Any = ssl.create_default_context(cafile=opts.ca_bundle) if opts.ca_bundle else True
        transport = httpx.AsyncHTTPTransport(
            verify=verify,
            limits=httpx.Limits(
                max_connections=opts.pool_size, max_keepalive_connections=opts.pool_size
            ),
            proxy=httpx.Proxy(opts.proxy) if opts.proxy else None,
            trust_env=False,
        )
        # httpcore takes a network backend only in its constructor, which httpx calls for us;
        # without these (private) attributes the checks above are lost, and an early close
        # reads as a protocol error: it fails closed.
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None:
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
        return httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
            headers=_HEADERS,
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        """Close the current loop's client (others close when their loop is gone)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._clients.pop(id(loop), None)
        if entry is not None:
            await entry[1].aclose()
