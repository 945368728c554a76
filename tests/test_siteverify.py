"""reCAPTCHA-compatible siteverify: shapes, error codes, single use, and real reCAPTCHA clients."""

from __future__ import annotations

import io
import time
from datetime import datetime, timezone

import jwt
import pytest
import requests
from flask import Flask, request
from flask_wtf import FlaskForm
from flask_wtf.recaptcha import RecaptchaField

from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair
from flask_captcha_ext.selfhosted.tokens import CLOCK_LEEWAY
from flask_captcha_ext.state import get_state
from tests.helpers import generate, own_site_key, solve, validate_body
from tests.support import ALL_TYPES, SECRET, ThreadedServer

SV = "/captcha/siteverify"
OWN_SECRET = derived_key_pair(SECRET.encode())[1]


@pytest.fixture
def app(make_app, store_url):
    return make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_STORE_URL=store_url)


def _verify(app, **fields):
    response = app.test_client().post(SV, data=fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _token_for(app, site_key, origin=None):
    data, answer = generate(app, "math", site_key=site_key)
    response = app.test_client().post(
        "/captcha/validate",
        json=validate_body(app, data, answer, site_key),
        headers={"Origin": origin} if origin else {},
    )
    return response.get_json()["token"]


def test_success_shape_then_timeout_or_duplicate(app):
    token = solve(app)
    body = _verify(app, secret=OWN_SECRET, response=token, remoteip="203.0.113.9")
    assert set(body) == {
        "success", "challenge_ts", "hostname", "challenge_type", "action", "work", "error-codes"
    }
    assert body["challenge_type"] == "pow" and body["action"] is None and body["work"] == 1
    assert body["success"] is True and body["error-codes"] == []
    solved_at = datetime.strptime(body["challenge_ts"], "%Y-%m-%dT%H:%M:%SZ")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    assert abs((now - solved_at).total_seconds()) < 10
    again = _verify(app, secret=OWN_SECRET, response=token)
    assert again == {
        "success": False, "challenge_ts": None, "hostname": None, "challenge_type": None,
        "action": None, "work": None, "error-codes": ["timeout-or-duplicate"],
    }


def test_json_body_and_query_string_work_too(app):
    """The body carries the secret; the token may come in the query string, as Google allows
    (a secret there is refused: tests/test_siteverify_query.py)."""
    client = app.test_client()
    body = client.post(SV, json={"secret": OWN_SECRET, "response": solve(app)}).get_json()
    assert body["success"] is True
    query = {"response": solve(app)}
    reply = client.post(SV, query_string=query, data={"secret": OWN_SECRET})
    assert reply.get_json()["success"] is True
    multipart = client.post(
        SV, data={"secret": OWN_SECRET, "response": solve(app)}, content_type="multipart/form-data"
    )
    assert multipart.get_json()["success"] is True


def test_an_expired_token_is_timeout_or_duplicate(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_TOKEN_TTL=1)
    token = solve(app)
    time.sleep(1.1 + CLOCK_LEEWAY)
    assert _verify(app, secret=OWN_SECRET, response=token)["error-codes"] == [
        "timeout-or-duplicate"
    ]


@pytest.mark.parametrize(
    "fields, codes",
    [
        ({}, ["missing-input-secret", "missing-input-response"]),
        ({"response": "x"}, ["missing-input-secret"]),
        ({"secret": OWN_SECRET}, ["missing-input-response"]),
        ({"secret": "", "response": ""}, ["missing-input-secret", "missing-input-response"]),
        ({"secret": "ss_wrong", "response": "x"}, ["invalid-input-secret"]),
        ({"secret": "s" * 5000, "response": "x"}, ["invalid-input-secret"]),
        ({"secret": OWN_SECRET, "response": "not-a-token"}, ["invalid-input-response"]),
        ({"secret": OWN_SECRET, "response": "a.b.c"}, ["invalid-input-response"]),
    ],
)
def test_error_codes(app, fields, codes):
    body = _verify(app, **fields)
    assert body == {
        "success": False, "challenge_ts": None, "hostname": None, "challenge_type": None,
        "action": None, "work": None, "error-codes": codes,
    }


def test_a_wrong_secret_does_not_spend_the_token(app):
    token = solve(app)
    assert _verify(app, secret="ss_guess", response=token)["error-codes"] == [
        "invalid-input-secret"
    ]
    assert _verify(app, secret=OWN_SECRET, response=token)["success"] is True


def test_a_token_of_another_site_key_is_invalid_and_not_spent(app):
    registry = get_state(app).service.site_keys
    other_key, other_secret, _ = registry.create("other")
    token = _token_for(app, other_key)
    body = _verify(app, secret=OWN_SECRET, response=token)
    assert body["error-codes"] == ["invalid-input-response"]
    assert _verify(app, secret=other_secret, response=token)["success"] is True


def test_a_revoked_key_secret_is_invalid(app):
    registry = get_state(app).service.site_keys
    site_key, secret, record = registry.create("gone")
    token = _token_for(app, site_key)
    registry.revoke(record.id)
    assert _verify(app, secret=secret, response=token)["error-codes"] == ["invalid-input-secret"]


def test_forged_tokens_are_invalid(app):
    now = int(time.time())
    claims = {"iss": "flask-captcha-ext", "sub": get_state(app).service.site_keys.own.id,
              "jti": "x", "iat": now, "exp": now + 60}
    forged = jwt.encode(claims, "not-our-secret-0123456789abcdef0123", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (forged, unsigned):
        body = _verify(app, secret=OWN_SECRET, response=token)
        assert body["error-codes"] == ["invalid-input-response"]


def test_hostname_is_the_host_of_the_page_that_solved_it(app):
    registry = get_state(app).service.site_keys
    site_key, secret, _ = registry.create("shop", ("https://shop.example",))
    token = _token_for(app, site_key, origin="https://shop.example")
    assert _verify(app, secret=secret, response=token)["hostname"] == "shop.example"


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('{"secret": 5, "response": "x"}', "application/json"),
        ('{"secret": "s", "response": ["x"]}', "application/json"),
        ('{"secret": "s", "response": "x", "remoteip": 7}', "application/json"),
        ('{"secret": "\\ud800", "response": "x"}', "application/json"),
        ('{"secret": "s", "response": "a.b.\\udc80"}', "application/json"),
    ],
)
def test_unparseable_bodies_are_bad_request_with_200(app, data, content_type):
    response = app.test_client().post(SV, data=data, content_type=content_type)
    assert response.status_code == 200
    assert response.get_json()["error-codes"] == ["bad-request"]


def test_oversized_body_is_413_with_detail(app):
    response = app.test_client().post(SV, data={"secret": "x" * 20000, "response": "y"})
    assert response.status_code == 413 and "larger" in response.get_json()["detail"]
    chunked = app.test_client().post(
        SV, input_stream=io.BytesIO(b"secret=" + b"x" * 40000),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"}, environ_base={"wsgi.input_terminated": True},
    )
    assert chunked.status_code == 413


def test_get_is_405(app):
    # Routing answers this before the blueprint sees it, so the body is Flask's, not JSON.
    assert app.test_client().get(SV).status_code == 405


def test_store_outage_is_503_not_a_pass(make_app):
    app = make_app(CAPTCHA_STORE_URL="redis://127.0.0.1:1/0")
    token = solve(make_app(CAPTCHA_STORE_URL="memory://"))  # a well-formed token of that secret
    client = app.test_client()
    for secret in (OWN_SECRET, "ss_unknown"):  # claim fails / secret lookup fails
        response = client.post(SV, data={"secret": secret, "response": token})
        assert response.status_code == 503, response.get_json()
        assert "store" in response.get_json()["detail"]
        assert response.headers["Retry-After"] == "1"


# -- real clients over real HTTP ------------------------------------------------------------


def test_a_plain_recaptcha_client_verifies_our_tokens_by_changing_the_url(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)
    with ThreadedServer(app) as server:
        base = server.url
        session = requests.Session()
        data, answer = generate(app, "math")
        validated = session.post(
            base + "/captcha/validate",
            json=validate_body(app, data, answer),
            headers={"Origin": "https://www.shop.example"},
            timeout=5,
        ).json()
        url = base + "/captcha/siteverify"  # instead of https://www.google.com/recaptcha/api/...
        form = {"secret": OWN_SECRET, "response": validated["token"], "remoteip": "198.51.100.7"}
        first = requests.post(url, data=form, timeout=5)
        second = requests.post(url, data=form, timeout=5)
        wrong = requests.post(url, data={**form, "secret": "ss_nope"}, timeout=5)
    assert first.status_code == 200 and first.json()["success"] is True
    assert first.json()["hostname"] == "www.shop.example"
    assert second.status_code == 200
    assert second.json()["error-codes"] == ["timeout-or-duplicate"]
    assert wrong.json()["error-codes"] == ["invalid-input-secret"]


def test_flask_wtf_recaptcha_field_verifies_our_tokens(make_app):
    """Flask-WTF's own Recaptcha validator, pointed at our siteverify, unchanged otherwise."""
    captcha_app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)
    site = Flask("client_site")
    site.config.update(
        SECRET_KEY="client-site", WTF_CSRF_ENABLED=False,  # not testing: the validator must run
        RECAPTCHA_PUBLIC_KEY=own_site_key(captcha_app), RECAPTCHA_PRIVATE_KEY=OWN_SECRET,
    )

    class Form(FlaskForm):
        recaptcha = RecaptchaField()

    @site.post("/signup")
    def signup():
        form = Form()
        if form.validate_on_submit():
            return "ok"
        return {"errors": form.errors, "sent": request.form.get("g-recaptcha-response")}, 400

    with ThreadedServer(captcha_app) as server:
        base = server.url
        site.config["RECAPTCHA_VERIFY_SERVER"] = base + "/captcha/siteverify"
        client = site.test_client()
        token = solve(captcha_app)
        assert client.post("/signup", data={"g-recaptcha-response": token}).status_code == 200
        replay = client.post("/signup", data={"g-recaptcha-response": token})
        assert replay.status_code == 400
        forged = client.post("/signup", data={"g-recaptcha-response": "forged"})
        assert forged.status_code == 400
        assert "invalid" in str(forged.get_json()["errors"])
