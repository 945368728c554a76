"""``@captcha_protected``: refuse a view's request unless it carries a passing CAPTCHA.

The token is read from the provider's form field, the same key in a JSON body, or the
``X-Captcha-Token`` header; the self-hosted no-JavaScript pair (``captcha-id``,
``captcha-answer``) is checked directly. Success puts the result in ``g.captcha_result``.
"""

from __future__ import annotations

import inspect
from functools import wraps
from typing import Any, Callable, Optional, Tuple, TypeVar, Union, overload

from flask import g, request

from .result import VerificationResult
from .state import CaptchaState, get_state

F = TypeVar("F", bound=Callable[..., Any])

SELFHOSTED_FIELD = "captcha-token"
NOSCRIPT_ID, NOSCRIPT_ANSWER = "captcha-id", "captcha-answer"
TOKEN_HEADER = "X-Captcha-Token"  # noqa: S105 - a header name


def token_fields(state: CaptchaState) -> Tuple[str, ...]:
    """The request fields that may carry a token, in the order they are tried (a provider's
    ``response_fields`` already end with ``captcha-token`` under CAPTCHA_FALLBACK)."""
    return state.provider.response_fields if state.provider else (SELFHOSTED_FIELD,)


def verify_request(
    action: Optional[str] = None, min_score: Optional[float] = None
) -> VerificationResult:
    """Find the CAPTCHA in the current request and verify it.

    Tokens and challenges pass once, so the result is kept for the request: a view with
    ``@captcha_protected`` that also validates a form with a ``CaptchaField`` (same action and
    score) checks once. A check with other requirements is made anew (and fails as spent).
    """
    cache = g.setdefault("_captcha_checked", {})
    key = (action, min_score)
    if key not in cache:
        cache[key] = _verify_request(get_state(), action, min_score)
    return cache[key]


def _verify_request(
    state: CaptchaState, action: Optional[str], min_score: Optional[float]
) -> VerificationResult:
    found = _find_captcha(state)
    ext = state.ext
    if isinstance(found, tuple):
        return ext.verify_answer(*found, remote_ip=request.remote_addr)
    return ext.verify(found, request.remote_addr, action, min_score=min_score)


async def _verify_request_async(
    state: CaptchaState, action: Optional[str], min_score: Optional[float]
) -> VerificationResult:
    found = _find_captcha(state)
    ext = state.ext
    if isinstance(found, tuple):
        return ext.verify_answer(*found, remote_ip=request.remote_addr)
    return await ext.verify_async(found, request.remote_addr, action, min_score=min_score)


def _find_captcha(state: CaptchaState) -> Union[Optional[str], Tuple[str, Any]]:
    """The request's token (None if it has none), or its no-JavaScript ``(id, answer)`` pair."""
    body = request.get_json(silent=True) if request.is_json else None
    body = body if isinstance(body, dict) else {}
    for field in token_fields(state):
        token = request.form.get(field) or body.get(field)
        if token:
            return token
    header = request.headers.get(TOKEN_HEADER)
    if header:
        return header
    if state.provider is None or state.settings.fallback:
        captcha_id = request.form.get(NOSCRIPT_ID) or body.get(NOSCRIPT_ID)
        if captcha_id:
            return captcha_id, request.form.get(NOSCRIPT_ANSWER) or body.get(NOSCRIPT_ANSWER)
    return None


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
    A failed check returns what ``@captcha.failure_handler`` returns (default: a 400; a 503
    when the store or provider is down; a 429 when no-JavaScript answers are rate limited).
    ``async def`` views are verified with ``verify_async`` (third-party providers over httpx).
    """

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                state = get_state()
                result = await _verify_request_async(state, action, min_score)
                if not result.success:
                    return state.ext.handle_failure(result)
                g.captcha_result = result
                return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = verify_request(action, min_score)
            if not result.success:
                return get_state().ext.handle_failure(result)
            g.captcha_result = result
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate
