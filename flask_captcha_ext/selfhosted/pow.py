"""Proof of work: ALTCHA challenges whose cost the server fixes (deterministic effort).

The default is ALTCHA PoW v2 with ``PBKDF2/SHA-256``: the client must find the counter ``c``
whose key, derived from ``nonce + uint32(c)`` with ``cost`` PBKDF2 iterations, starts with the
signed ``keyPrefix``. The server picks ``c`` at random below a bound it sets from the visitor's
target wait (CAPTCHA_POW_TARGET_MS) times the pressure multiplier, so a solver must derive about
``bound / 2`` keys, and nothing but that work finds ``c``. PBKDF2 runs natively in every browser
(WebCrypto), so the visitor's browser is about as fast as an attacker's native code; ``SCRYPT``
and ``ARGON2ID`` are memory-hard; ``SHA-256`` (iterated) and ``ALTCHA-V1`` (the v1 protocol of
ALTCHA widgets 1.x/2.x) are cheap for native code and kept for existing clients.

The ``altcha`` library makes and checks every challenge. What it lacks, this module adds: the
issued challenge is kept server-side (single use, no trusting what the client sends back) and a
solution is checked against that copy; with a key signature the check is one HMAC, however much
work the challenge demanded. No Flask. ``altcha`` is imported when first needed, or by
:meth:`ProofOfWork.prepare` at ``init_app`` in apps that issue challenges (apps that never do, and
``import flask_captcha_ext``, do without it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Dict, NamedTuple, Optional

if TYPE_CHECKING:
    import altcha

# A v2 payload is ~700 characters; anything much longer is junk (the service caps input at 4096).
MAX_PAYLOAD_LENGTH = 3072
V1 = "ALTCHA-V1"


@dataclass(frozen=True)
class Algorithm:
    """How one CAPTCHA_POW_ALGORITHM is issued, and what one key derivation costs a visitor.

    ``browser_ms`` is one derivation (``cost``, ``memory_cost``, ``parallelism`` as here) in one
    Web Worker of headless Chromium on the 2-core CI machine (``bench/bench_attack.py`` measures
    it); the server sizes the counter bound from it so the base level costs about the target."""

    name: str
    cost: int
    browser_ms: float
    memory_cost: Optional[int] = None
    parallelism: Optional[int] = None
    version: int = 2


ALGORITHMS: Dict[str, Algorithm] = {
    a.name if a.version == 2 else V1: a
    for a in (
        Algorithm("PBKDF2/SHA-256", cost=2_000, browser_ms=0.65),
        Algorithm("SHA-256", cost=50, browser_ms=0.85),
        Algorithm("SCRYPT", cost=8_192, memory_cost=8, parallelism=1, browser_ms=47.0),
        Algorithm("ARGON2ID", cost=2, memory_cost=16_384, parallelism=1, browser_ms=100.0),
        Algorithm("SHA-256", cost=1, browser_ms=0.033, version=1),
    )
}


class IssuedWork(NamedTuple):
    """A PoW challenge as issued: ``public`` for the client, ``state`` for the store, ``answer``
    (the solution payload) only for the testing hook."""

    public: Dict[str, Any]
    state: str
    answer: str


class ProofOfWork:
    """Issues and checks ALTCHA challenges of one algorithm, scaled by a work multiplier."""

    def __init__(self, algorithm: str, target_ms: int, hmac_key: bytes, ttl: int) -> None:
        self.algorithm = ALGORITHMS[algorithm]
        self.target_ms = target_ms
        self.ttl = ttl
        # One key signs the parameters, another the derived key (the fast check).
        self._key = hmac_key
        self._key_key = hmac_key[::-1]

    def prepare(self) -> None:
        """Import the ``altcha`` library now, so that no request of a fresh worker pays for it."""
        import altcha  # noqa: F401

    def bound(self, work: float) -> int:
        """How many counters a challenge of ``work`` times the base may hide its answer among:
        the expected search (half the bound) costs a visitor ``target_ms * work``."""
        return max(2, math.ceil(2 * self.target_ms * work / self.algorithm.browser_ms))

    def issue(self, challenge_id: str, work: float, with_answer: bool = False) -> IssuedWork:
        """A challenge of ``work`` base units for ``challenge_id`` (kept in its signed data, so
        the official widget's payload names the challenge it solves). ``with_answer`` also makes
        the solution (one more key derivation; only the testing hook asks)."""
        import altcha

        bound = self.bound(work)
        counter = secrets.randbelow(bound)
        expires = int(time.time()) + self.ttl
        if self.algorithm.version == 1:
            return self._issue_v1(challenge_id, bound, counter, expires)
        a = self.algorithm
        made = altcha.create_challenge(
            a.name,
            a.cost,
            counter=counter,
            memory_cost=a.memory_cost,
            parallelism=a.parallelism,
            expires_at=expires,
            data={"id": challenge_id},
            hmac_secret=self._key,
            hmac_key_secret=self._key_key,
        )
        public = made.to_dict()
        answer = ""
        if with_answer:
            solution = {"counter": counter, "derivedKey": derive_key(made.parameters, counter)}
            answer = _encode({"challenge": public, "solution": solution})
        return IssuedWork(public, json.dumps(public), answer)

    def _issue_v1(self, challenge_id: str, bound: int, number: int, expires: int) -> IssuedWork:
        from altcha import v1 as altcha_v1

        made = altcha_v1.create_challenge(
            altcha_v1.ChallengeOptions(
                algorithm="SHA-256",
                max_number=bound,
                hmac_key=self._key,
                number=number,
                expires=datetime.fromtimestamp(expires, tz=timezone.utc),
                params={"id": challenge_id},
            )
        )
        public = {
            "algorithm": made.algorithm,
            "challenge": made.challenge,
            "maxnumber": made.max_number,
            "salt": made.salt,
            "signature": made.signature,
        }
        answer = altcha_v1.Payload(
            made.algorithm, made.challenge, number, made.salt, made.signature
        ).to_base64()
        return IssuedWork(public, json.dumps(public), answer)

    def check(self, state: str, proof: Any) -> bool:
        """Whether ``proof`` (the base64 payload a widget posts) solves the issued challenge
        kept in ``state``; only the client's solution is read, never its copy of the challenge."""

        issued = json.loads(state)
        data = decode_payload(proof)
        if data is None:
            return False
        if "parameters" not in issued:
            return self._check_v1(issued, data)
        solution = data.get("solution")
        if not isinstance(solution, dict):
            return False
        counter, derived = solution.get("counter"), solution.get("derivedKey")
        if type(counter) is not int or not 0 <= counter <= 0xFFFFFFFF:
            return False  # the library's fast path reads only the key: hold the counter too
        if not isinstance(derived, str) or len(derived) > 256:
            return False
        return self._key_signed(issued["parameters"], derived)

    def _key_signed(self, parameters: Dict[str, Any], derived: str) -> bool:
        """``altcha.verify_solution``'s fast path for a challenge whose parameters come from
        our own store: not expired, and ``derived`` (even-length hex) carries the key signature
        the challenge was issued with, ``HMAC-SHA256(key secret, derived key)``.

        The library also checks the challenge's own signature, over a canonical JSON of its
        parameters written in pure Python (60% of a check), against a client that altered
        them; a challenge read from our store cannot be, so that step is left out.
        ``tests/test_pow.py`` checks this against the library on right and wrong solutions.
        """
        expires = parameters.get("expiresAt")
        if isinstance(expires, (int, float)) and expires and expires < time.time():
            return False
        signature = parameters.get("keySignature")
        if not isinstance(signature, str) or _HEX.fullmatch(derived) is None:
            return False
        expected = hmac.new(self._key_key, bytes.fromhex(derived), hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature, expected)

    def _check_v1(self, issued: Dict[str, Any], data: Dict[str, Any]) -> bool:
        from altcha import v1 as altcha_v1

        number = data.get("number")
        if type(number) is not int or not 0 <= number <= issued["maxnumber"]:
            return False
        # Verify the issued challenge with the client's number only (CVE-2025-68113: the
        # library must not see a salt or challenge the client chose).
        payload = altcha_v1.Payload(
            issued["algorithm"], issued["challenge"], number, issued["salt"], issued["signature"]
        )
        return bool(altcha_v1.verify_solution(payload, self._key, check_expires=True)[0])


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def derive_key(parameters: altcha.ChallengeParameters, counter: int) -> str:
    """The key a v2 challenge's ``counter`` derives (hex), with the library's own functions."""
    import altcha

    derive = {
        "PBKDF2/SHA-256": altcha.derive_key_pbkdf2,
        "SHA-256": altcha.derive_key_sha,
        "SCRYPT": altcha.derive_key_scrypt,
        "ARGON2ID": altcha.derive_key_argon2id,
    }[parameters.algorithm]
    password = bytes.fromhex(parameters.nonce) + counter.to_bytes(4, "big")
    return derive(parameters, bytes.fromhex(parameters.salt), password).hex()


def decode_payload(proof: Any) -> Optional[Dict[str, Any]]:
    """The JSON object inside a base64 ALTCHA payload, or None for anything else."""
    if not isinstance(proof, str) or not proof or len(proof) > MAX_PAYLOAD_LENGTH:
        return None
    try:
        raw = base64.b64decode(proof.strip(), validate=True)
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):  # bad base64, UTF-8, JSON, huge ints
        return None
    return data if isinstance(data, dict) else None


def challenge_id_of(proof: Any) -> Optional[str]:
    """The challenge id an ALTCHA payload names (v2: signed ``data.id``; v1: the salt's ``id``
    parameter), so a form that posts only the official widget's ``altcha`` field can be checked.
    Nothing here is trusted: the id only finds the stored challenge the proof must solve."""
    data = decode_payload(proof)
    if data is None:
        return None
    challenge = data.get("challenge")
    if isinstance(challenge, dict):
        params = challenge.get("parameters")
        found = params.get("data") if isinstance(params, dict) else None
        found = found.get("id") if isinstance(found, dict) else None
    else:
        salt = data.get("salt")
        found = None
        if isinstance(salt, str) and "?" in salt:
            for pair in salt.split("?", 1)[1].split("&"):
                name, _, value = pair.partition("=")
                if name == "id":
                    found = value
    return found if isinstance(found, str) and 0 < len(found) <= 64 else None


def _encode(value: Dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode("ascii")
