"""What every provider is (``Provider``), and what every third-party provider shares
(``BaseProvider``: token checks, the verify flow over HTTP, failures, the widget).

Every way of checking a CAPTCHA is a ``Provider``: the seven third-party services, the local
self-hosted check (``local.LocalProvider``), a central self-hosted service (``remote``), and a
third-party provider with the self-hosted widget as its fallback (``fallback``). The verification
path (``verification.py``) and the widget ask a provider, never which mode they are in.

A third-party module supplies four things: its form field(s), ``build_call`` (the request for a
token), ``interpret`` (the reply as a VerificationResult) and its widget context. ``BaseProvider``
runs them in the same order for ``verify`` and ``verify_async``, applies the policy, and turns
every failure into a result: ``ServerUnreachable`` passes (flagged ``fail_open``) only when the
app chose CAPTCHA_FAIL_OPEN; every other failure fails closed.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    Iterable,
    Mapping,
    Optional,
    Tuple,
)
from urllib.parse import urlencode

from markupsafe import Markup

from ..result import (
    ApiKeyInvalid,
    CaptchaError,
    ServerUnreachable,
    TokenInvalid,
    TokenMissing,
    UnknownError,
    VerificationResult,
)
from .glue import GLUE_JS
from .policy import Policy

if TYPE_CHECKING:
    from ..settings import Settings
    from ..stores import Store
    from ..widget import WidgetOptions
    from .aio import AsyncHttpClient
    from .http import Call, HttpClient, Reply

log = logging.getLogger("flask_captcha_ext.providers")

#: Milliseconds the widget waits for the provider's script before mounting the fallback.
FALLBACK_AFTER_MS = 10000
#: The form field (and JSON key) the self-hosted widget posts its token in.
SELFHOSTED_FIELD = "captcha-token"
Types = Optional[Tuple[str, ...]]


@dataclass(frozen=True)
class WidgetSource:
    """Where a page gets the self-hosted widget from: ``endpoints()`` gives the site key and the
    generate, validate, script, style and worker URLs; ``types`` the challenge types the server
    accepts from it; ``noscript`` whether a server-rendered challenge is shown without JavaScript.
    """

    endpoints: Callable[[], Dict[str, str]]
    types: Tuple[str, ...]
    noscript: bool = False


class Provider:
    """One way of checking a CAPTCHA; the extension holds exactly one per app.

    Class flags say what the provider needs and allows, so that nothing else has to know which
    kind it is: ``required_keys`` (config keys without which it cannot work), ``may_fail_open``
    (whether CAPTCHA_FAIL_OPEN means anything for it), ``serves_challenges`` (it needs the
    self-hosted endpoints and a secret to sign tokens) and ``accepts_answers`` (the no-JavaScript
    ``captcha-id`` / ``captcha-answer`` pair).
    """

    name: str
    #: Form fields (and JSON keys) a token may come in, the primary one first.
    response_fields: Tuple[str, ...]
    #: ``flask_captcha_ext/widgets/<template>.html`` renders its widget.
    template: str
    required_keys: ClassVar[Tuple[str, ...]] = ()
    may_fail_open: ClassVar[bool] = False
    serves_challenges: ClassVar[bool] = False
    accepts_answers: ClassVar[bool] = False
    #: The self-hosted widget this provider shows (alone or as a fallback), if any.
    widget_source: Optional[WidgetSource] = None

    def verify(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        types: Types = None,
        min_work: Optional[float] = None,
    ) -> VerificationResult:
        """Check ``token`` and apply the policy (``action``, ``min_score`` and ``types`` narrow
        the app's settings for this call); never raises."""
        raise NotImplementedError

    async def verify_async(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        types: Types = None,
        min_work: Optional[float] = None,
    ) -> VerificationResult:
        """``verify`` for ``async def`` views (providers that ask nobody over HTTP just check)."""
        return self.verify(token, remote_ip, action, min_score, types, min_work)

    def verify_answer(
        self,
        captcha_id: Any,
        answer: Any,
        remote_ip: Optional[str],
        types: Types = None,
        min_work: Optional[float] = None,
        action: Optional[str] = None,
    ) -> VerificationResult:
        """Check a no-JavaScript answer (only where ``accepts_answers``)."""
        return VerificationResult.failure(self.name, (TokenMissing.code,))

    def widget_context(self, options: WidgetOptions) -> Dict[str, Any]:
        """Variables for the widget template (every value gets escaped)."""
        return {}

    def close(self) -> None:
        """Release what the provider holds (connection pools)."""


class BaseProvider(Provider):
    """A third-party provider bound to one app's settings and HTTP clients."""

    required_keys = ("CAPTCHA_SITE_KEY", "CAPTCHA_SECRET_KEY")
    may_fail_open = True
    default_url: ClassVar[str]
    script_src: str
    #: The global the provider's script defines (the widget checks it to detect a failed load).
    script_global: str
    default_min_score: ClassVar[Optional[float]] = None
    score_required: ClassVar[bool] = False
    reports_action: ClassVar[bool] = False
    action_required: ClassVar[bool] = False
    #: The action the widget sends and the policy expects when neither the call nor the app
    #: names one (None: no action is expected by default).
    default_action: ClassVar[Optional[str]] = None
    max_token_length: ClassVar[int] = 8192
    #: Does ``settle`` (a store round trip after a pass) need running?
    settles: ClassVar[bool] = False
    #: The ``captcha_widget(size=...)`` values the provider's widget knows (empty: no sizes).
    widget_sizes: ClassVar[Tuple[str, ...]] = ()

    def __init__(
        self,
        settings: Settings,
        http: HttpClient,
        aio: Optional[AsyncHttpClient] = None,
        store: Optional[Store] = None,
    ) -> None:
        self.settings = settings
        self.http = http
        self.aio = aio
        self.store = store
        self.url = settings.verify_url or self.default_url
        self.template = self.name
        self.policy = Policy.from_settings(
            settings,
            default_min_score=self.default_min_score,
            default_action=self.default_action,
            score_required=self.score_required,
            action_required=self.action_required,
            reports_action=self.reports_action,
        )

    # -- what a provider module implements -------------------------------------------------

    def build_call(self, token: str, remote_ip: Optional[str]) -> Call:
        """The HTTP request that verifies ``token`` (raise a CaptchaError to fail early)."""
        raise NotImplementedError

    def interpret(self, reply: Reply, call: Call) -> VerificationResult:
        """The provider's reply as a result (score normalised, raw kept); no policy yet."""
        raise NotImplementedError

    def settle(self, result: VerificationResult, call: Call) -> VerificationResult:
        """Blocking follow-up on a provider pass (only when ``settles``)."""
        return result

    # -- verification ----------------------------------------------------------------------

    def verify(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        types: Types = None,
        min_work: Optional[float] = None,
    ) -> VerificationResult:
        """Verify ``token`` with the provider and apply the result policy; never raises."""
        try:
            call = self._prepare(token, remote_ip)
            result = self.interpret(self.http.send(call), call)
            if self.settles and result.success:
                result = self.settle(result, call)
            return self._policy(result, action, min_score, types, min_work)
        except CaptchaError as exc:
            return self.error(exc)
        except Exception:  # a bug must cost a failed check, never a 500 or a pass
            return self._crashed()

    async def verify_async(
        self,
        token: Any,
        remote_ip: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        types: Types = None,
        min_work: Optional[float] = None,
    ) -> VerificationResult:
        """``verify`` over httpx, for ``async def`` views; same results, same failures."""
        if self.aio is None:
            raise RuntimeError(f"{self.name}: no async HTTP client was built for this provider")
        try:
            call = self._prepare(token, remote_ip)
            result = self.interpret(await self.aio.send(call), call)
            if self.settles and result.success:
                import asyncio  # only async views come here: the others never load asyncio

                result = await asyncio.get_running_loop().run_in_executor(
                    None, self.settle, result, call
                )
            return self._policy(result, action, min_score, types, min_work)
        except CaptchaError as exc:
            return self.error(exc)
        except ImportError:
            raise  # httpx is missing: a setup problem to fix, not a failed check
        except Exception:  # a bug must cost a failed check, never a 500 or a pass
            return self._crashed()

    def _crashed(self) -> VerificationResult:
        log.exception("%s: verification crashed; the check fails", self.name)
        return VerificationResult.failure(self.name, (UnknownError.code,))

    def _prepare(self, token: Any, remote_ip: Optional[str]) -> Call:
        if not isinstance(token, str) or not token.strip():
            raise TokenMissing("no token was sent")
        token = token.strip()
        if len(token) > self.max_token_length or not _printable(token):
            raise TokenInvalid("the token is too long or has characters no provider uses")
        if not self.settings.secret_key:
            raise ApiKeyInvalid("CAPTCHA_SECRET_KEY is not set", code="missing-input-secret")
        return self.build_call(token, _valid_ip(remote_ip))

    def _policy(
        self,
        result: VerificationResult,
        action: Optional[str],
        min_score: Optional[float],
        types: Types = None,
        min_work: Optional[float] = None,
    ) -> VerificationResult:
        checked = self.policy.check(
            result, action=action, min_score=min_score, types=types, min_work=min_work
        )
        if result.success and not checked.success:
            log.info("%s: token rejected by policy: %s", self.name, ", ".join(checked.error_codes))
        return checked

    def error(
        self, exc: CaptchaError, raw: Optional[Mapping[str, Any]] = None
    ) -> VerificationResult:
        """The result for a failure: fail-open for ServerUnreachable if chosen, else closed."""
        raw = dict(raw or {})
        raw.setdefault("detail", exc.detail)
        if isinstance(exc, ServerUnreachable):
            if self.settings.fail_open:
                log.warning(
                    "%s unreachable (%s): passing the check because CAPTCHA_FAIL_OPEN is on",
                    self.name,
                    exc.detail,
                )
                return VerificationResult(
                    success=True,
                    provider=self.name,
                    error_codes=(exc.code,),
                    fail_open=True,
                    raw=raw,
                )
            log.warning("%s unreachable (%s): check failed", self.name, exc.detail)
        elif isinstance(exc, ApiKeyInvalid):
            log.error(
                "%s rejected our secret (%s): check CAPTCHA_SECRET_KEY", self.name, exc.detail
            )
        else:
            log.info("%s: token rejected (%s: %s)", self.name, exc.code, exc.detail)
        return VerificationResult.failure(self.name, (exc.code,), raw)

    def reject(
        self, exc: CaptchaError, codes: Iterable[str] = (), raw: Optional[Mapping[str, Any]] = None
    ) -> VerificationResult:
        """A failure carrying our code first, then the provider's own codes."""
        result = self.error(exc, raw)
        return result.failed(*codes) if codes else result

    # -- widget ----------------------------------------------------------------------------

    def widget_context(self, options: WidgetOptions, fallback: bool = False) -> Dict[str, Any]:
        """Variables for ``flask_captcha_ext/widgets/<name>.html`` (every value gets escaped);
        ``fallback``: the page also carries the self-hosted widget for when the script fails."""
        widget_id = "fce-" + secrets.token_hex(6)
        attrs = dict(options.attrs)
        css_class = attrs.pop("class", "")
        mode = self.widget_mode(options)
        context = {
            "widget_id": widget_id,
            "callback": "fceDone_" + widget_id[4:],
            "expired_callback": "fceExpired_" + widget_id[4:],
            "site_key": self.settings.site_key or "",
            "field": self.response_fields[0],
            "script_url": self.script_url(options),
            "script_global": self.script_global,
            "css_class": css_class,
            "attrs": attrs,
            "mode": mode,
            "fallback": fallback,
            "fallback_after": FALLBACK_AFTER_MS,
            # A constant of this package, never built from input: safe to mark as markup.
            "glue": Markup(GLUE_JS) if fallback or mode != "auto" else None,  # noqa: S704
        }
        context.update(self.widget_extra(options))
        return context

    def widget_mode(self, options: WidgetOptions) -> str:
        """How the page gets a token: auto (the provider's script), invisible, score or render."""
        return "auto"

    def widget_extra(self, options: WidgetOptions) -> Dict[str, Any]:
        """Provider-specific template variables (theme, size, action...)."""
        return {}

    def widget_size(self, options: WidgetOptions) -> Optional[str]:
        """``options.size`` if the widget knows it (None if unset); a ValueError otherwise."""
        if options.size is not None and options.size not in self.widget_sizes:
            raise ValueError(
                f"captcha_widget(size=...) must be one of {', '.join(self.widget_sizes)}"
            )
        return options.size

    @staticmethod
    def light_or_dark(options: WidgetOptions) -> Optional[str]:
        """``options.theme`` for widgets that only know light and dark (None: their default)."""
        return options.theme if options.theme in ("light", "dark") else None

    def script_url(self, options: WidgetOptions, **params: Optional[str]) -> str:
        query = {key: value for key, value in params.items() if value}
        return self.script_src + ("?" + urlencode(query) if query else "")

    def close(self) -> None:
        """Release the connection pool (the async clients close with their event loops)."""
        self.http.close()


def _printable(token: str) -> bool:
    return token.isascii() and token.isprintable() and " " not in token


def _valid_ip(value: Optional[str]) -> Optional[str]:
    """``remote_ip`` if it is an IP address (anything else would only earn a provider error)."""
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def number(value: Any) -> Optional[float]:
    """A score from a reply: a real number in 0..1, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if 0.0 <= value <= 1.0 else None


def human_score(bot_score: Any) -> Optional[float]:
    """Invert a 0 = human .. 1 = bot score so that higher means more human, like reCAPTCHA."""
    value = number(bot_score)
    return None if value is None else round(1.0 - value, 6)


def text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def code_list(*values: Any) -> Tuple[str, ...]:
    """Error codes from a reply field that may be a list, a string or missing."""
    codes = []
    for value in values:
        if isinstance(value, str) and value:
            codes.append(value)
        elif isinstance(value, (list, tuple)):
            codes.extend(item for item in value if isinstance(item, str) and item)
    return tuple(dict.fromkeys(codes))
