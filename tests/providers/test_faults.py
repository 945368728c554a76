"""Provider faults: nothing hangs past the timeouts, nothing passes unless fail-open was chosen.

Every fault runs against every provider, sync and async. Faults are made by the fake (slow,
dripping, 5xx, non-JSON, wrong content type, oversized, redirect, reset...) or by the address
(a refused port; a listener whose accept queue is full, so connecting times out). All traffic
stays on 127.0.0.1.

Two kinds: no answer or a 5xx is "unreachable" (``server-unreachable``; CAPTCHA_FAIL_OPEN may pass
it); an answer that is no provider's (a redirect, a 2xx that is not a JSON object, an oversized or
undecodable body) is most likely a wrong CAPTCHA_VERIFY_URL and always fails (``unknown-error``).
"""

from __future__ import annotations

import logging
import time

import pytest

from .conftest import FAULT_TIMEOUT
from .fakes import VARIANTS, free_port

#: The provider did not answer in time, or answered 5xx: unreachable.
UNREACHABLE_FAULTS = ["slow", "drip", "500", "503-html", "reset"]
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
    "redirect",
]
SERVER_FAULTS = UNREACHABLE_FAULTS + UNUSABLE_FAULTS
ADDRESS_FAULTS = ["refused", "connect-timeout"]
#: What a check may take at most: connect + read timeouts plus half a second.
LIMIT = sum(FAULT_TIMEOUT) + 0.5


def _provider(variant, fault, fake, make, blackhole, **config):
    if fault in SERVER_FAULTS:
        fake.state.fault = fault
        return make(variant, timeout=FAULT_TIMEOUT, **config)
    port = free_port() if fault == "refused" else blackhole.port
    path = VARIANTS[variant][1]
    return make(variant, url=f"https://127.0.0.1:{port}{path}", timeout=FAULT_TIMEOUT, **config)


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
    assert elapsed < LIMIT, f"{fault} took {elapsed:.2f} s: {result}"


@pytest.mark.parametrize("fault", UNREACHABLE_FAULTS + ADDRESS_FAULTS)
def test_fault_passes_flagged_with_fail_open(fault, fake, make, blackhole, verify, caplog):
    provider = _provider("recaptcha_v3", fault, fake, make, blackhole, fail_open=True)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="flask_captcha_ext.providers"):
        result = verify(provider, fake.issue("recaptcha_v3"))
    assert time.monotonic() - started < LIMIT
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


def test_untrusted_certificate_fails(fake, make, verify):
    """Without the test CA (certifi only) the fake's certificate is refused: TLS is verified."""
    result = verify(make("recaptcha", ca=False), fake.issue("recaptcha"))
    assert result.error_codes == ("server-unreachable",)
    assert fake.state.seen == []


def test_compressed_reply_is_read(fake, make, verify):
    fake.state.fault = "gzip-ok"
    assert verify(make("recaptcha"), "tok-any").success
