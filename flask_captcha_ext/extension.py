"""CaptchaExt: binds settings, store, service and provider to an app (a thin Flask binding).

All per-app state lives in ``app.extensions["captcha"]`` (a ``CaptchaState``); the ``CaptchaExt``
object itself only holds the failure handler, so one instance can serve many apps. Checking
happens in ``verification.py``; ``verify`` and ``verify_async`` here are the same functions.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
import threading
from functools import partial
from typing import Callable, Optional

from flask import Blueprint, Flask

from . import verification
from .failure import FailureHandler, FailureResponder
from .providers import build_provider, own_key_pair
from .selfhosted.blueprint import create_blueprint, local_endpoints
from .selfhosted.challenges import ImageChallenge, MathChallenge
from .selfhosted.cli import captcha_cli
from .selfhosted.pow import ProofOfWork
from .selfhosted.ratelimit import RateLimiter
from .selfhosted.service import CaptchaService
from .selfhosted.sitekeys import SiteKeyRegistry, derived_key_pair
from .selfhosted.tokens import TokenService
from .settings import (
    ConfigError,
    Settings,
    apply_defaults,
    derive_secret,
    load_settings,
    settings_snapshot,
    unknown_keys,
)
from .state import CaptchaState, get_state
from .stores import Store, StoreUnavailable, open_store
from .widget import captcha_widget

TEST_TOKEN = verification.TEST_TOKEN
# Makes the package's templates (macros.html, widget partials) loadable in every app.
TEMPLATES = Blueprint("captcha_templates", __name__, template_folder="templates")
#: Keys that shape routes; Flask cannot change routes once it has served a request.
ROUTING_KEYS = ("CAPTCHA_BLUEPRINT", "CAPTCHA_URL_PREFIX", "CAPTCHA_CORS_ORIGINS")


class CaptchaExt:
    """The Flask extension: ``CaptchaExt(app)``, or ``CaptchaExt()`` then ``init_app(app)``."""

    def __init__(self, app: Optional[Flask] = None) -> None:
        self._failure = FailureResponder()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Validate CAPTCHA_* config, build the provider, register the blueprint and CLI."""
        apply_defaults(app.config, app.instance_path)
        state = build_state(app, self._failure)
        state.confirm = _confirmer(self._failure)
        app.extensions["captcha"] = state
        app.register_blueprint(TEMPLATES)
        if state.api:
            blueprint = create_blueprint(state.settings.cors_origins)
            app.register_blueprint(blueprint, url_prefix=state.settings.url_prefix or None)
            _exempt_from_csrf(app, blueprint)
        app.cli.add_command(captcha_cli)
        app.jinja_env.globals.update(
            captcha_widget=captcha_widget, _captcha_widget_html=captcha_widget
        )

    # -- verification: the functions of verification.py, for the current app ---------------

    #: ``captcha.verify(token, remote_ip=None, action=None, *, min_score=None, types=None)``
    verify = staticmethod(verification.verify)
    #: ``await captcha.verify_async(...)``: the same, for ``async def`` views (httpx).
    verify_async = staticmethod(verification.verify_async)

    def failure_handler(self, handler: FailureHandler) -> FailureHandler:
        """Register what a failed ``@captcha_protected`` check returns (decorator)."""
        self._failure.handler = handler
        return handler

    @property
    def service(self) -> CaptchaService:
        """The self-hosted service of the current app."""
        return get_state().service

    @property
    def site_key(self) -> str:
        """The current app's own self-hosted site key (the one its widget uses; public), e.g.
        for the official ALTCHA widget's challenge URL."""
        return get_state().service.site_keys.own_site_key


def build_state(app: Flask, failure: FailureResponder) -> CaptchaState:
    """Everything the extension keeps for ``app``, built from its config as it is now."""
    settings = load_settings(app.config)
    for name in unknown_keys(app.config):
        app.logger.warning("%s is not a flask-captcha-ext setting; it is ignored", name)
    try:
        store = open_store(settings.store_url)
    except ValueError as exc:  # a malformed URL; its message never holds a password
        raise ConfigError(f"CAPTCHA_STORE_URL is not a usable store URL: {exc}") from None
    _check_durability(store, settings, app)
    _check_one_process(settings, app)
    master, made_up = _master_secret(app)
    service = _build_service(settings, store, master)
    endpoints = partial(local_endpoints, service.site_keys.own_site_key)
    provider = build_provider(settings, service, endpoints, testing=app.testing)
    api = settings.blueprint
    if api is None:
        api = provider.serves_challenges
    elif provider.serves_challenges and not api:
        raise ConfigError(
            "CAPTCHA_BLUEPRINT=False leaves the self-hosted widget without its generate and "
            "validate endpoints; keep it on (None) for the self-hosted provider and for "
            "CAPTCHA_FALLBACK='selfhosted'"
        )
    if api:  # the endpoints sign tokens
        _check_secret(app, made_up)
        _prepare(service, settings)
    _warn_about_switches(app, settings)
    return CaptchaState(
        settings, store, service, provider, failure, api, settings_snapshot(app.config)
    )


def _prepare(service: CaptchaService, settings: Settings) -> None:
    """Load now what the endpoints will use (the ``altcha`` library; the image renderer, with
    Pillow, when images are issued), so a fresh worker's first request costs what its thousandth
    does; an app whose endpoints are off never loads them."""
    service.pow.prepare()
    if "image" in settings.challenge_types:
        service.kinds["image"].prepare()  # type: ignore[attr-defined]


def _master_secret(app: Flask) -> tuple[bytes, bool]:
    """SECRET_KEY, else CAPTCHA_TOKEN_SECRET; else a random one for this process only (True:
    made up), which ``_check_secret`` allows in debug and testing alone."""
    for name in ("SECRET_KEY", "CAPTCHA_TOKEN_SECRET"):
        value = app.config.get(name)
        if value:
            return (value.encode() if isinstance(value, str) else bytes(value)), False
    return secrets.token_bytes(32), True


def _check_secret(app: Flask, made_up: bool) -> None:
    """Self-hosted tokens need a secret every worker shares; none is ever stored in the clear."""
    if not made_up:
        return
    if not (app.debug or app.testing):
        raise ConfigError(
            "SECRET_KEY (or CAPTCHA_TOKEN_SECRET) is required to sign self-hosted CAPTCHA tokens; "
            "set one of them (for example from the environment)"
        )
    app.logger.warning(
        "SECRET_KEY is not set: flask-captcha-ext signs CAPTCHA tokens with a random secret of "
        "this process, so other workers and restarts will not accept them (debug/testing only)"
    )


def _warn_about_switches(app: Flask, settings: Settings) -> None:
    if settings.test_mode and not (app.testing or app.debug):
        app.logger.warning(
            "CAPTCHA_TEST_MODE is on for %s, which is neither testing nor debug: the token %r "
            "passes every check. Never run production like this.",
            app.name,
            TEST_TOKEN,
        )
    if not settings.enabled:
        app.logger.warning("CAPTCHA_ENABLED is False: every CAPTCHA check passes for %s", app.name)


def _exempt_from_csrf(app: Flask, blueprint: Blueprint) -> None:
    """Keep the JSON API out of Flask-WTF's CSRF check (it is called cross-site by design, with
    no session), whether ``CSRFProtect`` is set up before or after us."""
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(blueprint)
        return

    exempted = False

    def exempt_late() -> None:
        nonlocal exempted
        late = app.extensions.get("csrf")
        if late is not None and not exempted:
            late.exempt(blueprint)
            exempted = True

    # First in line, so it runs before the hook a later CSRFProtect(app) appends.
    app.before_request_funcs.setdefault(None, []).insert(0, exempt_late)


def _confirmer(failure: FailureResponder) -> Callable[[Flask], CaptchaState]:
    """``CaptchaState.confirm``: at the first use of the state, apply CAPTCHA_* keys changed
    after ``init_app`` (the state is rebuilt), or refuse the ones Flask cannot apply any more
    (routes). Never ignore them."""
    lock = threading.Lock()

    def confirm(app: Flask) -> CaptchaState:
        with lock:
            state: CaptchaState = app.extensions["captcha"]
            if state.confirm is None:  # another thread got here first
                return state
            now, then = settings_snapshot(app.config), state.config
            changed = sorted(name for name in {*now, *then} if now.get(name) != then.get(name))
            stuck = [name for name in changed if name in ROUTING_KEYS]
            if stuck:
                raise ConfigError(
                    f"{', '.join(stuck)} changed after init_app; set routing keys before "
                    "CaptchaExt(app) / init_app(app)"
                )
            if changed:
                app.logger.info(
                    "CAPTCHA settings changed after init_app (%s): applied", ", ".join(changed)
                )
                rebuilt = build_state(app, failure)
                if rebuilt.api != state.api:
                    raise ConfigError(
                        f"{', '.join(changed)} changed after init_app and would turn the "
                        "self-hosted endpoints on or off; set them before init_app(app)"
                    )
                state = app.extensions["captcha"] = rebuilt
            state.confirm = None
            return state

    return confirm


def server_workers() -> Optional[int]:
    """How many worker processes the server that loaded the app runs, when it says so: gunicorn's
    ``-w``/``--workers`` (command line, GUNICORN_CMD_ARGS) or WEB_CONCURRENCY; None under any
    other server. (A gunicorn config file is not read.)"""
    if "gunicorn" in sys.modules:
        args = sys.argv[1:] + shlex.split(os.environ.get("GUNICORN_CMD_ARGS", ""))
        count: Optional[str] = None
        for i, arg in enumerate(args):
            if arg in ("-w", "--workers") and i + 1 < len(args):
                count = args[i + 1]
            elif arg.startswith("--workers="):
                count = arg.split("=", 1)[1]
            elif arg.startswith("-w") and arg[2:].isdigit():
                count = arg[2:]
        count = count or os.environ.get("WEB_CONCURRENCY")
        return int(count) if count and count.isdigit() else 1
    return None


def _check_one_process(settings: Settings, app: Flask) -> None:
    """``memory://`` lives in one process: behind several workers each has its own, and a token
    spent in one passes again in the next (77% did, behind four gunicorn workers)."""
    if not (settings.store_url or "").startswith("memory://"):
        return
    workers = server_workers()
    if workers is not None and workers > 1:
        app.logger.warning(
            "CAPTCHA_STORE_URL=memory:// keeps its data in one process, but this server runs "
            "%d workers: a token spent in one passes again in another. Use sqlite:// (one "
            "host) or redis:// (several)",
            workers,
        )


def _check_durability(store: Store, settings: Settings, app: Flask) -> None:
    """A Redis that may drop keys would let spent tokens pass again: refuse an evicting
    ``maxmemory-policy`` (unless CAPTCHA_REDIS_ALLOW_EVICTION, which also stops the store from
    beginning a new epoch on every eviction), warn when nothing persists."""
    read = getattr(store, "durability", None)
    if read is None:
        return
    if settings.redis_allow_eviction:
        store.watch_evictions = False  # type: ignore[attr-defined]
    try:
        found = read()
    except StoreUnavailable:
        app.logger.warning(
            "CAPTCHA_STORE_URL: Redis did not answer at init_app, so its maxmemory-policy and "
            "persistence were not checked"
        )
        return
    if found.policy is None:
        app.logger.warning(
            "CAPTCHA_STORE_URL: this Redis does not allow CONFIG GET; make sure its "
            "maxmemory-policy is noeviction and that it persists (appendonly yes)"
        )
        return
    if found.policy != "noeviction" and not settings.redis_allow_eviction:
        raise ConfigError(
            f"CAPTCHA_STORE_URL: Redis maxmemory-policy is {found.policy!r}, which may evict "
            "spent tokens and challenges so that they pass again; set it to noeviction (use a "
            "database not shared with a cache), or set CAPTCHA_REDIS_ALLOW_EVICTION = True"
        )
    if not found.persistent:
        app.logger.warning(
            "CAPTCHA_STORE_URL: this Redis keeps nothing on disk (appendonly no, save \"\"): a "
            "restart forgets spent tokens and site keys; set appendonly yes "
            "(appendfsync everysec)"
        )


def _build_service(settings: Settings, store: Store, master: bytes) -> CaptchaService:
    own_key, own_secret = own_key_pair(settings, *derived_key_pair(master))
    answer_key = derive_secret(master, "answers")
    kinds = {
        "image": ImageChallenge(answer_key, settings.image_length),
        "math": MathChallenge(answer_key),
    }
    if settings.pow_algorithm == "ARGON2ID":
        try:
            import argon2  # noqa: F401 - the server checks Argon2id with argon2-cffi
        except ImportError:
            raise ConfigError(
                "CAPTCHA_POW_ALGORITHM='ARGON2ID' needs argon2-cffi: "
                "pip install 'flask-captcha-ext[argon2]'"
            ) from None
    pow = ProofOfWork(
        settings.pow_algorithm,
        settings.pow_target_ms,
        derive_secret(master, "pow"),
        settings.challenge_ttl,
    )
    token_secret = settings.token_secret or derive_secret(master, "token")
    return CaptchaService(
        settings=settings,
        store=store,
        kinds=kinds,
        site_keys=SiteKeyRegistry(store, own_key, own_secret),
        tokens=TokenService(token_secret, store, settings.token_ttl),
        limiter=RateLimiter(store),
        pow=pow,
    )
