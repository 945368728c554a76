"""Remote mode of the self-hosted provider: a central deployment's ``siteverify`` checks tokens.

With ``CAPTCHA_PROVIDER="selfhosted"`` and ``CAPTCHA_VERIFY_URL`` pointing at another
flask-captcha-ext deployment's ``.../siteverify``, this app renders the central service's widget
(its generate and validate endpoints, with CAPTCHA_SITE_KEY) and asks the central service whether
a token is good, exactly as a reCAPTCHA client would. The central service spends each token once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from .siteverify import SiteverifyProvider

if TYPE_CHECKING:
    from ..widget import WidgetOptions


def central_base(verify_url: str) -> str:
    """The central service's API prefix URL, from its siteverify URL."""
    return verify_url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[0]


class RemoteSelfhosted(SiteverifyProvider):
    """Tokens of a central self-hosted service, verified through its siteverify."""

    name = "selfhosted"
    response_fields = ("captcha-token",)
    default_url = ""  # CAPTCHA_VERIFY_URL is required (settings.py checks it)

    def widget_context(self, options: WidgetOptions) -> Dict[str, Any]:
        return {}  # widget.py renders the self-hosted widget against the central service

    def endpoints(self) -> Dict[str, Any]:
        """Where the widget fetches and validates challenges, and loads its script from."""
        base = central_base(self.url)
        return {
            "site_key": self.settings.site_key,
            "generate_url": base + "/generate",
            "validate_url": base + "/validate",
            "script_url": base + "/static/widget.js",
            "style_url": base + "/static/widget.css",
            "worker_url": base + "/static/pow-worker.js",
        }
