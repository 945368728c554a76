"""Challenge kinds: what ``generate`` shows the client and how ``validate`` checks an answer.

Each kind turns out the public part of a challenge (sent to the client) and a private state (kept in
the store, never sent). For typed answers the state is an HMAC of the normalised answer, so even the
store does not hold answers in the clear, and checking uses a constant-time comparison.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from types import ModuleType
from typing import Any, Dict, NamedTuple, Protocol


class NewChallenge(NamedTuple):
    """A fresh challenge: ``public`` goes to the client, ``state`` to the store, ``answer`` nowhere
    (only test hooks of an app in testing mode may see it)."""

    public: Dict[str, Any]
    state: str
    answer: str


class ChallengeKind(Protocol):
    name: str

    def create(self, challenge_id: str) -> NewChallenge:
        """A new challenge with its public fields and private state."""

    def check(self, challenge_id: str, state: str, user_input: Any) -> bool:
        """Whether ``user_input`` solves the challenge whose private state is ``state``."""


class _TypedAnswer:
    """Shared by kinds whose answer is typed text: keep an HMAC of it, compare in constant time."""

    name = ""

    def __init__(self, answer_key: bytes) -> None:
        self._key = answer_key

    def _digest(self, challenge_id: str, answer: str) -> str:
        message = f"{self.name}:{challenge_id}:{answer}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def normalize(self, text: str) -> str:
        return text.strip()

    def check(self, challenge_id: str, state: str, user_input: Any) -> bool:
        if not isinstance(user_input, (str, int)) or isinstance(user_input, bool):
            return False
        answer = self.normalize(str(user_input))[:64]
        return hmac.compare_digest(self._digest(challenge_id, answer), state)


def _renderer() -> ModuleType:
    """The image renderer, imported on first use: apps that serve no images never load it."""
    from . import image

    return image


class ImageChallenge(_TypedAnswer):
    """Distorted letters in a 320x120 PNG (shown at 160x60); answers are case-insensitive.

    The reply says how many characters to type (``length``), for the image's text alternative."""

    name = "image"

    def __init__(self, answer_key: bytes, length: int) -> None:
        super().__init__(answer_key)
        self.length = length

    def prepare(self) -> None:
        """Load the renderer and draw its outlines now (at ``init_app``, before any request),
        so a fresh worker's first image costs what its thousandth does."""
        _renderer().prepare()

    def normalize(self, text: str) -> str:
        return _renderer().normalize_answer(text)

    def create(self, challenge_id: str) -> NewChallenge:
        image = _renderer()
        text = image.random_text(self.length)
        png = image.render_png(text)
        public = {"image": base64.b64encode(png).decode("ascii"), "length": self.length}
        return NewChallenge(public, self._digest(challenge_id, self.normalize(text)), text)


class MathChallenge(_TypedAnswer):
    """A sum or difference of two-digit numbers: one blind guess passes about 1% of the time."""

    name = "math"

    def normalize(self, text: str) -> str:
        text = text.strip().replace(" ", "").replace("\u2212", "-")
        return text[1:] if text.startswith("+") else text

    def create(self, challenge_id: str) -> NewChallenge:
        if secrets.randbelow(2):
            a, b = 10 + secrets.randbelow(90), 10 + secrets.randbelow(90)
            question, answer = f"What is {a} + {b}?", a + b
        else:
            a, b = 50 + secrets.randbelow(50), 10 + secrets.randbelow(40)
            question, answer = f"What is {a} \u2212 {b}?", a - b
        return NewChallenge(
            {"question": question}, self._digest(challenge_id, str(answer)), str(answer)
        )
