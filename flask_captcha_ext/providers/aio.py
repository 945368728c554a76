"""The async twin of ``http.HttpClient``, over ``httpx.AsyncClient`` (extra ``[async]``).

Same rules, same ``Reply``, same failures (``ServerUnreachable`` for no answer or a 5xx,
``UnknownError`` for an answer that is no provider's): timeouts, a whole-exchange deadline
(``asyncio.wait_for``), no redirects, verified TLS, the size cap and JSON-only bodies. httpx is
imported on first use, so apps that never call ``verify_async`` need not install it.

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
from typing import Any, Dict, Tuple

from ..result import ServerUnreachable
from .http import (
    _HEADERS,
    Call,
    ClientOptions,
    Reply,
    check_length,
    check_status,
    read_reply,
    too_large,
)


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise ImportError(
            "verify_async needs httpx: pip install 'flask-captcha-ext[async]'"
        ) from None
    return httpx


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
        try:
            return await asyncio.wait_for(self._send(client, call), self.options.deadline)
        except asyncio.TimeoutError:
            raise ServerUnreachable(
                f"the provider did not answer within {self.options.deadline:g} s"
            ) from None
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(f"the provider timed out ({type(exc).__name__})") from None
        except (httpx.HTTPError, httpx.StreamError, OSError, ssl.SSLError) as exc:
            raise ServerUnreachable(
                f"the provider could not be reached ({type(exc).__name__})"
            ) from None

    async def _send(self, client: Any, call: Call) -> Reply:
        request = client.build_request(
            call.method, call.url, headers=dict(call.headers), data=call.form, json=call.json
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            check_status(response.status_code)
            check_length(response.headers.get("Content-Length"), self.options.max_body)
            chunks, size = [], 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > self.options.max_body:
                    raise too_large(self.options.max_body)
                chunks.append(chunk)
        finally:
            await response.aclose()
        return read_reply(
            response.status_code, response.headers, b"".join(chunks), self.options.max_body
        )

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
        kwargs: Dict[str, Any] = dict(
            timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
            limits=httpx.Limits(
                max_connections=opts.pool_size, max_keepalive_connections=opts.pool_size
            ),
            headers=_HEADERS,
            verify=verify,
            follow_redirects=False,
            trust_env=False,
        )
        if opts.proxy:
            try:
                return httpx.AsyncClient(proxy=opts.proxy, **kwargs)
            except TypeError:  # httpx < 0.26
                return httpx.AsyncClient(proxies=opts.proxy, **kwargs)
        return httpx.AsyncClient(**kwargs)

    async def aclose(self) -> None:
        """Close the current loop's client (others close when their loop is gone)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._clients.pop(id(loop), None)
        if entry is not None:
            await entry[1].aclose()
