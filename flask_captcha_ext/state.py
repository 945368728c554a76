"""The per-app state of the extension, kept in ``app.extensions["captcha"]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from flask import Flask, current_app

from .selfhosted.service import CaptchaService
from .settings import Settings
from .stores import Store

if TYPE_CHECKING:
    from .extension import CaptchaExt
    from .providers import Provider


@dataclass
class CaptchaState:
    """Everything the extension keeps for one app; nothing is shared between apps."""

    ext: CaptchaExt
    settings: Settings
    store: Store
    service: CaptchaService
    provider: Optional[Provider] = None


def get_state(app: Optional[Flask] = None) -> CaptchaState:
    """The extension state of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        return app.extensions["captcha"]
    except KeyError:
        raise RuntimeError("CaptchaExt.init_app(app) has not been called for this app") from None
