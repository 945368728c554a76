"""The self-hosted CAPTCHA service: generate, validate and check, with no Flask in sight.

The HTTP layer parses and answers; this module decides; the store only keeps. Every refusal is an
``ApiError`` carrying the HTTP status and a ``detail`` that tells the client what is wrong.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)
from urllib.parse import urlsplit

from ..rates import RateLimit, parse_many, per_minute
from ..result import VerificationResult
from ..settings import Settings
from ..stores import Store, StoreUnavailable
from ..stores.base import Counter, EpochChanged
from .challenges import ChallengeKind
from .pow import ProofOfWork, challenge_id_of
from .pressure import Pressure
from .ratelimit import RateLimiter
from .sitekeys import SiteKey, SiteKeyRegistry
from .tokens import MISSING, PROVIDER, RATE_LIMITED, TokenService, store_error

log = logging.getLogger("flask_captcha_ext")
T = TypeVar("T")

CHALLENGE_PREFIX = "challenge:"
MAX_ID_LENGTH = 64
MAX_INPUT_LENGTH = 4096
#: What a widget may name as its action (the token's ``act`` claim).
ACTION = re.compile(r"[A-Za-z0-9_./-]{1,64}")
#: The least time between showing a no-JavaScript challenge and accepting its answer, and the
#: most that pressure can stretch it to (a person needs a few seconds to read and type anyway).
NOSCRIPT_WAIT, NOSCRIPT_WAIT_MAX = 3.0, 120.0
TOO_SOON = "answered-too-soon"


def is_text(value: Any) -> bool:
    """Whether ``value`` is a str of valid Unicode (JSON lets lone surrogates like \\ud800 in)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Solved(NamedTuple):
    """A solved challenge: its kind, its work, the action and host it was issued for, and the
    store epoch it was spent in (its token's)."""

    kind: str
    work: float
    action: Optional[str]
    hostname: Optional[str]
    epoch: str


def check_action(action: Any) -> None:
    """Refuse (400) an action a widget may not name (it becomes the token's ``act`` claim)."""
    if action is not None and not (is_text(action) and ACTION.fullmatch(action)):
        raise ApiError(400, "'action' must be 1 to 64 letters, digits or _ . / -")


@dataclass
class Draft:
    """A challenge being made: its id, the record the store keeps, what the client gets, its
    lifetime, and its answers (for the testing hook only)."""

    id: str
    record: Dict[str, Any]
    public: Dict[str, Any]
    ttl: int
    answer: str = ""
    proof: str = ""


class ApiError(Exception):
    """A refusal of the self-hosted API: HTTP status, detail and extra headers."""

    def __init__(self, status: int, detail: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class CaptchaService:
    """Issues challenges, checks answers, and hands out single-use success tokens."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        kinds: Mapping[str, ChallengeKind],
        site_keys: SiteKeyRegistry,
        tokens: TokenService,
        limiter: RateLimiter,
        pow: ProofOfWork,
    ) -> None:
        self.settings = settings
        self.store = store
        self.kinds = kinds
        self.pow = pow
        self.pressure = Pressure(store, settings.pow_levels)
        self.site_keys = site_keys
        self.tokens = tokens
        self.limiter = limiter
        # Set only by flask_captcha_ext.testing, and only for apps in testing mode: gets each new
        # challenge's id, its answer (for pow: the proof) and the proof of its PoW part.
        self.answer_observer: Optional[Callable[[str, str, str], None]] = None

    # -- the API ---------------------------------------------------------------------------

    def generate(
        self,
        site_key: Any,
        kind_name: Any,
        client_ip: str,
        origin: Optional[str] = None,
        min_work: Any = None,
        action: Any = None,
    ) -> Dict[str, Any]:
        """A new challenge of ``kind_name`` for ``site_key``; the answer stays in the store.

        ``origin`` is the calling page's origin (see ``request_origin``), None for non-browsers.
        Its work is what the pressure on the client's network and on the key asks, or
        ``min_work`` when the page needs more (a view's ``min_work``); never less. ``action`` and
        the origin's host are kept with it for answers checked without a token (the official
        ALTCHA widget's payload), which carry neither.
        """
        key = self._site_key(site_key)
        self._check_origin(key, origin)
        check_action(action)
        allowed_kinds = [k for k in self.types_of(key) if k == "pow" or k in self.kinds]
        if not isinstance(kind_name, str) or kind_name not in allowed_kinds:
            allowed = ", ".join(allowed_kinds)
            raise ApiError(400, f"'type' must be one of: {allowed}")
        top = self.settings.pow_levels[-1][2]
        if min_work is not None and (
            isinstance(min_work, bool)
            or not isinstance(min_work, (int, float))
            or not 0 < min_work <= top
        ):
            raise ApiError(400, f"'min_work' must be a number above 0 and at most {top:g}")
        network = self.network_of(client_ip)
        floor = float(min_work or 0)
        bound = {"a": action, "h": origin_hostname(origin)}
        draft = self._draft(key, kind_name, max(self.pressure.expect(network, key.id), floor))
        draft.record.update({name: value for name, value in bound.items() if value})
        groups = [
            (self.quota(key, "generate"), ("generate", "key", key.id)),
            (self.settings.rate_limit_ip_generate, ("generate", "ip", network)),
            (self._ceiling(), ("live", "key", key.id)),
        ]
        pressure = self._put_counted(draft, groups, self.pressure.counters(network, key.id))
        work = max(self.pressure.after_ask(network, key.id, pressure), floor)
        if work != draft.record["w"]:  # the pressure moved since this process last looked
            self._rework(draft, work)
            self.store.put(CHALLENGE_PREFIX + draft.id, json.dumps(draft.record), draft.ttl)
        self._observe(draft)
        return self._published(draft)

    def generate_altcha(
        self,
        site_key: Any,
        client_ip: str,
        origin: Optional[str] = None,
        min_work: Any = None,
        action: Any = None,
    ) -> Dict[str, Any]:
        """A bare ALTCHA challenge for the official widget's challenge URL: ``generate`` of type
        pow, with at least CAPTCHA_MIN_WORK (the widget cannot ask for it)."""
        key = self._site_key(site_key)
        if "pow" not in self.types_of(key):
            raise ApiError(400, "this site key is not allowed proof-of-work challenges")
        wanted, floor = min_work, self.settings.min_work
        if floor is not None and not (isinstance(wanted, (int, float)) and wanted > floor):
            wanted = floor
        made = self.generate(site_key, "pow", client_ip, origin, wanted, action)
        return made["challenge"]

    def _ceiling(self) -> Tuple[RateLimit, ...]:
        """The bound on a site key's live challenges (so the store stays bounded whoever asks):
        CAPTCHA_MAX_LIVE_CHALLENGES spread over per-minute windows, so that beyond it the wait is
        at most a minute. Over it is a 503: the service is busy, nobody in particular is
        refused."""
        s = self.settings
        return (per_minute_item(max(1, s.max_live_challenges * 60 // s.challenge_ttl)),)

    def _put_counted(
        self,
        draft: Draft,
        groups: Sequence[Tuple[Sequence[RateLimit], Tuple[str, ...]]],
        extra: Sequence[Counter] = (),
    ) -> List[Tuple[int, float]]:
        """Count the limit ``groups`` (site key, network, live ceiling, in this order) and the
        ``extra`` counters, and store ``draft`` unless a limit is over: one store call, within
        the epoch the draft names. Raises the 429 (or the ceiling's 503) of the first exceeded
        group; returns the extra counters' counts."""

        def put(epoch: str) -> Tuple[bool, Optional[Tuple[int, int]], List[Tuple[int, float]]]:
            draft.record["e"] = epoch
            value = json.dumps(draft.record)
            return self.limiter.put_within_limits(
                CHALLENGE_PREFIX + draft.id, value, draft.ttl, groups, extra, epoch
            )

        (_, exceeded, counts), _ = in_store_epoch(put, draft.record["e"])
        if exceeded is not None:
            group, retry_after = exceeded
            if group == len(groups) - 1:
                raise ApiError(
                    503,
                    f"The security check is busy. Try again in {in_words(retry_after)}.",
                    {"Retry-After": str(retry_after)},
                )
            raise _rate_limited(("key", "ip")[group], retry_after)
        return counts

    def quota(self, key: SiteKey, endpoint: str) -> Tuple[RateLimit, ...]:
        """The per-site-key quota of ``endpoint`` ("generate" or "validate"): none for the app's
        own key (every visitor shares it, so a cap would let anyone lock them all out); for keys
        made with ``keys create``, the key's own limit, else CAPTCHA_RATE_LIMIT_GENERATE /
        _VALIDATE."""
        if key.builtin:
            return ()
        own = key.generate_limit if endpoint == "generate" else key.validate_limit
        if own is not None:
            return parse_limits(own)
        s = self.settings
        return s.rate_limit_generate if endpoint == "generate" else s.rate_limit_validate

    def network_of(self, client_ip: str) -> str:
        return network_of(client_ip, self.settings.network_prefixes)

    def types_of(self, key: SiteKey) -> Tuple[str, ...]:
        """The challenge types ``key`` may get and pass: CAPTCHA_CHALLENGE_TYPES, narrowed by the
        key's own list (``keys create --types``); narrowing the app's types narrows every key."""
        allowed = self.settings.challenge_types
        return tuple(t for t in key.types if t in allowed) if key.types else allowed

    def new_page_challenge(
        self,
        kind_name: str,
        client_ip: str,
        action: Optional[str] = None,
        hostname: Optional[str] = None,
    ) -> Optional[Dict[str, Any]]:
        """A challenge of the app's own key for a server-rendered (no-JavaScript) form, or None
        when ``client_ip`` is over its generate limit or the key is at its live ceiling.

        CAPTCHA_RATE_LIMIT_IP_GENERATE applies, on a counter of its own: every page view makes
        one, and page views of visitors who run the JavaScript widget must not use up its
        generate budget (nor the site key's). For the same reason a page challenge adds no
        pressure when shown; its wait follows the network's pressure, and a wrong answer adds
        pressure like any other.
        """
        network = self.network_of(client_ip)
        own = self.site_keys.own
        draft = self._draft(own, kind_name, self.pressure.peek(network, own.id), page=True)
        bound = {"a": action, "h": hostname}
        draft.record.update({name: value for name, value in bound.items() if value})
        groups = [
            (self.settings.rate_limit_ip_generate, ("page", "ip", network)),
            (self._ceiling(), ("live", "key", own.id)),
        ]
        try:
            self._put_counted(draft, groups)
        except ApiError:
            return None
        self._observe(draft)
        return self._published(draft)

    def new_challenge(
        self,
        key: SiteKey,
        kind_name: str,
        work: float = 1.0,
        page: bool = False,
        bound: Optional[Dict[str, Optional[str]]] = None,
    ) -> Dict[str, Any]:
        """Create and store a challenge of ``work`` base units, without rate limiting."""
        draft = self._draft(key, kind_name, work, page)
        draft.record.update({name: value for name, value in (bound or {}).items() if value})
        self.store.put(CHALLENGE_PREFIX + draft.id, json.dumps(draft.record), draft.ttl)
        self._observe(draft)
        return self._published(draft)

    def _draft(self, key: SiteKey, kind_name: str, work: float, page: bool = False) -> Draft:
        """A new challenge of ``work`` base units, not stored yet.

        Every challenge carries proof of work (``pow`` is nothing else; image and math carry a
        PoW part the widget solves while the visitor reads), except a ``page`` challenge: a
        server-rendered form cannot compute, so its visitor pays in time instead, and its answer
        is refused until ``not_before`` (longer under pressure).
        """
        challenge_id = secrets.token_urlsafe(18)
        record: Dict[str, Any] = {
            "k": kind_name,
            "s": key.id,
            "t": time.time(),
            "w": work,
            "e": self.store.epoch().id,  # spent only in this epoch
        }
        draft = Draft(challenge_id, record, {}, self.settings.challenge_ttl)
        if kind_name != "pow":
            draft.public, record["st"], draft.answer = self.kinds[kind_name].create(challenge_id)
        if page:
            paid = self.settings.pow_target_ms * work / 1000
            wait = min(NOSCRIPT_WAIT_MAX, max(NOSCRIPT_WAIT, paid))
            record["nb"] = record["t"] + wait
            draft.public["wait"] = wait
        else:
            self._rework(draft, work)
        return draft

    def _rework(self, draft: Draft, work: float) -> None:
        """Give ``draft`` (not a page challenge) a proof-of-work part of ``work`` base units."""
        issued = self.pow.issue(draft.id, work, self.answer_observer is not None)
        draft.record["w"] = work
        draft.record["pw"] = issued.state
        if draft.record["k"] == "pow":
            draft.public["challenge"], draft.answer = issued.public, issued.answer
        else:
            draft.public["pow"], draft.proof = issued.public, issued.answer

    def _observe(self, draft: Draft) -> None:
        """Tell the testing hook (apps in testing mode only) the stored challenge's answers."""
        if self.answer_observer is not None:
            self.answer_observer(draft.id, draft.answer, draft.proof)

    def _published(self, draft: Draft) -> Dict[str, Any]:
        """What ``generate`` answers for ``draft``: never its answer."""
        return {
            "captcha_id": draft.id,
            "type": draft.record["k"],
            **draft.public,
            "work": draft.record["w"],
            "expires_in": draft.ttl,
        }

    def validate(
        self,
        site_key: Any,
        captcha_id: Any,
        user_input: Any,
        client_ip: str,
        origin: Optional[str] = None,
        action: Any = None,
        proof: Any = None,
    ) -> Dict[str, Any]:
        """Spend the challenge and answer ``{"valid": True, "token"}`` or ``{"valid": False}``.

        ``user_input`` is the typed answer (image, math) or, for pow, the ALTCHA payload;
        ``proof`` is the payload of an image or math challenge's PoW part. The token names the
        host of ``origin`` (its ``hst`` claim, siteverify's ``hostname``), the ``action`` the
        widget was given (``act``) and the work the challenge demanded (``wrk``).
        """
        key = self._site_key(site_key)
        self._check_origin(key, origin)
        check_action(action)
        if not is_text(captcha_id) or not 0 < len(captcha_id) <= MAX_ID_LENGTH:
            raise ApiError(400, "'captcha_id' must be a non-empty string")
        if isinstance(user_input, bool) or not isinstance(user_input, (str, int)):
            raise ApiError(400, "'user_input' must be a string")
        if isinstance(user_input, str) and not is_text(user_input):
            raise ApiError(400, "'user_input' must be valid Unicode")
        if len(str(user_input)) > MAX_INPUT_LENGTH:
            raise ApiError(400, f"'user_input' is longer than {MAX_INPUT_LENGTH} characters")
        if proof is not None and not (is_text(proof) and len(proof) <= MAX_INPUT_LENGTH):
            raise ApiError(400, f"'proof' must be text of at most {MAX_INPUT_LENGTH} characters")
        solved = self._spend_within_limits(key, captcha_id, user_input, proof, client_ip)
        if solved is None:
            return {"valid": False}
        token = self.tokens.issue(
            key.id,
            solved.kind,
            hostname=origin_hostname(origin),
            action=action or solved.action,
            work=solved.work,
            epoch=solved.epoch,
        )
        return {"valid": True, "token": token}

    def _spend_within_limits(
        self, key: SiteKey, captcha_id: str, user_input: Any, proof: Any, client_ip: str
    ) -> Optional[Solved]:
        """``_judge`` under the validate limits of ``key`` and ``client_ip`` (429 when over):
        what was solved, else None (a failure adds pressure).

        One store call counts both limits and spends the challenge (one Redis round trip, one
        SQLite commit); a refused request leaves the challenge for a later attempt. The key's
        quota counts only attempts at a live challenge: made-up ids spend the network's budget,
        never the site's. The challenge is taken only within the store epoch this process knows,
        or the one the store reports when another process noticed a new epoch first.
        """
        network = self.network_of(client_ip)
        groups = [
            (self.quota(key, "validate"), ("validate", "key", key.id), True),
            (self.settings.rate_limit_ip_validate, ("validate", "ip", network), False),
        ]
        (text, exceeded), epoch = in_store_epoch(
            lambda epoch: self.limiter.hit_and_take(CHALLENGE_PREFIX + captcha_id, groups, epoch),
            self.store.epoch().id,
        )
        if exceeded is not None:
            group, retry_after = exceeded
            raise _rate_limited(("key", "ip")[group], retry_after)
        solved = self._judge(key, text, captcha_id, user_input, proof, epoch)
        if solved is None:
            self.pressure.fail(network, key.id)
        return solved

    def _judge(
        self,
        key: SiteKey,
        text: Optional[str],
        captcha_id: str,
        user_input: Any,
        proof: Any,
        epoch: str,
    ) -> Optional[Solved]:
        """What the taken challenge record ``text`` was, if the answer solves it: the typed
        answer (image, math) and the proof of work it carries, each checked. A challenge
        issued in another store epoch than ``epoch`` (the one it was taken in) is unknown: the
        store lost or replaced its data since, and it may have been spent before."""
        if text is None:
            raise ApiError(400, "invalid, expired or already used captcha")
        record = json.loads(text)
        if not secrets.compare_digest(record["s"], key.id):
            raise ApiError(400, "invalid, expired or already used captcha")
        if record.get("e") != epoch:
            log.info(
                "self-hosted challenge refused: issued under store epoch %s, taken in %s (the "
                "store lost or replaced its data in between)",
                record.get("e"),
                epoch,
            )
            raise ApiError(400, "invalid, expired or already used captcha")
        kind_name = record["k"]
        if kind_name == "pow":
            proof, answered = user_input, True
        else:
            answered = self.kinds[kind_name].check(captcha_id, record["st"], user_input)
        worked = self.pow.check(record["pw"], proof) if "pw" in record else True
        early = time.time() < record.get("nb", 0)
        if not (answered and worked and not early):
            return None
        return Solved(kind_name, record["w"], record.get("a"), record.get("h"), epoch)

    def check_answer(self, captcha_id: Any, answer: Any, client_ip: str) -> VerificationResult:
        """Check an answer posted with a form, spending its challenge of the app's own key: a
        server-rendered (no-JavaScript) challenge, or the official ALTCHA widget's ``altcha``
        payload (``captcha_id`` from ``challenge_id_of``).

        The validate endpoint's limits apply (the app's own key, ``client_ip``), so a form post
        gets no more guesses than the JSON API gives. A no-JavaScript answer sent before its
        challenge's wait is over is refused without spending the challenge
        (``answered-too-soon``, ``raw["retry_after"]``): the visitor sends the form again.
        """
        if not is_text(captcha_id) or not 0 < len(captcha_id) <= MAX_ID_LENGTH:
            return VerificationResult.failure(PROVIDER, [MISSING])
        if not is_text(answer) or len(answer) > MAX_INPUT_LENGTH:
            return VerificationResult.failure(PROVIDER, ["invalid-input-response"])
        own = self.site_keys.own
        try:
            wait = self._wait_left(captcha_id)
            if wait > 0:
                return VerificationResult.failure(
                    PROVIDER, [TOO_SOON], {"retry_after": math.ceil(wait)}
                )
            solved = self._spend_within_limits(own, captcha_id, answer, None, client_ip)
        except ApiError as exc:
            code = RATE_LIMITED if exc.status == 429 else "challenge-invalid-or-used"
            return VerificationResult.failure(PROVIDER, [code])
        except StoreUnavailable as exc:
            return VerificationResult.failure(PROVIDER, [store_error(exc)])
        if solved is None:
            return VerificationResult.failure(PROVIDER, ["wrong-answer"])
        now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        return VerificationResult(
            success=True,
            provider=PROVIDER,
            raw={"type": solved.kind, "work": solved.work},
            challenge_type=solved.kind,
            work=solved.work,
            action=solved.action,
            hostname=solved.hostname,
            challenge_ts=now,
        )

    def _wait_left(self, captcha_id: str) -> float:
        """Seconds until a no-JavaScript challenge may be answered (0 for other challenges)."""
        text = self.store.get(CHALLENGE_PREFIX + captcha_id)
        if text is None:
            return 0.0
        return max(0.0, json.loads(text).get("nb", 0) - time.time())

    def check_altcha(self, payload: Any, client_ip: str) -> VerificationResult:
        """The official ALTCHA widget's ``altcha`` form field: the payload names its challenge."""
        captcha_id = challenge_id_of(payload)
        if captcha_id is None:
            return VerificationResult.failure(PROVIDER, ["invalid-input-response"])
        return self.check_answer(captcha_id, payload, client_ip)

    # -- helpers ---------------------------------------------------------------------------

    def _site_key(self, site_key: Any) -> SiteKey:
        if not is_text(site_key) or not site_key:
            raise ApiError(400, "'site_key' must be a non-empty string")
        key = self.site_keys.lookup(site_key[:256])
        if key is None:
            raise ApiError(403, "unknown site key")
        if key.revoked:
            raise ApiError(403, "this site key has been revoked")
        return key

    def _check_origin(self, key: SiteKey, origin: Optional[str]) -> None:
        """Refuse a browser page whose origin the key does not list (403).

        No origin at all means a non-browser client (browsers send Origin on cross-origin POSTs
        and on every fetch() POST); such server-to-server callers hold the site key anyway and
        could forge any header, so origins bind only what browsers on other sites can do.
        """
        if not key.origins or origin is None:
            return
        if not any(normalize_origin(allowed) == origin for allowed in key.origins):
            raise ApiError(403, "this site key may not be used from this origin")


def in_store_epoch(call: Callable[[str], T], epoch: str) -> Tuple[T, str]:
    """``call(epoch)``, and once more in the store's current epoch if another process noticed a
    new one first; returns its result and the epoch it ran in. A second new epoch within one
    request is an outage (StoreUnavailable), not a loop."""
    try:
        return call(epoch), epoch
    except EpochChanged as changed:
        epoch = changed.current.id
    try:
        return call(epoch), epoch
    except EpochChanged as again:
        raise StoreUnavailable(f"the store keeps changing epochs: {again}") from again


def _rate_limited(scope: str, retry_after: int) -> ApiError:
    """The 429 for an exceeded limit of ``scope`` (``"key"`` or ``"ip"``), worded for a person."""
    who = "for this site" if scope == "key" else "from your network"
    return ApiError(
        429,
        f"Too many attempts {who}. Try again in {in_words(retry_after)}.",
        {"Retry-After": str(retry_after)},
    )


def in_words(seconds: int) -> str:
    """``seconds`` as a person reads a wait: "40 seconds", "2 minutes", "1 hour" (rounded up)."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = -(-seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def network_of(client_ip: str, prefixes: Tuple[int, int] = (32, 64)) -> str:
    """The client network that limits and pressure count (CAPTCHA_NETWORK_PREFIXES): by
    default the IPv4 address, or the IPv6 /64 (one subscriber's allocation: counting single
    IPv6 addresses would give each host billions)."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    v4, v6 = prefixes
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        else:
            return str(ipaddress.ip_network(f"{address}/{v6}", strict=False))
    if v4 == 32:
        return str(address)
    return str(ipaddress.ip_network(f"{address}/{v4}", strict=False))


@lru_cache(maxsize=16)
def per_minute_item(amount: int) -> RateLimit:
    return per_minute(amount)


@lru_cache(maxsize=256)
def parse_limits(text: str) -> Tuple[RateLimit, ...]:
    """A site key's own limit string ("100/hour"; "" or "none": no limit), parsed once."""
    if text.strip().lower() in ("", "none"):
        return ()
    return tuple(parse_many(text))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> Optional[str]:
    """``scheme://host[:port]`` in lower case without a default port, or None if not an origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def request_origin(origin_header: Optional[str], referer: Optional[str]) -> Optional[str]:
    """The calling page's origin: the Origin header, else the Referer's origin, else None.

    A header that is present but no http(s) origin (``Origin: null`` from a sandboxed frame or
    a ``file:`` page, a garbled Referer) gives ``"null"``, which no site key lists.
    """
    value = origin_header if origin_header else referer
    if not value:
        return None
    return normalize_origin(value[:2048]) or "null"


def origin_hostname(origin: Optional[str]) -> Optional[str]:
    """The host name of a normalized origin (None for none or ``"null"``)."""
    if not origin or origin == "null":
        return None
    return urlsplit(origin).hostname
