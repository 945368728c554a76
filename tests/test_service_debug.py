"""example/service.py reads FLASK_DEBUG as Flask does: "0" is off, so SECRET_KEY is required."""

from __future__ import annotations

import logging

import pytest

from example import DEV_SECRET_KEY
from example.service import create_service

SERVICE_LOG = "example.service"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A memory store and no SECRET_KEY or FLASK_DEBUG unless a test sets them."""
    monkeypatch.setenv("CAPTCHA_STORE_URL", "memory://")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)


@pytest.mark.parametrize("value", ["0", "false", "False", "no", ""])
def test_debug_off_without_secret_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", value)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_service()


def test_empty_secret_key_counts_as_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "0")
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_service()


def test_debug_setting_wins_over_flask_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_service({"DEBUG": False})


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_debug_on_without_secret_key_starts_with_the_dev_key_and_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", value)
    caplog.set_level(logging.WARNING, logger=SERVICE_LOG)
    app = create_service()
    assert app.debug is True
    assert app.config["SECRET_KEY"] == DEV_SECRET_KEY
    warnings = [r for r in caplog.records if r.name == SERVICE_LOG and r.levelno == logging.WARNING]
    assert warnings and "SECRET_KEY" in warnings[0].getMessage()


@pytest.mark.parametrize("value", [None, "0", "1"])
def test_with_secret_key_it_starts_either_way(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str | None
) -> None:
    monkeypatch.setenv("SECRET_KEY", "service-secret-0123456789abcdef0123")
    if value is not None:
        monkeypatch.setenv("FLASK_DEBUG", value)
    caplog.set_level(logging.WARNING, logger=SERVICE_LOG)
    app = create_service()
    assert app.config["SECRET_KEY"] == "service-secret-0123456789abcdef0123"
    assert app.debug is (value == "1")
    assert not [r for r in caplog.records if r.name == SERVICE_LOG]
