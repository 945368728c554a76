"""Schemathesis against the served ``openapi.json``: generate, GET altcha, validate, siteverify.

The schema is loaded from the app itself (``GET /captcha/openapi.json``, over WSGI) and every
POST operation gets at least ``CAPTCHA_SCHEMATHESIS_EXAMPLES`` (default 1,000) generated requests,
valid and invalid, GET altcha (one query parameter) a fifth of that. Checks: no 5xx, responses
(status, content type, headers, body) as documented, every refusal carries ``{"detail"}``, and
nothing passes unearned. A hook sometimes swaps in the real site key, a live challenge with its
right answer (and, for image and math, the right proof of its pow part, or none), the payload of
a live challenge as the official widget's ``altcha`` field (a pow challenge's, which passes, or a
math challenge's pow part, which must not), or the real secret with a fresh token, so the success
paths are fuzzed too, not only the refusals. Memory store, rate limits too high to trip.

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
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from flask_captcha_ext.selfhosted.pow import challenge_id_of
from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair
from flask_captcha_ext.state import get_state
from flask_captcha_ext.testing import record_answers
from tests import support

EXAMPLES = int(os.environ.get("CAPTCHA_SCHEMATHESIS_EXAMPLES", "1000"))
SECRET = "schemathesis-secret-0123456789abcdef"
OWN_KEY, OWN_SECRET = derived_key_pair(SECRET.encode())
HIGH = "1000000000/hour"
P = "/captcha"
OPERATIONS = ("generate", "validate", "siteverify", "altcha")
# Placeholders the hook puts in a generated body; the test fills them in before the call.
LIVE_ID, RIGHT, FRESH_TOKEN = "<live-captcha-id>", "<right-answer>", "<fresh-token>"
RIGHT_PROOF, LIVE_ALTCHA, FOREIGN_ALTCHA = "<right-proof>", "<live-altcha>", "<foreign-altcha>"


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
PROOFS: Dict[str, str] = {}  # the proof of an image or math challenge's pow part
KINDS: Dict[str, str] = {}
TOKENS: Set[str] = set()
SPENT: Set[str] = set()
EARNED: Set[str] = set()  # challenges that earned a token

base = schemathesis.openapi.from_wsgi(
    f"{P}/openapi.json",
    APP,
    config=SchemathesisConfig.from_dict(
        # 413 (body too large) is a rejection too.
        {"checks": {"negative_data_rejection": {"expected-statuses": [400, 403, 413, 415, 422]}}}
    ),
)


@base.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy:
    """Sometimes make a generated body one that can succeed (real key, live challenge, token)."""
    if not isinstance(body, dict):
        return st.just(body)
    path = context.operation.path if context.operation is not None else ""
    if path.endswith("/generate"):
        return st.sampled_from([body, {**body, "site_key": OWN_KEY}])
    if path.endswith("/validate"):
        # (A body of the altcha form gets a user_input with its captcha_id: it stays valid.)
        live = {"user_input": "0", **body, "site_key": OWN_KEY, "captcha_id": LIVE_ID}
        right = {**live, "user_input": RIGHT}
        widget = {k: v for k, v in body.items() if k != "captcha_id"}
        widget["site_key"] = OWN_KEY
        return st.sampled_from(
            [
                body,
                live,
                right,
                {**right, "proof": RIGHT_PROOF},
                {**widget, "altcha": LIVE_ALTCHA},
                {**widget, "altcha": FOREIGN_ALTCHA},
            ]
        )
    if path.endswith("/siteverify"):
        return st.sampled_from([body, {**body, "secret": OWN_SECRET, "response": FRESH_TOKEN}])
    return st.just(body)


@base.hook
def flatmap_query(context: Any, query: Any) -> st.SearchStrategy:
    """Sometimes ask GET altcha with the real site key."""
    if not isinstance(query, dict):
        return st.just(query)
    return st.sampled_from([query, {**query, "site_key": OWN_KEY}])


def live_challenge(kind: str) -> str:
    """A new challenge of ``kind`` for our key, its answer and proof noted; its id."""
    with record_answers(APP) as answers:
        made = SERVICE.new_challenge(SERVICE.site_keys.own, kind)
    captcha_id = made["captcha_id"]
    ANSWERS[captcha_id], KINDS[captcha_id] = answers[captcha_id], kind
    if captcha_id in answers.proofs:
        PROOFS[captcha_id] = answers.proofs[captcha_id]
    return captcha_id


def fill_in(case: Any) -> bool:
    """Replace the hook's placeholders with a live challenge, its answer and proof, a live
    challenge's payload as ``altcha``, or a fresh token; whether a challenge was filled in."""
    body = case.body
    if not isinstance(body, dict):
        return False
    live = LIVE_ID == body.get("captcha_id") or body.get("altcha") in (LIVE_ALTCHA, FOREIGN_ALTCHA)
    if body.get("captcha_id") == LIVE_ID:
        captcha_id = live_challenge(("math", "pow", "image")[len(ANSWERS) % 3])
        body["captcha_id"] = captcha_id
        if body.get("user_input") == RIGHT:
            body["user_input"] = ANSWERS[captcha_id]
        if body.get("proof") == RIGHT_PROOF:
            body["proof"] = PROOFS.get(captcha_id, body["proof"])
    if body.get("altcha") == LIVE_ALTCHA:  # the official widget's payload of a pow challenge
        body["altcha"] = ANSWERS[live_challenge("pow")]
    if body.get("altcha") == FOREIGN_ALTCHA:  # a math challenge's pow proof: not an answer
        body["altcha"] = PROOFS[live_challenge("math")]
    if body.get("response") == FRESH_TOKEN:
        token = SERVICE.tokens.issue(SERVICE.site_keys.own.id, "math")
        TOKENS.add(token)
        body["response"] = token
    return live


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
    """A new challenge only for our key; a token only for a live challenge's right answer (with
    the right proof of its pow part, for image and math), or for the payload of a live pow
    challenge sent as ``altcha``; a siteverify success only for our secret with a fresh token,
    and only once."""
    if response.status_code != 200 or case.method.upper() not in ("GET", "POST"):
        return None  # e.g. an OPTIONS probe of the unsupported-method check
    data, body = _json(response), case.body if isinstance(case.body, dict) else {}
    path = case.operation.path
    if path.endswith("/altcha"):
        assert case.method.upper() == "GET" and (case.query or {}).get("site_key") == OWN_KEY
        return True
    if case.method.upper() != "POST":
        return None
    if path.endswith("/generate"):
        assert body.get("site_key") == OWN_KEY and body.get("type") in ("image", "math", "pow")
    elif path.endswith("/validate") and data.get("valid") is True:
        if "captcha_id" in body:
            captcha_id, sent = body.get("captcha_id"), body.get("user_input")
        else:  # the official widget's field, naming its own challenge
            captcha_id, sent = challenge_id_of(body.get("altcha")), body.get("altcha")
            assert KINDS.get(captcha_id) == "pow", f"altcha passed a {KINDS.get(captcha_id)}"
        assert captcha_id in ANSWERS, f"a token for a challenge never issued: {body}"
        right = ANSWERS[captcha_id]
        if KINDS[captcha_id] == "pow":
            assert sent == right, body
        else:
            assert str(sent).strip().upper() == right.strip().upper() or str(sent) == right, body
            assert body.get("proof") == PROOFS[captcha_id], f"passed without its proof: {body}"
        EARNED.add(captcha_id)
    elif path.endswith("/siteverify") and data.get("success") is True:
        token = body.get("response")
        assert body.get("secret") == OWN_SECRET and token in TOKENS, body
        assert token not in SPENT, "a token verified twice"
        SPENT.add(token)
    return True


CHECKS = [error_has_detail, nothing_passes_unearned]


def run(case: Any) -> None:
    body = case.body if isinstance(case.body, dict) else {}
    query = case.query if isinstance(case.query, dict) else {}
    swapped = OWN_KEY in (body.get("site_key"), query.get("site_key"))
    swapped = swapped or body.get("secret") == OWN_SECRET
    live = fill_in(case)
    # siteverify speaks reCAPTCHA's protocol: a bad request is a 200 with success false and
    # error codes, not a 4xx; and a body the hook made valid is no longer negative data. Both
    # stay covered: nothing_passes_unearned fails any success they should not have had.
    siteverify = case.operation.path.endswith("/siteverify")
    excluded = [negative_data_rejection] if siteverify or swapped else []
    # An `altcha` field that names none of our live challenges is a 400 (as an unknown
    # captcha_id is), whatever the site key: the schema cannot tell a live one from another.
    if case.operation.path.endswith("/validate") and "captcha_id" not in body and not live:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(additional_checks=CHECKS, excluded_checks=excluded)


@base.include(path_regex=r"/(generate|validate|siteverify)$").parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_api(case: Any) -> None:
    run(case)


# GET altcha has a single query parameter: a fifth of the examples cover it.
ALTCHA_EXAMPLES = max(50, EXAMPLES // 5)


@base.include(path_regex=r"/altcha$").parametrize()
@settings(
    max_examples=ALTCHA_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_altcha_api(case: Any) -> None:
    run(case)


def test_every_operation_got_its_share_of_requests() -> None:
    """Runs after test_api and test_altcha_api (file order): each endpoint saw its examples."""
    counts = {name: REQUESTS[f"{P}/{name}"] for name in OPERATIONS}
    if not any(counts.values()):
        pytest.skip("test_api did not run in this session")
    earned = Counter(KINDS[captcha_id] for captcha_id in EARNED)
    print(f"requests per operation: {counts}; right answers {dict(earned)}, tokens {len(SPENT)}")
    wanted = {name: ALTCHA_EXAMPLES if name == "altcha" else EXAMPLES for name in OPERATIONS}
    assert all(counts[name] >= wanted[name] for name in OPERATIONS), counts
    assert EARNED and SPENT, "the success paths (a right answer, a fresh token) were never hit"
    if EXAMPLES >= 500:  # about one validate in 12 passes an image or math challenge
        assert set(earned) == {"image", "math", "pow"}, f"a type never passed: {earned}"
