"""hCaptcha: checkbox or invisible; Enterprise replies add a score running 0 human .. 1 bot.

Verification is form-encoded only and sends ``sitekey`` too (hCaptcha recommends it: it catches a
site key / secret mix-up). The Enterprise score is inverted (1 - score) so that higher means more
human; ``score_reason`` stays in ``raw``. No threshold applies unless one is configured, and replies
without a score (non-Enterprise) are not held to one.
"""

from __future__ import annotations

from .siteverify import CheckboxSiteverifyProvider


class HCaptcha(CheckboxSiteverifyProvider):
    """hCaptcha (and hCaptcha Enterprise scores)."""

    name = "hcaptcha"
    response_fields = ("h-captcha-response", "g-recaptcha-response")
    default_url = "https://api.hcaptcha.com/siteverify"
    script_src = "https://js.hcaptcha.com/1/api.js"
    script_global = "hcaptcha"
    score_is_human = False
    send_sitekey = True
