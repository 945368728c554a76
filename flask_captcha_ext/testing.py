"""Helpers for testing apps that use flask-captcha-ext.

``CAPTCHA_TEST_MODE = True`` is usually all a test needs: post the token ``"PASSED"``.
To drive the real self-hosted flow instead, ``record_answers(app)`` lets a test learn the answer of
each challenge on the server side; it refuses to work unless ``app.testing`` is true.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Iterator

from flask import Flask

from .state import get_state
from .verification import TEST_TOKEN

__all__ = ["TEST_TOKEN", "Answers", "record_answers"]


class Answers(Dict[str, str]):
    """``captcha_id`` -> answer (for ``pow``: the ALTCHA payload that solves it); ``proofs``:
    ``captcha_id`` -> the payload solving an image or math challenge's proof-of-work part."""

    def __init__(self) -> None:
        super().__init__()
        self.proofs: Dict[str, str] = {}

    def observe(self, captcha_id: str, answer: str, proof: str) -> None:
        self[captcha_id] = answer
        if proof:
            self.proofs[captcha_id] = proof


@contextmanager
def record_answers(app: Flask) -> Iterator[Answers]:
    """Within the block, map each new challenge's ``captcha_id`` to its answer (and, in
    ``.proofs``, to the proof of work an image or math challenge also needs)."""
    if not app.testing:
        raise RuntimeError("record_answers() works only for apps with TESTING = True")
    service = get_state(app).service
    answers = Answers()
    previous = service.answer_observer
    service.answer_observer = answers.observe
    try:
        yield answers
    finally:
        service.answer_observer = previous
