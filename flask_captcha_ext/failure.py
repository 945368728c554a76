"""What a failed ``@captcha_protected`` check answers when the app has no failure handler."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from flask import Response, jsonify, render_template, request

from .result import ServerUnreachable, VerificationResult
from .selfhosted.service import TOO_SOON, in_words
from .selfhosted.tokens import RATE_LIMITED, STORE_DOWN, STORE_TIMEOUT

MESSAGES: Dict[str, str] = {
    "missing-input-response": "Please complete the CAPTCHA.",
    "store-unavailable": "The CAPTCHA service is unavailable; please try again shortly.",
    STORE_TIMEOUT: "The check timed out. Please complete the CAPTCHA again.",
    "server-unreachable": "The CAPTCHA service is unavailable; please try again shortly.",
    "token-expired": "The CAPTCHA expired; please solve it again.",
    "token-duplicate": "This CAPTCHA was already used; please solve it again.",
    "timeout-or-duplicate": "The CAPTCHA expired or was already used; please solve it again.",
    "wrong-answer": "The CAPTCHA answer was wrong; please try again.",
    "challenge-invalid-or-used": "The CAPTCHA expired or was already used; please try again.",
    "score-too-low": "The CAPTCHA check did not pass.",
    "rate-limited": "Too many CAPTCHA attempts; please wait a minute and try again.",
    "challenge-type-not-allowed": "This kind of CAPTCHA is not accepted here; please solve the "
    "one shown on the page.",
    "work-too-low": "This form needs a stronger security check; please reload the page and "
    "try again.",
    TOO_SOON: "That was quicker than this security check allows. Please wait a few seconds, then "
    "send the form again.",
}


FailureHandler = Callable[[VerificationResult], Any]


class FailureResponder:
    """What a failed ``@captcha_protected`` check answers: the handler registered with
    ``@captcha.failure_handler`` (shared by every app the extension object serves), else the
    default response."""

    def __init__(self) -> None:
        self.handler: Optional[FailureHandler] = None

    def respond(self, result: VerificationResult) -> Any:
        if self.handler is not None:
            return self.handler(result)
        return default_failure_response(result)


def describe(result: VerificationResult) -> str:
    """A sentence for people saying why the check failed."""
    wait = result.raw.get("retry_after") if TOO_SOON in result.error_codes else None
    if isinstance(wait, int):
        return (
            f"That was quicker than this security check allows. Please wait {in_words(wait)}, "
            "then send the form again."
        )
    for code in result.error_codes:
        if code in MESSAGES:
            return MESSAGES[code]
    return "The CAPTCHA check failed; please try again."


def wants_json() -> bool:
    """Whether the client is a script (JSON body, XHR, or JSON preferred over HTML)."""
    if request.is_json or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and "text/html" not in request.accept_mimetypes.values()


def default_failure_response(result: VerificationResult) -> Response:
    """400 (503 when our store or the provider is down or timed out, 429 when rate limited) as
    JSON for scripts, HTML otherwise."""
    codes = set(result.error_codes)
    if codes & {STORE_DOWN, STORE_TIMEOUT, ServerUnreachable.code}:
        status = 503
    elif RATE_LIMITED in codes:
        status = 429
    else:
        status = 400
    detail = describe(result)
    if wants_json():
        response = jsonify(detail=detail, error_codes=list(result.error_codes))
    else:
        response = Response(
            render_template("flask_captcha_ext/failure.html", detail=detail, result=result),
            mimetype="text/html",
        )
    response.status_code = status
    return response
