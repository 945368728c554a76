"""The standalone central service (example/service.py): configured from the environment."""

from __future__ import annotations

import re

import pytest

from example.service import config_from_environment, create_service
from flask_captcha_ext.state import get_state


def test_environment_values_are_read_as_json_or_text():
    env = {
        "CAPTCHA_CHALLENGE_TTL": "120",
        "CAPTCHA_CORS_ORIGINS": '["https://blog.example"]',
        "CAPTCHA_TIMEOUT": "[2, 4]",
        "CAPTCHA_STORE_URL": "memory://",
        "SECRET_KEY": "12345",
        "CAPTCHA_SITE_KEY": "0001",
        "UNRELATED": "x",
    }
    config = config_from_environment(env)
    assert config == {
        "CAPTCHA_CHALLENGE_TTL": 120,
        "CAPTCHA_CORS_ORIGINS": ["https://blog.example"],
        "CAPTCHA_TIMEOUT": [2, 4],
        "CAPTCHA_STORE_URL": "memory://",
        "SECRET_KEY": "12345",
        "CAPTCHA_SITE_KEY": "0001",  # secrets and names stay text, even when they look numeric
    }


def test_service_serves_api_demo_and_key_cli(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPTCHA_STORE_URL", "sqlite:///" + str(tmp_path / "svc.sqlite3"))
    monkeypatch.setenv("CAPTCHA_CORS_ORIGINS", '["https://blog.example"]')
    monkeypatch.setenv("SECRET_KEY", "service-secret-0123456789abcdef0123")
    app = create_service({"TESTING": True})
    settings = get_state(app).settings
    assert settings.url_prefix == "/api" and settings.cors_origins == ("https://blog.example",)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["captcha", "keys", "create", "--name", "blog",
                              "--origin", "https://blog.example"])
    site_key = re.search(r"site key:\s+(\S+)", out.output).group(1)
    client = app.test_client()
    reply = client.post("/api/generate", json={"site_key": site_key, "type": "pow"},
                        headers={"Origin": "https://blog.example"})
    assert reply.status_code == 200 and "challenge" in reply.get_json()
    assert reply.headers["Access-Control-Allow-Origin"] == "https://blog.example"
    assert client.get("/demo").status_code == 200
    assert client.get("/api/openapi.json").get_json()["openapi"].startswith("3.")


def test_service_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("CAPTCHA_STORE_URL", "memory://")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_service()
