"""Third-party CAPTCHA providers: one module each, chosen by CAPTCHA_PROVIDER.

The self-hosted provider is the extension's own service and needs no object here
(``build_provider`` returns None for it), unless CAPTCHA_VERIFY_URL points at a central service.
Adding a provider is one module (a ``BaseProvider`` subclass) and one line in ``REGISTRY``.
"""

from __future__ import annotations

import ipaddress
import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any, Dict, Optional, Protocol, Tuple, Type
from urllib.parse import urlsplit

from ..result import VerificationResult
from ..settings import ConfigError
from .aio import AsyncHttpClient
from .base import BaseProvider
from .http import ClientOptions, HttpClient, ca_bundle_from_env

if TYPE_CHECKING:
    from ..selfhosted.service import CaptchaService
    from ..settings import Settings
    from ..widget import WidgetOptions

__all__ = [
    "REGISTRY",
    "AsyncHttpClient",
    "BaseProvider",
    "ClientOptions",
    "HttpClient",
    "Provider",
    "build_provider",
    "provider_class",
]

log = logging.getLogger("flask_captcha_ext.providers")

#: CAPTCHA_PROVIDER -> "module:Class" (imported on demand).
REGISTRY: Dict[str, str] = {
    "selfhosted": "remote:RemoteSelfhosted",  # only with CAPTCHA_VERIFY_URL (a central service)
    "recaptcha": "recaptcha:RecaptchaV2",
    "recaptcha_v3": "recaptcha_v3:RecaptchaV3",
    "hcaptcha": "hcaptcha:HCaptcha",
    "turnstile": "turnstile:Turnstile",
    "friendlycaptcha": "friendlycaptcha:FriendlyCaptcha",
    "trustcaptcha": "trustcaptcha:TrustCaptcha",
    "gkcaptcha": "gkcaptcha:GkCaptcha",
}

#: Public test secrets with which every token passes: fine in tests, an open door in production.
ALWAYS_PASS_SECRETS = (
    "6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe",  # reCAPTCHA v2
    "0x0000000000000000000000000000000000000000",  # hCaptcha
    "1x0000000000000000000000000000000AA",  # Turnstile
)


class Provider(Protocol):
    """What the extension needs of a third-party provider."""

    name: str
    #: Form fields the widget posts its token in, the primary one first. With
    #: CAPTCHA_FALLBACK="selfhosted" the self-hosted ``captcha-token`` comes last.
    response_fields: Tuple[str, ...]

    def verify(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
    ) -> VerificationResult:
        """Verify ``token`` with the provider and apply the result policy."""

    async def verify_async(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
    ) -> VerificationResult:
        """The same over httpx (extra ``[async]``), for ``async def`` views."""

    def widget_context(self, options: WidgetOptions) -> Dict[str, Any]:
        """Variables for ``flask_captcha_ext/widgets/<name>.html``."""


def provider_class(name: str) -> Type[BaseProvider]:
    """The class registered for CAPTCHA_PROVIDER ``name``."""
    try:
        module, cls = REGISTRY[name].split(":")
    except KeyError:
        raise ConfigError(f"CAPTCHA_PROVIDER={name!r} is not a third-party provider") from None
    return getattr(import_module(f"{__name__}.{module}"), cls)


def build_provider(
    settings: Settings,
    service: Optional[CaptchaService] = None,
    *,
    ca_bundle: Optional[str] = None,
) -> Optional[Provider]:
    """The provider object for ``settings.provider`` (None for self-hosted).

    Builds the app's one HTTP client (and its lazy async twin) here, so every request and thread
    shares one connection pool. ``ca_bundle`` (default: $REQUESTS_CA_BUNDLE or $SSL_CERT_FILE)
    adds trust in a private CA; certificate checks are never switched off.
    """
    if settings.provider == "selfhosted" and not settings.verify_url:
        return None
    cls = provider_class(settings.provider)
    _check_settings(settings)
    options = ClientOptions(
        timeout=settings.timeout,
        proxy=settings.proxy,
        ca_bundle=ca_bundle or ca_bundle_from_env(),
    )
    store = service.store if service is not None else None
    provider = cls(settings, HttpClient(options), AsyncHttpClient(options), store)
    if settings.fallback == "selfhosted":
        provider.response_fields = (*provider.response_fields, "captcha-token")
    return provider


def _check_settings(settings: Settings) -> None:
    """Provider-level configuration problems that settings.py cannot see."""
    if settings.verify_url:
        parts = urlsplit(settings.verify_url)
        if not parts.hostname:
            raise ConfigError(f"CAPTCHA_VERIFY_URL has no host: {settings.verify_url!r}")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            log.warning(
                "CAPTCHA_VERIFY_URL is plain http://: CAPTCHA_SECRET_KEY crosses the network "
                "unencrypted"
            )
    if settings.secret_key in ALWAYS_PASS_SECRETS and not settings.test_mode:
        log.warning(
            "CAPTCHA_SECRET_KEY is %s's public test secret: every token passes. Use it in "
            "tests only.",
            settings.provider,
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
