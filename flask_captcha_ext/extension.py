"""CaptchaExt: binds settings, store and service to an app, and verifies tokens for it.

All per-app state lives in ``app.extensions["captcha"]`` (a ``CaptchaState``); the ``CaptchaExt``
object itself only remembers an optional failure handler, so one instance can serve many apps.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

from flask import Flask, current_app

from .result import VerificationResult
from .selfhosted.blueprint import create_blueprint
from .selfhosted.challenges import ImageChallenge, MathChallenge
from .selfhosted.ratelimit import RateLimiter, limits_storage_for
from .selfhosted.service import CaptchaService
from .selfhosted.sitekeys import SiteKeyRegistry, derived_key_pair
from .selfhosted.tokens import TokenService
from .settings import Settings, apply_defaults, derive_secret, load_settings
from .stores import Store, open_store

log = logging.getLogger("flask_captcha_ext")

FailureHandler = Callable[[VerificationResult], Any]
MASTER_SECRET_KEY = "master-secret"
TEST_TOKEN = "PASSED"


@dataclass
class CaptchaState:
    """Everything the extension keeps for one app."""

    ext: "CaptchaExt"
    settings: Settings
    store: Store
    service: CaptchaService


class CaptchaExt:
    """The Flask extension: ``CaptchaExt(app)`` or ``captcha = CaptchaExt(); captcha.init_app(app)``."""

    def __init__(self, app: Optional[Flask] = None) -> None:
        self._failure_handler: Optional[FailureHandler] = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Validate CAPTCHA_* config, open the store, and register the blueprint and CLI."""
        apply_defaults(app.config, app.instance_path)
        settings = load_settings(app.config, testing=app.testing)
        store = open_store(settings.store_url)
        master = _master_secret(app, store)
        if settings.token_secret is None:
            settings = replace(settings, token_secret=derive_secret(master, "token"))
        service = _build_service(settings, store, master)
        app.extensions["captcha"] = CaptchaState(self, settings, store, service)
        if settings.blueprint:
            app.register_blueprint(
                create_blueprint(settings.cors_origins), url_prefix=settings.url_prefix or None
            )
        from .selfhosted.cli import captcha_cli

        app.cli.add_command(captcha_cli)
        if not settings.enabled:
            log.warning("CAPTCHA_ENABLED is False: every CAPTCHA check passes for %s", app.name)

    # -- verification ----------------------------------------------------------------------

    def verify(
        self, token: Any, remote_ip: Optional[str] = None, action: Optional[str] = None
    ) -> VerificationResult:
        """Check ``token`` for the current app; a success token passes exactly once."""
        state = get_state()
        settings = state.settings
        if not settings.enabled:
            log.info("CAPTCHA check skipped: CAPTCHA_ENABLED is False")
            return VerificationResult(success=True, provider=settings.provider, raw={"disabled": True})
        if settings.test_mode and token == TEST_TOKEN:
            return VerificationResult(success=True, provider=settings.provider, raw={"test": True})
        return state.service.verify_token(token, state.service.site_keys.own.id)

    def failure_handler(self, handler: FailureHandler) -> FailureHandler:
        """Register what a failed ``@captcha_protected`` check returns (decorator)."""
        self._failure_handler = handler
        return handler

    @property
    def service(self) -> CaptchaService:
        """The self-hosted service of the current app."""
        return get_state().service


def get_state(app: Optional[Flask] = None) -> CaptchaState:
    """The extension state of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        return app.extensions["captcha"]
    except KeyError:
        raise RuntimeError("CaptchaExt.init_app(app) has not been called for this app") from None


def _master_secret(app: Flask, store: Store) -> bytes:
    """The app's SECRET_KEY, or (zero configuration) a random one kept once in the store."""
    key = app.config.get("SECRET_KEY")
    if key:
        return key.encode() if isinstance(key, str) else bytes(key)
    store.claim(MASTER_SECRET_KEY, None, secrets.token_hex(32))
    value = store.get(MASTER_SECRET_KEY)
    if not value:
        raise RuntimeError("could not keep the generated CAPTCHA master secret in the store")
    log.warning(
        "SECRET_KEY is not set: flask-captcha-ext generated a master secret and keeps it in %s; "
        "set SECRET_KEY (or CAPTCHA_TOKEN_SECRET) in production",
        store.url.split("@")[-1],
    )
    return value.encode()


def _build_service(settings: Settings, store: Store, master: bytes) -> CaptchaService:
    own_key, own_secret = derived_key_pair(master)
    if settings.selfhosted and settings.site_key:
        own_key, own_secret = settings.site_key, settings.secret_key or own_secret
    answer_key = derive_secret(master, "answers")
    kinds = {
        "image": ImageChallenge(answer_key, settings.image_length),
        "math": MathChallenge(answer_key),
    }
    assert settings.token_secret is not None
    return CaptchaService(
        settings=settings,
        store=store,
        kinds=kinds,
        site_keys=SiteKeyRegistry(store, own_key, own_secret),
        tokens=TokenService(settings.token_secret, store, settings.token_ttl),
        limiter=RateLimiter(limits_storage_for(store)),
    )


