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
import os
from typing import Any, Dict, Mapping, Optional

from flask import Flask

from flask_captcha_ext.settings import DEFAULTS

from . import create_app as create_example_app

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

    Refuses to start without SECRET_KEY (outside testing and debug): the service signs every
    token with keys derived from it, so the example's public development key would let anyone
    forge tokens.
    """
    settings: Dict[str, Any] = {"CAPTCHA_URL_PREFIX": "/api", **config_from_environment()}
    settings.update(config or {})
    relaxed = settings.get("TESTING") or settings.get("DEBUG") or os.environ.get("FLASK_DEBUG")
    if not settings.get("SECRET_KEY") and not relaxed:
        raise RuntimeError(
            "example.service needs SECRET_KEY: export SECRET_KEY=$(python -c "
            "'import secrets; print(secrets.token_hex(32))') (the same value on every worker)"
        )
    return create_example_app(settings)


#: What ``flask --app example.service`` (and gunicorn 'example.service:create_app()') call.
create_app = create_service
