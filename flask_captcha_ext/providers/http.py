"""The one HTTP client an app uses to reach its CAPTCHA provider (sync, over ``requests``).

Built once per app in ``build_provider`` and shared by every request and thread: a keep-alive
connection pool, (connect, read) timeouts on every call plus a whole-reply deadline, no redirects,
verified TLS, a size cap on replies and a JSON-only body. A call ends in one of three ways:

- no answer (refused, reset, TLS failure, a timeout or the deadline) or an HTTP 5xx:
  ``ServerUnreachable``, the one failure CAPTCHA_FAIL_OPEN may turn into a pass;
- an answer that is no provider's (a redirect, never followed; a 1xx; a reply over the size cap,
  in an unknown encoding or badly compressed; a 2xx that is not a JSON object): ``UnknownError``,
  which always fails. Something answered at the verify URL, so this is most likely a wrong
  CAPTCHA_VERIFY_URL, and fail-open must not turn that into a pass for every token;
- otherwise (a 2xx JSON object, or a 4xx): a ``Reply``, whose ``data`` is None for a 4xx without
  a JSON object, left to the provider module to judge like all a provider *says* (``success:
  false``, an HTTP 403...).
"""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ..result import ServerUnreachable, UnknownError
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

    A typo here would make every call fail TLS, which CAPTCHA_FAIL_OPEN would turn into passes,
    so a missing file is a configuration error rather than a runtime failure.
    """
    for name in CA_BUNDLE_ENV:
        path = os.environ.get(name)
        if path:
            if not os.path.isfile(path):
                raise ConfigError(f"{name}={path!r} is not a file; it must name a CA bundle")
            return path
    return None


class HttpClient:
    """A pooled, keep-alive ``requests.Session`` with the rules above; safe to share."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        session = requests.Session()
        # No environment proxies, netrc credentials or CA overrides behind our back: the app's
        # CAPTCHA_* settings (and ca_bundle) say everything about where the secret goes.
        session.trust_env = False
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = HTTPAdapter(
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
        opts = self.options
        deadline = time.monotonic() + opts.deadline
        try:
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
        except requests.RequestException as exc:
            raise ServerUnreachable(describe(exc)) from None
        try:
            check_status(response.status_code)
            check_length(response.headers.get("Content-Length"), opts.max_body)
            body = _read(response.raw, deadline, opts)
            return read_reply(response.status_code, response.headers, body, opts.max_body)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise ServerUnreachable(describe(exc)) from None
        finally:
            # Once the body was read to its end the connection is already back in the pool and
            # this only tidies up; on any other path it drops the half-read connection.
            response.close()

    def close(self) -> None:
        self.session.close()


def _read(raw: Any, deadline: float, opts: ClientOptions) -> bytes:
    """The raw body, at most ``max_body`` bytes, complete before ``deadline``.

    ``read1`` returns after each network read, so a server dripping bytes is caught at the
    deadline (plus at most one read timeout); urllib3 < 2.3 lacks it and blocks per chunk.
    """
    read: Callable[..., bytes] = getattr(raw, "read1", None) or raw.read
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise ServerUnreachable(f"the reply took longer than {opts.deadline:g} s")
        chunk = read(16384, decode_content=False)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > opts.max_body:
            raise too_large(opts.max_body)
        chunks.append(chunk)


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


def read_reply(status: int, headers: Mapping[str, str], body: bytes, limit: int) -> Reply:
    """Decode and parse a body; a 2xx must be a JSON object (else UnknownError), a 4xx may
    carry one (else ``Reply(status, None)``)."""
    body = _decode(headers.get("Content-Encoding", ""), body, limit)
    data = _json_object(headers.get("Content-Type", ""), body)
    if isinstance(data, str):
        if status < 300:
            raise UnknownError(data)
        return Reply(status, None)
    return Reply(status, data)


def _decode(encoding: str, body: bytes, limit: int) -> bytes:
    """Undo gzip/deflate (we ask for identity; some servers compress anyway), bounded by limit."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnknownError(f"the reply uses an unsupported encoding {encoding!r}")
    try:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise UnknownError("the reply is not valid compressed data") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise UnknownError(f"the reply is larger than {limit} bytes once decompressed")
    return out


def _json_object(content_type: str, body: bytes) -> Union[Dict[str, Any], str]:
    """The body's JSON object, or a string saying why there is none."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime not in ("application/json", "text/json") and not mime.endswith("+json"):
        return f"the reply is not JSON (Content-Type {mime or 'missing'!r})"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return "the reply is not valid JSON"
    if not isinstance(data, dict):
        return "the reply is not a JSON object"
    return data


def describe(exc: BaseException) -> str:
    """A short, secret-free description of a transport failure (no URLs: they may hold keys)."""
    kind = type(exc).__name__
    if isinstance(exc, (requests.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError)):
        return f"connecting to the provider timed out ({kind})"
    if isinstance(exc, (requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError)):
        return f"the provider did not answer in time ({kind})"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS with the provider failed ({kind})"
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"the proxy failed ({kind})"
    return f"the provider could not be reached ({kind})"
