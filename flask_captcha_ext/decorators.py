"""``@captcha_protected``: refuse a view's request unless it carries a passing CAPTCHA.

The token is read from the provider's form field, the same key in a JSON body, or the
``X-Captcha-Token`` header; the self-hosted no-JavaScript pair (``captcha-id``,
``captcha-answer``) is checked directly (``verification.verify_request``). Success puts the
result in ``g.captcha_result``.
"""

from __future__ import annotations

import inspect
from functools import wraps
from typing import Any, Callable, Iterable, Optional, TypeVar, Union, overload

from flask import g

from .state import get_state
from .verification import challenge_types, verify_request, verify_request_async

F = TypeVar("F", bound=Callable[..., Any])
TypesArg = Union[str, Iterable[str], None]


@overload
def captcha_protected(view: F) -> F: ...
@overload
def captcha_protected(
    view: None = None,
    *,
    action: Optional[str] = None,
    min_score: Optional[float] = None,
    types: TypesArg = None,
    min_work: Optional[float] = None,
) -> Callable[[F], F]: ...


def captcha_protected(
    view: Optional[F] = None,
    *,
    action: Optional[str] = None,
    min_score: Optional[float] = None,
    types: TypesArg = None,
    min_work: Optional[float] = None,
) -> Any:
    """Protect a view; bare or as ``@captcha_protected(action="login", types=("pow",))``.

    ``action``, ``min_score``, ``types`` and ``min_work`` narrow CAPTCHA_ACTION,
    CAPTCHA_MIN_SCORE, CAPTCHA_CHALLENGE_TYPES and CAPTCHA_MIN_WORK for this view. A failed
    check returns what ``@captcha.failure_handler`` returns (default: a 400; a 503 when the
    store or provider is down; a 429 when no-JavaScript answers are rate limited). ``async def``
    views are verified with ``verify_async`` (third-party providers over httpx).
    """
    allowed = challenge_types(types)  # a typo in types= fails when the module loads

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                result = await verify_request_async(action, min_score, allowed, min_work)
                if not result.success:
                    return get_state().failure.respond(result)
                g.captcha_result = result
                return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = verify_request(action, min_score, allowed, min_work)
            if not result.success:
                return get_state().failure.respond(result)
            g.captcha_result = result
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate
