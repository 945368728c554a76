"""Third-party CAPTCHA providers: one module each, chosen by CAPTCHA_PROVIDER.

The self-hosted provider is the extension's own service and needs no object here
(``build_provider`` returns None for it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Protocol, Tuple

from ..result import VerificationResult

if TYPE_CHECKING:
    from ..selfhosted.service import CaptchaService
    from ..settings import Settings
    from ..widget import WidgetOptions


class Provider(Protocol):
    """What the extension needs of a third-party provider."""

    name: str
    #: Form fields the widget posts its token in, the primary one first.
    response_fields: Tuple[str, ...]

    def verify(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
    ) -> VerificationResult:
        """Verify ``token`` with the provider and apply the result policy."""

    def widget_context(self, options: "WidgetOptions") -> Dict[str, Any]:
        """Variables for ``flask_captcha_ext/widgets/<name>.html``."""


def build_provider(settings: "Settings", service: "CaptchaService") -> Optional[Provider]:
    """The provider object for ``settings.provider`` (None for self-hosted)."""
    if settings.provider == "selfhosted":
        return None
    raise NotImplementedError(f"CAPTCHA_PROVIDER={settings.provider!r} is not available yet")
