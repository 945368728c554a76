"""hCaptcha: checkbox or invisible; Enterprise replies add a score running 0 human .. 1 bot.

Verification is form-encoded only and sends ``sitekey`` too (hCaptcha recommends it: it catches a
site key / secret mix-up). The Enterprise score is inverted (1 - score) so that higher means more
human; ``score_reason`` stays in ``raw``. No threshold applies unless one is configured, and replies
without a score (non-Enterprise) are not held to one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from .siteverify import SiteverifyProvider

if TYPE_CHECKING:
    from ..widget import WidgetOptions

SIZES = ("normal", "compact", "invisible")


class HCaptcha(SiteverifyProvider):
    """hCaptcha (and hCaptcha Enterprise scores)."""

    name = "hcaptcha"
    response_fields = ("h-captcha-response", "g-recaptcha-response")
    default_url = "https://api.hcaptcha.com/siteverify"
    script_src = "https://js.hcaptcha.com/1/api.js"
    script_global = "hcaptcha"
    score_is_human = False
    send_sitekey = True

    def widget_mode(self, options: WidgetOptions) -> str:
        return "invisible" if options.size == "invisible" else "auto"

    def widget_extra(self, options: WidgetOptions) -> Dict[str, Any]:
        if options.size is not None and options.size not in SIZES:
            raise ValueError(f"captcha_widget(size=...) must be one of {', '.join(SIZES)}")
        return {
            "script_url": self.script_url(options, hl=options.language),
            "theme": options.theme if options.theme in ("light", "dark") else None,
            "size": options.size,
        }
