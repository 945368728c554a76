"""The per-app state of the extension, kept in ``app.extensions["captcha"]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from flask import Flask, current_app

if TYPE_CHECKING:
    from .failure import FailureResponder
    from .providers.base import Provider
    from .selfhosted.service import CaptchaService
    from .settings import Settings
    from .stores import Store


@dataclass
class CaptchaState:
    """Everything the extension keeps for one app; nothing is shared between apps.

    ``api``: the self-hosted endpoints are registered. ``config`` is the configuration the state
    was built from; until ``confirm`` has compared it with the app's config once (at the first
    use), a change made after ``init_app`` is applied or reported, never silently ignored.
    """

    settings: Settings
    store: Store
    service: CaptchaService
    provider: Provider
    failure: FailureResponder
    api: bool
    config: Dict[str, Any] = field(default_factory=dict)
    confirm: Optional[Callable[[Flask], CaptchaState]] = None


def get_state(app: Optional[Flask] = None) -> CaptchaState:
    """The extension state of ``app`` (default: the current app)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        state: CaptchaState = app.extensions["captcha"]
    except KeyError:
        raise RuntimeError("CaptchaExt.init_app(app) has not been called for this app") from None
    if state.confirm is not None:
        state = state.confirm(app)
    return state
