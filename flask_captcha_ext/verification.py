"""The one verification path: every check of every provider goes through here.

``verify`` / ``verify_async`` check a token, ``verify_answer`` a no-JavaScript answer, and
``verify_request`` finds whichever the current request carries (the decorator and the form field
both use it). Each sends ``captcha_verified`` or ``captcha_failed``. What a token must be to pass
is the provider's business (``providers``); this module only knows the two things that bypass it
by the app's own choice: CAPTCHA_ENABLED=False and CAPTCHA_TEST_MODE's ``"PASSED"``.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, Optional, Tuple, Union

from flask import current_app, request

from .result import VerificationResult
from .settings import CHALLENGE_TYPES
from .signals import captcha_failed, captcha_verified
from .state import CaptchaState, get_state

log = logging.getLogger("flask_captcha_ext")

TEST_TOKEN = "PASSED"  # noqa: S105 - public by design (CAPTCHA_TEST_MODE)
TOKEN_HEADER = "X-Captcha-Token"  # noqa: S105 - a header name
NOSCRIPT_ID, NOSCRIPT_ANSWER = "captcha-id", "captcha-answer"
#: The form field (and JSON key) the official ALTCHA widget posts its payload in.
ALTCHA_FIELD = "altcha"

Types = Optional[Tuple[str, ...]]
Found = Union[Optional[str], Tuple[str, Any]]


def challenge_types(types: Union[str, Iterable[str], None]) -> Types:
    """``types=`` as given to a view, field or ``verify``: None, or a tuple of known types."""
    if types is None:
        return None
    chosen = (types,) if isinstance(types, str) else tuple(types)
    unknown = [t for t in chosen if t not in CHALLENGE_TYPES]
    if unknown or not chosen:
        raise ValueError(f"types must be some of {', '.join(CHALLENGE_TYPES)}; got {types!r}")
    return chosen


def verify(
    token: Any,
    remote_ip: Optional[str] = None,
    action: Optional[str] = None,
    *,
    min_score: Optional[float] = None,
    types: Union[str, Iterable[str], None] = None,
    min_work: Optional[float] = None,
) -> VerificationResult:
    """Check ``token`` (or the official ALTCHA widget's ``altcha`` payload) for the current app;
    tokens pass once. ``action``, ``min_score``, ``types`` and ``min_work`` narrow
    CAPTCHA_ACTION, CAPTCHA_MIN_SCORE, CAPTCHA_CHALLENGE_TYPES and CAPTCHA_MIN_WORK for this
    check."""
    state = get_state()
    result = _bypass(state, token)
    if result is None:
        result = state.provider.verify(
            token, remote_ip, action, min_score, challenge_types(types), min_work
        )
    return _announce(result)


async def verify_async(
    token: Any,
    remote_ip: Optional[str] = None,
    action: Optional[str] = None,
    *,
    min_score: Optional[float] = None,
    types: Union[str, Iterable[str], None] = None,
    min_work: Optional[float] = None,
) -> VerificationResult:
    """``verify`` for ``async def`` views: third-party providers are asked through httpx (extra
    ``[async]``), so the event loop is not blocked while the provider answers."""
    state = get_state()
    result = _bypass(state, token)
    if result is None:
        result = await state.provider.verify_async(
            token, remote_ip, action, min_score, challenge_types(types), min_work
        )
    return _announce(result)


def verify_answer(
    captcha_id: Any,
    answer: Any,
    remote_ip: Optional[str] = None,
    types: Union[str, Iterable[str], None] = None,
    min_work: Optional[float] = None,
    action: Optional[str] = None,
) -> VerificationResult:
    """Check a no-JavaScript answer (``captcha-id`` and ``captcha-answer`` form fields), or with
    ``captcha_id`` None an ``altcha`` payload, under the validate endpoint's rate limits for
    ``remote_ip``."""
    state = get_state()
    result = _bypass(state, None)
    if result is None:
        result = state.provider.verify_answer(
            captcha_id, answer, remote_ip, challenge_types(types), min_work, action
        )
    return _announce(result)


def verify_request(
    action: Optional[str] = None,
    min_score: Optional[float] = None,
    types: Types = None,
    min_work: Optional[float] = None,
) -> VerificationResult:
    """Find the CAPTCHA in the current request and verify it.

    Tokens and challenges pass once, so the result is kept for the request: a view with
    ``@captcha_protected`` that also validates a form with a ``CaptchaField`` (same
    requirements) checks once. A check with other requirements is made anew (and fails as spent).
    """
    cache = _checked()
    key = (action, min_score, types, min_work)
    if key not in cache:
        found = find_captcha(get_state())
        if isinstance(found, tuple):
            cache[key] = verify_answer(
                *found,
                remote_ip=request.remote_addr,
                types=types,
                min_work=min_work,
                action=action,
            )
        else:
            cache[key] = verify(
                found,
                request.remote_addr,
                action,
                min_score=min_score,
                types=types,
                min_work=min_work,
            )
    return cache[key]


async def verify_request_async(
    action: Optional[str] = None,
    min_score: Optional[float] = None,
    types: Types = None,
    min_work: Optional[float] = None,
) -> VerificationResult:
    """``verify_request`` for ``async def`` views (kept for the request the same way)."""
    cache = _checked()
    key = (action, min_score, types, min_work)
    if key not in cache:
        found = find_captcha(get_state())
        if isinstance(found, tuple):
            cache[key] = verify_answer(
                *found,
                remote_ip=request.remote_addr,
                types=types,
                min_work=min_work,
                action=action,
            )
        else:
            cache[key] = await verify_async(
                found,
                request.remote_addr,
                action,
                min_score=min_score,
                types=types,
                min_work=min_work,
            )
    return cache[key]


def _checked() -> Dict[Any, VerificationResult]:
    """This request's results, kept in its WSGI environ: ``g`` lives as long as the app context,
    which Flask reuses for every request made inside one (tests, jobs), so a result kept there
    could pass a later request."""
    return request.environ.setdefault("flask_captcha_ext.checked", {})


def find_captcha(state: CaptchaState) -> Found:
    """The request's token (None if it has none), or an answer to check directly: the
    no-JavaScript ``(id, answer)`` pair, or ``(None, payload)`` for the official ALTCHA
    widget's ``altcha`` field."""
    body: Any = None
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # "[[[[..." deeper than the parser goes: no token in there
            body = None
    body = body if isinstance(body, dict) else {}
    for name in state.provider.response_fields:
        token = request.form.get(name) or body.get(name)
        if token:
            return token
    header = request.headers.get(TOKEN_HEADER)
    if header:
        return header
    if state.provider.accepts_answers:
        payload = request.form.get(ALTCHA_FIELD) or body.get(ALTCHA_FIELD)
        if payload:
            return None, payload
        captcha_id = request.form.get(NOSCRIPT_ID) or body.get(NOSCRIPT_ID)
        if captcha_id:
            return captcha_id, request.form.get(NOSCRIPT_ANSWER) or body.get(NOSCRIPT_ANSWER)
    return None


def _bypass(state: CaptchaState, token: Any) -> Optional[VerificationResult]:
    """The result when the app itself switched checking off (disabled, or the test token)."""
    settings = state.settings
    if not settings.enabled:
        log.info("CAPTCHA check skipped: CAPTCHA_ENABLED is False")
        return VerificationResult(success=True, provider=settings.provider, raw={"disabled": True})
    if settings.test_mode and token == TEST_TOKEN:
        return VerificationResult(success=True, provider=settings.provider, raw={"test": True})
    return None


def _announce(result: VerificationResult) -> VerificationResult:
    signal = captcha_verified if result.success else captcha_failed
    signal.send(current_app._get_current_object(), result=result)  # type: ignore[attr-defined]
    return result
