"""TrustCaptcha specifics: token decoding, status mapping, single use, and the failover policy."""

from __future__ import annotations

import base64
import json

import pytest

from flask_captcha_ext.settings import ConfigError
from tests.support import free_port


def token(data) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    "bad",
    [
        "not-base64!",
        base64.b64encode(b"not json").decode(),
        token(["verificationId"]),
        token({"id": "x"}),
        token({"verificationId": 7}),
        token({"verificationId": "../../admin"}),
        token({"verificationId": "a" * 65}),
    ],
)
def test_malformed_tokens_fail_before_any_request(bad, fake, make, verify):
    result = verify(make("trustcaptcha"), bad)
    assert result.error_codes == ("invalid-input-response",)
    assert fake.state.seen == []


def test_urlsafe_unpadded_tokens_are_accepted(fake, make, verify):
    standard = fake.issue("trustcaptcha")
    vid = json.loads(base64.b64decode(standard))["verificationId"]
    urlsafe = base64.urlsafe_b64encode(json.dumps({"verificationId": vid}).encode())
    assert verify(make("trustcaptcha"), urlsafe.decode().rstrip("=")).success


def test_api_endpoint_in_the_token_is_ignored(fake, make, verify):
    """A forged apiEndpoint must not make us send our API key elsewhere."""
    vid = json.loads(base64.b64decode(fake.issue("trustcaptcha")))["verificationId"]
    elsewhere = f"https://127.0.0.1:{free_port()}"
    result = verify(make("trustcaptcha"), token({"verificationId": vid, "apiEndpoint": elsewhere}))
    assert result.success
    assert len(fake.state.seen) == 1


def test_status_mapping(fake, make, verify):
    provider = make("trustcaptcha")
    unfinished = verify(provider, fake.issue("trustcaptcha", unfinished=True))
    assert unfinished.error_codes == ("verification-not-finished",)
    expired = verify(provider, fake.issue("trustcaptcha", expired=True))
    assert expired.error_codes == ("timeout-or-duplicate", "verification-result-expired")


def test_retrieval_limit_without_a_store(fake, make, verify):
    fake.state.retrieval_limit = 1
    provider = make("trustcaptcha", store=False)
    first = fake.issue("trustcaptcha")
    assert verify(provider, first).success
    assert verify(provider, first).error_codes == ("retrieval-limit-reached",)


def test_scores_are_inverted_and_held_to_trustcaptchas_advice(fake, make, verify):
    provider = make("trustcaptcha")
    assert verify(provider, fake.issue("trustcaptcha", score=0.5)).success  # bot score 0.5
    low = verify(provider, fake.issue("trustcaptcha", score=0.49))  # bot score 0.51: rejected
    assert low.error_codes == ("score-too-low",)
    assert low.raw["score"] == pytest.approx(0.51)


@pytest.mark.parametrize("fail_open", [False, True])
def test_client_reported_failover_denied_by_the_gateway_always_fails(fail_open, fake, make, verify):
    provider = make("trustcaptcha", fail_open=fail_open)
    result = verify(provider, fake.issue("trustcaptcha", failover="client-denied"))
    assert not result.success and not result.fail_open
    assert result.error_codes == ("client-reported-unreachable",)
    assert fake.state.seen[0].path.endswith("/results?clientFailover=true")


@pytest.mark.parametrize("kind", ["gateway", "client-confirmed"])
def test_failover_results_fail_closed_by_default(kind, fake, make, verify):
    result = verify(make("trustcaptcha"), fake.issue("trustcaptcha", failover=kind))
    assert not result.success
    assert result.error_codes == ("gateway-failover",)


@pytest.mark.parametrize("kind", ["gateway", "client-confirmed"])
def test_failover_results_pass_flagged_with_fail_open(kind, fake, make, verify):
    provider = make("trustcaptcha", fail_open=True)
    result = verify(provider, fake.issue("trustcaptcha", failover=kind, score=0.1))
    assert result.success and result.fail_open  # the low score does not count: nobody scored
    assert result.error_codes == ("gateway-failover",)


def forged_claim(issued: str) -> str:
    """``issued`` with a ``clientFailover`` claim added, as a bot can (the token is unsigned)."""
    return token(dict(json.loads(base64.b64decode(issued)), clientFailover=True))


@pytest.mark.parametrize("fail_open", [False, True])
def test_a_client_failover_claim_alone_is_no_failover(fail_open, fake, make, verify):
    """The gateway answered normally (no gatewayFailoverActive): the score still counts."""
    provider = make("trustcaptcha", fail_open=fail_open, min_score=0.5)
    result = verify(provider, forged_claim(fake.issue("trustcaptcha", score=0.1)))  # bot 0.9
    assert not result.success and not result.fail_open
    assert result.error_codes == ("score-too-low",)
    assert fake.state.seen[0].path.endswith("/results?clientFailover=true")  # still forwarded
    human = verify(provider, forged_claim(fake.issue("trustcaptcha", score=0.9)))
    assert human.success and not human.fail_open and human.error_codes == ()


def test_failover_results_still_honour_the_hostname(fake, make, verify):
    provider = make("trustcaptcha", fail_open=True, hostnames=["example.com"])
    ticket = fake.issue("trustcaptcha", failover="gateway", hostname="evil.test")
    result = verify(provider, ticket)
    assert result.error_codes == ("gateway-failover", "hostname-mismatch")
    assert not result.success and not result.fail_open


def test_verify_url_must_be_the_api_host(make, fake):
    with pytest.raises(ConfigError, match="CAPTCHA_VERIFY_URL"):
        make("trustcaptcha", url=fake.url("trustcaptcha") + "/v2/verifications/x/results")
