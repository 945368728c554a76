"""Site keys and the `flask captcha keys` CLI: shown once, stored hashed, revocable."""

from __future__ import annotations

import re

from flask_captcha_ext.state import get_state
from tests.helpers import generate
from tests.support import ALL_TYPES


def test_create_list_revoke_through_the_cli(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)
    runner = app.test_cli_runner()
    out = runner.invoke(
        args=[
            "captcha",
            "keys",
            "create",
            "--name",
            "blog",
            "--origin",
            "https://Blog.example.com/",
        ]
    )
    assert out.exit_code == 0, out.output
    site_key = re.search(r"site key:\s+(\S+)", out.output).group(1)
    secret = re.search(r"secret:\s+(\S+)", out.output).group(1)
    key_id = re.search(r"id:\s+(\S+)", out.output).group(1)

    # The new key works for generate.
    assert generate(app, "math", site_key=site_key)[0]["captcha_id"]

    listing = runner.invoke(args=["captcha", "keys", "list"]).output
    assert key_id in listing and "blog" in listing and "https://blog.example.com" in listing
    assert site_key not in listing and secret not in listing

    # Neither the key nor the secret is stored in the clear.
    store = get_state(app).store
    stored = " ".join(value for _, value in store.scan(""))
    stored_keys = " ".join(key for key, _ in store.scan(""))
    assert site_key not in stored + stored_keys and secret not in stored + stored_keys

    revoked = runner.invoke(args=["captcha", "keys", "revoke", key_id[:8]])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in runner.invoke(args=["captcha", "keys", "list"]).output
    response = app.test_client().post(
        "/captcha/generate", json={"site_key": site_key, "type": "math"}
    )
    assert response.status_code == 403


def test_bad_origin_and_unknown_revoke_fail_clearly(make_app):
    runner = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES).test_cli_runner()
    for origin in (
        "blog",
        "https://example.com:abc",
        "https://example.com:99999",
        "https://:80",
        "https://user:pw@example.com",
        "https://example.com/path",
    ):
        out = runner.invoke(
            args=["captcha", "keys", "create", "--name", "x", "--origin", origin]
        )
        assert out.exit_code != 0 and "not an origin" in out.output, origin
    # Stored as the service compares them: the default port dropped, the host lower case.
    out = runner.invoke(
        args=["captcha", "keys", "create", "--name", "y", "--origin", "HTTPS://Shop.example:443"]
    )
    assert out.exit_code == 0, out.output
    listing = runner.invoke(args=["captcha", "keys", "list"]).output
    assert "https://shop.example " in listing + " " and ":443" not in listing
    out = runner.invoke(args=["captcha", "keys", "revoke", "abcdef"])
    assert out.exit_code != 0 and "no single revocable key" in out.output


def test_secret_lookup(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)
    registry = get_state(app).service.site_keys
    site_key, secret, record = registry.create("api")
    assert registry.by_secret(secret).id == record.id
    assert registry.by_secret(secret + "x") is None
    assert registry.lookup(site_key).id == record.id
    assert registry.lookup("sk_unknown") is None


def test_app_own_key_from_settings(make_app):
    app = make_app(
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES,
        CAPTCHA_SITE_KEY="sk_mine_0123456789",
        CAPTCHA_SECRET_KEY="ss_mine_secret_0123",
    )
    registry = get_state(app).service.site_keys
    assert registry.own_site_key == "sk_mine_0123456789"
    assert registry.by_secret("ss_mine_secret_0123").builtin
    assert generate(app, "math", site_key="sk_mine_0123456789")[0]["type"] == "math"
