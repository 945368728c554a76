"""Schemathesis against the served ``openapi.json``: generate, validate and siteverify.

The schema is loaded from the app itself (``GET /captcha/openapi.json``, over WSGI) and every
operation gets at least ``CAPTCHA_SCHEMATHESIS_EXAMPLES`` (default 1,000) generated requests,
valid and invalid. Checks: no 5xx, responses (status, content type, headers, body) as documented,
every refusal carries ``{"detail"}``, and nothing passes unearned. A hook sometimes swaps in the
real site key, a live challenge with its right answer, or the real secret with a fresh token, so the
success paths are fuzzed too, not only the refusals. Memory store, rate limits too high to trip.

More by hand: ``CAPTCHA_SCHEMATHESIS_EXAMPLES=10000 python -m pytest tests/test_schemathesis.py``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from typing import Any, Callable, Dict, Optional, Set

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import negative_data_rejection
from schemathesis.config import SchemathesisConfig

from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair
from flask_captcha_ext.state import get_state
from flask_captcha_ext.testing import record_answers
from tests import support

EXAMPLES = int(os.environ.get("CAPTCHA_SCHEMATHESIS_EXAMPLES", "1000"))
SECRET = "schemathesis-secret-0123456789abcdef"
OWN_KEY, OWN_SECRET = derived_key_pair(SECRET.encode())
HIGH = "1000000000/hour"
P = "/captcha"
OPERATIONS = ("generate", "validate", "siteverify")
# Placeholders the hook puts in a generated body; the test fills them in before the call.
LIVE_ID, RIGHT, FRESH_TOKEN = "<live-captcha-id>", "<right-answer>", "<fresh-token>"


def build_app() -> Flask:
    """The app under test, counting the requests each path receives."""
    app = support.build_app(
        "schemathesis_app",
        instance_path=tempfile.mkdtemp(prefix="captcha-st-"),
        TESTING=True,
        SECRET_KEY=SECRET,
        CAPTCHA_STORE_URL="memory://",
        CAPTCHA_CHALLENGE_TYPES=support.ALL_TYPES,
        **support.rate_limits(HIGH),
    )
    inner = app.wsgi_app

    def counting(environ: Dict[str, Any], start_response: Callable) -> Any:
        REQUESTS[environ.get("PATH_INFO", "")] += 1
        return inner(environ, start_response)

    app.wsgi_app = counting  # type: ignore[method-assign]
    return app


REQUESTS: Counter = Counter()
APP = build_app()
SERVICE = get_state(APP).service
# Live challenges and fresh tokens the test handed out, so a pass can be checked as earned.
ANSWERS: Dict[str, str] = {}
TOKENS: Set[str] = set()
SPENT: Set[str] = set()
EARNED: Set[str] = set()  # challenges that earned a token

schema = schemathesis.openapi.from_wsgi(
    f"{P}/openapi.json",
    APP,
    config=SchemathesisConfig.from_dict(
        # 413 (body too large) is a rejection too.
        {"checks": {"negative_data_rejection": {"expected-statuses": [400, 403, 413, 415, 422]}}}
    ),
).include(path_regex=r"/(generate|validate|siteverify)$")


@schema.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy:
    """Sometimes make a generated body one that can succeed (real key, live challenge, token)."""
    if not isinstance(body, dict):
        return st.just(body)
    path = context.operation.path if context.operation is not None else ""
    if path.endswith("/generate"):
        return st.sampled_from([body, {**body, "site_key": OWN_KEY}])
    if path.endswith("/validate"):
        live = {**body, "site_key": OWN_KEY, "captcha_id": LIVE_ID}
        return st.sampled_from([body, live, {**live, "user_input": RIGHT}])
    if path.endswith("/siteverify"):
        return st.sampled_from([body, {**body, "secret": OWN_SECRET, "response": FRESH_TOKEN}])
    return st.just(body)


def fill_in(case: Any) -> None:
    """Replace the hook's placeholders with a live challenge, its answer, or a fresh token."""
    body = case.body
    if not isinstance(body, dict):
        return
    if body.get("captcha_id") == LIVE_ID:
        kind = ("math", "pow", "image")[len(ANSWERS) % 3]
        with record_answers(APP) as answers:
            made = SERVICE.new_challenge(SERVICE.site_keys.own, kind)
        captcha_id = made["captcha_id"]
        ANSWERS[captcha_id] = answers[captcha_id]
        body["captcha_id"] = captcha_id
        if body.get("user_input") == RIGHT:
            body["user_input"] = answers[captcha_id]
    if body.get("response") == FRESH_TOKEN:
        token = SERVICE.tokens.issue(SERVICE.site_keys.own.id, "math")
        TOKENS.add(token)
        body["response"] = token


def _json(response: Any) -> Optional[Any]:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def error_has_detail(ctx: Any, response: Any, case: Any) -> Optional[bool]:
    """Every refusal is JSON ``{"detail": "<non-empty text>"}``."""
    if response.status_code < 400:
        return None
    data = _json(response)
    detail = data.get("detail") if isinstance(data, dict) else None
    if not isinstance(detail, str) or not detail:
        raise AssertionError(f"{response.status_code} without a detail: {response.content[:200]!r}")
    return True


def nothing_passes_unearned(ctx: Any, response: Any, case: Any) -> Optional[bool]:
    """A new challenge only for our key; a token only for a live challenge's right answer; a
    siteverify success only for our secret with a fresh token, and only once."""
    if response.status_code != 200 or case.method.upper() != "POST":
        return None  # e.g. an OPTIONS probe of the unsupported-method check
    data, body = _json(response), case.body if isinstance(case.body, dict) else {}
    path = case.operation.path
    if path.endswith("/generate"):
        assert body.get("site_key") == OWN_KEY and body.get("type") in ("image", "math", "pow")
    elif path.endswith("/validate") and data.get("valid") is True:
        captcha_id = body.get("captcha_id")
        assert captcha_id in ANSWERS, f"a token for a challenge never issued: {body}"
        sent, right = body.get("user_input"), ANSWERS[captcha_id]
        assert str(sent).strip().upper() == right.strip().upper() or str(sent) == right, body
        EARNED.add(captcha_id)
    elif path.endswith("/siteverify") and data.get("success") is True:
        token = body.get("response")
        assert body.get("secret") == OWN_SECRET and token in TOKENS, body
        assert token not in SPENT, "a token verified twice"
        SPENT.add(token)
    return True


CHECKS = [error_has_detail, nothing_passes_unearned]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_api(case: Any) -> None:
    body = case.body if isinstance(case.body, dict) else {}
    swapped = body.get("site_key") == OWN_KEY or body.get("secret") == OWN_SECRET
    fill_in(case)
    # siteverify speaks reCAPTCHA's protocol: a bad request is a 200 with success false and
    # error codes, not a 4xx; and a body the hook made valid is no longer negative data. Both
    # stay covered: nothing_passes_unearned fails any success they should not have had.
    siteverify = case.operation.path.endswith("/siteverify")
    excluded = [negative_data_rejection] if siteverify or swapped else []
    case.call_and_validate(additional_checks=CHECKS, excluded_checks=excluded)


def test_every_operation_got_its_share_of_requests() -> None:
    """Runs after test_api (file order): each endpoint saw at least EXAMPLES requests."""
    counts = {name: REQUESTS[f"{P}/{name}"] for name in OPERATIONS}
    if not any(counts.values()):
        pytest.skip("test_api did not run in this session")
    print(f"requests per operation: {counts}; right answers {len(EARNED)}, tokens {len(SPENT)}")
    assert all(count >= EXAMPLES for count in counts.values()), counts
    assert EARNED and SPENT, "the success paths (a right answer, a fresh token) were never hit"
