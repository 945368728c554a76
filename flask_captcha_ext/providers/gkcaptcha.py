"""gkCAPTCHA (gatekeeper.sa): JSON POST to ``/api/v1/token/verify``; two reply shapes accepted.

Its docs and its official SDKs disagree, so the request satisfies both (``Authorization: Bearer``
*and* ``secret``/``siteKey`` in the body, ``remoteip`` and ``clientIP``) and both replies are read:

- docs: ``{success, data: {verified, score, hostname, action, timestamp, challenge_ts,
  error_codes}}``: a pass needs ``success`` and ``data.verified``;
- SDK: flat ``{success, score, timestamp, error, reasonCode}``.

Scores run 0 human .. 1 bot and are inverted. Unlike gkCAPTCHA's SDKs, which fail open by default,
an unreachable API fails closed unless CAPTCHA_FAIL_OPEN is on. The endpoint is CAPTCHA_VERIFY_URL,
else ``$GKCAPTCHA_API_URL/api/v1/token/verify`` (the SDKs' variable), else gatekeeper.sa's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Type

from ..result import (
    ApiKeyInvalid,
    CaptchaError,
    ExpiredOrDuplicate,
    TokenInvalid,
    TokenMissing,
    UnknownError,
    VerificationResult,
)
from .base import BaseProvider, code_list, human_score, text
from .http import Call, Reply
from .policy import iso_timestamp

if TYPE_CHECKING:
    from ..widget import WidgetOptions

API_URL = "https://gkcaptcha.gatekeeper.sa"
VERIFY_PATH = "/api/v1/token/verify"

REASONS: Dict[str, Type[CaptchaError]] = {
    "invalid_site_key": ApiKeyInvalid,
    "invalid_secret": ApiKeyInvalid,
    "site_disabled": ApiKeyInvalid,
    "site_key_mismatch": ApiKeyInvalid,
    "missing_token": TokenMissing,
    "token_expired": ExpiredOrDuplicate,
    "token_already_used": ExpiredOrDuplicate,
    "invalid_signature": TokenInvalid,
    "binding_mismatch": TokenInvalid,
    "invalid_token": TokenInvalid,
}
PRIORITY = (ApiKeyInvalid, TokenMissing, ExpiredOrDuplicate, TokenInvalid)


class GkCaptcha(BaseProvider):
    """gkCAPTCHA."""

    name = "gkcaptcha"
    response_fields = ("captchaToken", "gk-captcha-token")
    default_url = API_URL + VERIFY_PATH
    script_src = "https://gkcaptcha.gatekeeper.sa/widget/gk-captcha.js"
    script_global = "gkCaptcha"
    reports_action = True

    def __init__(self, settings: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(settings, *args, **kwargs)
        env = os.environ.get("GKCAPTCHA_API_URL")
        if not settings.verify_url and env:
            self.url = env.rstrip("/") + VERIFY_PATH

    def build_call(self, token: str, remote_ip: Optional[str]) -> Call:
        secret = self.settings.secret_key or ""
        body: Dict[str, Any] = {"token": token, "secret": secret}
        if self.settings.site_key:
            body["siteKey"] = self.settings.site_key
        if remote_ip:
            body["remoteip"] = body["clientIP"] = remote_ip
        return Call("POST", self.url, headers={"Authorization": f"Bearer {secret}"}, json=body)

    def interpret(self, reply: Reply, call: Call) -> VerificationResult:
        data = reply.data
        if data is None:
            cls = ApiKeyInvalid if reply.status in (401, 403) else UnknownError
            error = cls(f"HTTP {reply.status} without a reply")
            return self.reject(error, raw={"status": reply.status})
        success = data.get("success")
        nested = data.get("data") if isinstance(data.get("data"), dict) else None
        body = nested if nested is not None else data
        verified = success is True and (nested is None or nested.get("verified") is True)
        if verified and reply.status == 200:
            return VerificationResult(
                success=True,
                provider=self.name,
                score=human_score(body.get("score")),
                action=text(body.get("action")),
                hostname=text(body.get("hostname")),
                challenge_ts=iso_timestamp(body.get("challenge_ts") or body.get("timestamp")),
                raw=data,
            )
        if not isinstance(success, bool):
            return self.reject(UnknownError("the reply has no boolean 'success'"), raw=data)
        codes = code_list(
            data.get("reasonCode"),
            body.get("reasonCode"),
            body.get("error_codes"),
            data.get("error_codes"),
            data.get("error-codes"),
        )
        return self.reject(self._classify(codes, reply.status, data), codes, raw=data)

    @staticmethod
    def _classify(codes: Tuple[str, ...], status: int, data: Dict[str, Any]) -> CaptchaError:
        found = {REASONS.get(code.replace("-", "_").lower()) for code in codes}
        detail = text(data.get("error")) or ", ".join(codes) or "not verified"
        for cls in PRIORITY:
            if cls in found:
                return cls(f"the provider said {detail}")
        if status in (401, 403):
            return ApiKeyInvalid(f"the provider answered HTTP {status}")
        if not codes and data.get("success") is True:
            return TokenInvalid("the provider did not verify the token")
        return UnknownError(f"the provider said {detail}")

    def widget_mode(self, options: WidgetOptions) -> str:
        return "render"

    def widget_extra(self, options: WidgetOptions) -> Dict[str, Any]:
        return {
            "size": "invisible" if options.size == "invisible" else None,
            "theme": self.light_or_dark(options),
        }
