"""Provider faults: nothing hangs past the deadline, nothing passes unless fail-open was chosen.

Every fault runs against every provider, sync and async. Faults are made by the fake (slow,
dripping, 5xx, non-JSON, wrong content type, oversized, redirect, reset, not HTTP...) or by the
address (a refused port; a listener whose accept queue is full, so connecting times out; a plain
HTTP port spoken to with TLS; a host name that does not resolve). All traffic stays on 127.0.0.1.

Two kinds: a timeout, a refused or reset connection or a 5xx is "unreachable"
(``server-unreachable``; CAPTCHA_FAIL_OPEN may pass it); everything else (DNS and TLS failures, a
port that does not speak HTTP, a malformed reply, a redirect, a 2xx that is not a JSON object, an
oversized or undecodable body) is most likely a wrong CAPTCHA_VERIFY_URL and always fails
(``unknown-error``), however long the reply took.
"""

from __future__ import annotations

import functools
import logging
import socket
import time

import pytest

from .conftest import EASY_TIMEOUT, FAULT_TIMEOUT
from .fakes import VARIANTS, free_port

#: The provider did not answer in time, closed the connection early, or answered 5xx: unreachable.
UNREACHABLE_FAULTS = ["slow", "drip", "500", "503-html", "reset", "cut"]
#: Something answered, but not as a provider: always a failure.
UNUSABLE_FAULTS = [
    "html",
    "wrong-type",
    "not-json",
    "not-object",
    "empty",
    "deep-json",
    "big",
    "big-nolength",
    "gzip-bomb",
    "gzip-bomb-stall",
    "html-stall",
    "redirect",
    "ssh",
    "noise",
    "bad-status",
    "bad-header",
]
#: The port speaks something other than HTTP, or HTTP badly (also run over plain TCP below).
NOT_HTTP_FAULTS = ["ssh", "noise", "bad-status", "bad-header"]
SERVER_FAULTS = UNREACHABLE_FAULTS + UNUSABLE_FAULTS
ADDRESS_FAULTS = ["refused", "connect-timeout"]
#: Slack on top of the deadline (connect + read) for a busy machine.
SLACK = 2.0


def _timeout(fault):
    """Short timeouts where the fault is a wait; generous ones where the fake answers at once, so
    that a loaded machine slowing the fake down cannot turn a bogus reply into a timeout."""
    return EASY_TIMEOUT if fault in UNUSABLE_FAULTS else FAULT_TIMEOUT


def _limit(fault):
    """What a check may take at most: the deadline plus slack."""
    return sum(_timeout(fault)) + SLACK


def _provider(variant, fault, fake, make, blackhole, **config):
    timeout = _timeout(fault)
    if fault in SERVER_FAULTS:
        fake.state.fault = fault
        return make(variant, timeout=timeout, **config)
    port = free_port() if fault == "refused" else blackhole.port
    path = VARIANTS[variant][1]
    return make(variant, url=f"https://127.0.0.1:{port}{path}", timeout=timeout, **config)


@pytest.mark.parametrize("fault", SERVER_FAULTS + ADDRESS_FAULTS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fault_fails_closed_in_time(variant, fault, fake, make, blackhole, verify):
    provider = _provider(variant, fault, fake, make, blackhole)
    token = fake.issue(variant)
    started = time.monotonic()
    result = verify(provider, token)
    elapsed = time.monotonic() - started
    assert not result.success and not result.fail_open, (elapsed, result)
    code = "unknown-error" if fault in UNUSABLE_FAULTS else "server-unreachable"
    assert result.error_codes == (code,), (elapsed, result)
    assert elapsed < _limit(fault), f"{fault} took {elapsed:.2f} s: {result}"


@pytest.mark.parametrize("fault", UNREACHABLE_FAULTS + ADDRESS_FAULTS)
def test_fault_passes_flagged_with_fail_open(fault, fake, make, blackhole, verify, caplog):
    provider = _provider("recaptcha_v3", fault, fake, make, blackhole, fail_open=True)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="flask_captcha_ext.providers"):
        result = verify(provider, fake.issue("recaptcha_v3"))
    assert time.monotonic() - started < _limit(fault)
    assert result.success and result.fail_open
    assert result.error_codes == ("server-unreachable",)
    assert result.score is None  # nothing was checked: no score to trust
    assert "CAPTCHA_FAIL_OPEN" in caplog.text


@pytest.mark.parametrize("fault", UNUSABLE_FAULTS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_reply_that_is_no_providers_fails_even_with_fail_open(
    variant, fault, fake, make, blackhole, verify
):
    """A wrong CAPTCHA_VERIFY_URL (a web page, a redirect) must not pass every token."""
    provider = _provider(variant, fault, fake, make, blackhole, fail_open=True)
    result = verify(provider, fake.issue(variant))
    assert not result.success and not result.fail_open, result
    assert result.error_codes == ("unknown-error",)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fail_open_per_provider_when_refused(variant, fake, make, blackhole, verify):
    provider = _provider(variant, "refused", fake, make, blackhole, fail_open=True)
    result = verify(provider, fake.issue(variant))
    assert result.success and result.fail_open and result.provider == VARIANTS[variant][0]


def test_redirect_is_not_followed(fake, make, verify):
    fake.state.fault = "redirect"
    verify(make("recaptcha"), fake.issue("recaptcha"))
    assert len(fake.state.seen) == 1


@pytest.mark.parametrize("fail_open", [False, True])
def test_untrusted_certificate_fails_even_with_fail_open(fail_open, fake, make, verify):
    """Without the test CA (certifi only) the fake's certificate is refused: TLS is verified, and
    a TLS failure is a configuration or network problem, not the provider being down."""
    result = verify(make("recaptcha", ca=False, fail_open=fail_open), fake.issue("recaptcha"))
    assert not result.success and not result.fail_open, result
    assert result.error_codes == ("unknown-error",)
    assert fake.state.seen == []


@pytest.mark.parametrize("fail_open", [False, True])
def test_tls_to_a_plain_http_port_fails_even_with_fail_open(fail_open, fake, make, verify):
    """An https:// URL naming a plain HTTP port: the handshake gets an HTTP 400 back."""
    url = f"https://127.0.0.1:{fake.http.port}{VARIANTS['recaptcha'][1]}"
    result = verify(make("recaptcha", url=url, fail_open=fail_open), fake.issue("recaptcha"))
    assert not result.success and not result.fail_open, result
    assert result.error_codes == ("unknown-error",)
    assert fake.state.seen == []


@functools.cache
def _invalid_names_fail_fast() -> bool:
    """Does this resolver refuse ``.invalid`` names at once (RFC 2606), as it should?"""
    started = time.monotonic()
    try:
        socket.getaddrinfo("nonexistent.invalid", 443)
    except socket.gaierror:
        return time.monotonic() - started < 2.0
    return False


@pytest.mark.parametrize("fail_open", [False, True])
def test_a_host_name_that_does_not_resolve_fails_even_with_fail_open(
    fail_open, fake, make, verify
):
    """A mistyped host is a configuration error: fail-open must not pass every token for it."""
    if not _invalid_names_fail_fast():
        pytest.skip("this machine's resolver answers (or hangs) for .invalid names")
    url = "https://nonexistent.invalid/recaptcha/api/siteverify"
    started = time.monotonic()
    result = verify(make("recaptcha", url=url, fail_open=fail_open), "tok-any")
    assert not result.success and not result.fail_open, result
    assert result.error_codes == ("unknown-error",)
    assert time.monotonic() - started < sum(EASY_TIMEOUT) + SLACK


@pytest.mark.parametrize("fault", NOT_HTTP_FAULTS)
@pytest.mark.parametrize("fail_open", [False, True])
def test_a_plain_port_that_does_not_speak_http_fails_even_with_fail_open(
    fail_open, fault, fake, make, verify
):
    """An SSH banner, random bytes, a malformed status line or header, straight over TCP.

    The fake then keeps the connection open without a word more: only judging the bytes as they
    come tells this from a provider that is slow to finish its reply (a timeout).
    """
    fake.state.fault = fault
    provider = make("recaptcha", scheme="http", fail_open=fail_open)
    result = verify(provider, fake.issue("recaptcha"))
    assert not result.success and not result.fail_open, result
    assert result.error_codes == ("unknown-error",)


@pytest.mark.parametrize("fail_open", [False, True])
def test_trickled_status_line_and_headers_are_bounded_by_the_deadline(
    fail_open, fake, make, verify
):
    """A byte of status line or headers every 0.3 s, for 30 s: each read is well inside the 1 s
    read timeout, so only the deadline over the whole exchange (1 + 1 s) ends the wait."""
    fake.state.fault = "trickle-head"
    fake.state.drip_every = 0.3
    provider = make("recaptcha", timeout=(1.0, 1.0), fail_open=fail_open)
    started = time.monotonic()
    result = verify(provider, fake.issue("recaptcha"))
    elapsed = time.monotonic() - started
    assert result.error_codes == ("server-unreachable",), result
    assert result.success is fail_open and result.fail_open is fail_open
    assert elapsed < 2.0 + SLACK, f"took {elapsed:.2f} s"


def test_compressed_reply_is_read(fake, make, verify):
    fake.state.fault = "gzip-ok"
    assert verify(make("recaptcha"), "tok-any").success
