"""Google reCAPTCHA v2: the checkbox and the invisible badge (``captcha_widget(size="invisible")``).

Verification: POST ``secret``, ``response``, ``remoteip`` to siteverify. v2 replies carry no score
or action, so CAPTCHA_MIN_SCORE and the expected action do not apply; the hostname (or the Android
``apk_package_name``) is checked against CAPTCHA_HOSTNAMES.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from .siteverify import SiteverifyProvider

if TYPE_CHECKING:
    from ..widget import WidgetOptions

class RecaptchaV2(SiteverifyProvider):
    """reCAPTCHA v2 checkbox or invisible."""

    name = "recaptcha"
    response_fields = ("g-recaptcha-response",)
    default_url = "https://www.google.com/recaptcha/api/siteverify"
    script_src = "https://www.google.com/recaptcha/api.js"
    script_global = "grecaptcha"
    widget_sizes = ("normal", "compact", "invisible")

    def widget_mode(self, options: WidgetOptions) -> str:
        return "invisible" if options.size == "invisible" else "auto"

    def widget_extra(self, options: WidgetOptions) -> Dict[str, Any]:
        return {
            "script_url": self.script_url(options, hl=options.language),
            "theme": self.light_or_dark(options),
            "size": self.widget_size(options),
        }
