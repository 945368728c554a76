"""siteverify never takes ``secret`` from the query string: URLs end up in access logs."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.helpers import solve
from tests.support import ALL_TYPES
from tests.test_siteverify import OWN_SECRET, SV


@pytest.fixture
def app(make_app) -> Flask:
    """An app whose own site key issues math challenges, which ``solve`` answers."""
    return make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)


def _assert_refused(response) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"detail"}
    assert "secret" in body["detail"] and "POST body" in body["detail"]
    assert "success" not in body


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda c, q, t: c.post(SV, query_string=q), id="query-only"),
        pytest.param(
            lambda c, q, t: c.post(SV, query_string=q, data={"secret": OWN_SECRET, "response": t}),
            id="query-and-form",
        ),
        pytest.param(
            lambda c, q, t: c.post(SV, query_string=q, json={"secret": OWN_SECRET, "response": t}),
            id="query-and-json",
        ),
    ],
)
def test_secret_in_query_string_is_refused_and_the_token_survives(app: Flask, send) -> None:
    client = app.test_client()
    token = solve(app)
    _assert_refused(send(client, {"secret": OWN_SECRET, "response": token}, token))
    # Refused before anything was checked: the token was not spent and still verifies once.
    body = client.post(SV, data={"secret": OWN_SECRET, "response": token}).get_json()
    assert body["success"] is True


def test_empty_or_wrong_secret_in_query_string_is_refused_too(app: Flask) -> None:
    client = app.test_client()
    _assert_refused(client.post(SV + "?secret="))
    _assert_refused(client.post(SV, query_string={"secret": "ss_wrong", "response": "x"}))


def test_response_and_remoteip_may_stay_in_the_query_string(app: Flask) -> None:
    client = app.test_client()
    query = {"response": solve(app), "remoteip": "203.0.113.9"}
    body = client.post(SV, query_string=query, data={"secret": OWN_SECRET}).get_json()
    assert body["success"] is True


def test_openapi_documents_the_refusal(app: Flask) -> None:
    doc = app.test_client().get("/captcha/openapi.json").get_json()
    operation = doc["paths"][SV]["post"]
    assert "400" in operation["responses"]
    assert "secret" in operation["description"] and "query string" in operation["description"]
