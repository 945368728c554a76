"""Shared fixtures: Flask apps on each real store backend (helpers live in tests/support)."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from flask import Flask

from tests.support import SECRET, build_app, store_url_of

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture
def make_app(tmp_path) -> Callable[..., Flask]:
    """Build a Flask app with CaptchaExt; keyword args become config keys."""

    def factory(**config: Any) -> Flask:
        return build_app(
            "captcha_test_app",
            instance_path=tmp_path / "instance",
            config={
                "TESTING": True,
                "SECRET_KEY": SECRET,
                "CAPTCHA_STORE_URL": "sqlite:///" + str(tmp_path / "captcha.sqlite3"),
            },
            **config,
        )

    return factory


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request, tmp_path) -> str:
    """A store URL for each real backend."""
    return store_url_of(request, request.param, tmp_path)
