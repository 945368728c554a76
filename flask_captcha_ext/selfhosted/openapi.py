"""The OpenAPI 3.1 description of the self-hosted HTTP API, served as ``{prefix}/openapi.json``.

Kept as plain data next to the code it describes; ``tests/test_openapi.py`` validates the document
and checks real responses of every endpoint against it, so the two cannot drift apart silently.
The ALTCHA shapes are built from ``pow.ALGORITHMS``, and the bound of ``min_work`` and ``work`` is
the top multiplier of the app's CAPTCHA_POW_LEVELS.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional

from altcha.v2 import DEFAULT_KEY_LENGTH

from ..providers.policy import TYPE_NOT_ALLOWED
from ..settings import CHALLENGE_TYPES, POW_LEVELS
from .pow import ALGORITHMS, MAX_PAYLOAD_LENGTH, V1
from .service import ACTION, MAX_ID_LENGTH, MAX_INPUT_LENGTH
from .siteverify import (
    BAD_REQUEST,
    INVALID_RESPONSE,
    INVALID_SECRET,
    MISSING_RESPONSE,
    MISSING_SECRET,
    TIMEOUT_OR_DUPLICATE,
)

JSON = "application/json"
Schema = Dict[str, Any]
ACTION_PATTERN = f"^{ACTION.pattern}$"
#: The most work CAPTCHA_POW_LEVELS gives by default (the document of an app outside any app
#: context, or of one that sets no levels).
DEFAULT_MAX_WORK = float(POW_LEVELS[-1][2])


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str, headers: Schema | None = None) -> Schema:
    response: Schema = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


def _hex(length: int, description: str) -> Schema:
    return {"type": "string", "pattern": f"^[0-9a-f]{{{length}}}$", "description": description}


def _payload(schema: str, description: str, max_length: int) -> Schema:
    """A base64 ALTCHA payload: a string whose decoded content is JSON of ``schema``."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "contentEncoding": "base64",
        "contentMediaType": JSON,
        "contentSchema": _ref(schema),
        "description": description,
    }


RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 1},
}

V2_ALGORITHMS = [name for name, a in ALGORITHMS.items() if a.version == 2]


def _v2_variants() -> List[Schema]:
    """One variant of the v2 parameters per algorithm: its name, cost and (memory-hard ones
    only) memoryCost and parallelism, as ``pow.ALGORITHMS`` issues them."""
    variants = []
    for name in V2_ALGORITHMS:
        a = ALGORITHMS[name]
        properties: Schema = {"algorithm": {"const": name}, "cost": {"const": a.cost}}
        required = ["algorithm", "cost"]
        for key, value in (("memoryCost", a.memory_cost), ("parallelism", a.parallelism)):
            if value is None:
                properties[key] = False  # never sent for this algorithm
            else:
                properties[key] = {"const": value}
                required.append(key)
        variants.append({"properties": properties, "required": required})
    return variants


def _altcha_schemas() -> Dict[str, Schema]:
    """The ALTCHA challenges (v2, v1) and the payloads that solve them."""
    challenge_id = {
        "type": "object",
        "required": ["id"],
        "properties": {"id": _ref("CaptchaId")},
        "additionalProperties": False,
        "description": "The captcha_id this challenge belongs to (signed with the parameters).",
    }
    return {
        "AltchaChallenge": {
            "description": (
                "An ALTCHA challenge: v2 unless CAPTCHA_POW_ALGORITHM is `ALTCHA-V1`. The server "
                "keeps its own copy; only the solution a payload carries is checked against it."
            ),
            "oneOf": [_ref("AltchaChallengeV2"), _ref("AltchaChallengeV1")],
        },
        "AltchaChallengeV2": {
            "type": "object",
            "description": (
                "ALTCHA PoW v2, deterministic: find the counter c (0 <= c < 2^32) whose key, "
                "derived from the password nonce + uint32-big-endian(c) and salt by `algorithm` "
                "(cost, memoryCost, parallelism; keyLength bytes), starts with keyPrefix. The "
                "server picked c at random below a bound sized by the work."
            ),
            "required": ["parameters", "signature"],
            "properties": {
                "parameters": _ref("AltchaParametersV2"),
                "signature": _hex(64, "HMAC-SHA-256 of the parameters' canonical JSON."),
            },
            "additionalProperties": False,
        },
        "AltchaParametersV2": {
            "type": "object",
            "required": [
                "algorithm",
                "nonce",
                "salt",
                "cost",
                "keyLength",
                "keyPrefix",
                "keySignature",
                "expiresAt",
                "data",
            ],
            "properties": {
                "algorithm": {
                    "enum": V2_ALGORITHMS,
                    "description": "CAPTCHA_POW_ALGORITHM (default PBKDF2/SHA-256).",
                },
                "nonce": _hex(32, "Random; the start of every password."),
                "salt": _hex(32, "Random; the key derivation's salt."),
                "cost": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Iterations (PBKDF2, SHA-256), N (SCRYPT) or passes (ARGON2ID).",
                },
                "keyLength": {"const": DEFAULT_KEY_LENGTH},
                "keyPrefix": _hex(
                    DEFAULT_KEY_LENGTH, "The first half of the key that c derives (hex)."
                ),
                "keySignature": _hex(64, "HMAC of the right key: the server's one-HMAC check."),
                "memoryCost": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "r (SCRYPT) or KiB (ARGON2ID); memory-hard algorithms only.",
                },
                "parallelism": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "p (SCRYPT) or lanes (ARGON2ID); memory-hard algorithms only.",
                },
                "expiresAt": {
                    "type": "integer",
                    "description": "Unix time (seconds) after which no solution is accepted.",
                },
                "data": challenge_id,
            },
            "additionalProperties": False,
            "oneOf": _v2_variants(),
        },
        "AltchaChallengeV1": {
            "type": "object",
            "description": (
                "ALTCHA v1 (CAPTCHA_POW_ALGORITHM `ALTCHA-V1`, for ALTCHA widgets 1.x/2.x): find "
                "n <= maxnumber with hex(SHA-256(salt + decimal(n))) == challenge."
            ),
            "required": ["algorithm", "challenge", "maxnumber", "salt", "signature"],
            "properties": {
                "algorithm": {"const": ALGORITHMS[V1].name},
                "challenge": _hex(64, "SHA-256 of the salt and the secret number."),
                "maxnumber": {"type": "integer", "minimum": 1},
                "salt": {
                    "type": "string",
                    "pattern": (
                        f"^[0-9a-f]+\\?expires=[0-9]+&id=[A-Za-z0-9_-]{{1,{MAX_ID_LENGTH}}}&$"
                    ),
                    "description": "Random hex, then the expiry and the captcha_id as "
                    "parameters; ends with '&'.",
                },
                "signature": _hex(64, "HMAC-SHA-256 of the challenge."),
            },
            "additionalProperties": False,
        },
        "AltchaPayload": {
            "description": "What solves a challenge, as the ALTCHA widgets post it (base64 JSON).",
            "oneOf": [_ref("AltchaPayloadV2"), _ref("AltchaPayloadV1")],
        },
        "AltchaPayloadV2": {
            "type": "object",
            "required": ["challenge", "solution"],
            "properties": {
                "challenge": _ref("AltchaChallengeV2"),
                "solution": {
                    "type": "object",
                    "required": ["counter", "derivedKey"],
                    "properties": {
                        "counter": {"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF},
                        "derivedKey": {
                            "type": "string",
                            "pattern": "^([0-9a-fA-F]{2})*$",
                            "maxLength": 256,
                            "description": "The key the counter derives (hex).",
                        },
                        "time": {"type": "number", "description": "Milliseconds; ignored."},
                    },
                },
            },
        },
        "AltchaPayloadV1": {
            "type": "object",
            "required": ["algorithm", "challenge", "number", "salt", "signature"],
            "properties": {
                "algorithm": {"const": ALGORITHMS[V1].name},
                "challenge": {"type": "string"},
                "number": {"type": "integer", "minimum": 0},
                "salt": {"type": "string"},
                "signature": {"type": "string"},
            },
        },
    }


def _schemas(max_work: float) -> Dict[str, Schema]:
    work = {
        "type": "number",
        "minimum": 1,
        "maximum": max_work,
        "description": "How many base challenges of work this one is (CAPTCHA_POW_LEVELS under "
        "the pressure on the client's network and the site key, or min_work when higher); "
        "the token records it.",
    }
    typed = {"image": "image", "math": "question"}
    typed_schema = {
        "image": {
            "type": "string",
            "contentEncoding": "base64",
            "contentMediaType": "image/png",
            "description": "A 320x120 PNG, to show at 160x60 CSS pixels (sharp on high-density "
            "screens).",
        },
        "math": {"type": "string"},
    }
    extra: Dict[str, Dict[str, Schema]] = {
        "image": {
            "length": {
                "type": "integer",
                "minimum": 4,
                "maximum": 8,
                "description": "How many characters the image holds (CAPTCHA_IMAGE_LENGTH), "
                "for the image's text alternative.",
            }
        },
        "math": {},
    }
    generated = [
        {
            "type": "object",
            "required": [
                "captcha_id", "type", typed[kind], *extra[kind], "pow", "work", "expires_in"
            ],
            "properties": {
                "captcha_id": _ref("CaptchaId"),
                "type": {"const": kind},
                typed[kind]: typed_schema[kind],
                **extra[kind],
                "pow": {
                    **_ref("AltchaChallenge"),
                    "description": "The proof of work that comes with the question: its "
                    "payload goes to validate as `proof`.",
                },
                "work": _ref("Work"),
                "expires_in": _ref("Seconds"),
            },
            "additionalProperties": False,
        }
        for kind in ("image", "math")
    ]
    generated.append(
        {
            "type": "object",
            "required": ["captcha_id", "type", "challenge", "work", "expires_in"],
            "properties": {
                "captcha_id": _ref("CaptchaId"),
                "type": {"const": "pow"},
                "challenge": _ref("AltchaChallenge"),
                "work": _ref("Work"),
                "expires_in": _ref("Seconds"),
            },
            "additionalProperties": False,
        }
    )
    return {
        "Error": {
            "type": "object",
            "description": "Every refusal: what is wrong, for the client's developer.",
            "required": ["detail"],
            "properties": {"detail": {"type": "string"}},
            "additionalProperties": False,
        },
        "GenerateRequest": {
            "type": "object",
            "required": ["site_key", "type"],
            "properties": {
                "site_key": {"type": "string", "minLength": 1},
                "type": {
                    "type": "string",
                    "enum": list(CHALLENGE_TYPES),
                    "description": "Only the site key's types are served (default "
                    "CAPTCHA_CHALLENGE_TYPES: pow and image; math is opt-in).",
                },
                "min_work": {
                    "type": ["number", "null"],
                    "exclusiveMinimum": 0,
                    "maximum": max_work,
                    "description": "The least work the page needs (a view's min_work), at most "
                    "the top multiplier of CAPTCHA_POW_LEVELS; the challenge gets this or what "
                    "the pressure asks, whichever is more (null: none).",
                },
                "action": {
                    "oneOf": [_ref("Action"), {"type": "null"}],
                    "description": "Kept with the challenge: the token of a validate that names "
                    "none gets it (the official ALTCHA widget's payload carries none).",
                },
            },
        },
        **_altcha_schemas(),
        "GenerateResponse": {"oneOf": generated},
        "CaptchaId": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        "Action": {
            "type": "string",
            "pattern": ACTION_PATTERN,
            "description": "The form's action, carried by the token (its `act` claim); a view "
            "expecting an action refuses tokens without it.",
        },
        "Seconds": {"type": "integer", "minimum": 1},
        "Work": work,
        "ValidateRequest": {
            "type": "object",
            "description": (
                "Either a captcha_id with its user_input, or (without a captcha_id) the official "
                "ALTCHA widget's `altcha` payload, which names its own challenge."
            ),
            "required": ["site_key"],
            "properties": {
                "site_key": {"type": "string", "minLength": 1},
                "captcha_id": _ref("CaptchaId"),
                "user_input": {
                    "type": ["string", "integer"],
                    "maxLength": MAX_INPUT_LENGTH,
                    "description": (
                        "The typed answer (image, math), or for pow the ALTCHA payload: base64 "
                        "of JSON (see AltchaPayload)."
                    ),
                },
                "proof": {
                    "oneOf": [
                        _payload(
                            "AltchaPayload",
                            "The payload solving an image or math challenge's `pow` part "
                            "(without it the answer fails); ignored for pow.",
                            MAX_INPUT_LENGTH,
                        ),
                        {"type": "null"},
                    ]
                },
                "altcha": _payload(
                    "AltchaPayload",
                    "The official ALTCHA widget's payload, instead of captcha_id and user_input "
                    "(ignored when captcha_id is given).",
                    MAX_PAYLOAD_LENGTH,
                ),
                "action": {
                    "oneOf": [_ref("Action"), {"type": "null"}],
                    "description": "Absent or null: the action given to generate (or GET altcha) "
                    "for this challenge, if any.",
                },
            },
            "oneOf": [
                {"required": ["captcha_id", "user_input"]},
                {"required": ["altcha"], "not": {"required": ["captcha_id"]}},
            ],
        },
        "ValidateResponse": {
            "description": "The challenge is spent either way; a token verifies once.",
            "oneOf": [
                {
                    "type": "object",
                    "required": ["valid", "token"],
                    "properties": {
                        "valid": {"const": True},
                        "token": {"type": "string", "description": "A JWT (HS256), single use."},
                    },
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "required": ["valid"],
                    "properties": {"valid": {"const": False}},
                    "additionalProperties": False,
                },
            ],
        },
        "SiteverifyRequest": {
            "type": "object",
            "description": "Google reCAPTCHA's fields; missing ones are reported in error-codes.",
            "properties": {
                "secret": {"type": "string", "description": "The site key's secret."},
                "response": {"type": "string", "description": "The token from validate."},
                "remoteip": {"type": "string", "description": "Accepted and ignored."},
            },
        },
        "SiteverifyResponse": {
            "type": "object",
            "required": [
                "success",
                "challenge_ts",
                "hostname",
                "challenge_type",
                "action",
                "work",
                "error-codes",
            ],
            "properties": {
                "success": {"type": "boolean"},
                "challenge_ts": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "When the challenge was solved (ISO 8601, UTC); null on "
                    "failure.",
                },
                "hostname": {
                    "type": ["string", "null"],
                    "description": "Host of the page that solved it; null when unknown.",
                },
                "challenge_type": {
                    "type": ["string", "null"],
                    "enum": [*CHALLENGE_TYPES, None],
                    "description": "Which challenge was solved; null on failure. A consumer "
                    "applies its own allowed types to it.",
                },
                "action": {
                    "type": ["string", "null"],
                    "description": "The action the widget gave; null when none.",
                },
                "work": {
                    "type": ["number", "null"],
                    "minimum": 0,
                    "description": "The work the solved challenge demanded (see Work); null on "
                    "failure. A consumer applies its own min_work to it.",
                },
                "error-codes": {
                    "type": "array",
                    "items": {
                        "enum": [
                            MISSING_SECRET,
                            INVALID_SECRET,
                            MISSING_RESPONSE,
                            INVALID_RESPONSE,
                            BAD_REQUEST,
                            TIMEOUT_OR_DUPLICATE,
                            TYPE_NOT_ALLOWED,
                        ]
                    },
                },
            },
            "additionalProperties": False,
        },
    }


RESPONSES: Dict[str, Schema] = {
    "BadRequest": _json(
        _ref("Error"), "Bad input, or an invalid, expired or already used captcha."
    ),
    "Forbidden": _json(
        _ref("Error"), "Unknown or revoked site key, or a page origin the key does not list."
    ),
    "TooLarge": _json(_ref("Error"), "The request body is larger than CAPTCHA_MAX_CONTENT_LENGTH."),
    "RateLimited": _json(
        _ref("Error"),
        "Rate limited per site key or per client network.",
        {"Retry-After": RETRY_AFTER},
    ),
    "StoreDown": _json(
        _ref("Error"),
        "The CAPTCHA store is unreachable, or (generate, altcha) the site key has as many live "
        "challenges as CAPTCHA_MAX_LIVE_CHALLENGES allows. Without Retry-After when the store "
        "timed out on a call that may have spent the challenge or token (validate, siteverify): "
        "do not retry it; get a new challenge.",
        {"Retry-After": RETRY_AFTER},
    ),
}

_API_ERRORS = {
    "400": _error("BadRequest"),
    "403": _error("Forbidden"),
    "413": _error("TooLarge"),
    "429": _error("RateLimited"),
    "503": _error("StoreDown"),
}

_ORIGIN_NOTE = (
    " A site key with origins refuses (403) a browser whose Origin (or Referer) is another "
    "origin; requests with neither header (server-to-server) are allowed."
)


def openapi_document(prefix: str, max_work: Optional[float] = None) -> Dict[str, Any]:
    """The OpenAPI document for the blueprint mounted at ``prefix`` (treat it as read-only).

    ``max_work`` is the top multiplier of CAPTCHA_POW_LEVELS; by default the current app's (the
    default levels' outside an app context)."""
    if max_work is None:
        max_work = _current_max_work()
    return _document(prefix, float(max_work))


def _current_max_work() -> float:
    from flask import current_app, has_app_context

    state = current_app.extensions.get("captcha") if has_app_context() else None
    if state is None:
        return DEFAULT_MAX_WORK
    return float(state.settings.pow_levels[-1][2])


@lru_cache(maxsize=8)
def _document(prefix: str, max_work: float) -> Dict[str, Any]:
    from .. import __version__  # here, not at import time: the package imports this module

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flask-captcha-ext self-hosted CAPTCHA API",
            "version": __version__,
            "description": (
                "Generate a challenge, validate the user's answer for a single-use token, and "
                "verify that token from the site's backend (reCAPTCHA-compatible siteverify). "
                "Every challenge carries ALTCHA proof of work."
            ),
        },
        "paths": {
            f"{prefix}/generate": {
                "post": {
                    "operationId": "generate",
                    "summary": "Issue a new challenge for a site key.",
                    "description": "The answer never leaves the server." + _ORIGIN_NOTE,
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("GenerateRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("GenerateResponse"), "A new challenge."),
                        **_API_ERRORS,
                    },
                }
            },
            f"{prefix}/altcha": {
                "get": {
                    "operationId": "altcha",
                    "summary": "Issue a bare ALTCHA challenge (the official altcha widget's "
                    "challenge URL).",
                    "description": (
                        "The `challenge` of a pow generate, without the envelope; its work is "
                        "what the pressure asks, at least CAPTCHA_MIN_WORK. The widget's "
                        "payload names its challenge, so validate takes it as "
                        '`{"site_key", "altcha"}`. HEAD is refused (405): it would make a '
                        "challenge nobody sees." + _ORIGIN_NOTE
                    ),
                    "parameters": [
                        {
                            "name": "site_key",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1},
                        },
                        {
                            "name": "min_work",
                            "in": "query",
                            "required": False,
                            "description": "As generate's min_work (one at or below "
                            "CAPTCHA_MIN_WORK is raised to it).",
                            "schema": {
                                "type": "number",
                                "exclusiveMinimum": 0,
                                "maximum": max_work,
                            },
                        },
                        {
                            "name": "action",
                            "in": "query",
                            "required": False,
                            "description": "As generate's action.",
                            "schema": _ref("Action"),
                        },
                    ],
                    "responses": {
                        "200": _json(_ref("AltchaChallenge"), "A new pow challenge."),
                        **{k: v for k, v in _API_ERRORS.items() if k != "413"},
                    },
                }
            },
            f"{prefix}/validate": {
                "post": {
                    "operationId": "validate",
                    "summary": "Answer a challenge; a right answer earns a single-use token.",
                    "description": "The first attempt spends the challenge, right or wrong "
                    "(one refused with 429 does not)." + _ORIGIN_NOTE,
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("ValidateRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("ValidateResponse"), "Whether the answer was right."),
                        **_API_ERRORS,
                    },
                }
            },
            f"{prefix}/siteverify": {
                "post": {
                    "operationId": "siteverify",
                    "summary": "Verify a token with the site key's secret (reCAPTCHA-compatible).",
                    "description": (
                        "`response` and `remoteip` may also come in the query string, as "
                        "Google accepts; `secret` only in the body: a query string carrying "
                        "`secret` is refused with 400, as URLs end up in access logs. Protocol "
                        "failures answer 200 with success false and reCAPTCHA error codes; a "
                        "token verifies once."
                    ),
                    "requestBody": {
                        "required": False,  # without one, the answer is missing-input-secret
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": _ref("SiteverifyRequest")
                            },
                            JSON: {"schema": _ref("SiteverifyRequest")},
                        },
                    },
                    "responses": {
                        "200": _json(_ref("SiteverifyResponse"), "The verification result."),
                        "400": _json(_ref("Error"), "`secret` was sent in the query string."),
                        "413": _error("TooLarge"),
                        "503": _error("StoreDown"),
                    },
                }
            },
            f"{prefix}/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
                }
            },
        },
        "components": {"schemas": _schemas(max_work), "responses": RESPONSES},
    }
