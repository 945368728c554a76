"""The central CAPTCHA service: one deployment protecting many sites, in any language.

    flask --app example.service run                                 # embedded SQLite store
    flask --app example.service captcha keys create --name blog --origin https://blog.example
    CAPTCHA_STORE_URL=redis://127.0.0.1:6379/0 SECRET_KEY=... \\
        gunicorn -w 4 -b 0.0.0.0:8000 'example.service:create_app()'

Serves the self-hosted API under /api (generate, validate, siteverify, openapi.json) and the demo
page at /demo. Every CAPTCHA_* setting (and SECRET_KEY) can come from an environment variable of
the same name; values are read as JSON when they parse (numbers, lists, true/false/null), else as
text, so ``CAPTCHA_CORS_ORIGINS='["https://blog.example"]'`` and ``CAPTCHA_CHALLENGE_TTL=120``
work.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, Mapping, Optional

from flask import Flask
from flask.helpers import get_debug_flag

from flask_captcha_ext.settings import DEFAULTS

from . import create_app as create_example_app

log = logging.getLogger(__name__)

#: Keys always taken as text: secrets and names that may look like numbers ("12345").
TEXT_KEYS = frozenset(
    {"SECRET_KEY", "CAPTCHA_SITE_KEY", "CAPTCHA_SECRET_KEY", "CAPTCHA_TOKEN_SECRET",
     "CAPTCHA_ACTION"}
)


def config_from_environment(environ: Mapping[str, str] = os.environ) -> Dict[str, Any]:
    """CAPTCHA_* keys and SECRET_KEY found in ``environ``; JSON-decoded where they parse,
    except ``TEXT_KEYS``."""
    config: Dict[str, Any] = {}
    for key in (*DEFAULTS, "SECRET_KEY"):
        if key in environ:
            raw = environ[key]
            try:
                config[key] = raw if key in TEXT_KEYS else json.loads(raw)
            except ValueError:
                config[key] = raw
    return config


def create_service(config: Optional[Mapping[str, Any]] = None) -> Flask:
    """The example app configured as a central service from the environment (then ``config``).

    Refuses to start without SECRET_KEY unless testing or debug is really on (read as Flask
    reads it: ``FLASK_DEBUG=0`` is off): the service signs every token with keys derived from
    it, so the example's public development key would let anyone forge tokens.
    """
    settings: Dict[str, Any] = {"CAPTCHA_URL_PREFIX": "/api", **config_from_environment()}
    settings.update(config or {})
    if not settings.get("SECRET_KEY"):
        settings.pop("SECRET_KEY", None)  # an empty one means none: the example's dev key
    if "SECRET_KEY" not in settings and not settings.get("TESTING"):
        if not debug_enabled(settings):
            raise RuntimeError(
                "example.service needs SECRET_KEY (debug is off; FLASK_DEBUG=0, false or no "
                "count as off): export SECRET_KEY=$(python -c "
                "'import secrets; print(secrets.token_hex(32))') (the same value on every worker)"
            )
        log.warning(
            "example.service: no SECRET_KEY, so debug mode signs tokens with the public "
            "development key and anyone can forge them; set SECRET_KEY outside your laptop"
        )
    return create_example_app(settings)


def debug_enabled(settings: Mapping[str, Any]) -> bool:
    """Whether the app will run in debug mode, as Flask decides it.

    A DEBUG setting wins; otherwise FLASK_DEBUG, where "0", "false", "no" and "" mean off.
    """
    if "DEBUG" in settings:
        return bool(settings["DEBUG"])
    return get_debug_flag()


#: What ``flask --app example.service`` (and gunicorn 'example.service:create_app()') call.
create_app = create_service
