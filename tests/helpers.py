"""Small helpers shared by tests: drive the self-hosted API as a client would."""

from __future__ import annotations

from typing import Any, Dict, Tuple

from flask import Flask

from flask_captcha_ext.testing import record_answers


def own_site_key(app: Flask) -> str:
    return app.extensions["captcha"].service.site_keys.own_site_key


def generate(
    app: Flask, kind: str = "math", site_key: str | None = None
) -> Tuple[Dict[str, Any], str]:
    """Generate a challenge over HTTP; return the reply and the answer (learnt server-side)."""
    with record_answers(app) as answers:
        response = app.test_client().post(
            _prefix(app) + "/generate",
            json={"site_key": site_key or own_site_key(app), "type": kind},
        )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    return data, answers[data["captcha_id"]]


def solve(app: Flask, kind: str = "math") -> str:
    """A fresh success token for the app's own site key."""
    data, answer = generate(app, kind)
    response = app.test_client().post(
        _prefix(app) + "/validate",
        json={
            "site_key": own_site_key(app),
            "captcha_id": data["captcha_id"],
            "user_input": answer,
        },
    )
    body = response.get_json()
    assert body["valid"] is True, body
    return body["token"]


def _prefix(app: Flask) -> str:
    return app.extensions["captcha"].settings.url_prefix
