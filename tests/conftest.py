"""Shared fixtures: Flask apps on each real store backend."""

from __future__ import annotations

from typing import Any, Callable, Dict

import pytest
from flask import Flask

from flask_captcha_ext import CaptchaExt

pytest_plugins = ["tests.fixtures_redis"]

SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture
def make_app(tmp_path) -> Callable[..., Flask]:
    """Build a Flask app with CaptchaExt; keyword args become config keys."""

    def factory(**config: Any) -> Flask:
        app = Flask("captcha_test_app", instance_path=str(tmp_path / "instance"))
        settings: Dict[str, Any] = {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "CAPTCHA_STORE_URL": "sqlite:///" + str(tmp_path / "captcha.sqlite3"),
        }
        settings.update(config)
        app.config.update(settings)
        CaptchaExt(app)
        return app

    return factory


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request, tmp_path) -> str:
    """A store URL for each real backend."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "captcha.sqlite3")
    return request.getfixturevalue("redis_url")
