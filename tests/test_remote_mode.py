"""Remote mode: one app verifies the tokens of a central service through its siteverify."""

from __future__ import annotations

from typing import Iterator, Tuple

import pytest
import requests
from flask import Flask, g, jsonify, render_template_string

from flask_captcha_ext import ConfigError, captcha_protected
from flask_captcha_ext.state import get_state
from tests.helpers import generate, validate_body
from tests.support import ALL_TYPES, ThreadedServer, build_app, free_port


@pytest.fixture
def central(tmp_path) -> Iterator[Tuple[Flask, str]]:
    """A central service on 127.0.0.1 with its API under /api."""
    app = build_app(
        "central",
        instance_path=tmp_path / "central",
        TESTING=True,
        SECRET_KEY="central-secret-0123456789abcdef0123",
        CAPTCHA_STORE_URL="sqlite:///" + str(tmp_path / "central.sqlite3"),
        CAPTCHA_URL_PREFIX="/api",
        CAPTCHA_CORS_ORIGINS=["https://shop.example"],
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES,  # the shops apply their own types to its tokens
    )
    with ThreadedServer(app) as server:
        yield app, server.url + "/api"


def _client_app(tmp_path, verify_url: str, site_key: str, secret: str, **config) -> Flask:
    app = build_app(
        "shop",
        instance_path=tmp_path / "shop",
        SECRET_KEY="shop-secret-0123456789abcdef0123456",
        CAPTCHA_STORE_URL="memory://",
        CAPTCHA_VERIFY_URL=verify_url,
        CAPTCHA_SITE_KEY=site_key,
        CAPTCHA_SECRET_KEY=secret,
        CAPTCHA_TIMEOUT=(1, 2),
        **config,
    )

    @app.post("/order")
    @captcha_protected
    def order():
        return jsonify(ok=True, provider=g.captcha_result.provider,
                       hostname=g.captcha_result.hostname)

    return app


def _token(
    central_app: Flask, base: str, site_key: str, kind: str = "image", action: str | None = None
) -> str:
    gen, answer = generate(central_app, kind, site_key, origin="https://shop.example")
    body = validate_body(central_app, gen, answer, site_key)
    if action:
        body["action"] = action
    reply = requests.post(base + "/validate", json=body,
                          headers={"Origin": "https://shop.example"}, timeout=5)
    assert reply.headers.get("Access-Control-Allow-Origin") == "https://shop.example"
    return reply.json()["token"]


def test_a_second_app_verifies_tokens_of_the_central_service(central, tmp_path):
    central_app, base = central
    with central_app.app_context():
        site_key, secret, _ = get_state(central_app).service.site_keys.create(
            "shop", ("https://shop.example",)
        )
    shop = _client_app(tmp_path, base + "/siteverify", site_key, secret)
    assert "captcha" not in shop.blueprints, "remote mode needs no local API"
    token = _token(central_app, base, site_key)
    client = shop.test_client()
    first = client.post("/order", json={"captcha-token": token})
    assert first.status_code == 200
    assert first.get_json() == {"ok": True, "provider": "selfhosted", "hostname": "shop.example"}
    replay = client.post("/order", json={"captcha-token": token})
    assert replay.status_code == 400
    assert "timeout-or-duplicate" in replay.get_json()["error_codes"]


def test_wrong_secret_and_foreign_tokens_fail(central, tmp_path):
    central_app, base = central
    registry = get_state(central_app).service.site_keys
    key_a, secret_a, _ = registry.create("a")
    key_b, secret_b, _ = registry.create("b")
    token_a = _token(central_app, base, key_a)
    wrong_secret = _client_app(tmp_path, base + "/siteverify", key_a, "ss_not-the-secret")
    reply = wrong_secret.test_client().post("/order", json={"captcha-token": token_a})
    assert reply.status_code == 400
    assert "invalid-input-secret" in reply.get_json()["error_codes"]
    other_site = _client_app(tmp_path, base + "/siteverify", key_b, secret_b)
    reply = other_site.test_client().post("/order", json={"captcha-token": token_a})
    assert reply.status_code == 400
    # Neither refusal spent the token: its own site still accepts it once.
    own = _client_app(tmp_path, base + "/siteverify", key_a, secret_a)
    assert own.test_client().post("/order", json={"captcha-token": token_a}).status_code == 200


def test_central_down_fails_closed_and_fail_open_is_refused(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/api/siteverify"
    closed = _client_app(tmp_path, dead, "sk_x", "ss_y")
    reply = closed.test_client().post("/order", json={"captcha-token": "a.b.c"})
    assert reply.status_code == 503
    assert "server-unreachable" in reply.get_json()["error_codes"]
    with pytest.raises(ConfigError, match="CAPTCHA_FAIL_OPEN"):
        _client_app(tmp_path, dead, "sk_x", "ss_y", CAPTCHA_FAIL_OPEN=True)


def test_the_consumer_applies_its_own_types_and_action(central, tmp_path):
    """The central service allows math; the shop does not, and expects an action."""
    central_app, base = central
    registry = get_state(central_app).service.site_keys
    site_key, secret, _ = registry.create("shop")
    shop = _client_app(tmp_path, base + "/siteverify", site_key, secret, CAPTCHA_ACTION="order")
    client = shop.test_client()

    def order(token: str) -> list:
        reply = client.post("/order", json={"captcha-token": token})
        return reply.get_json().get("error_codes", []) if reply.status_code != 200 else []

    assert order(_token(central_app, base, site_key, "math", "order")) == [
        "challenge-type-not-allowed"
    ]
    assert order(_token(central_app, base, site_key, "image", "signup")) == ["action-mismatch"]
    assert order(_token(central_app, base, site_key, "image")) == ["action-mismatch"]
    assert order(_token(central_app, base, site_key, "image", "order")) == []


def test_widget_points_at_the_central_service(central, tmp_path):
    central_app, base = central
    shop = _client_app(tmp_path, base + "/siteverify", "sk_shop_key_0123", "ss_shop")
    with shop.test_request_context():
        html = render_template_string("{{ captcha_widget() }}")
    assert f'data-fce-generate-url="{base}/generate"' in html
    assert f'src="{base}/static/widget.js"' in html
    assert 'data-fce-site-key="sk_shop_key_0123"' in html
    assert 'name="captcha-answer"' not in html  # no local challenge without JavaScript
    assert requests.get(base + "/static/widget.js", timeout=5).status_code == 200


def test_remote_mode_without_keys_fails_at_init_app(tmp_path):
    with pytest.raises(ConfigError, match="CAPTCHA_SECRET_KEY"):
        build_app("shop", instance_path=tmp_path,
                  CAPTCHA_VERIFY_URL="https://central.example/api/siteverify",
                  CAPTCHA_SITE_KEY="sk_x")
