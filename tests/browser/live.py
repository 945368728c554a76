"""A live server for browser tests: the example app on 127.0.0.1 in a thread."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from flask import Flask

from flask_captcha_ext.testing import record_answers
from tests.support import ThreadedServer, rate_limits

CHROMIUM = os.environ.get("FCE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE_PATH = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
SECRET = "browser-tests-secret-key-0123456789abcdef"


@dataclass
class LiveServer:
    """The example app served on 127.0.0.1 in a thread, with the answers of its challenges."""

    app: Flask
    url: str
    answers: Dict[str, str]

    def answer(self, captcha_id: Optional[str]) -> str:
        assert captcha_id, "the widget has no challenge"
        assert captcha_id in self.answers, f"no challenge {captcha_id!r} was generated"
        return self.answers[captcha_id]


def app_config(tmp_dir: Path, **overrides: Any) -> Dict[str, Any]:
    config: Dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "CAPTCHA_STORE_URL": "sqlite:///" + str(tmp_dir / "captcha.sqlite3"),
        # A test session makes many challenges from one IP; limits get their own test. So does
        # pressure: here every challenge carries the base work, however many came before.
        **rate_limits(None),
        "CAPTCHA_POW_LEVELS": ((0, 0, 1),),
        # Most tests drive the typed-answer widget, so the image comes first here (the default
        # puts proof of work first; tests/browser/test_pow.py drives that).
        "CAPTCHA_CHALLENGE_TYPES": ("image", "math", "pow"),
    }
    config.update(overrides)
    return config


@contextlib.contextmanager
def serve_app(app: Flask) -> Iterator[LiveServer]:
    """Serve ``app`` on a free 127.0.0.1 port in a thread, recording its challenges' answers."""
    with record_answers(app) as answers, ThreadedServer(app) as server:
        yield LiveServer(app, server.url, answers)


@contextlib.contextmanager
def serve(config: Dict[str, Any]) -> Iterator[LiveServer]:
    """Run ``example.create_app(config)`` on a free port until the block ends."""
    from example import create_app

    with serve_app(create_app(config)) as live:
        yield live
