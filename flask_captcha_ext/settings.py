"""CAPTCHA_* configuration: each key declared once, validated once into a frozen ``Settings``.

A key is a field of ``Settings`` made with ``key(default, parser, doc)``: its name is
``CAPTCHA_`` plus the field name in capitals, and everything else (``DEFAULTS``, validation, the
README's configuration table, which a test holds equal) is derived from that declaration. Every
key is set with ``app.config.setdefault`` so the app's config shows what is in force, then checked
here; a bad value raises ``ConfigError`` naming the key, at ``init_app`` time rather than on the
first request. A misspelt key (one close to a real one) is an error too, not silently ignored.

Rules that tie keys to the provider (which keys a provider needs, fail-open, fallback types) live
with the providers (``providers.build_provider``); this module only knows each key's own shape.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import math
import os
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .rates import RateLimit, parse_many

PREFIX = "CAPTCHA_"
PROVIDERS = (
    "selfhosted",
    "recaptcha",
    "recaptcha_v3",
    "hcaptcha",
    "turnstile",
    "friendlycaptcha",
    "trustcaptcha",
    "gkcaptcha",
)
CHALLENGE_TYPES = ("pow", "image", "math")
POW_ALGORITHMS = ("PBKDF2/SHA-256", "SHA-256", "SCRYPT", "ARGON2ID", "ALTCHA-V1")
#: (network pressure, site-key pressure, work multiplier), lowest first (see selfhosted.pressure).
POW_LEVELS = (
    (0, 0, 1),
    (8, 5_000, 2),
    (16, 10_000, 4),
    (24, 20_000, 8),
    (40, 40_000, 48),
    (80, 80_000, 96),
    (160, 160_000, 128),
)
MAX_WORK = 1024
STORE_SCHEMES = ("memory://", "sqlite://", "redis://", "rediss://")

Parser = Callable[[Any, str], Any]


class ConfigError(ValueError):
    """A CAPTCHA_* setting is invalid; the message names the key."""


def key(default: Any, parse: Parser, doc: str, shown: Optional[str] = None) -> Any:
    """Declare a CAPTCHA_* key as a ``Settings`` field: its default, its parser, one line of doc
    (``shown``: the default as the README's table shows it, when ``repr`` would mislead)."""
    return field(default=default, metadata={"parse": parse, "doc": doc, "shown": shown})


# -- parsers: (value, key name) -> the checked value, or ConfigError naming the key -----------


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    return value


def optional_bool(value: Any, name: str) -> Optional[bool]:
    return None if value is None else boolean(value, name)


def one_of(*allowed: Optional[str]) -> Parser:
    def parse(value: Any, name: str) -> Any:
        if value not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            raise ConfigError(f"{name} must be one of {shown}; got {value!r}")
        return value

    return parse


def optional_text(value: Any, name: str) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {type(value).__name__}")
    return value


def optional_url(value: Any, name: str) -> Optional[str]:
    value = optional_text(value, name)
    if value is not None and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value


def text_list(value: Any, name: str) -> Tuple[str, ...]:
    """A list of non-empty strings (a comma-separated string too, as from the environment)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(item, str) and item for item in value
    ):
        raise ConfigError(f"{name} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def optional_text_list(value: Any, name: str) -> Optional[Tuple[str, ...]]:
    """None (no check), or a non-empty list: an empty one would read as "check nothing"."""
    if value is None:
        return None
    items = text_list(value, name)
    if not items:
        raise ConfigError(f"{name} must list at least one entry, or be None; got {value!r}")
    return items


def challenge_types(value: Any, name: str) -> Tuple[str, ...]:
    types = text_list(value, name) if value else ()
    if not types or any(t not in CHALLENGE_TYPES for t in types) or len(set(types)) != len(types):
        raise ConfigError(
            f"{name} must be a non-empty subset of {CHALLENGE_TYPES} without repeats, got {value!r}"
        )
    return types


def score(value: Any, name: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a number from 0.0 to 1.0, got {value!r}")
    return float(value)


def timeout(value: Any, name: str) -> Tuple[float, float]:
    pair = (value, value) if not isinstance(value, (list, tuple)) else tuple(value)
    if len(pair) != 2 or not all(
        isinstance(part, (int, float)) and not isinstance(part, bool) for part in pair
    ):
        raise ConfigError(f"{name} must be seconds or a (connect, read) pair, got {value!r}")
    connect, read = float(pair[0]), float(pair[1])
    if not (0 < connect < math.inf and 0 < read < math.inf):
        raise ConfigError(f"{name} must be positive and finite, got {value!r}")
    return connect, read


def store_url(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.startswith(STORE_SCHEMES):
        raise ConfigError(
            f"{name} must start with one of {', '.join(STORE_SCHEMES)}; got {value!r}"
        )
    if value.startswith("sqlite://") and (
        not value.startswith("sqlite:///") or value == "sqlite:///"
    ):
        raise ConfigError(
            f"{name} for SQLite must be sqlite:///relative/path or sqlite:////absolute/path, "
            f"got {value!r}"
        )
    return value


def url_prefix(value: Any, name: str) -> str:
    if not isinstance(value, str) or (value and not value.startswith("/")):
        raise ConfigError(f"{name} must be a path starting with '/', got {value!r}")
    return value.rstrip("/")


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}")
    return value


def optional_positive_int(value: Any, name: str) -> Optional[int]:
    return None if value is None else positive_int(value, name)


def int_between(low: int, high: int) -> Parser:
    def parse(value: Any, name: str) -> int:
        value = positive_int(value, name)
        if not low <= value <= high:
            raise ConfigError(f"{name} must be from {low} to {high}, got {value!r}")
        return value

    return parse


def rate_limits(value: Any, name: str) -> Tuple[RateLimit, ...]:
    if value is None or value == "":
        return ()
    try:
        return tuple(parse_many(value))
    except (ValueError, TypeError):
        raise ConfigError(
            f"{name} must be a rate limit such as '100/hour' (or None), got {value!r}"
        ) from None


def secret_bytes(value: Any, name: str) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes) or len(value) < 32:
        raise ConfigError(f"{name} must be a string of at least 32 characters")
    return value


def friendly_version(value: Any, name: str) -> Optional[int]:
    if value not in (None, 1, 2) or isinstance(value, bool):
        raise ConfigError(f"{name} must be None, 1 or 2, got {value!r}")
    return value


def work(value: Any, name: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        0 < value <= MAX_WORK
    ):
        raise ConfigError(f"{name} must be a number above 0 and at most {MAX_WORK}, got {value!r}")
    return float(value)


def network_prefixes(value: Any, name: str) -> Tuple[int, int]:
    rule = f"{name} must be (IPv4 prefix 8..32, IPv6 prefix 32..128), e.g. (32, 64)"
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"{rule}; got {value!r}")
    v4, v6 = value
    if any(isinstance(n, bool) or not isinstance(n, int) for n in value):
        raise ConfigError(f"{rule}; got {value!r}")
    if not (8 <= v4 <= 32 and 32 <= v6 <= 128):
        raise ConfigError(f"{rule}; got {value!r}")
    return (v4, v6)


def pow_levels(value: Any, name: str) -> Tuple[Tuple[int, int, float], ...]:
    """Rows ``(network pressure, site-key pressure, multiplier)``: the first row (0, 0, 1), then
    rising thresholds and multipliers."""
    rule = (
        f"{name} must be rows (network pressure, site-key pressure, work multiplier), starting "
        f"(0, 0, 1), with thresholds and multipliers rising from row to row (multipliers up to "
        f"{MAX_WORK})"
    )
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{rule}; got {value!r}")
    rows = []
    for row in value:
        if not isinstance(row, (list, tuple)) or len(row) != 3:
            raise ConfigError(f"{rule}; got the row {row!r}")
        net, site, multiplier = row
        numbers = (net, site, multiplier)
        if any(isinstance(n, bool) or not isinstance(n, (int, float)) for n in numbers):
            raise ConfigError(f"{rule}; got the row {row!r}")
        if not all(math.isfinite(n) for n in numbers) or not 1 <= multiplier <= MAX_WORK:
            raise ConfigError(f"{rule}; got the row {row!r}")
        rows.append((int(net), int(site), float(multiplier)))
    if rows[0] != (0, 0, 1.0):
        raise ConfigError(f"{rule}; the first row is {value[0]!r}")
    for before, after in zip(rows, rows[1:]):
        if not all(a > b for a, b in zip(after, before)):
            raise ConfigError(f"{rule}; {after!r} does not rise above {before!r}")
    return tuple(rows)


@dataclass(frozen=True)
class Settings:
    """The validated CAPTCHA_* configuration of one app; each field is one key (see ``key``)."""

    enabled: bool = key(
        True, boolean, "`False`: every check passes (logged) and the widget renders nothing"
    )
    provider: str = key("selfhosted", one_of(*PROVIDERS), "`" + "`, `".join(PROVIDERS) + "`")
    site_key: Optional[str] = key(
        None,
        optional_text,
        "provider site key; for self-hosted, the own key (derived from the secret when unset)",
    )
    secret_key: Optional[str] = key(
        None,
        optional_text,
        "provider secret key; for self-hosted, the own key's secret (derived when unset)",
    )
    test_mode: bool = key(
        False, boolean, 'accept the token `"PASSED"` (warns unless the app is testing or debug)'
    )
    min_score: Optional[float] = key(
        None,
        score,
        "lowest score that passes (0.0 .. 1.0, higher = more human)",
        "provider default",
    )
    action: Optional[str] = key(
        None,
        optional_text,
        "the action a token must carry (reCAPTCHA v3, Turnstile, gkCAPTCHA, self-hosted)",
    )
    hostnames: Optional[Tuple[str, ...]] = key(
        None,
        optional_text_list,
        "hostnames a token may be solved on (`*.example.com` for subdomains)",
    )
    max_age: Optional[int] = key(
        None,
        optional_positive_int,
        "seconds since a challenge was solved before its token is refused",
    )
    timeout: Tuple[float, float] = key(
        (3, 5),
        timeout,
        "connect and read seconds for provider calls; their sum bounds a whole call",
    )
    fail_open: bool = key(
        False, boolean, "pass, flagged `fail_open`, when a third-party provider is unreachable"
    )
    verify_url: Optional[str] = key(
        None,
        optional_url,
        "override the provider endpoint; for self-hosted, a central service's siteverify",
    )
    proxy: Optional[str] = key(None, optional_url, "HTTP proxy for provider calls")
    fallback: Optional[str] = key(
        None,
        one_of(None, "selfhosted"),
        '`"selfhosted"`: mount the self-hosted widget when the provider\'s script cannot load',
    )
    fallback_types: Tuple[str, ...] = key(
        ("pow",), challenge_types, "challenge types a fallback token may have"
    )
    store_url: str = key(
        None,
        store_url,
        "`memory://`, `sqlite:///path`, `redis://host:port/db`, `rediss://...`",
        "`sqlite:///<instance>/captcha.sqlite3`",
    )
    redis_allow_eviction: bool = key(
        False,
        boolean,
        "accept a Redis whose `maxmemory-policy` evicts keys (spent tokens could then pass again)",
    )
    blueprint: Optional[bool] = key(
        None, optional_bool, "register the self-hosted endpoints", "`True` when self-hosted"
    )
    url_prefix: str = key("/captcha", url_prefix, '`"/api"` gives `/api/generate`, `/api/validate`')
    challenge_ttl: int = key(300, positive_int, "seconds a challenge lives")
    token_ttl: int = key(300, positive_int, "seconds a success token lives")
    challenge_types: Tuple[str, ...] = key(
        ("pow", "image"),
        challenge_types,
        "types `generate` may issue and `verify` accepts; `math` is opt-in",
    )
    rate_limit_generate: Tuple[RateLimit, ...] = key(
        "100/hour",
        rate_limits,
        "quota of each key made with `keys create` (`None`: none); the app's own key has none",
    )
    rate_limit_validate: Tuple[RateLimit, ...] = key(
        "200/hour",
        rate_limits,
        "quota of each key made with `keys create` (`None`: none); the app's own key has none",
    )
    network_prefixes: Tuple[int, int] = key(
        (32, 64),
        network_prefixes,
        "what one client network is, for per-network limits and pressure: IPv4 and IPv6 prefix "
        "lengths",
    )
    rate_limit_ip_generate: Tuple[RateLimit, ...] = key(
        "30/minute", rate_limits, "per client network (IPv4 address, IPv6 /64)"
    )
    rate_limit_ip_validate: Tuple[RateLimit, ...] = key(
        "60/minute", rate_limits, "per client network (IPv4 address, IPv6 /64)"
    )
    cors_origins: Tuple[str, ...] = key(
        (), text_list, "origins allowed to call the endpoints from a browser"
    )
    token_secret: Optional[bytes] = key(
        None,
        secret_bytes,
        "signs success tokens (JWT, HS256; at least 32 characters)",
        "derived from `SECRET_KEY`",
    )
    max_live_challenges: int = key(
        100_000,
        positive_int,
        "most live challenges per site key (bounds the store); beyond it, 503 for up to a minute",
    )
    max_content_length: int = key(
        16 * 1024, positive_int, "largest accepted request body, bytes (413 beyond)"
    )
    image_length: int = key(5, int_between(4, 8), "characters in an image challenge (4 to 8)")
    pow_algorithm: str = key(
        "PBKDF2/SHA-256",
        one_of(*POW_ALGORITHMS),
        "ALTCHA proof of work: `PBKDF2/SHA-256`, `SHA-256`, `SCRYPT`, `ARGON2ID` (extra "
        "`[argon2]`) or `ALTCHA-V1` (for ALTCHA widgets 1.x/2.x)",
    )
    pow_target_ms: int = key(
        500,
        int_between(50, 10_000),
        "milliseconds the base work takes a visitor's browser (deterministic effort)",
    )
    pow_levels: Tuple[Tuple[int, int, float], ...] = key(
        POW_LEVELS,
        pow_levels,
        "rows (network pressure, site-key pressure, work multiplier); pressure: challenges "
        "asked and failed answers in the last 10 minutes",
        "see [Cost that adapts](#cost-that-adapts-to-pressure)",
    )
    min_work: Optional[float] = key(
        None, work, "least work (in base challenges) a self-hosted token must show to pass"
    )
    friendlycaptcha_version: Optional[int] = key(
        None, friendly_version, "1 or 2; unset: 1 when `CAPTCHA_VERIFY_URL` has `/api/v1/`, else 2"
    )


SETTINGS_FIELDS = fields(Settings)
#: CAPTCHA_* key -> default, derived from the declarations above.
DEFAULTS: Dict[str, Any] = {PREFIX + f.name.upper(): f.default for f in SETTINGS_FIELDS}


def derive_secret(master: bytes, purpose: str) -> bytes:
    """A purpose-bound key from a master secret, so one leaked derivation reveals no other."""
    return hmac.new(master, b"flask-captcha-ext:" + purpose.encode(), hashlib.sha256).digest()


def apply_defaults(config: Dict[str, Any], instance_path: str) -> None:
    """Fill every CAPTCHA_* key the app did not set (the store defaults to its instance folder)."""
    for name, value in DEFAULTS.items():
        config.setdefault(name, value)
    if config["CAPTCHA_STORE_URL"] is None:
        config["CAPTCHA_STORE_URL"] = "sqlite:///" + os.path.join(instance_path, "captcha.sqlite3")


def load_settings(config: Mapping[str, Any]) -> Settings:
    """Validate the CAPTCHA_* keys of ``config`` into Settings; raise ConfigError naming the key
    (a key missing from ``config`` takes its default)."""
    check_spelling(config)
    values = {
        f.name: f.metadata["parse"](
            config.get(PREFIX + f.name.upper(), f.default), PREFIX + f.name.upper()
        )
        for f in SETTINGS_FIELDS
    }
    top = values["pow_levels"][-1][2]
    if values["min_work"] is not None and values["min_work"] > top:
        raise ConfigError(
            f"CAPTCHA_MIN_WORK ({values['min_work']:g}) is more than the highest work of "
            f"CAPTCHA_POW_LEVELS ({top:g}): no challenge could ever carry it"
        )
    return Settings(**values)


def check_spelling(config: Mapping[str, Any]) -> None:
    """Refuse a CAPTCHA_* key that is not ours but close to one of ours (a typo would otherwise
    leave the default silently in force)."""
    for name in config:
        if isinstance(name, str) and name.startswith(PREFIX) and name not in DEFAULTS:
            close = difflib.get_close_matches(name, DEFAULTS, n=1, cutoff=0.85)
            if close:
                raise ConfigError(
                    f"{name} is not a flask-captcha-ext setting; did you mean {close[0]}?"
                )


def unknown_keys(config: Mapping[str, Any]) -> List[str]:
    """CAPTCHA_* keys in ``config`` that are not ours (not close to ours: those are errors)."""
    return [k for k in config if isinstance(k, str) and k.startswith(PREFIX) and k not in DEFAULTS]


def settings_snapshot(config: Mapping[str, Any]) -> Dict[str, Any]:
    """Every CAPTCHA_* key (and what else ``init_app`` reads) as it is now, to notice later
    changes, misspelt keys included."""
    names = [k for k in config if isinstance(k, str) and k.startswith(PREFIX)]
    return {name: config.get(name) for name in (*names, "SECRET_KEY", "TESTING", "DEBUG")}
