"""Cloudflare Turnstile: managed, non-interactive or invisible (the site key decides).

Verification: form POST of ``secret``, ``response``, ``remoteip``. Replies carry ``action``
(the widget's ``data-action``) and ``cdata``; no score. Tokens are at most 2048 characters, live
300 s and verify once. ``internal-error`` fails closed like every other reply (see
siteverify.classify).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict

from .siteverify import SiteverifyProvider

if TYPE_CHECKING:
    from ..widget import WidgetOptions

#: Turnstile actions: up to 32 letters, digits, '_' and '-'.
ACTION = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class Turnstile(SiteverifyProvider):
    """Cloudflare Turnstile."""

    name = "turnstile"
    response_fields = ("cf-turnstile-response",)
    default_url = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    script_src = "https://challenges.cloudflare.com/turnstile/v0/api.js"
    script_global = "turnstile"
    widget_sizes = ("normal", "flexible", "compact")
    max_token_length = 2048
    reports_action = True
    action_required = True

    def widget_extra(self, options: WidgetOptions) -> Dict[str, Any]:
        size = self.widget_size(options)
        action = options.action or self.settings.action
        if action is not None and not ACTION.match(action):
            raise ValueError(
                f"Turnstile actions are up to 32 letters, digits, '_' or '-' (got {action!r})"
            )
        return {"theme": options.theme, "size": size, "action": action}
