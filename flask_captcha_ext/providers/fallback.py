"""A third-party provider with the self-hosted widget as its fallback (CAPTCHA_FALLBACK).

When the provider's script cannot load (blocked networks, outages) the page mounts the
self-hosted widget instead, and the server accepts a self-hosted token in the provider's place.
That path is weaker, and says so: a fallback token has no provider score, must be of one of
CAPTCHA_FALLBACK_TYPES (default: proof of work only), passes the app's hostname and action rules,
and its result is flagged ``fallback=True`` so that a view can decide what it is worth. It is
never a way round the provider's policy: every other token goes to the provider.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Dict, Optional

from ..result import VerificationResult
from ..selfhosted.tokens import looks_like_own_token
from .base import SELFHOSTED_FIELD, BaseProvider, Provider, Types
from .local import LocalProvider

if TYPE_CHECKING:
    from ..widget import WidgetOptions


class FallbackProvider(Provider):
    """``primary`` for its own tokens, ``local`` (with the fallback policy) for ours."""

    serves_challenges = True
    may_fail_open = True

    def __init__(self, primary: BaseProvider, local: LocalProvider) -> None:
        self.primary = primary
        self.local = local
        self.name = primary.name
        self.template = primary.template
        self.response_fields = (*primary.response_fields, SELFHOSTED_FIELD)
        assert local.widget_source is not None
        self.widget_source = replace(local.widget_source, noscript=False)

    def _route(self, token: Any) -> Provider:
        return self.local if looks_like_own_token(token) else self.primary

    def verify(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        types: Types = None,
        min_work: Optional[float] = None,
    ) -> VerificationResult:
        provider = self._route(token)
        result = provider.verify(token, remote_ip, action, min_score, types, min_work)
        return _flag(provider is self.local, result)

    async def verify_async(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        types: Types = None,
        min_work: Optional[float] = None,
    ) -> VerificationResult:
        provider = self._route(token)
        result = await provider.verify_async(token, remote_ip, action, min_score, types, min_work)
        return _flag(provider is self.local, result)

    def widget_context(self, options: WidgetOptions) -> Dict[str, Any]:
        return self.primary.widget_context(options, fallback=True)

    def close(self) -> None:
        self.primary.close()


def _flag(fallback: bool, result: VerificationResult) -> VerificationResult:
    return replace(result, fallback=True) if fallback else result
