"""A Redis that may drop keys would let spent tokens pass again: init_app reads its eviction
policy and persistence from a real redis-server and refuses or warns, naming the setting."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from flask_captcha_ext import CaptchaExt, ConfigError
from tests.support import free_port


def _app(url: str, **config: object) -> Flask:
    app = Flask("durability")
    app.config.update(SECRET_KEY="d" * 32, CAPTCHA_STORE_URL=url, **config)
    return app


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl"])
def test_an_evicting_policy_is_a_config_error(new_redis, policy: str) -> None:
    server = new_redis(maxmemory_policy=policy, appendonly="yes")
    with pytest.raises(ConfigError) as refused:
        CaptchaExt(_app(server.url))
    message = str(refused.value)
    assert "CAPTCHA_STORE_URL" in message and policy in message
    assert "CAPTCHA_REDIS_ALLOW_EVICTION" in message and "noeviction" in message


def test_eviction_allowed_explicitly(new_redis) -> None:
    server = new_redis(maxmemory_policy="allkeys-lru", appendonly="yes")
    app = _app(server.url, CAPTCHA_REDIS_ALLOW_EVICTION=True)
    CaptchaExt(app)
    assert "captcha" in app.extensions


def test_no_persistence_is_a_warning_naming_the_setting(new_redis, caplog) -> None:
    server = new_redis()  # the fixture's default: save "" and appendonly no
    with caplog.at_level(logging.WARNING):
        CaptchaExt(_app(server.url))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("appendonly" in w and "keeps nothing on disk" in w for w in warnings), warnings


def test_the_recommended_configuration_passes_quietly(new_redis, caplog) -> None:
    server = new_redis(appendonly="yes", appendfsync="everysec")
    with caplog.at_level(logging.WARNING):
        CaptchaExt(_app(server.url))
    assert not [r for r in caplog.records if "CAPTCHA_STORE_URL" in r.getMessage()]


def test_an_unreachable_redis_is_reported_not_fatal(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        CaptchaExt(_app(f"redis://127.0.0.1:{free_port()}/0"))
    assert any("were not checked" in r.getMessage() for r in caplog.records)
