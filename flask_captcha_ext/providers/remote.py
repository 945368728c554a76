"""A central self-hosted service: its ``siteverify`` checks tokens for this app.

With ``CAPTCHA_PROVIDER="selfhosted"`` and ``CAPTCHA_VERIFY_URL`` pointing at another
flask-captcha-ext deployment's ``.../siteverify``, this app renders the central service's widget
(its generate and validate endpoints, with CAPTCHA_SITE_KEY) and asks the central service whether
a token is good, exactly as a reCAPTCHA client would. The central service spends each token once
and reports the challenge type, which must be one of this app's CAPTCHA_CHALLENGE_TYPES.

It never fails open: an unreachable central service is a failed check (CAPTCHA_FAIL_OPEN with it
is a configuration error), because a pass without any check would let every bot through.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Dict

from ..result import VerificationResult
from .base import SELFHOSTED_FIELD, WidgetSource
from .http import Call, Reply
from .siteverify import SiteverifyProvider

if TYPE_CHECKING:
    from ..settings import Settings
    from ..stores import Store
    from .aio import AsyncHttpClient
    from .http import HttpClient


def central_base(verify_url: str) -> str:
    """The central service's API prefix URL, from its siteverify URL."""
    return verify_url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[0]


class RemoteProvider(SiteverifyProvider):
    """Tokens of a central self-hosted service, verified through its siteverify."""

    name = "selfhosted"
    response_fields = (SELFHOSTED_FIELD,)
    default_url = ""  # CAPTCHA_VERIFY_URL is what makes this provider
    may_fail_open = False

    def __init__(
        self,
        settings: Settings,
        http: HttpClient,
        aio: AsyncHttpClient | None = None,
        store: Store | None = None,
    ) -> None:
        super().__init__(settings, http, aio, store)
        self.template = "selfhosted"
        # The central service reports type and action: the same checks as a local token.
        self.policy = replace(
            self.policy,
            types=settings.challenge_types,
            min_work=settings.min_work,
            reports_action=True,
            action_required=True,
        )
        self.widget_source = WidgetSource(self.endpoints, settings.challenge_types)

    def interpret(self, reply: Reply, call: Call) -> VerificationResult:
        result = super().interpret(reply, call)
        data = reply.data or {}
        kind, work = data.get("challenge_type"), data.get("work")
        if isinstance(work, bool) or not isinstance(work, (int, float)):
            work = None
        return replace(
            result,
            challenge_type=kind if isinstance(kind, str) else None,
            work=None if work is None else float(work),
        )

    def widget_context(self, options: Any, fallback: bool = False) -> Dict[str, Any]:
        return {}  # widget.py renders the self-hosted widget from widget_source

    def endpoints(self) -> Dict[str, str]:
        """Where the widget fetches and validates challenges, and loads its script from."""
        base = central_base(self.url)
        return {
            "site_key": self.settings.site_key or "",
            "generate_url": base + "/generate",
            "validate_url": base + "/validate",
            "script_url": base + "/static/widget.js",
            "style_url": base + "/static/widget.css",
            "workers_url": base + "/static/altcha/",
        }
