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

__all__ = ["TEST_TOKEN", "record_answers"]


@contextmanager
def record_answers(app: Flask) -> Iterator[Dict[str, str]]:
    """Within the block, map each new challenge's ``captcha_id`` to its answer."""
    if not app.testing:
        raise RuntimeError("record_answers() works only for apps with TESTING = True")
    service = get_state(app).service
    answers: Dict[str, str] = {}
    previous = service.answer_observer
    service.answer_observer = answers.__setitem__
    try:
        yield answers
    finally:
        service.answer_observer = previous
