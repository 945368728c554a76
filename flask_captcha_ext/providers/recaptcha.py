"""Google reCAPTCHA v2: the checkbox and the invisible badge (``captcha_widget(size="invisible")``).

Verification: POST ``secret``, ``response``, ``remoteip`` to siteverify. v2 replies carry no score
or action, so CAPTCHA_MIN_SCORE and the expected action do not apply; the hostname (or the Android
``apk_package_name``) is checked against CAPTCHA_HOSTNAMES.
"""

from __future__ import annotations

from .siteverify import CheckboxSiteverifyProvider


class RecaptchaV2(CheckboxSiteverifyProvider):
    """reCAPTCHA v2 checkbox or invisible."""

    name = "recaptcha"
    response_fields = ("g-recaptcha-response",)
    default_url = "https://www.google.com/recaptcha/api/siteverify"
    script_src = "https://www.google.com/recaptcha/api.js"
    script_global = "grecaptcha"
