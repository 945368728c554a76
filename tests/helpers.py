"""Small helpers shared by tests: drive the self-hosted API as a client would."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from flask import Flask

from flask_captcha_ext.state import get_state
from flask_captcha_ext.testing import record_answers


def own_site_key(app: Flask) -> str:
    return get_state(app).service.site_keys.own_site_key


def generate(
    app: Flask, kind: str = "pow", site_key: str | None = None
) -> Tuple[Dict[str, Any], str]:
    """Generate a challenge over HTTP; return the reply and the answer (learnt server-side).
    The proof of an image or math challenge's PoW part goes into the reply as ``"_proof"``."""
    with record_answers(app) as answers:
        response = app.test_client().post(
            _prefix(app) + "/generate",
            json={"site_key": site_key or own_site_key(app), "type": kind},
        )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    if data["captcha_id"] in answers.proofs:
        data["_proof"] = answers.proofs[data["captcha_id"]]
    return data, answers[data["captcha_id"]]


def validate_body(
    app: Flask, data: Dict[str, Any], answer: Any, site_key: str | None = None
) -> Dict[str, Any]:
    """The validate request body answering the generated challenge ``data`` with ``answer``
    (with the proof of its PoW part, when it has one)."""
    body: Dict[str, Any] = {
        "site_key": site_key or own_site_key(app),
        "captcha_id": data["captcha_id"],
        "user_input": answer,
    }
    if "_proof" in data:
        body["proof"] = data["_proof"]
    return body


def solve(
    app: Flask, kind: str = "pow", origin: Optional[str] = None, action: Optional[str] = None
) -> str:
    """A fresh success token for the app's own site key, solved on a page of ``origin`` (its
    ``hst`` claim) for ``action`` (its ``act`` claim) when given."""
    data, answer = generate(app, kind)
    body = validate_body(app, data, answer)
    if action is not None:
        body["action"] = action
    response = app.test_client().post(
        _prefix(app) + "/validate", json=body, headers={"Origin": origin} if origin else {}
    )
    body = response.get_json()
    assert body["valid"] is True, body
    return body["token"]


def _prefix(app: Flask) -> str:
    return get_state(app).settings.url_prefix
