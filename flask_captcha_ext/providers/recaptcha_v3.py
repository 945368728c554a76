"""Google reCAPTCHA v3: invisible, scored (0.0 bot .. 1.0 human), one action per form.

The widget loads ``api.js?render=<site key>`` and, on submit, asks ``grecaptcha.execute`` for a
token with the action (tokens live two minutes, so not earlier). The reply must carry a score
(default threshold 0.5, Google's advice) and the expected action: the call's, else CAPTCHA_ACTION,
else ``submit``, the action the widget sends when neither names one (so a token minted for some
other action on another page never passes by default).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Dict

from .recaptcha import RecaptchaV2

if TYPE_CHECKING:
    from ..widget import WidgetOptions

#: Google accepts letters, digits, slashes and underscores in action names.
ACTION = re.compile(r"^[A-Za-z0-9_/]{1,100}$")


class RecaptchaV3(RecaptchaV2):
    """reCAPTCHA v3 (score based)."""

    name = "recaptcha_v3"
    default_min_score = 0.5
    score_required = True
    reports_action = True
    action_required = True
    default_action: ClassVar[str] = "submit"

    def widget_mode(self, options: WidgetOptions) -> str:
        return "score"

    def widget_extra(self, options: WidgetOptions) -> Dict[str, Any]:
        action = options.action or self.settings.action or self.default_action
        if not ACTION.match(action):
            raise ValueError(
                f"reCAPTCHA v3 actions may only hold letters, digits, '/' and '_' (got {action!r})"
            )
        return {
            "script_url": self.script_url(
                options, render=self.settings.site_key, hl=options.language
            ),
            "action": action,
        }
