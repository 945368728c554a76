"""CaptchaExt: binds settings, store and service to an app, and verifies tokens for it.

All per-app state lives in ``app.extensions["captcha"]`` (a ``CaptchaState``); the ``CaptchaExt``
object itself only remembers an optional failure handler, so one instance can serve many apps.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from typing import Any, Callable, Optional

from flask import Blueprint, Flask, current_app

from .failure import default_failure_response
from .providers import build_provider
from .result import VerificationResult
from .selfhosted.blueprint import create_blueprint
from .selfhosted.challenges import ImageChallenge, MathChallenge
from .selfhosted.cli import captcha_cli
from .selfhosted.pow import PowChallenge
from .selfhosted.ratelimit import RateLimiter
from .selfhosted.service import CaptchaService
from .selfhosted.sitekeys import SiteKeyRegistry, derived_key_pair
from .selfhosted.tokens import TokenService, looks_like_own_token
from .settings import ConfigError, Settings, apply_defaults, derive_secret, load_settings
from .signals import captcha_failed, captcha_verified
from .state import CaptchaState, get_state
from .stores import Store, open_store
from .widget import captcha_widget

log = logging.getLogger("flask_captcha_ext")

FailureHandler = Callable[[VerificationResult], Any]
MASTER_SECRET_KEY = "master-secret"  # noqa: S105 - the store key it lives under
TEST_TOKEN = "PASSED"  # noqa: S105 - public by design (CAPTCHA_TEST_MODE)
# Makes the package's templates (macros.html, widget partials) loadable in every app.
TEMPLATES = Blueprint("captcha_templates", __name__, template_folder="templates")


class CaptchaExt:
    """The Flask extension: ``CaptchaExt(app)``, or ``CaptchaExt()`` then ``init_app(app)``."""

    def __init__(self, app: Optional[Flask] = None) -> None:
        self._failure_handler: Optional[FailureHandler] = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Validate CAPTCHA_* config, open the store, and register the blueprint and CLI."""
        apply_defaults(app.config, app.instance_path)
        settings = load_settings(app.config, testing=app.testing)
        try:
            store = open_store(settings.store_url)
        except ValueError as exc:  # a malformed URL; its message never holds a password
            raise ConfigError(f"CAPTCHA_STORE_URL is not a usable store URL: {exc}") from None
        master = _master_secret(app, store)
        if settings.token_secret is None:
            settings = replace(settings, token_secret=derive_secret(master, "token"))
        service = _build_service(settings, store, master)
        provider = build_provider(settings, service)
        app.extensions["captcha"] = CaptchaState(self, settings, store, service, provider)
        app.register_blueprint(TEMPLATES)
        if settings.blueprint:
            blueprint = create_blueprint(settings.cors_origins)
            app.register_blueprint(blueprint, url_prefix=settings.url_prefix or None)
            csrf = app.extensions.get("csrf")
            if csrf is not None:  # the JSON API is called cross-site by design, with no session
                csrf.exempt(blueprint)
        app.cli.add_command(captcha_cli)
        app.jinja_env.globals.update(
            captcha_widget=captcha_widget, _captcha_widget_html=captcha_widget
        )
        if settings.test_mode and not (app.testing or app.debug):
            log.warning(
                "CAPTCHA_TEST_MODE is on for %s, which is neither testing nor debug: the token "
                "%r passes every check. Never run production like this.",
                app.name,
                TEST_TOKEN,
            )
        if not settings.enabled:
            log.warning("CAPTCHA_ENABLED is False: every CAPTCHA check passes for %s", app.name)

    # -- verification ----------------------------------------------------------------------

    def verify(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        *,
        min_score: Optional[float] = None,
    ) -> VerificationResult:
        """Check ``token`` for the current app and send a signal; tokens pass once.

        ``action`` and ``min_score`` override CAPTCHA_ACTION and CAPTCHA_MIN_SCORE for this check.
        """
        result = self._check(get_state(), token, remote_ip, action, min_score)
        (captcha_verified if result.success else captcha_failed).send(
            current_app._get_current_object(),
            result=result,  # type: ignore[attr-defined]
        )
        return result

    async def verify_async(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        *,
        min_score: Optional[float] = None,
    ) -> VerificationResult:
        """``verify`` for ``async def`` views: third-party providers are asked through httpx
        (extra ``[async]``), so the event loop is not blocked while the provider answers."""
        state = get_state()
        settings = state.settings
        if state.provider is None or not settings.enabled or self._local(settings, token):
            result = self._check(state, token, remote_ip, action, min_score)
        else:
            result = await state.provider.verify_async(
                token, remote_ip=remote_ip, action=action, min_score=min_score
            )
        (captcha_verified if result.success else captcha_failed).send(
            current_app._get_current_object(),
            result=result,  # type: ignore[attr-defined]
        )
        return result

    @staticmethod
    def _local(settings: Settings, token: Any) -> bool:
        """Tokens checked without the provider: the test token, our own fallback tokens."""
        return (settings.test_mode and token == TEST_TOKEN) or bool(
            settings.fallback and looks_like_own_token(token)
        )

    def verify_answer(
        self, captcha_id: Any, answer: Any, remote_ip: Optional[str] = None
    ) -> VerificationResult:
        """Check a no-JavaScript answer (``captcha-id`` and ``captcha-answer`` form fields),
        under the validate endpoint's rate limits for ``remote_ip``."""
        state = get_state()
        if not state.settings.enabled:
            return _disabled(state.settings)
        result = state.service.check_answer(captcha_id, answer, remote_ip or "unknown")
        (captcha_verified if result.success else captcha_failed).send(
            current_app._get_current_object(),
            result=result,  # type: ignore[attr-defined]
        )
        return result

    def _check(
        self,
        state: CaptchaState,
        token: Any,
        remote_ip: Optional[str],
        action: Optional[str],
        min_score: Optional[float],
    ) -> VerificationResult:
        settings = state.settings
        if not settings.enabled:
            return _disabled(settings)
        if settings.test_mode and token == TEST_TOKEN:
            return VerificationResult(success=True, provider=settings.provider, raw={"test": True})
        if state.provider is None or (settings.fallback and looks_like_own_token(token)):
            return state.service.verify_token(token, state.service.site_keys.own.id)
        return state.provider.verify(token, remote_ip=remote_ip, action=action, min_score=min_score)

    def failure_handler(self, handler: FailureHandler) -> FailureHandler:
        """Register what a failed ``@captcha_protected`` check returns (decorator)."""
        self._failure_handler = handler
        return handler

    def handle_failure(self, result: VerificationResult) -> Any:
        """The response for a failed check: the registered handler's, or the default one."""
        if self._failure_handler is not None:
            return self._failure_handler(result)
        return default_failure_response(result)

    @property
    def service(self) -> CaptchaService:
        """The self-hosted service of the current app."""
        return get_state().service


def _disabled(settings: Settings) -> VerificationResult:
    log.info("CAPTCHA check skipped: CAPTCHA_ENABLED is False")
    return VerificationResult(success=True, provider=settings.provider, raw={"disabled": True})


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
        getattr(store, "safe_url", store.url),
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
        "pow": PowChallenge(
            derive_secret(master, "pow"), settings.pow_max_number, settings.challenge_ttl
        ),
    }
    assert settings.token_secret is not None
    return CaptchaService(
        settings=settings,
        store=store,
        kinds=kinds,
        site_keys=SiteKeyRegistry(store, own_key, own_secret),
        tokens=TokenService(settings.token_secret, store, settings.token_ttl),
        limiter=RateLimiter(store),
    )
