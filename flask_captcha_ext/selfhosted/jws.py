"""Compact JWS signed with HS256, and nothing else: what our success tokens need of PyJWT.

PyJWT imports ``cryptography`` for RSA and EC, which these tokens never use; that cost every app
~25 ms and several MiB at start. This codec signs exactly as PyJWT does for HS256 (the same
bytes, so tokens in flight stay valid across the change; ``tests/test_jws.py`` checks both ways
against PyJWT) and accepts less: the header must be ``{"alg": "HS256"}`` with at most
``"typ": "JWT"`` (so ``none``, other algorithms and ``crit``/``b64`` are refused before anything
is checked), every segment must be canonical unpadded base64url, the signature is compared in
constant time, and the payload is read only once it is signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any, Dict, Tuple

#: The header we sign with: PyJWT's for HS256 (sorted keys, no spaces).
HEADER = b'{"alg":"HS256","typ":"JWT"}'
_HEADERS_ACCEPTED = ({"alg": "HS256", "typ": "JWT"}, {"alg": "HS256"})
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")


class InvalidToken(ValueError):
    """Not a well-formed HS256 JWS, or (from :func:`verify`) not signed with the key."""


def sign(payload: bytes, key: bytes) -> str:
    """The compact JWS of ``payload`` (JSON bytes, used as they are) under ``key``."""
    signing_input = _encode(HEADER) + b"." + _encode(payload)
    return (signing_input + b"." + _encode(_mac(key, signing_input))).decode("ascii")


def verify(token: str, key: bytes) -> Dict[str, Any]:
    """The claims of ``token`` once its header and HS256 signature under ``key`` check out."""
    header, payload, signature = _segments(token)
    signing_input = header + b"." + payload
    if not hmac.compare_digest(_encode(_mac(key, signing_input)), signature):
        raise InvalidToken("signature does not match")
    return _object(_decode(payload))


def unverified_claims(token: str) -> Dict[str, Any]:
    """The claims of a well-formed ``token``, signature unchecked: only to pick a verifier."""
    _, payload, signature = _segments(token)
    _decode(signature)
    return _object(_decode(payload))


def _segments(token: str) -> Tuple[bytes, bytes, bytes]:
    """The three segments of ``token``, its header checked (ours, HS256) before anything else."""
    if not isinstance(token, str) or not token.isascii():
        raise InvalidToken("a token is an ASCII string")
    parts = token.encode("ascii").split(b".")
    if len(parts) != 3:
        raise InvalidToken("a token has three segments")
    header, payload, signature = parts
    try:
        fields = json.loads(_decode(header))
    except (ValueError, RecursionError):
        raise InvalidToken("the header is not JSON") from None
    if fields not in _HEADERS_ACCEPTED:
        raise InvalidToken("only HS256 tokens with a plain header are accepted")
    return header, payload, signature


def _object(data: bytes) -> Dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, huge integers, deep nesting
        raise InvalidToken("the payload is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken("the payload is not a JSON object")
    return value


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _decode(segment: bytes) -> bytes:
    """Canonical unpadded base64url only: one token string per token."""
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise InvalidToken("a segment is not base64url")
    data = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    if _encode(data) != segment:
        raise InvalidToken("a segment is not canonical base64url")
    return data
