"""Proof of work: ALTCHA v1 challenges that the client solves by brute force.

The client gets ``{algorithm, challenge, maxnumber, salt, signature}`` and must find the number
``n <= maxnumber`` with ``SHA-256(salt + str(n)) == challenge``; it answers with the base64 JSON
payload ``{algorithm, challenge, number, salt, signature}`` that the ALTCHA widget posts.

The ``altcha`` library makes the challenge (its salt carries ``?expires=<unix>&``: the trailing
``&`` stops salt/number splicing, CVE-2025-68113). Checking is done here because the library's
``verify_solution`` compares with ``==``, accepts a number given as a string and trusts the salt
the client sends back. Here the store keeps the issued challenge, salt, bound and expiry, so a
solution spends only the challenge it was issued for; every comparison is constant time. No Flask.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Dict, Optional

try:  # altcha >= 2 keeps the v1 protocol in a submodule
    from altcha import v1 as altcha_v1
except ImportError:  # pragma: no cover - altcha 1.x: the v1 API is the package's own
    from altcha import altcha as altcha_v1  # type: ignore[no-redef]

from .challenges import NewChallenge

ALGORITHM = "SHA-256"
# A payload is ~250 characters; anything much longer is junk (the service caps input at 4096).
MAX_PAYLOAD_LENGTH = 2048
PAYLOAD_FIELDS = ("algorithm", "challenge", "number", "salt", "signature")


class PowChallenge:
    """The ``pow`` challenge kind: an ALTCHA v1 challenge, its state kept server-side."""

    name = "pow"

    def __init__(self, hmac_key: bytes, max_number: int, ttl: int) -> None:
        self._key = hmac_key
        self.max_number = max_number
        self.ttl = ttl
        probe = altcha_v1.create_challenge(
            altcha_v1.ChallengeOptions(max_number=1, hmac_key=b"probe", salt="00", number=0)
        )
        if not probe.salt.endswith("&"):  # pragma: no cover - only with an outdated library
            raise RuntimeError(
                "the installed altcha library does not end salts with '&' (CVE-2025-68113); "
                "upgrade it: pip install 'altcha>=2'"
            )

    def create(self, challenge_id: str) -> NewChallenge:
        """A fresh challenge; its secret number goes nowhere but the testing answer hook."""
        number = secrets.randbelow(self.max_number + 1)
        expires = int(time.time()) + self.ttl
        made = altcha_v1.create_challenge(
            altcha_v1.ChallengeOptions(
                algorithm=ALGORITHM,
                max_number=self.max_number,
                hmac_key=self._key,
                number=number,
                expires=datetime.fromtimestamp(expires, tz=timezone.utc),
            )
        )
        public = {
            "challenge": {
                "algorithm": made.algorithm,
                "challenge": made.challenge,
                "maxnumber": made.max_number,
                "salt": made.salt,
                "signature": made.signature,
            }
        }
        # The store keeps what was issued: challenge, salt, bound and expiry (the salt's own).
        state = json.dumps(
            {"c": made.challenge, "s": made.salt, "m": made.max_number, "e": expires}
        )
        answer = altcha_v1.Payload(
            made.algorithm, made.challenge, number, made.salt, made.signature
        ).to_base64()
        return NewChallenge(public, state, answer)

    def check(self, challenge_id: str, state: str, user_input: Any) -> bool:
        """Whether ``user_input`` is a valid ALTCHA payload solving the stored challenge."""
        payload = parse_payload(user_input)
        if payload is None:
            return False
        stored = json.loads(state)
        number = payload["number"]
        if not 0 <= number <= stored["m"] or stored["e"] < time.time():
            return False
        digest = hashlib.sha256(f"{stored['s']}{number}".encode()).hexdigest()
        signature = hmac.new(self._key, stored["c"].encode(), hashlib.sha256).hexdigest()
        # Every comparison runs, each in constant time; none short-circuits the others.
        checks = (
            _same(payload["challenge"], stored["c"]),
            _same(payload["salt"], stored["s"]),
            _same(digest, stored["c"]),
            _same(payload["signature"], signature),
        )
        return all(checks)


def parse_payload(user_input: Any) -> Optional[Dict[str, Any]]:
    """The decoded ALTCHA payload if ``user_input`` has its shape and types, else None."""
    if not isinstance(user_input, str) or len(user_input) > MAX_PAYLOAD_LENGTH:
        return None
    try:
        raw = base64.b64decode(user_input.strip(), validate=True)
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):  # bad base64, UTF-8, JSON, huge ints
        return None
    if not isinstance(data, dict) or data.get("algorithm") != ALGORITHM:
        return None
    number = data.get("number")
    if isinstance(number, bool) or not isinstance(number, int):
        return None
    if not all(isinstance(data.get(k), str) for k in ("challenge", "salt", "signature")):
        return None
    return {k: data[k] for k in PAYLOAD_FIELDS}


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings of any characters."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())
