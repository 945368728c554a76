"""The OpenAPI 3.1 description of the self-hosted HTTP API, served as ``{prefix}/openapi.json``.

Kept as plain data next to the code it describes; ``tests/test_openapi.py`` validates the document
and checks real responses of every endpoint against it, so the two cannot drift apart silently.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

from ..providers.policy import TYPE_NOT_ALLOWED
from ..settings import CHALLENGE_TYPES
from .pow import ALGORITHM
from .service import MAX_ID_LENGTH, MAX_INPUT_LENGTH
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


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str, headers: Schema | None = None) -> Schema:
    response: Schema = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 1},
}

SCHEMAS: Dict[str, Schema] = {
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
        },
    },
    "AltchaChallenge": {
        "type": "object",
        "description": (
            "An ALTCHA v1 challenge: find n <= maxnumber with "
            "hex(SHA-256(salt + decimal(n))) == challenge."
        ),
        "required": ["algorithm", "challenge", "maxnumber", "salt", "signature"],
        "properties": {
            "algorithm": {"const": ALGORITHM},
            "challenge": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "maxnumber": {"type": "integer", "minimum": 1},
            "salt": {
                "type": "string",
                "pattern": "^[0-9a-f]+\\?expires=[0-9]+&$",
                "description": "Random hex, then the expiry as a parameter; ends with '&'.",
            },
            "signature": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
        "additionalProperties": False,
    },
    "GenerateResponse": {
        "oneOf": [
            {
                "type": "object",
                "required": ["captcha_id", "type", "image", "expires_in"],
                "properties": {
                    "captcha_id": {"$ref": "#/components/schemas/CaptchaId"},
                    "type": {"const": "image"},
                    "image": {
                        "type": "string",
                        "contentEncoding": "base64",
                        "contentMediaType": "image/png",
                    },
                    "expires_in": {"$ref": "#/components/schemas/Seconds"},
                },
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["captcha_id", "type", "question", "expires_in"],
                "properties": {
                    "captcha_id": {"$ref": "#/components/schemas/CaptchaId"},
                    "type": {"const": "math"},
                    "question": {"type": "string"},
                    "expires_in": {"$ref": "#/components/schemas/Seconds"},
                },
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["captcha_id", "type", "challenge", "expires_in"],
                "properties": {
                    "captcha_id": {"$ref": "#/components/schemas/CaptchaId"},
                    "type": {"const": "pow"},
                    "challenge": _ref("AltchaChallenge"),
                    "expires_in": {"$ref": "#/components/schemas/Seconds"},
                },
                "additionalProperties": False,
            },
        ]
    },
    "CaptchaId": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
    "Seconds": {"type": "integer", "minimum": 1},
    "ValidateRequest": {
        "type": "object",
        "required": ["site_key", "captcha_id", "user_input"],
        "properties": {
            "site_key": {"type": "string", "minLength": 1},
            "captcha_id": _ref("CaptchaId"),
            "user_input": {
                "type": ["string", "integer"],
                "maxLength": MAX_INPUT_LENGTH,
                "description": (
                    "The typed answer (image, math), or for pow the ALTCHA payload: base64 of "
                    "JSON {algorithm, challenge, number, salt, signature}."
                ),
            },
            "action": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_./-]{1,64}$",
                "description": "The form's action, carried by the token; a view expecting an "
                "action refuses tokens without it.",
            },
        },
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
        "required": ["success", "challenge_ts", "hostname", "error-codes"],
        "properties": {
            "success": {"type": "boolean"},
            "challenge_ts": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When the challenge was solved (ISO 8601, UTC); null on failure.",
            },
            "hostname": {
                "type": ["string", "null"],
                "description": "Host of the page that solved it; null when unknown.",
            },
            "challenge_type": {
                "type": ["string", "null"],
                "enum": [*CHALLENGE_TYPES, None],
                "description": "Which challenge was solved; null on failure. A consumer applies "
                "its own allowed types to it.",
            },
            "action": {
                "type": ["string", "null"],
                "description": "The action the widget gave; null when none.",
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
        "The CAPTCHA store is unreachable, or (generate) the site key has as many live "
        "challenges as CAPTCHA_MAX_LIVE_CHALLENGES allows.",
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


@lru_cache(maxsize=8)
def openapi_document(prefix: str) -> Dict[str, Any]:
    """The OpenAPI document for the blueprint mounted at ``prefix`` (treat it as read-only)."""
    from .. import __version__  # here, not at import time: the package imports this module

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flask-captcha-ext self-hosted CAPTCHA API",
            "version": __version__,
            "description": (
                "Generate a challenge, validate the user's answer for a single-use token, and "
                "verify that token from the site's backend (reCAPTCHA-compatible siteverify)."
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
        "components": {"schemas": SCHEMAS, "responses": RESPONSES},
    }
