"""``captcha_widget(**attrs)``: render the configured provider's widget in a template.

One mechanism for every provider: the options are parsed once into ``WidgetOptions``, the provider
supplies a context, and ``flask_captcha_ext/widgets/<provider>.html`` renders it. Templates use
autoescaping (and ``xmlattr`` for extra attributes), so every value is escaped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

from flask import current_app, render_template, request
from jinja2 import Undefined
from markupsafe import Markup

from .providers.base import WidgetSource
from .state import CaptchaState, get_state
from .stores import StoreUnavailable
from .verification import challenge_types

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
    #: Self-hosted widget: the challenge types to offer (narrowing what the server accepts).
    types: Optional[Tuple[str, ...]] = None
    #: Self-hosted widget: the least work its challenges carry (a view's ``min_work``).
    min_work: Optional[float] = None


def parse_options(
    nonce: Union[str, Callable[[], str], Undefined, None] = None,
    theme: str = "auto",
    language: Optional[str] = None,
    challenge_type: Optional[str] = None,
    action: Optional[str] = None,
    size: Optional[str] = None,
    types: Union[str, Iterable[str], None] = None,
    min_work: Optional[float] = None,
    **attrs: Any,
) -> WidgetOptions:
    """Check the macro's arguments; ``nonce`` may be a string or a callable returning one.

    An undefined template variable (``nonce=csp_nonce`` where the page has no ``csp_nonce``)
    renders the widget without a nonce and logs a warning: it is callable-looking, and calling
    it would raise, so it must be caught before ``callable()``.
    """
    if isinstance(nonce, Undefined):
        name = getattr(nonce, "_undefined_name", None)
        current_app.logger.warning(
            "captcha_widget(nonce=...): the template variable %s is undefined, so the widget "
            "renders without a nonce (a strict Content-Security-Policy will block its script)",
            repr(name) if name else "passed as nonce",
        )
        nonce = None
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
    if min_work is not None and (
        isinstance(min_work, bool) or not isinstance(min_work, (int, float)) or min_work <= 0
    ):
        raise ValueError("captcha_widget(min_work=...) must be a number above 0")
    return WidgetOptions(
        nonce,
        theme,
        language,
        challenge_type,
        action,
        size,
        html_attrs,
        challenge_types(types),
        None if min_work is None else float(min_work),
    )


def captcha_widget(**kwargs: Any) -> Markup:
    """The configured provider's widget as HTML (nothing when CAPTCHA_ENABLED is False)."""
    state = get_state()
    if not state.settings.enabled:
        return Markup("")
    options = parse_options(**kwargs)
    provider = state.provider
    context = provider.widget_context(options)
    if provider.widget_source is not None:
        context["selfhosted"] = selfhosted_context(state, options, provider.widget_source)
    template = f"flask_captcha_ext/widgets/{provider.template}.html"
    html = render_template(template, o=options, **context)
    return Markup(html)  # noqa: S704 - rendered by an autoescaping template


def selfhosted_context(
    state: CaptchaState, options: WidgetOptions, source: WidgetSource
) -> Dict[str, Any]:
    """What the self-hosted widget needs: endpoints, the types the server accepts from it (the
    first is shown), the action its tokens carry, and a no-JavaScript challenge."""
    allowed = source.types
    if options.types is not None:
        allowed = tuple(t for t in options.types if t in source.types)
    kind = options.challenge_type or (allowed[0] if allowed else None)
    if kind not in allowed:
        raise ValueError(
            f"captcha_widget: challenge type {kind!r} is not accepted here "
            f"(the server accepts {', '.join(source.types)})"
        )
    return {
        **source.endpoints(),
        "challenge_type": kind,
        "types": allowed,
        "action": options.action or state.settings.action,
        "min_work": options.min_work or state.settings.min_work,
        "token_ttl": state.settings.token_ttl,
        "noscript": (
            noscript_challenge(state, allowed, kind, options.action or state.settings.action)
            if source.noscript
            else {}
        ),
        "include_assets": _first_widget_of_request(),
    }


def _page_host() -> Optional[str]:
    """The host name of the page being rendered (its no-JS challenge's ``hostname``)."""
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return host.strip("[]").lower() or None


def _first_widget_of_request() -> bool:
    """True once per request: the script and style tags are emitted with the first widget only."""
    if request.environ.get("flask_captcha_ext.assets"):
        return False
    request.environ["flask_captcha_ext.assets"] = True
    return True


def noscript_challenge(
    state: CaptchaState, types: Any, preferred: str, action: Optional[str] = None
) -> NoScriptChallenge:
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
        data = state.service.new_page_challenge(
            kind, request.remote_addr or "unknown", action, _page_host()
        )
    except StoreUnavailable:
        log.warning("no no-JavaScript CAPTCHA on this page: the store is unavailable")
        return {}
    if data is None:
        return {}
    if "image" in data:
        data["image_src"] = "data:image/png;base64," + data["image"]
    return data
