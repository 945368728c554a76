"""CAPTCHA_* configuration: defaults, validation, and one frozen ``Settings`` object per app.

Every key is set with ``app.config.setdefault`` so the app's config shows what is in force, then
checked once here; a bad value raises ``ConfigError`` naming the key, at ``init_app`` time rather
than on the first request.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from limits import RateLimitItem, parse_many

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
CHALLENGE_TYPES = ("image", "math", "pow")

DEFAULTS: Dict[str, Any] = {
    "CAPTCHA_ENABLED": True,
    "CAPTCHA_PROVIDER": "selfhosted",
    "CAPTCHA_SITE_KEY": None,
    "CAPTCHA_SECRET_KEY": None,
    "CAPTCHA_TEST_MODE": False,
    "CAPTCHA_MIN_SCORE": None,
    "CAPTCHA_ACTION": None,
    "CAPTCHA_HOSTNAMES": None,
    "CAPTCHA_TIMEOUT": (3, 5),
    "CAPTCHA_FAIL_OPEN": False,
    "CAPTCHA_VERIFY_URL": None,
    "CAPTCHA_PROXY": None,
    "CAPTCHA_STORE_URL": None,
    "CAPTCHA_BLUEPRINT": None,
    "CAPTCHA_URL_PREFIX": "/captcha",
    "CAPTCHA_CHALLENGE_TTL": 300,
    "CAPTCHA_TOKEN_TTL": 300,
    "CAPTCHA_CHALLENGE_TYPES": CHALLENGE_TYPES,
    "CAPTCHA_RATE_LIMIT_GENERATE": "100/hour",
    "CAPTCHA_RATE_LIMIT_VALIDATE": "200/hour",
    "CAPTCHA_RATE_LIMIT_IP_GENERATE": "30/minute",
    "CAPTCHA_RATE_LIMIT_IP_VALIDATE": "60/minute",
    "CAPTCHA_CORS_ORIGINS": (),
    "CAPTCHA_TOKEN_SECRET": None,
    "CAPTCHA_MAX_CONTENT_LENGTH": 16 * 1024,
    "CAPTCHA_IMAGE_LENGTH": 5,
    "CAPTCHA_FALLBACK": None,
    "CAPTCHA_MAX_AGE": None,
    "CAPTCHA_FRIENDLYCAPTCHA_VERSION": None,
    "CAPTCHA_POW_MAX_NUMBER": 100_000,
}


class ConfigError(ValueError):
    """A CAPTCHA_* setting is invalid; the message names the key."""


@dataclass(frozen=True)
class Settings:
    """The validated CAPTCHA_* configuration of one app."""

    enabled: bool
    provider: str
    site_key: Optional[str]
    secret_key: Optional[str]
    test_mode: bool
    min_score: Optional[float]
    action: Optional[str]
    hostnames: Optional[Tuple[str, ...]]
    timeout: Tuple[float, float]
    fail_open: bool
    verify_url: Optional[str]
    proxy: Optional[str]
    store_url: str
    blueprint: bool
    url_prefix: str
    challenge_ttl: int
    token_ttl: int
    challenge_types: Tuple[str, ...]
    rate_limit_generate: Tuple[RateLimitItem, ...]
    rate_limit_validate: Tuple[RateLimitItem, ...]
    rate_limit_ip_generate: Tuple[RateLimitItem, ...]
    rate_limit_ip_validate: Tuple[RateLimitItem, ...]
    cors_origins: Tuple[str, ...]
    token_secret: Optional[bytes]
    max_content_length: int
    image_length: int
    fallback: Optional[str]
    #: Seconds a third-party challenge may have been solved ago (None: the provider decides).
    max_age: Optional[int] = None
    #: 1 or 2; None: from CAPTCHA_VERIFY_URL (a path with /api/v1/ means 1), else 2.
    friendlycaptcha_version: Optional[int] = None
    pow_max_number: int = 100_000

    @property
    def selfhosted(self) -> bool:
        return self.provider == "selfhosted"


def derive_secret(master: bytes, purpose: str) -> bytes:
    """A purpose-bound key from a master secret, so one leaked derivation reveals no other."""
    return hmac.new(master, b"flask-captcha-ext:" + purpose.encode(), hashlib.sha256).digest()


def apply_defaults(config: Dict[str, Any], instance_path: str) -> None:
    """Fill every CAPTCHA_* key the app did not set (the store defaults to its instance folder)."""
    for key, value in DEFAULTS.items():
        config.setdefault(key, value)
    if config["CAPTCHA_STORE_URL"] is None:
        config["CAPTCHA_STORE_URL"] = "sqlite:///" + os.path.join(instance_path, "captcha.sqlite3")


def load_settings(config: Mapping[str, Any], testing: bool = False) -> Settings:
    """Validate the CAPTCHA_* keys of ``config`` into Settings; raise ConfigError naming the key."""
    provider = _choice(config, "CAPTCHA_PROVIDER", PROVIDERS)
    enabled = _bool(config, "CAPTCHA_ENABLED")
    test_mode = _bool(config, "CAPTCHA_TEST_MODE")
    blueprint = config["CAPTCHA_BLUEPRINT"]
    local = provider == "selfhosted" and not config["CAPTCHA_VERIFY_URL"]
    widget_needs_api = local or config["CAPTCHA_FALLBACK"] == "selfhosted"
    if blueprint is None:
        blueprint = widget_needs_api
    elif not isinstance(blueprint, bool):
        raise ConfigError(f"CAPTCHA_BLUEPRINT must be True, False or None, got {blueprint!r}")
    elif not blueprint and widget_needs_api:
        raise ConfigError(
            "CAPTCHA_BLUEPRINT=False leaves the self-hosted widget without its generate and "
            "validate endpoints; keep it on (None) for CAPTCHA_PROVIDER='selfhosted' without "
            "CAPTCHA_VERIFY_URL and for CAPTCHA_FALLBACK='selfhosted'"
        )

    master = config.get("SECRET_KEY")
    if isinstance(master, str):
        master = master.encode()
    token_secret = config["CAPTCHA_TOKEN_SECRET"]
    if token_secret is not None:
        token_secret = _secret_bytes(token_secret, "CAPTCHA_TOKEN_SECRET")
    elif master:
        token_secret = derive_secret(master, "token")

    site_key = _opt_str(config, "CAPTCHA_SITE_KEY")
    secret_key = _opt_str(config, "CAPTCHA_SECRET_KEY")
    remote = provider == "selfhosted" and bool(config["CAPTCHA_VERIFY_URL"])
    if (provider != "selfhosted" or remote) and enabled and not (testing or test_mode):
        for key, value in (("CAPTCHA_SITE_KEY", site_key), ("CAPTCHA_SECRET_KEY", secret_key)):
            if not value:
                raise ConfigError(
                    f"{key} is required for CAPTCHA_PROVIDER={provider!r}; without it every "
                    "check would fail (set CAPTCHA_TEST_MODE or CAPTCHA_ENABLED=False in tests)"
                )

    prefix = config["CAPTCHA_URL_PREFIX"]
    if not isinstance(prefix, str) or (prefix and not prefix.startswith("/")):
        raise ConfigError(f"CAPTCHA_URL_PREFIX must be a path starting with '/', got {prefix!r}")

    types = config["CAPTCHA_CHALLENGE_TYPES"]
    if isinstance(types, str):
        types = (types,)
    if (
        not isinstance(types, (list, tuple))
        or not types
        or any(t not in CHALLENGE_TYPES for t in types)
        or len(set(types)) != len(types)
    ):
        raise ConfigError(
            f"CAPTCHA_CHALLENGE_TYPES must be a non-empty subset of {CHALLENGE_TYPES} without "
            f"repeats, got {types!r}"
        )
    types = tuple(types)

    return Settings(
        enabled=enabled,
        provider=provider,
        site_key=site_key,
        secret_key=secret_key,
        test_mode=test_mode,
        min_score=_opt_score(config, "CAPTCHA_MIN_SCORE"),
        action=_opt_str(config, "CAPTCHA_ACTION"),
        hostnames=_opt_str_tuple(config, "CAPTCHA_HOSTNAMES"),
        timeout=_timeout(config),
        fail_open=_bool(config, "CAPTCHA_FAIL_OPEN"),
        verify_url=_opt_url(config, "CAPTCHA_VERIFY_URL"),
        proxy=_opt_url(config, "CAPTCHA_PROXY"),
        store_url=_store_url(config),
        blueprint=blueprint,
        url_prefix=prefix.rstrip("/"),
        challenge_ttl=_positive_int(config, "CAPTCHA_CHALLENGE_TTL"),
        token_ttl=_positive_int(config, "CAPTCHA_TOKEN_TTL"),
        challenge_types=types,
        rate_limit_generate=_limits(config, "CAPTCHA_RATE_LIMIT_GENERATE"),
        rate_limit_validate=_limits(config, "CAPTCHA_RATE_LIMIT_VALIDATE"),
        rate_limit_ip_generate=_limits(config, "CAPTCHA_RATE_LIMIT_IP_GENERATE"),
        rate_limit_ip_validate=_limits(config, "CAPTCHA_RATE_LIMIT_IP_VALIDATE"),
        cors_origins=_opt_str_tuple(config, "CAPTCHA_CORS_ORIGINS") or (),
        token_secret=token_secret,
        max_content_length=_positive_int(config, "CAPTCHA_MAX_CONTENT_LENGTH"),
        image_length=_int_between(config, "CAPTCHA_IMAGE_LENGTH", 4, 8),
        fallback=_fallback(config, provider),
        max_age=_opt_positive_int(config, "CAPTCHA_MAX_AGE"),
        friendlycaptcha_version=_friendly_version(config),
        pow_max_number=_int_between(config, "CAPTCHA_POW_MAX_NUMBER", 1_000, 10_000_000),
    )


def _opt_positive_int(config: Mapping[str, Any], key: str) -> Optional[int]:
    return None if config[key] is None else _positive_int(config, key)


def _friendly_version(config: Mapping[str, Any]) -> Optional[int]:
    value = config["CAPTCHA_FRIENDLYCAPTCHA_VERSION"]
    if value not in (None, 1, 2):
        raise ConfigError(f"CAPTCHA_FRIENDLYCAPTCHA_VERSION must be None, 1 or 2, got {value!r}")
    return value


def _fallback(config: Mapping[str, Any], provider: str) -> Optional[str]:
    value = config["CAPTCHA_FALLBACK"]
    if value not in (None, "selfhosted"):
        raise ConfigError(f"CAPTCHA_FALLBACK must be None or 'selfhosted', got {value!r}")
    if value and provider == "selfhosted":
        raise ConfigError("CAPTCHA_FALLBACK='selfhosted' needs a third-party CAPTCHA_PROVIDER")
    return value


def _bool(config: Mapping[str, Any], key: str) -> bool:
    value = config[key]
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be True or False, got {value!r}")
    return value


def _choice(config: Mapping[str, Any], key: str, allowed: Tuple[str, ...]) -> str:
    value = config[key]
    if value not in allowed:
        raise ConfigError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _opt_str(config: Mapping[str, Any], key: str) -> Optional[str]:
    value = config[key]
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {type(value).__name__}")
    return value


def _opt_url(config: Mapping[str, Any], key: str) -> Optional[str]:
    value = _opt_str(config, key)
    if value is not None and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{key} must be an http:// or https:// URL, got {value!r}")
    return value


def _opt_str_tuple(config: Mapping[str, Any], key: str) -> Optional[Tuple[str, ...]]:
    value = config[key]
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(item, str) and item for item in value
    ):
        raise ConfigError(f"{key} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _opt_score(config: Mapping[str, Any], key: str) -> Optional[float]:
    value = config[key]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{key} must be a number from 0.0 to 1.0, got {value!r}")
    return float(value)


def _timeout(config: Mapping[str, Any]) -> Tuple[float, float]:
    value = config["CAPTCHA_TIMEOUT"]
    pair = (value, value) if not isinstance(value, (list, tuple)) else tuple(value)
    if len(pair) != 2 or not all(
        isinstance(part, (int, float)) and not isinstance(part, bool) for part in pair
    ):
        raise ConfigError(
            f"CAPTCHA_TIMEOUT must be seconds or a (connect, read) pair, got {value!r}"
        )
    connect, read = float(pair[0]), float(pair[1])
    if not (0 < connect < math.inf and 0 < read < math.inf):
        raise ConfigError(f"CAPTCHA_TIMEOUT must be positive and finite, got {value!r}")
    return connect, read


def _store_url(config: Mapping[str, Any]) -> str:
    value = config["CAPTCHA_STORE_URL"]
    schemes = ("memory://", "sqlite://", "redis://", "rediss://")
    if not isinstance(value, str) or not value.startswith(schemes):
        raise ConfigError(
            f"CAPTCHA_STORE_URL must start with one of {', '.join(schemes)}; got {value!r}"
        )
    if value.startswith("sqlite://") and (not value.startswith("sqlite:///") or value == "sqlite:///"):
        raise ConfigError(
            f"CAPTCHA_STORE_URL for SQLite must be sqlite:///relative/path or "
            f"sqlite:////absolute/path, got {value!r}"
        )
    return value


def _positive_int(config: Mapping[str, Any], key: str) -> int:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{key} must be a positive whole number, got {value!r}")
    return value


def _int_between(config: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = _positive_int(config, key)
    if not low <= value <= high:
        raise ConfigError(f"{key} must be from {low} to {high}, got {value!r}")
    return value


def _limits(config: Mapping[str, Any], key: str) -> Tuple[RateLimitItem, ...]:
    value = config[key]
    if value is None or value == "":
        return ()
    try:
        return tuple(parse_many(value))
    except (ValueError, TypeError):
        raise ConfigError(
            f"{key} must be a rate limit such as '100/hour' (or None), got {value!r}"
        ) from None


def _secret_bytes(value: Any, key: str) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes) or len(value) < 32:
        raise ConfigError(f"{key} must be a string of at least 32 characters")
    return value
