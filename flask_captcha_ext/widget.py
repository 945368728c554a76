"""``captcha_widget(**attrs)``: render the configured provider's widget in a template.

One mechanism for every provider: the options are parsed once into ``WidgetOptions``, the provider
supplies a context, and ``flask_captcha_ext/widgets/<provider>.html`` renders it. Templates use
autoescaping (and ``xmlattr`` for extra attributes), so every value is escaped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Union

from flask import g, render_template, request, url_for
from markupsafe import Markup

from .state import CaptchaState, get_state
from .stores import StoreUnavailable

log = logging.getLogger("flask_captcha_ext")

THEMES = ("light", "dark", "auto")
NoScriptChallenge = Dict[str, Any]


@dataclass(frozen=True)
class WidgetOptions:
    """What a template asked of ``captcha_widget``."""

    nonce: Optional[str] = None
    theme: str = "auto"
    language: Optional[str] = None
    challenge_type: Optional[str] = None
    action: Optional[str] = None
    size: Optional[str] = None
    attrs: Dict[str, str] = field(default_factory=dict)


def parse_options(
    nonce: Union[str, Callable[[], str], None] = None,
    theme: str = "auto",
    language: Optional[str] = None,
    challenge_type: Optional[str] = None,
    action: Optional[str] = None,
    size: Optional[str] = None,
    **attrs: Any,
) -> WidgetOptions:
    """Check the macro's arguments; ``nonce`` may be a string or a callable returning one."""
    if callable(nonce):
        nonce = nonce()
    if nonce is not None and not isinstance(nonce, str):
        raise TypeError("captcha_widget(nonce=...) must be a string or a callable returning one")
    if theme not in THEMES:
        raise ValueError(f"captcha_widget(theme=...) must be one of {', '.join(THEMES)}")
    html_attrs = {
        name.rstrip("_").replace("_", "-"): str(value)
        for name, value in attrs.items()
        if value is not None and value is not False
    }
    return WidgetOptions(nonce, theme, language, challenge_type, action, size, html_attrs)


def captcha_widget(**kwargs: Any) -> Markup:
    """The configured provider's widget as HTML (nothing when CAPTCHA_ENABLED is False)."""
    state = get_state()
    if not state.settings.enabled:
        return Markup("")
    options = parse_options(**kwargs)
    provider = state.settings.provider
    context = state.provider.widget_context(options) if provider != "selfhosted" else {}
    if provider == "selfhosted" or state.settings.fallback == "selfhosted":
        # As a fallback the widget sits in an inert <template>: its <noscript> challenge is never
        # shown, so none is generated (saves a store write per page view).
        fallback_only = provider != "selfhosted"
        context["selfhosted"] = selfhosted_context(state, options, noscript=not fallback_only)
    html = render_template(f"flask_captcha_ext/widgets/{provider}.html", o=options, **context)
    return Markup(html)  # noqa: S704 - rendered by an autoescaping template


def selfhosted_context(
    state: CaptchaState, options: WidgetOptions, noscript: bool = True
) -> Dict[str, Any]:
    """What the self-hosted widget needs: endpoints, site key, and a no-JavaScript challenge."""
    settings = state.settings
    kind = options.challenge_type or _default_kind(settings.challenge_types)
    if kind not in settings.challenge_types:
        raise ValueError(
            f"captcha_widget(challenge_type={kind!r}) is not in CAPTCHA_CHALLENGE_TYPES"
        )
    remote = getattr(state.provider, "endpoints", None)
    if remote is not None:  # remote mode: the central service's widget, no local challenge
        where, noscript = remote(), False
    else:
        where = {
            "site_key": state.service.site_keys.own_site_key,
            "generate_url": url_for("captcha.generate"),
            "validate_url": url_for("captcha.validate"),
            "script_url": url_for("captcha.static", filename="widget.js"),
            "style_url": url_for("captcha.static", filename="widget.css"),
            "worker_url": url_for("captcha.static", filename="pow-worker.js"),
        }
    return {
        **where,
        "challenge_type": kind,
        "types": settings.challenge_types,
        "token_ttl": settings.token_ttl,
        "noscript": noscript_challenge(state, settings.challenge_types, kind) if noscript else {},
        "include_assets": _first_widget_of_request(),
    }


def _first_widget_of_request() -> bool:
    """True once per request: the script and style tags are emitted with the first widget only."""
    if g.get("_captcha_assets_emitted"):
        return False
    g._captcha_assets_emitted = True
    return True


def noscript_challenge(state: CaptchaState, types: Any, preferred: str) -> NoScriptChallenge:
    """A server-rendered challenge for browsers without JavaScript: the widget's own kind if it
    is typed (image or math), else image, else math; none for proof-of-work-only sites, and
    none (the page still renders) when the store is down or the client is over its limit."""
    if preferred in ("image", "math"):
        kind = preferred
    else:
        kind = "image" if "image" in types else "math"
    if kind not in types:
        return {}
    try:
        data = state.service.new_page_challenge(kind, request.remote_addr or "unknown")
    except StoreUnavailable:
        log.warning("no no-JavaScript CAPTCHA on this page: the store is unavailable")
        return {}
    if data is None:
        return {}
    if "image" in data:
        data["image_src"] = "data:image/png;base64," + data["image"]
    return data


def _default_kind(types: Any) -> str:
    for kind in ("image", "math", "pow"):
        if kind in types:
            return kind
    return types[0]
