"""CAPTCHA providers: one module each, chosen by CAPTCHA_PROVIDER, all behind ``Provider``.

``build_provider`` is the one place that turns settings into a provider: the local self-hosted
check, a central self-hosted service (CAPTCHA_VERIFY_URL), a third-party service, or a third-party
service with the self-hosted fallback (CAPTCHA_FALLBACK). It also refuses what a provider cannot
honour (missing keys, CAPTCHA_FAIL_OPEN where nothing may fail open). Adding a third-party
provider is one module (a ``BaseProvider`` subclass) and one line in ``REGISTRY``.

The HTTP clients (``requests``/``urllib3``, and ``httpx`` for the async one) are imported only
when a provider that asks a server is configured: the local self-hosted check needs neither.
"""

from __future__ import annotations

import ipaddress
import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Type
from urllib.parse import urlsplit

from ..settings import ConfigError
from .base import BaseProvider, Provider, WidgetSource
from .fallback import FallbackProvider
from .local import LocalProvider, local_policy

if TYPE_CHECKING:
    from ..selfhosted.service import CaptchaService
    from ..settings import Settings
    from .aio import AsyncHttpClient
    from .http import ClientOptions, HttpClient

__all__ = [
    "REGISTRY",
    "AsyncHttpClient",
    "BaseProvider",
    "ClientOptions",
    "HttpClient",
    "Provider",
    "WidgetSource",
    "build_provider",
    "is_local",
    "own_key_pair",
    "provider_class",
]

log = logging.getLogger("flask_captcha_ext.providers")

#: CAPTCHA_PROVIDER -> "module:Class" of the providers that ask a server (imported on demand).
#: "selfhosted" is asked over HTTP only when CAPTCHA_VERIFY_URL names a central service.
REGISTRY: Dict[str, str] = {
    "selfhosted": "remote:RemoteProvider",
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

Endpoints = Callable[[], Dict[str, str]]

#: Names re-exported from the HTTP modules, imported on first access (PEP 562).
_LAZY = {"AsyncHttpClient": ".aio", "ClientOptions": ".http", "HttpClient": ".http"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted({*globals(), *_LAZY})


def provider_class(name: str) -> Type[BaseProvider]:
    """The class registered for CAPTCHA_PROVIDER ``name`` (asked over HTTP)."""
    try:
        module, cls = REGISTRY[name].split(":")
    except KeyError:
        raise ConfigError(f"CAPTCHA_PROVIDER={name!r} is not a known provider") from None
    return getattr(import_module(f"{__name__}.{module}"), cls)


def build_provider(
    settings: Settings,
    service: Optional[CaptchaService] = None,
    local_endpoints: Optional[Endpoints] = None,
    *,
    testing: bool = False,
    ca_bundle: Optional[str] = None,
) -> Provider:
    """The app's provider for ``settings``; ConfigError for what it cannot honour.

    ``service`` and ``local_endpoints`` (the self-hosted blueprint's URLs) serve the local check
    and the fallback. HTTP providers get the app's one HTTP client (and its lazy async twin), so
    every request and thread shares one connection pool. ``ca_bundle`` (default:
    $REQUESTS_CA_BUNDLE or $SSL_CERT_FILE) adds trust in a private CA; certificate checks are
    never switched off.
    """

    def local(types: tuple, noscript: bool) -> LocalProvider:
        if service is None or local_endpoints is None:
            raise ValueError("the self-hosted check needs the service and its endpoints")
        source = WidgetSource(local_endpoints, types, noscript)
        return LocalProvider(service, local_policy(settings, types), source)

    if settings.fallback and settings.provider == "selfhosted":
        raise ConfigError("CAPTCHA_FALLBACK='selfhosted' needs a third-party CAPTCHA_PROVIDER")
    provider: Provider
    if is_local(settings):
        provider = local(settings.challenge_types, noscript=True)
    else:
        provider = _http_provider(settings, service, ca_bundle)
        if settings.fallback:
            _check_fallback_types(settings)
            provider = FallbackProvider(provider, local(settings.fallback_types, noscript=False))
    _check_keys(settings, provider, testing)
    return provider


def is_local(settings: Settings) -> bool:
    """Whether this deployment checks its own tokens (self-hosted without a central service)."""
    return settings.provider == "selfhosted" and not settings.verify_url


def own_key_pair(settings: Settings, derived_key: str, derived_secret: str) -> Tuple[str, str]:
    """The app's own self-hosted key pair: CAPTCHA_SITE_KEY / _SECRET_KEY when they name it
    (the local provider), else the pair derived from the app's secret (the fallback widget's)."""
    if is_local(settings) and settings.site_key:
        return settings.site_key, settings.secret_key or derived_secret
    return derived_key, derived_secret


def _http_provider(
    settings: Settings, service: Optional[CaptchaService], ca_bundle: Optional[str]
) -> BaseProvider:
    from .aio import AsyncHttpClient
    from .http import ClientOptions, HttpClient, ca_bundle_from_env

    cls = provider_class(settings.provider)
    _check_verify_url(settings)
    options = ClientOptions(
        timeout=settings.timeout,
        proxy=settings.proxy,
        ca_bundle=ca_bundle or ca_bundle_from_env(),
    )
    store = service.store if service is not None else None
    return cls(settings, HttpClient(options), AsyncHttpClient(options), store)


def _check_keys(settings: Settings, provider: Provider, testing: bool) -> None:
    """Keys the provider cannot work without, and fail-open where nothing may fail open."""
    if settings.fail_open and not provider.may_fail_open:
        raise ConfigError(
            "CAPTCHA_FAIL_OPEN applies to third-party providers only: the self-hosted provider "
            "(local or through CAPTCHA_VERIFY_URL) never passes a token it could not check"
        )
    if not settings.enabled or testing or settings.test_mode:
        return
    for name in provider.required_keys:
        if not getattr(settings, name[len("CAPTCHA_") :].lower()):
            raise ConfigError(
                f"{name} is required for CAPTCHA_PROVIDER={settings.provider!r}; without it "
                "every check would fail (set CAPTCHA_TEST_MODE or CAPTCHA_ENABLED=False in tests)"
            )


def _check_fallback_types(settings: Settings) -> None:
    extra = [t for t in settings.fallback_types if t not in settings.challenge_types]
    if extra:
        raise ConfigError(
            f"CAPTCHA_FALLBACK_TYPES {extra} are not in CAPTCHA_CHALLENGE_TYPES, so the fallback "
            "widget could never get such a challenge"
        )


def _check_verify_url(settings: Settings) -> None:
    """Provider-level configuration problems that a single key's check cannot see."""
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
