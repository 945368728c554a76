"""The shared HTTP clients: one pooled connection, threads, proxies, CA bundles, event loops."""

from __future__ import annotations

import asyncio
import gzip
import select
import socket
import ssl
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from flask_captcha_ext.providers import build_provider
from flask_captcha_ext.providers.http import ReplyReader, check_length, classify
from flask_captcha_ext.result import ServerUnreachable, UnknownError
from flask_captcha_ext.settings import ConfigError

from .conftest import make_settings
from .fakes import GZIP_BOMB, VARIANTS, free_port


def test_many_verifications_use_one_connection(fake, make):
    provider = make("recaptcha_v3")
    for _ in range(30):
        assert provider.verify(fake.issue("recaptcha_v3")).success
    assert fake.state.connections == 1


def test_many_async_verifications_in_one_loop_use_one_connection(fake, make):
    provider = make("turnstile")

    async def run():
        results = [await provider.verify_async(fake.issue("turnstile")) for _ in range(30)]
        await provider.aio.aclose()
        return results

    assert all(result.success for result in asyncio.run(run()))
    assert fake.state.connections == 1


def test_threads_share_the_pool(fake, make):
    provider = make("hcaptcha")
    tokens = [fake.issue("hcaptcha") for _ in range(80)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(provider.verify, tokens))
    assert all(result.success for result in results)
    assert 1 <= fake.state.connections <= 10  # the pool size, not one per call


def test_concurrent_async_verifications(fake, make):
    provider = make("friendly_v2")

    async def run():
        tokens = [fake.issue("friendly_v2") for _ in range(20)]
        results = await asyncio.gather(*(provider.verify_async(t) for t in tokens))
        await provider.aio.aclose()
        return results

    assert all(result.success for result in asyncio.run(run()))
    assert fake.state.connections <= 10


def test_one_async_client_per_live_loop(fake, make):
    provider = make("recaptcha")
    for _ in range(3):
        assert asyncio.run(provider.verify_async(fake.issue("recaptcha"))).success
    assert len(provider.aio._clients) == 1  # clients of closed loops were dropped


class ConnectProxy:
    """A minimal HTTP CONNECT proxy that only tunnels to 127.0.0.1 and counts its tunnels."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.tunnels = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return client.close()
            head += chunk
        method, target = head.split(b" ")[:2]
        host, _, port = target.decode().rpartition(":")
        if method != b"CONNECT" or host != "127.0.0.1":
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return client.close()
        upstream = socket.create_connection(("127.0.0.1", int(port)))
        self.tunnels += 1
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pair = {client: upstream, upstream: client}
        try:
            while True:
                ready, _, _ = select.select(list(pair), [], [], 10)
                if not ready:
                    break
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.listener.close()


def test_proxy_is_used(fake, make, verify):
    proxy = ConnectProxy()
    try:
        provider = make("recaptcha", proxy=f"http://127.0.0.1:{proxy.port}")
        assert verify(provider, fake.issue("recaptcha")).success
        assert proxy.tunnels == 1
    finally:
        proxy.close()


def test_unreachable_proxy_fails_even_when_the_provider_is_up(fake, make, verify):
    provider = make("recaptcha", proxy=f"http://127.0.0.1:{free_port()}")
    result = verify(provider, fake.issue("recaptcha"))
    assert result.error_codes == ("server-unreachable",)
    assert fake.state.seen == []


@pytest.mark.parametrize("fail_open", [False, True])
def test_a_proxy_that_refuses_the_tunnel_fails_even_with_fail_open(fail_open, fake, make, verify):
    """The proxy answers (403 to any host but 127.0.0.1): a proxy error, not the provider down."""
    proxy = ConnectProxy()
    try:
        url = f"https://localhost:{fake.https.port}{VARIANTS['recaptcha'][1]}"
        provider = make(
            "recaptcha", url=url, proxy=f"http://127.0.0.1:{proxy.port}", fail_open=fail_open
        )
        result = verify(provider, fake.issue("recaptcha"))
        assert not result.success and not result.fail_open, result
        assert result.error_codes == ("unknown-error",)
        assert proxy.tunnels == 0 and fake.state.seen == []
    finally:
        proxy.close()


def test_environment_proxies_are_ignored(fake, make, verify, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    assert verify(make("recaptcha"), fake.issue("recaptcha")).success


def test_ca_bundle_from_environment(fake, make, verify, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_path)
    assert verify(make("hcaptcha", ca=False), fake.issue("hcaptcha")).success


@pytest.mark.parametrize("name", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_missing_ca_bundle_is_a_config_error(name, monkeypatch, tmp_path):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv(name, str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match=name):
        build_provider(make_settings("recaptcha"))


def test_verify_async_without_httpx_says_what_to_install(fake, make, monkeypatch):
    provider = make("recaptcha")
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ImportError, match=r"flask-captcha-ext\[async\]"):
        asyncio.run(provider.verify_async(fake.issue("recaptcha")))
    assert provider.verify(fake.issue("recaptcha")).success  # sync needs no httpx


@pytest.mark.parametrize("fault", [None, "redirect", "500", "html", "big", "reset"])
def test_the_reply_is_closed_on_every_path(fault, fake, make, monkeypatch):
    closed = []
    real_close = requests.Response.close

    def close(self):
        closed.append(self.status_code)
        real_close(self)

    monkeypatch.setattr(requests.Response, "close", close)
    fake.state.fault = fault
    provider = make("recaptcha")  # generous timeouts: every one of these faults answers at once
    result = provider.verify(fake.issue("recaptcha"))
    assert result.success is (fault is None)
    # A reset leaves no response to close; requests itself also closes a redirect.
    assert bool(closed) is (fault != "reset"), closed


def test_a_closed_reply_keeps_its_connection_for_the_next_call(fake, make):
    provider = make("recaptcha")
    for _ in range(3):
        assert provider.verify(fake.issue("recaptcha")).success
    fake.state.fault = "html"
    assert not provider.verify(fake.issue("recaptcha")).success
    assert fake.state.connections == 1


@pytest.mark.parametrize(
    "value, too_big",
    [
        (None, False),
        ("", False),
        ("10", False),
        (" 11 ", True),
        ("99999999999999999999", True),
        ("\u00b2", False),  # superscript two: isdigit() but not a number int() reads
        ("\u0661\u0662", False),  # Arabic-Indic digits: not a valid HTTP Content-Length
        ("-1", False),
        ("1e9", False),
    ],
)
def test_check_length(value, too_big):
    if too_big:
        with pytest.raises(UnknownError, match="larger than 10 bytes"):
            check_length(value, 10)
    else:
        check_length(value, 10)


JSON = {"Content-Type": "application/json"}
GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


def test_a_bomb_fails_on_its_first_chunk():
    """512 bytes of a 10 MB bomb already inflate past the cap: no need to wait for the rest."""
    reader = ReplyReader(200, GZIP, 1000)
    with pytest.raises(UnknownError, match="larger than 1000 bytes once decompressed"):
        reader.feed(GZIP_BOMB[:512])


@pytest.mark.parametrize(
    "chunks, match",
    [
        ([gzip.compress(b'{"a": 1}')[:-6]], "not valid compressed data"),  # cut short
        ([gzip.compress(b'{"a": 1}') + b"junk"], "not valid compressed data"),
        ([gzip.compress(b'{"a": 1}'), b"x"], "not valid compressed data"),
        ([b"\x1f\x8b not gzip at all"], "not valid compressed data"),
    ],
)
def test_badly_compressed_replies_are_unknown(chunks, match):
    reader = ReplyReader(200, GZIP, 1000)
    with pytest.raises(UnknownError, match=match):
        for chunk in chunks:
            reader.feed(chunk)
        reader.reply()


@pytest.mark.parametrize("first", [b"<", b"[", b"t", b"s"])
def test_a_2xx_that_cannot_be_a_json_object_fails_on_its_first_byte(first):
    reader = ReplyReader(200, {**JSON, "Content-Length": "4000"}, 64 * 1024)
    reader.feed(b" \r\n")  # whitespace proves nothing yet
    with pytest.raises(UnknownError, match="not a JSON object"):
        reader.feed(first)


@pytest.mark.parametrize(
    "body",
    [
        b'{"success": true}',
        b'\xef\xbb\xbf  {"success": true}',  # UTF-8 byte order mark
        '{"success": true}'.encode("utf-16-le"),
        '{"success": true}'.encode("utf-16"),  # with its byte order mark
    ],
)
def test_json_objects_pass_the_early_checks(body):
    reader = ReplyReader(200, JSON, 1000)
    for index in range(len(body)):  # a byte at a time, as a dripping server sends it
        reader.feed(body[index : index + 1])
    assert reader.reply().data == {"success": True}


def test_a_4xx_without_json_is_a_reply_without_data():
    reader = ReplyReader(404, {"Content-Type": "text/html"}, 1000)
    reader.feed(b"<html>not found</html>")
    assert reader.reply().data is None


@pytest.mark.parametrize(
    "exc, code",
    [
        (socket.gaierror(-2, "Name or service not known"), "unknown-error"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "unknown-error"),
        (ssl.SSLError(1, "wrong version number"), "unknown-error"),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "server-unreachable"),
        (ConnectionRefusedError(111, "Connection refused"), "server-unreachable"),
        (ConnectionResetError(104, "Connection reset by peer"), "server-unreachable"),
        (socket.timeout("timed out"), "server-unreachable"),
        (OSError(113, "No route to host"), "unknown-error"),
        (OSError("Tunnel connection failed: 407 Proxy Authentication Required"), "unknown-error"),
    ],
)
def test_classify_by_the_underlying_cause(exc, code):
    """The cause decides, however deep requests, urllib3 or httpx wrapped it."""
    try:
        try:
            raise exc
        except Exception as inner:
            raise requests.ConnectionError("wrapped") from inner
    except requests.ConnectionError as wrapped:
        failure = classify(wrapped)
    assert isinstance(failure, (ServerUnreachable, UnknownError))
    assert failure.code == code, failure
    assert "://" not in failure.detail  # short, and never a URL


@pytest.mark.parametrize("bad", [False, 0, True])
def test_tls_verification_cannot_be_switched_off(bad):
    from flask_captcha_ext.providers import ClientOptions

    with pytest.raises(TypeError, match="cannot be turned off"):
        ClientOptions(ca_bundle=bad)
