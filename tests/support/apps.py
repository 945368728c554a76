"""The one app factory of tests and benches: a Flask app with CaptchaExt, from keyword config."""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional, Union

from flask import Flask

from flask_captcha_ext import CaptchaExt

#: Every challenge type, math included (opt-in since math stopped being a default): for tests
#: that drive the math flow, whose answer is quickest to learn.
ALL_TYPES = ("pow", "image", "math")
#: The ``make_app`` fixture's SECRET_KEY (tests derive the own site key's secret from it).
SECRET = "test-secret-key-0123456789abcdef"

_SAME: Any = object()


def build_app(
    name: str = "captcha_test_app",
    *,
    instance_path: Union[str, os.PathLike, None] = None,
    config: Optional[Mapping[str, Any]] = None,
    ext: Optional[CaptchaExt] = None,
    init: bool = True,
    **settings: Any,
) -> Flask:
    """``Flask(name)`` configured with ``config`` then ``settings`` (keyword args win), with
    CaptchaExt on it.

    Nothing is added to the config: a caller that wants TESTING, a SECRET_KEY or a store passes it.
    ``instance_path`` None keeps Flask's default instance folder. The extension is initialised
    with ``CaptchaExt(app)``, or ``ext.init_app(app)`` when ``ext`` is given; ``init=False`` leaves
    it out, for callers that must set something up first (CSRFProtect, error handlers) or whose
    subject is ``CaptchaExt(app)`` itself.
    """
    if instance_path is None:
        app = Flask(name)
    else:
        app = Flask(name, instance_path=str(instance_path))
    app.config.update({**(config or {}), **settings})
    if init:
        if ext is None:
            CaptchaExt(app)
        else:
            ext.init_app(app)
    return app


def rate_limits(per_site_key: Optional[str], per_ip: Optional[str] = _SAME) -> Dict[str, Any]:
    """The four ``CAPTCHA_RATE_LIMIT_*`` keys: generate and validate per site key at
    ``per_site_key``, per client IP at ``per_ip`` (default: the same). None turns a limit off."""
    ip = per_site_key if per_ip is _SAME else per_ip
    return {
        "CAPTCHA_RATE_LIMIT_GENERATE": per_site_key,
        "CAPTCHA_RATE_LIMIT_VALIDATE": per_site_key,
        "CAPTCHA_RATE_LIMIT_IP_GENERATE": ip,
        "CAPTCHA_RATE_LIMIT_IP_VALIDATE": ip,
    }
