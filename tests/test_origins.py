"""Site keys bound to origins: browsers on other origins get 403; tokens carry the host name."""

from __future__ import annotations

import pytest

from flask_captcha_ext.selfhosted.service import normalize_origin, origin_hostname, request_origin
from flask_captcha_ext.state import get_state
from tests.helpers import generate, own_site_key, validate_body
from tests.support import ALL_TYPES

GEN, VAL = "/captcha/generate", "/captcha/validate"
SHOP = "https://shop.example"


@pytest.fixture
def app(make_app, store_url):
    return make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_STORE_URL=store_url)


@pytest.fixture
def shop_key(app):
    registry = get_state(app).service.site_keys
    site_key, secret, _ = registry.create("shop", (SHOP, "http://localhost:5000"))
    return site_key


def _gen(app, site_key, **headers):
    return app.test_client().post(GEN, json={"site_key": site_key, "type": "math"}, headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": SHOP},
        {"Origin": "HTTPS://Shop.Example"},
        {"Origin": "https://shop.example:443"},
        {"Referer": "https://shop.example/contact?x=1#top"},
        {"Origin": "http://localhost:5000"},
        {},  # no Origin, no Referer: a server-to-server call
    ],
)
def test_listed_origins_and_non_browser_calls_are_allowed(app, shop_key, headers):
    assert _gen(app, shop_key, **headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://shop.example"},  # another scheme is another origin
        {"Origin": "https://shop.example:8443"},
        {"Origin": "https://sub.shop.example"},
        {"Origin": "null"},  # sandboxed frame, file: page
        {"Referer": "https://evil.example/shop.example"},
        {"Referer": "not a url"},
        {"Origin": "https://evil.example", "Referer": "https://shop.example/"},
        {"Origin": "http://localhost:5001"},
    ],
)
def test_other_origins_are_403_with_detail(app, shop_key, headers):
    response = _gen(app, shop_key, **headers)
    assert response.status_code == 403
    assert "origin" in response.get_json()["detail"]


def test_validate_from_another_origin_is_403_and_leaves_the_challenge(app, shop_key):
    data, answer = generate(app, "math", site_key=shop_key)
    client = app.test_client()
    payload = validate_body(app, data, answer, shop_key)
    refused = client.post(VAL, json=payload, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "origin" in refused.get_json()["detail"]
    body = client.post(VAL, json=payload, headers={"Origin": SHOP}).get_json()
    assert body["valid"] is True


def test_keys_without_origins_accept_every_origin(app):
    response = _gen(app, own_site_key(app), Origin="https://anything.example")
    assert response.status_code == 200


def test_the_token_names_the_host_of_the_page(app, shop_key):
    service = get_state(app).service
    for headers, host in (
        ({"Origin": "https://Shop.Example:443"}, "shop.example"),
        ({"Referer": "http://localhost:5000/form"}, "localhost"),
        ({}, None),
    ):
        data, answer = generate(app, "math", site_key=shop_key)
        body = app.test_client().post(
            VAL,
            json=validate_body(app, data, answer, shop_key),
            headers=headers,
        ).get_json()
        result = service.tokens.verify(body["token"], None)
        assert result.success and result.hostname == host


def test_cli_created_key_with_origin_binds_it(app):
    runner = app.test_cli_runner()
    out = runner.invoke(
        args=["captcha", "keys", "create", "--name", "cli", "--origin", "https://cli.example:443"]
    )
    assert out.exit_code == 0, out.output
    site_key = out.output.split("site key:")[1].split()[0]
    assert _gen(app, site_key, Origin="https://cli.example").status_code == 200
    assert _gen(app, site_key, Origin="https://other.example").status_code == 403


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://example.com", "https://example.com"),
        ("HTTPS://EXAMPLE.com:443/", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:8080/a/b?c", "http://example.com:8080"),
        ("http://[::1]:5000", "http://[::1]:5000"),
        ("ftp://example.com", None),
        ("null", None),
        ("https://", None),
        ("https://example.com:99999", None),
        ("", None),
    ],
)
def test_normalize_origin(value, expected):
    assert normalize_origin(value) == expected


def test_request_origin_prefers_origin_then_referer():
    assert request_origin(None, None) is None
    assert request_origin("", "") is None
    assert request_origin("https://a.example", "https://b.example/x") == "https://a.example"
    assert request_origin(None, "https://b.example/x") == "https://b.example"
    assert request_origin("null", "https://b.example/x") == "null"
    assert origin_hostname("null") is None and origin_hostname(None) is None
    assert origin_hostname("https://a.example:8443") == "a.example"
