"""The self-hosted provider: this deployment checks its own success tokens and no-JS answers.

Tokens are verified (signature, audience, expiry, site key, single use) by the service's
``TokenService``; then the same ``Policy`` as for third-party tokens decides whether the token is
good *for this form*: its challenge type (CAPTCHA_CHALLENGE_TYPES, narrowed by a call's
``types``), the hostname it was solved on (CAPTCHA_HOSTNAMES), its action, its age. Nothing here
fails open: a store outage fails the check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ..result import VerificationResult
from ..selfhosted.pow import challenge_id_of
from .base import SELFHOSTED_FIELD, Provider, Types, WidgetSource
from .policy import Policy

if TYPE_CHECKING:
    from ..selfhosted.service import CaptchaService
    from ..settings import Settings

NAME = "selfhosted"


def local_policy(settings: Settings, types: tuple) -> Policy:
    """The checks a self-hosted token passes: ``types``, then the app's hostname, action and age
    rules (a token carries its action only when the widget was given one, so an expected action
    must be there)."""
    return Policy(
        action=settings.action,
        hostnames=settings.hostnames,
        max_age=settings.max_age,
        action_required=True,
        types=types,
        min_work=settings.min_work,
    )


class LocalProvider(Provider):
    """Tokens and no-JavaScript answers of this deployment's own site key."""

    name = NAME
    template = NAME
    response_fields = (SELFHOSTED_FIELD,)
    serves_challenges = True
    accepts_answers = True

    def __init__(
        self, service: CaptchaService, policy: Policy, widget_source: WidgetSource
    ) -> None:
        self.service = service
        self.policy = policy
        self.widget_source = widget_source

    def verify(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        types: Types = None,
        min_work: Optional[float] = None,
    ) -> VerificationResult:
        if challenge_id_of(token) is not None:  # the official ALTCHA widget's payload
            return self.verify_answer(None, token, remote_ip, types, min_work, action)
        result = self.service.tokens.verify(token, self.service.site_keys.own.id)
        return self.policy.check(
            result, action=action, min_score=min_score, types=types, min_work=min_work
        )

    def verify_answer(
        self,
        captcha_id: Any,
        answer: Any,
        remote_ip: Optional[str],
        types: Types = None,
        min_work: Optional[float] = None,
        action: Optional[str] = None,
    ) -> VerificationResult:
        """A form-posted answer: a server-rendered challenge's, or the official ALTCHA widget's
        ``altcha`` payload (``captcha_id`` None). The same policy as a token's: the challenge
        kept the action and host it was issued for (the page's ``captcha_widget(action=...)``,
        the challenge URL's ``action``), so an expected action must be there."""
        ip = remote_ip or "unknown"
        if captcha_id is None:
            result = self.service.check_altcha(answer, ip)
        else:
            result = self.service.check_answer(captcha_id, answer, ip)
        return self.policy.check(result, action=action, types=types, min_work=min_work)
