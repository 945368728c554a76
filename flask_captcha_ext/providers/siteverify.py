"""The ``siteverify`` protocol shared by reCAPTCHA, hCaptcha and Turnstile.

POST form ``secret``, ``response``, ``remoteip`` -> ``{success, challenge_ts, hostname,
error-codes, ...}``. Subclasses add their fields, score direction and widget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Dict, Optional, Tuple, Type

from ..result import (
    ApiKeyInvalid,
    CaptchaError,
    ExpiredOrDuplicate,
    TokenInvalid,
    TokenMissing,
    UnknownError,
    VerificationResult,
)
from .base import BaseProvider, code_list, human_score, number, text
from .http import Call, Reply
from .policy import iso_timestamp

if TYPE_CHECKING:
    from ..widget import WidgetOptions

#: Provider error codes by the error they mean, most telling first (secrets before tokens).
ERROR_CLASSES: Tuple[Tuple[Type[CaptchaError], Tuple[str, ...]], ...] = (
    (
        ApiKeyInvalid,
        (
            "missing-input-secret",
            "invalid-input-secret",
            "sitekey-secret-mismatch",
            "invalid-sitekey",
            "invalid-keys",
        ),
    ),
    (TokenMissing, ("missing-input-response",)),
    (
        ExpiredOrDuplicate,
        (
            "timeout-or-duplicate",
            "expired-input-response",
            "already-seen-response",
            "invalid-or-already-seen-response",
        ),
    ),
    (TokenInvalid, ("invalid-input-response", "not-using-dummy-passcode", "browser-error")),
)


def classify(codes: Tuple[str, ...], status: int = 200) -> CaptchaError:
    """The error a list of siteverify codes means (UnknownError when none is known).

    ``internal-error`` stays an UnknownError (fail closed): it comes inside a reply that
    depends on the token, so a crafted token must not be able to turn it into a fail-open pass.
    """
    for cls, known in ERROR_CLASSES:
        hits = [code for code in codes if code in known]
        if hits:
            return cls(f"the provider said {', '.join(hits)}")
    if not codes and status in (401, 403):
        return ApiKeyInvalid(f"the provider answered HTTP {status}")
    detail = ", ".join(codes) or f"success false without error codes (HTTP {status})"
    return UnknownError(f"the provider said {detail}")


class SiteverifyProvider(BaseProvider):
    """reCAPTCHA-style verification: one form POST, one JSON answer."""

    #: ``score`` in the reply runs 0 = bot .. 1 = human (False: the opposite, as in hCaptcha).
    score_is_human: ClassVar[bool] = True
    send_sitekey: ClassVar[bool] = False

    def build_call(self, token: str, remote_ip: Optional[str]) -> Call:
        form: Dict[str, str] = {"secret": self.settings.secret_key or "", "response": token}
        if remote_ip:
            form["remoteip"] = remote_ip
        if self.send_sitekey and self.settings.site_key:
            form["sitekey"] = self.settings.site_key
        return Call("POST", self.url, form=form)

    def interpret(self, reply: Reply, call: Call) -> VerificationResult:
        data = reply.data
        if data is None:
            return self.reject(classify((), reply.status), raw={"status": reply.status})
        success = data.get("success")
        if success is True and reply.status == 200:
            return VerificationResult(
                success=True,
                provider=self.name,
                score=self.score(data),
                action=text(data.get("action")),
                hostname=text(data.get("hostname")) or text(data.get("apk_package_name")),
                challenge_ts=iso_timestamp(data.get("challenge_ts")),
                raw=data,
            )
        if success is not False and success is not True:
            return self.reject(UnknownError("the reply has no boolean 'success'"), raw=data)
        codes = code_list(data.get("error-codes"), data.get("error_codes"))
        return self.reject(classify(codes, reply.status), codes, raw=data)

    def score(self, data: Dict[str, Any]) -> Optional[float]:
        value = data.get("score")
        return number(value) if self.score_is_human else human_score(value)


class CheckboxSiteverifyProvider(SiteverifyProvider):
    """A siteverify provider with the reCAPTCHA v2 style widget (reCAPTCHA v2, hCaptcha): a
    checkbox, normal or compact, or an invisible badge (``captcha_widget(size="invisible")``)."""

    widget_sizes = ("normal", "compact", "invisible")

    def widget_mode(self, options: WidgetOptions) -> str:
        return "invisible" if options.size == "invisible" else "auto"

    def widget_extra(self, options: WidgetOptions) -> Dict[str, Any]:
        return {
            "script_url": self.script_url(options, hl=options.language),
            "theme": self.light_or_dark(options),
            "size": self.widget_size(options),
        }
