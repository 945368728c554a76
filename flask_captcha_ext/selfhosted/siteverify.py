"""reCAPTCHA-compatible ``siteverify``: a site's backend checks a success token with its secret.

Any client written for Google's endpoint works by changing only the URL: same fields (``secret``,
``response``, ``remoteip``), same reply (``success``, ``challenge_ts``, ``hostname``,
``error-codes``) and the same error-code names. Protocol-level failures are answers, not HTTP
errors; only a store outage raises (the HTTP layer makes it a 503). No Flask in here.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ..providers.policy import TYPE_NOT_ALLOWED
from ..result import VerificationResult
from ..stores import StoreUnavailable
from . import tokens
from .service import CaptchaService, is_text

MISSING_SECRET = "missing-input-secret"  # noqa: S105 - an error code, not a secret
INVALID_SECRET = "invalid-input-secret"  # noqa: S105 - an error code, not a secret
MISSING_RESPONSE = "missing-input-response"
INVALID_RESPONSE = "invalid-input-response"
BAD_REQUEST = "bad-request"
TIMEOUT_OR_DUPLICATE = "timeout-or-duplicate"

MAX_SECRET_LENGTH = 256
# Our token verification codes, in reCAPTCHA's words.
_CODES = {
    tokens.MISSING: MISSING_RESPONSE,
    tokens.INVALID: INVALID_RESPONSE,
    tokens.WRONG_SITE: INVALID_RESPONSE,
    tokens.EXPIRED: TIMEOUT_OR_DUPLICATE,
    tokens.DUPLICATE: TIMEOUT_OR_DUPLICATE,
}


def reply(errors: List[str], result: Optional[VerificationResult] = None) -> Dict[str, Any]:
    """The siteverify reply; ``success`` exactly when there are no errors. Beside reCAPTCHA's
    fields it names the ``challenge_type``, ``action`` and ``work`` so that a consumer can apply the
    same policy as a local check."""
    return {
        "success": not errors,
        "challenge_ts": result.challenge_ts if result else None,
        "hostname": result.hostname if result else None,
        "challenge_type": result.challenge_type if result else None,
        "action": result.action if result else None,
        "work": result.work if result else None,
        "error-codes": errors,
    }


def siteverify(service: CaptchaService, fields: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Check ``fields["response"]`` against the site key whose secret is ``fields["secret"]``.

    ``fields`` None means the body could not be parsed (``bad-request``). The token is spent
    only when the secret is right and the token is of that secret's site key, so nobody can
    burn another site's tokens; it passes only if its challenge type is one the key allows.
    ``remoteip`` is accepted and ignored: tokens are not IP-bound.
    """
    if fields is None:
        return reply([BAD_REQUEST])
    secret, response = fields.get("secret"), fields.get("response")
    remote_ip = fields.get("remoteip")
    if any(v is not None and not is_text(v) for v in (secret, response, remote_ip)):
        return reply([BAD_REQUEST])
    errors = [MISSING_SECRET] if not secret else []
    if not response:
        errors.append(MISSING_RESPONSE)
    if errors:
        return reply(errors)
    assert isinstance(secret, str)
    key = service.site_keys.by_secret(secret) if len(secret) <= MAX_SECRET_LENGTH else None
    if key is None or key.revoked:
        return reply([INVALID_SECRET])
    result = service.tokens.verify(response, key.id)
    if result.success and result.challenge_type not in service.types_of(key):
        return reply([TYPE_NOT_ALLOWED])
    if result.success:
        return reply([], result)
    if tokens.STORE_TIMEOUT in result.error_codes:
        raise StoreUnavailable("the token's claim timed out; it may be spent", maybe_done=True)
    if tokens.STORE_DOWN in result.error_codes:
        raise StoreUnavailable("could not claim the token")
    code = result.error_codes[0] if result.error_codes else tokens.INVALID
    return reply([_CODES.get(code, INVALID_RESPONSE)])
