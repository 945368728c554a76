"""Friendly Captcha, v2 (``frcapi.com``, the default) and v1 (``friendlycaptcha.com``).

The API version follows CAPTCHA_VERIFY_URL (a path with ``/api/v1/`` means v1) unless the app sets
``CAPTCHA_FRIENDLYCAPTCHA_VERSION`` (1 or 2). Replies of either form are understood whichever
endpoint answered: v1 ``{success, errors: [...]}``, v2 ``{success, data: {challenge: {timestamp,
origin}}}`` or ``{success: false, error: {error_code}}``. No score and no action; the origin's host
is checked against CAPTCHA_HOSTNAMES (v1 replies have no origin, so a hostname list fails them).
"""

from __future__ import annotations

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
from .base import BaseProvider, code_list
from .http import Call, Reply
from .policy import host_of, iso_timestamp

if TYPE_CHECKING:
    from ..settings import Settings
    from ..widget import WidgetOptions

V1_URL = "https://api.friendlycaptcha.com/api/v1/siteverify"
V2_URL = "https://global.frcapi.com/api/v2/captcha/siteverify"
V1_SCRIPT = "https://cdn.jsdelivr.net/npm/friendly-challenge@0.9/widget.module.min.js"
V1_COMPAT = "https://cdn.jsdelivr.net/npm/friendly-challenge@0.9/widget.min.js"
V2_SCRIPT = "https://cdn.jsdelivr.net/npm/@friendlycaptcha/sdk@0.1/site.min.js"
V2_COMPAT = "https://cdn.jsdelivr.net/npm/@friendlycaptcha/sdk@0.1/site.compat.min.js"

ERRORS: Dict[str, Type[CaptchaError]] = {
    "secret_missing": ApiKeyInvalid,
    "secret_invalid": ApiKeyInvalid,
    "auth_required": ApiKeyInvalid,
    "auth_invalid": ApiKeyInvalid,
    "sitekey_invalid": ApiKeyInvalid,
    "solution_missing": TokenMissing,
    "response_missing": TokenMissing,
    "solution_invalid": TokenInvalid,
    "response_invalid": TokenInvalid,
    "solution_timeout_or_duplicate": ExpiredOrDuplicate,
    "response_timeout": ExpiredOrDuplicate,
    "response_duplicate": ExpiredOrDuplicate,
}
#: Which error wins when a reply lists several.
PRIORITY = (ApiKeyInvalid, TokenMissing, ExpiredOrDuplicate, TokenInvalid)


def api_version(settings: Settings) -> int:
    """1 or 2, from CAPTCHA_FRIENDLYCAPTCHA_VERSION (validated by settings) or the verify URL."""
    if settings.friendlycaptcha_version is not None:
        return settings.friendlycaptcha_version
    return 1 if "/api/v1/" in (settings.verify_url or "") else 2


class FriendlyCaptcha(BaseProvider):
    """Friendly Captcha (proof of work in the browser)."""

    name = "friendlycaptcha"
    response_fields: Tuple[str, ...] = ("frc-captcha-response", "frc-captcha-solution")
    default_url = V2_URL
    script_src = V2_SCRIPT
    script_global = "frcaptcha"

    def __init__(self, settings: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(settings, *args, **kwargs)
        self.version = api_version(settings)
        if self.version == 1:
            self.url = settings.verify_url or V1_URL
            self.response_fields = ("frc-captcha-solution", "frc-captcha-response")
            self.script_src = V1_SCRIPT
            self.script_global = "friendlyChallenge"

    def build_call(self, token: str, remote_ip: Optional[str]) -> Call:
        secret = self.settings.secret_key or ""
        site_key = self.settings.site_key
        if self.version == 1:
            body: Dict[str, str] = {"solution": token, "secret": secret}
            if site_key:
                body["sitekey"] = site_key
            return Call("POST", self.url, json=body)
        body = {"response": token}
        if site_key:
            body["sitekey"] = site_key
        return Call("POST", self.url, headers={"X-API-Key": secret}, json=body)

    def interpret(self, reply: Reply, call: Call) -> VerificationResult:
        data = reply.data
        if data is None:
            cls = ApiKeyInvalid if reply.status in (401, 403) else UnknownError
            error = cls(f"HTTP {reply.status} without a reply")
            return self.reject(error, raw={"status": reply.status})
        success = data.get("success")
        if success is True and reply.status == 200:
            challenge = _dict(_dict(data.get("data")).get("challenge"))
            return VerificationResult(
                success=True,
                provider=self.name,
                hostname=host_of(challenge.get("origin")),
                challenge_ts=iso_timestamp(challenge.get("timestamp")),
                raw=data,
            )
        if success is not False and success is not True:
            return self.reject(UnknownError("the reply has no boolean 'success'"), raw=data)
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        codes = code_list(data.get("errors"), error.get("error_code"))
        return self.reject(self._classify(codes, reply.status), codes, raw=data)

    @staticmethod
    def _classify(codes: Tuple[str, ...], status: int) -> CaptchaError:
        found = {ERRORS[code] for code in codes if code in ERRORS}
        for cls in PRIORITY:
            if cls in found:
                return cls(f"the provider said {', '.join(codes)}")
        if status in (401, 403):
            return ApiKeyInvalid(f"the provider answered HTTP {status}")
        return UnknownError(f"the provider said {', '.join(codes) or 'success false'}")

    def widget_extra(self, options: WidgetOptions) -> Dict[str, Any]:
        v1 = self.version == 1
        return {
            "version": self.version,
            "compat_url": V1_COMPAT if v1 else V2_COMPAT,
            "theme": None if v1 else options.theme,
        }


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}
