"""``@captcha_protected``: refuse a view's request unless it carries a passing CAPTCHA.

The token is read from the provider's form field, the same key in a JSON body, or the
``X-Captcha-Token`` header; the self-hosted no-JavaScript pair (``captcha-id``,
``captcha-answer``) is checked directly. Success puts the result in ``g.captcha_result``.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable, Optional, Tuple, TypeVar, overload

from flask import g, request

from .result import VerificationResult
from .state import CaptchaState, get_state

F = TypeVar("F", bound=Callable[..., Any])

SELFHOSTED_FIELD = "captcha-token"
NOSCRIPT_ID, NOSCRIPT_ANSWER = "captcha-id", "captcha-answer"
TOKEN_HEADER = "X-Captcha-Token"  # noqa: S105 - a header name


def token_fields(state: CaptchaState) -> Tuple[str, ...]:
    """The request fields that may carry a token, in the order they are tried."""
    fields: Tuple[str, ...] = state.provider.response_fields if state.provider else ()
    if state.provider is None or state.settings.fallback == "selfhosted":
        fields += (SELFHOSTED_FIELD,)
    return fields


def verify_request(
    action: Optional[str] = None, min_score: Optional[float] = None
) -> VerificationResult:
    """Find the CAPTCHA in the current request and verify it."""
    state = get_state()
    ext = state.ext
    body = request.get_json(silent=True) if request.is_json else None
    body = body if isinstance(body, dict) else {}
    for field in token_fields(state):
        token = request.form.get(field) or body.get(field)
        if token:
            return ext.verify(token, request.remote_addr, action, min_score=min_score)
    header = request.headers.get(TOKEN_HEADER)
    if header:
        return ext.verify(header, request.remote_addr, action, min_score=min_score)
    if state.provider is None or state.settings.fallback:
        captcha_id = request.form.get(NOSCRIPT_ID) or body.get(NOSCRIPT_ID)
        if captcha_id:
            answer = request.form.get(NOSCRIPT_ANSWER) or body.get(NOSCRIPT_ANSWER)
            return ext.verify_answer(captcha_id, answer)
    return ext.verify(None, request.remote_addr, action, min_score=min_score)


@overload
def captcha_protected(view: F) -> F: ...
@overload
def captcha_protected(
    view: None = None, *, action: Optional[str] = None, min_score: Optional[float] = None
) -> Callable[[F], F]: ...


def captcha_protected(
    view: Optional[F] = None,
    *,
    action: Optional[str] = None,
    min_score: Optional[float] = None,
) -> Any:
    """Protect a view; use bare or as ``@captcha_protected(action="login", min_score=0.7)``.

    ``action`` and ``min_score`` override CAPTCHA_ACTION and CAPTCHA_MIN_SCORE for this view.
    A failed check returns what ``@captcha.failure_handler`` returns (default: a 400).
    """

    def decorate(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = verify_request(action, min_score)
            if not result.success:
                return get_state().ext.handle_failure(result)
            g.captcha_result = result
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate
