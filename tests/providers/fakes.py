"""Fake CAPTCHA providers: real HTTP(S) servers on 127.0.0.1 speaking each provider's protocol.

One threaded server answers every protocol under a path prefix (``/recaptcha/...``,
``/trustcaptcha/v2/verifications/<id>/results``...). Tests issue tickets (what the visitor did:
passed or not, score, action, hostname, age, expired) and get the token the widget would post.
The fakes enforce the secret, single use and expiry like the real services, and can be switched
to misbehave (``fault``) to exercise the client's failure handling.
"""

from __future__ import annotations

import base64
import gzip
import hmac
import json
import random
import secrets
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qs, urlsplit

# Re-exported: test_http.py and test_faults.py import free_port from here.
from tests.support import free_port  # noqa: F401

SECRET = "fake-secret-0123456789"
SITE_KEY = "fake-site-key"
#: 10 MB of JSON gzipped to about 10 kB, made once: compressing per request is slow enough on a
#: busy machine to make the fake miss the client's timeout, which would test nothing.
GZIP_BOMB = gzip.compress(b'{"success": true, "pad": "' + b"0" * 10_000_000 + b'"}')
#: Bytes that are no protocol at all (not starting with "H": no status line could follow).
NOISE = bytes([0x8F]) + random.Random(7).randbytes(63)

#: Variant -> (CAPTCHA_PROVIDER, path of the verify URL on the fake).
VARIANTS: Dict[str, Tuple[str, str]] = {
    "recaptcha": ("recaptcha", "/recaptcha/api/siteverify"),
    "recaptcha_v3": ("recaptcha_v3", "/recaptcha_v3/api/siteverify"),
    "hcaptcha": ("hcaptcha", "/hcaptcha/siteverify"),
    "turnstile": ("turnstile", "/turnstile/v0/siteverify"),
    "friendly_v1": ("friendlycaptcha", "/friendly/api/v1/siteverify"),
    "friendly_v2": ("friendlycaptcha", "/friendly/api/v2/captcha/siteverify"),
    "trustcaptcha": ("trustcaptcha", "/trustcaptcha"),
    "gk_docs": ("gkcaptcha", "/gk_docs/api/v1/token/verify"),
    "gk_sdk": ("gkcaptcha", "/gk_sdk/api/v1/token/verify"),
}


@dataclass
class Ticket:
    """What happened in the visitor's browser, as the provider remembers it."""

    variant: str
    passed: bool = True
    score: Optional[float] = 0.9  # higher = more human; the fake converts to the provider's scale
    action: str = "submit"  # what reCAPTCHA v3's widget sends when the page names no action
    hostname: str = "example.com"
    age: float = 2.0
    stamp: Optional[str] = None  # the timestamp text to report instead of "age seconds ago"
    expired: bool = False
    unfinished: bool = False
    failover: Optional[str] = None  # trustcaptcha: "gateway", "client-confirmed", "client-denied"
    fetches: int = 0


@dataclass
class Seen:
    """One request the fake received."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


@dataclass
class FakeState:
    """Shared by the HTTP and HTTPS servers; reset between tests."""

    secret: str = SECRET
    tickets: Dict[str, Ticket] = field(default_factory=dict)
    used: Set[str] = field(default_factory=set)
    fault: Optional[str] = None
    delay: float = 2.0
    #: Seconds between the bytes of a trickled status line and headers ("trickle-head").
    drip_every: float = 0.1
    retrieval_limit: int = 3
    connections: int = 0
    seen: List[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.tickets.clear()
            self.used.clear()
            self.seen.clear()
            self.fault = None
            self.delay = 2.0
            self.drip_every = 0.1
            self.retrieval_limit = 3
            self.connections = 0

    def issue(self, variant: str, **outcome: Any) -> str:
        """A token for a new ticket of ``variant`` (TrustCaptcha: base64 JSON with the id)."""
        ticket = Ticket(variant, **outcome)
        if variant == "recaptcha" and "score" not in outcome:
            ticket.score = None  # v2 has no score
        if variant == "trustcaptcha":
            vid = str(uuid.uuid4())
            with self.lock:
                self.tickets[vid] = ticket
            claim: Dict[str, Any] = {"verificationId": vid}
            if ticket.failover in ("client-confirmed", "client-denied"):
                claim["clientFailover"] = True
            return base64.b64encode(json.dumps(claim).encode()).decode()
        token = "tok-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tickets[token] = ticket
        return token

    def take(self, token: str) -> Tuple[Optional[Ticket], bool]:
        """The ticket for ``token`` and whether it was already verified; marks it used."""
        with self.lock:
            ticket = self.tickets.get(token)
            duplicate = token in self.used
            if ticket is not None:
                self.used.add(token)
            return ticket, duplicate

    def secret_ok(self, value: Optional[str]) -> bool:
        return hmac.compare_digest((value or "").encode(), self.secret.encode())


def iso(age: float, fraction: bool = True) -> str:
    moment = datetime.now(timezone.utc) - timedelta(seconds=age)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{moment.microsecond // 1000:03d}Z" if fraction else "Z")


def solved_at(ticket: Ticket, fraction: bool = True) -> str:
    """When the ticket's challenge was solved, as the provider reports it."""
    return ticket.stamp if ticket.stamp is not None else iso(ticket.age, fraction)


def bot(ticket: Ticket) -> Optional[float]:
    return None if ticket.score is None else round(1 - ticket.score, 6)


class Handler(BaseHTTPRequestHandler):
    """Dispatches on the path prefix; replies JSON with Content-Length (keep-alive)."""

    protocol_version = "HTTP/1.1"
    server: FakeServer

    def setup(self) -> None:
        self.request.settimeout(10)
        # Headers and body go out in separate writes: without this, Nagle plus delayed ACKs add
        # 40 ms to every reply, and the latency bench would measure the fake, not the client.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def handle(self) -> None:
        if isinstance(self.request, ssl.SSLSocket) or self._speaks_http():
            super().handle()

    def _speaks_http(self) -> bool:
        """On the plain port, answer 400 at once to a first byte no request starts with (a TLS
        ClientHello), as web servers do, instead of waiting for a line end that may never come."""
        try:
            first = self.request.recv(1, socket.MSG_PEEK)
        except OSError:
            return False
        if first.isalpha() and first.isupper():
            return True
        if first:
            try:
                self.request.recv(65536)
                self.request.sendall(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                self._linger()
            except OSError:
                pass
        return False

    def _linger(self) -> None:
        """Say nothing more, but keep the connection until the client hangs up (or 10 s)."""
        self.close_connection = True
        try:
            while self.request.recv(65536):
                pass
        except OSError:
            pass

    # -- plumbing ------------------------------------------------------------------------

    @property
    def state(self) -> FakeState:
        return self.server.state

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch(b"")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length))

    def _dispatch(self, body: bytes) -> None:
        state = self.state
        with state.lock:
            state.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        if state.fault and self._fault(state.fault):
            return
        path = urlsplit(self.path).path
        prefix = path.split("/")[1] if path.count("/") > 1 else ""
        route = {
            "recaptcha": self.siteverify,
            "recaptcha_v3": self.siteverify,
            "hcaptcha": self.siteverify,
            "turnstile": self.siteverify,
            "friendly": self.friendly,
            "trustcaptcha": self.trustcaptcha,
            "gk_docs": self.gkcaptcha,
            "gk_sdk": self.gkcaptcha,
        }.get(prefix)
        if route is None:
            return self.reply(404, {"error": "no such route"})
        route(prefix, body)

    def reply(self, status: int, data: Any = None, content_type: str = "application/json") -> None:
        if data is None:
            payload = b""
        else:
            payload = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def params(self, body: bytes) -> Dict[str, str]:
        """Form or JSON body as a flat dict (last value wins)."""
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if kind == "application/json":
            data = json.loads(body or b"{}")
            return {k: v for k, v in data.items() if isinstance(v, str)}
        return {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}

    # -- faults ----------------------------------------------------------------------------

    def _fault(self, fault: str) -> bool:
        ok = json.dumps({"success": True, "verificationPassed": True, "score": 0.0}).encode()
        if fault == "slow":
            time.sleep(self.state.delay)
            self.reply(200, ok)
        elif fault == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4000")
            self.end_headers()
            self.wfile.flush()
            for _ in range(40):
                time.sleep(0.1)
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    break
            self.close_connection = True
        elif fault == "500":
            self.reply(500, ok)
        elif fault == "503-html":
            self.reply(503, b"<html>down</html>", "text/html")
        elif fault == "html":
            self.reply(200, b"<html><body>captive portal</body></html>", "text/html; charset=utf-8")
        elif fault == "wrong-type":
            self.reply(200, ok, "text/plain")
        elif fault == "not-json":
            self.reply(200, b"success=true", "application/json")
        elif fault == "not-object":
            self.reply(200, b"[true]")
        elif fault == "empty":
            self.reply(200, b"")
        elif fault == "deep-json":
            self.reply(200, b"[" * 50000)
        elif fault == "big":
            self.reply(200, json.dumps({"success": True, "pad": "x" * 100_000}).encode())
        elif fault == "big-nolength":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b'{"success": true, "pad": "' + b"x" * 100_000 + b'"}')
            self.close_connection = True
        elif fault == "gzip-bomb":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(GZIP_BOMB)))
            self.end_headers()
            self.wfile.write(GZIP_BOMB)
        elif fault == "gzip-bomb-stall":
            # Half a bomb, then silence: the half already proves the reply bogus, so the client
            # must not wait for the rest (and let its deadline call it unreachable).
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(GZIP_BOMB)))
            self.end_headers()
            self.wfile.write(GZIP_BOMB[: len(GZIP_BOMB) // 2])
            self._linger()
        elif fault == "html-stall":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4000")
            self.end_headers()
            self.wfile.write(b"<html><body>")
            self._linger()
        elif fault == "gzip-ok":
            reply = {"success": True, "challenge_ts": iso(1), "hostname": "example.com"}
            payload = gzip.compress(json.dumps(reply).encode())
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        elif fault == "redirect":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif fault == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault == "cut":
            # The connection closes mid-body: a provider going down, not a bogus reply.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4000")
            self.end_headers()
            self.wfile.write(b'{"success": ')
            self.close_connection = True
        elif fault == "trickle-head":
            # A status line and headers dripped a byte at a time, each well inside the read
            # timeout, for up to 30 s: only a deadline over the whole exchange stops the wait.
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 4000
            end = time.monotonic() + 30
            for index in range(len(head)):
                time.sleep(self.state.drip_every)
                if time.monotonic() > end:
                    break
                try:
                    self.wfile.write(head[index : index + 1])
                except OSError:
                    break
            self.close_connection = True
        elif fault == "ssh":
            self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")  # then waits, as sshd does
            self._linger()
        elif fault == "noise":
            self.wfile.write(NOISE)
            self._linger()
        elif fault == "bad-status":
            self.wfile.write(b"HTTP/1.1 OK 200\r\nContent-Length: 2\r\n\r\n{}")
            self._linger()
        elif fault == "bad-header":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length 2\r\n\r\n"
            self.wfile.write(head + b"{}")
            self._linger()
        else:
            raise AssertionError(f"unknown fault {fault}")
        return True

    # -- protocols -------------------------------------------------------------------------

    def siteverify(self, prefix: str, body: bytes) -> None:
        """reCAPTCHA v2/v3, hCaptcha and Turnstile siteverify."""
        if prefix == "hcaptcha" and "json" in (self.headers.get("Content-Type") or ""):
            return self.reply(200, {"success": False, "error-codes": ["bad-request"]})
        form = self.params(body)
        if not self.state.secret_ok(form.get("secret")):
            return self.reply(200, {"success": False, "error-codes": ["invalid-input-secret"]})
        token = form.get("response")
        if not token:
            return self.reply(200, {"success": False, "error-codes": ["missing-input-response"]})
        ticket, duplicate = self.state.take(token)
        if ticket is None or not ticket.passed:
            return self.reply(200, {"success": False, "error-codes": ["invalid-input-response"]})
        if duplicate or ticket.expired:
            code = "timeout-or-duplicate"
            if prefix == "hcaptcha":
                code = "already-seen-response" if duplicate else "expired-input-response"
            return self.reply(200, {"success": False, "error-codes": [code]})
        data: Dict[str, Any] = {
            "success": True,
            "challenge_ts": solved_at(ticket),
            "hostname": ticket.hostname,
        }
        if prefix == "recaptcha_v3":
            data.update(score=ticket.score, action=ticket.action)
        elif prefix == "recaptcha" and ticket.score is not None:
            data["score"] = ticket.score
        elif prefix == "hcaptcha":
            data["credit"] = False
            if ticket.score is not None:
                data.update(score=bot(ticket), score_reason=["safe"])
        elif prefix == "turnstile":
            data.update(action=ticket.action, cdata="", **{"error-codes": []})
        self.reply(200, data)

    def friendly(self, prefix: str, body: bytes) -> None:
        v1 = "/api/v1/" in self.path
        params = self.params(body)
        secret = params.get("secret") if v1 else self.headers.get("X-API-Key")
        if not self.state.secret_ok(secret):
            if v1:
                return self.reply(401, {"success": False, "errors": ["secret_invalid"]})
            error = {"error_code": "auth_invalid", "detail": "bad key"}
            return self.reply(401, {"success": False, "error": error})
        token = params.get("solution" if v1 else "response")
        if not token:
            code = "solution_missing" if v1 else "response_missing"
            return self.reply(400, self._frc(v1, code))
        ticket, duplicate = self.state.take(token)
        if ticket is None or not ticket.passed:
            return self.reply(200, self._frc(v1, "solution_invalid" if v1 else "response_invalid"))
        if duplicate or ticket.expired:
            code = "solution_timeout_or_duplicate"
            if not v1:
                code = "response_duplicate" if duplicate else "response_timeout"
            return self.reply(200, self._frc(v1, code))
        if v1:
            return self.reply(200, {"success": True, "errors": []})
        challenge = {"timestamp": solved_at(ticket), "origin": f"https://{ticket.hostname}"}
        data = {"event_id": "ev_1", "challenge": challenge, "risk_intelligence": None}
        self.reply(200, {"success": True, "data": data})

    @staticmethod
    def _frc(v1: bool, code: str) -> Dict[str, Any]:
        if v1:
            return {"success": False, "errors": [code]}
        return {"success": False, "error": {"error_code": code, "detail": code}}

    def trustcaptcha(self, prefix: str, body: bytes) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.strip("/").split("/")
        if self.command != "GET" or len(segments) != 5 or segments[1:3] != ["v2", "verifications"]:
            return self.reply(404)
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not self.state.secret_ok(auth[7:]):
            return self.reply(403)
        client_failover = parse_qs(parts.query).get("clientFailover") == ["true"]
        vid = segments[3]
        with self.state.lock:
            ticket = self.state.tickets.get(vid)
            if ticket is not None:
                ticket.fetches += 1
        if ticket is None:
            return self.reply(404)
        if client_failover and ticket.failover == "client-denied":
            return self.reply(412)
        if ticket.expired:
            return self.reply(410)
        if ticket.unfinished:
            return self.reply(423)
        if ticket.fetches > self.state.retrieval_limit:
            return self.reply(429)
        gateway = ticket.failover == "gateway" or (
            client_failover and ticket.failover == "client-confirmed"
        )
        self.reply(
            200,
            {
                "captchaId": "c-1",
                "verificationId": vid,
                "verificationPassed": ticket.passed,
                "score": bot(ticket),
                "decisionType": "FAILOVER" if gateway else "RISK_SCORE",
                "decisionAction": "ALLOW" if ticket.passed else "BLOCK",
                "gatewayFailoverActive": gateway,
                "origin": f"https://{ticket.hostname}",
                "ipAddress": "203.0.113.7",
                "verificationStartedAt": iso(ticket.age + 3),
                "verificationFinishedAt": solved_at(ticket),
                "resultExpiresAt": iso(-600),
            },
        )

    def gkcaptcha(self, prefix: str, body: bytes) -> None:
        docs = prefix == "gk_docs"
        data = json.loads(body or b"{}")
        auth = self.headers.get("Authorization") or ""
        secret = auth[7:] if auth.startswith("Bearer ") else data.get("secret")
        if not self.state.secret_ok(secret):
            return self.reply(401, self._gk(docs, "invalid_secret", success=False))
        token = data.get("token")
        if not token:
            return self.reply(400, self._gk(docs, "missing_token", success=False))
        ticket, duplicate = self.state.take(token)
        if ticket is None or not ticket.passed:
            return self.reply(200, self._gk(docs, "invalid_signature"))
        if duplicate or ticket.expired:
            reason = "token_already_used" if duplicate else "token_expired"
            return self.reply(200, self._gk(docs, reason))
        stamp = int(time.time() - ticket.age)
        if docs:
            inner = {
                "verified": True,
                "score": bot(ticket),
                "hostname": ticket.hostname,
                "action": ticket.action,
                "timestamp": stamp,
                "challenge_ts": solved_at(ticket, fraction=False),
                "error_codes": [],
            }
            return self.reply(200, {"success": True, "data": inner})
        self.reply(200, {"success": True, "score": bot(ticket), "timestamp": stamp})

    @staticmethod
    def _gk(docs: bool, reason: str, success: bool = True) -> Dict[str, Any]:
        if docs:
            inner = {"verified": False, "error_codes": [reason]}
            return {"success": success and reason != "invalid_secret", "data": inner}
        return {"success": False, "error": reason.replace("_", " "), "reasonCode": reason}


class FakeServer(ThreadingHTTPServer):
    """A threaded fake that counts the TCP connections it accepts."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, state: FakeState, context: Optional[ssl.SSLContext] = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = state
        if context is not None:
            self.socket = context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.state.lock:
            self.state.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up or refuse our certificate are expected here

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Blackhole:
    """A loopback listener whose accept queue is full: new connections never complete."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(filler)
        time.sleep(0.05)

    def close(self) -> None:
        for sock in (*self.fillers, self.listener):
            sock.close()
