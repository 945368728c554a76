"""TrustCaptcha: the result of a verification is fetched by its id, with our API key.

The widget posts ``tc-verification-token``: base64 of JSON ``{"verificationId", "clientFailover"?}``
(older tokens also carry ``apiEndpoint``; it is ignored: the API host is ours to choose, never the
client's, or a forged token would send our key anywhere). We GET
``{host}/v2/verifications/{id}/results`` with ``Authorization: Bearer <CAPTCHA_SECRET_KEY>``; the
host is CAPTCHA_VERIFY_URL or ``https://api.trustcomponent.com``.

Scores run 0 human .. 1 bot and are inverted; the default threshold 0.5 is TrustCaptcha's own
advice (reject a bot score above 0.5). Results can often be fetched more than once, so a passing
verification id is also claimed in the app's store: a second use fails as a duplicate.

Failover policy (TrustCaptcha's "failover behavior"):

- we cannot reach TrustCaptcha: ServerUnreachable, so CAPTCHA_FAIL_OPEN decides (as everywhere);
- the widget claims an outage (``clientFailover``): the claim is forwarded
  (``?clientFailover=true``) so the gateway can judge it, and that is all it does: the token is
  unsigned JSON the browser writes, so a bot could add the flag. HTTP 412 (no outage known) always
  fails, ``client-reported-unreachable``, whatever CAPTCHA_FAIL_OPEN says; any other reply is
  judged on what it says, score included;
- the gateway says it decided during a failover (``gatewayFailoverActive``, also its way of
  confirming a client's claim): that is a pass nobody really checked, so it counts like an
  unreachable provider: it passes, flagged ``fail_open``, only when CAPTCHA_FAIL_OPEN is on, and
  fails (``gateway-failover``) otherwise.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Dict, Optional, Type
from urllib.parse import quote

from ..result import (
    ApiKeyInvalid,
    CaptchaError,
    ClientReportedUnreachable,
    ExpiredOrDuplicate,
    NotFinished,
    NotFound,
    RetrievalLimit,
    TokenInvalid,
    UnknownError,
    VerificationResult,
)
from ..settings import ConfigError
from ..stores import StoreUnavailable
from .base import BaseProvider, human_score, text
from .http import Call, Reply
from .policy import host_of, iso_timestamp, parse_timestamp

if TYPE_CHECKING:
    from ..widget import WidgetOptions

API_HOST = "https://api.trustcomponent.com"
VERIFICATION_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
GATEWAY_FAILOVER = "gateway-failover"
CLAIM_PREFIX = "provider-claim:trustcaptcha:"
#: How long a spent verification id is remembered when the reply names no expiry.
CLAIM_TTL = 24 * 3600

STATUS_ERRORS: Dict[int, Type[CaptchaError]] = {
    401: ApiKeyInvalid,
    403: ApiKeyInvalid,
    404: NotFound,
    410: ExpiredOrDuplicate,
    412: ClientReportedUnreachable,
    423: NotFinished,
    429: RetrievalLimit,
}
STATUS_CODES = {410: "verification-result-expired"}


def decode_token(token: str) -> Dict[str, Any]:
    """The token's JSON object; TokenInvalid for anything but base64 JSON with a sane id."""
    raw = token.strip()
    try:
        padded = raw + "=" * (-len(raw) % 4)
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        data = json.loads(decoded)
    except (binascii.Error, ValueError, RecursionError):
        raise TokenInvalid("the verification token is not base64 JSON") from None
    if not isinstance(data, dict):
        raise TokenInvalid("the verification token is not a JSON object")
    vid = data.get("verificationId")
    if not isinstance(vid, str) or not VERIFICATION_ID.match(vid):
        raise TokenInvalid("the verification token has no valid verificationId")
    return data


class TrustCaptcha(BaseProvider):
    """TrustCaptcha (results fetched by verification id)."""

    name = "trustcaptcha"
    response_fields = ("tc-verification-token",)
    default_url = API_HOST
    script_src = "https://cdn.trustcomponent.com/trustcaptcha/3.0.x/trustcaptcha.esm.min.js"
    script_global = "element:trustcaptcha-component"
    default_min_score = 0.5
    score_required = True
    max_token_length = 4096
    settles = True

    def __init__(self, settings: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(settings, *args, **kwargs)
        self.url = self.url.rstrip("/")
        if "/v2/verifications" in self.url:
            raise ConfigError(
                "CAPTCHA_VERIFY_URL for trustcaptcha is the API host (such as "
                f"{API_HOST}), not a results URL; got {settings.verify_url!r}"
            )

    def build_call(self, token: str, remote_ip: Optional[str]) -> Call:
        data = decode_token(token)
        vid = data["verificationId"]
        url = f"{self.url}/v2/verifications/{quote(vid, safe='')}/results"
        if data.get("clientFailover") is True:  # forwarded for the gateway to judge, never trusted
            url += "?clientFailover=true"
        headers = {"Authorization": f"Bearer {self.settings.secret_key}"}
        return Call("GET", url, headers=headers, context={"id": vid})

    def interpret(self, reply: Reply, call: Call) -> VerificationResult:
        data = reply.data or {}
        if reply.status != 200:
            cls = STATUS_ERRORS.get(reply.status, UnknownError)
            codes = [STATUS_CODES[reply.status]] if reply.status in STATUS_CODES else []
            raw = dict(data, status=reply.status)
            return self.reject(cls(f"the provider answered HTTP {reply.status}"), codes, raw)
        passed = data.get("verificationPassed")
        if not isinstance(passed, bool):
            error = UnknownError("the reply has no boolean 'verificationPassed'")
            return self.reject(error, raw=data)
        if not passed:
            return self.reject(
                TokenInvalid("the verification did not pass"), ("verification-failed",), data
            )
        result = VerificationResult(
            success=True,
            provider=self.name,
            score=human_score(data.get("score")),
            hostname=host_of(data.get("origin")),
            challenge_ts=iso_timestamp(data.get("verificationFinishedAt")),
            raw=data,
        )
        # Only the gateway's word makes a failover: the client's claim is not evidence.
        if data.get("gatewayFailoverActive") is not True:
            return result
        if not self.settings.fail_open:
            return self.reject(
                UnknownError("the result was decided during a failover", code=GATEWAY_FAILOVER),
                raw=data,
            )
        return replace(result, error_codes=(GATEWAY_FAILOVER,), fail_open=True)

    def settle(self, result: VerificationResult, call: Call) -> VerificationResult:
        """Spend the verification id once in our store (TrustCaptcha may hand it out again)."""
        if self.store is None:
            return result
        ttl = _seconds_until(result.raw.get("resultExpiresAt")) or CLAIM_TTL
        try:
            fresh = self.store.claim(CLAIM_PREFIX + call.context["id"], ttl)
        except StoreUnavailable as exc:
            return self.reject(
                UnknownError(f"the store is unavailable ({exc})", code="store-unavailable"),
                raw=result.raw,
            )
        if not fresh:
            return self.reject(
                ExpiredOrDuplicate("this verification was already used"), raw=result.raw
            )
        return result

    def widget_extra(self, options: WidgetOptions) -> Dict[str, Any]:
        return {"theme": self.light_or_dark(options), "language": text(options.language)}


def _seconds_until(value: Any) -> Optional[float]:
    moment = parse_timestamp(value)
    if moment is None:
        return None
    seconds = (moment - datetime.now(timezone.utc)).total_seconds()
    return min(max(seconds, 60.0), float(CLAIM_TTL))
