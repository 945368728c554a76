"""Browser tests: the example app on a live server, driven by headless Chromium through Playwright.

One browser per session; a fresh browser context (cookies, storage) per test. Answers are learnt
on the server side only, through ``flask_captcha_ext.testing.record_answers``: a test reads the
public ``captcha_id`` from the page and looks the answer up in ``server.answers``.

Needs /usr/bin/chromium and the Playwright Python package (``bash tests/install.sh``); the axe-core
tests also need tests/node_modules/axe-core/axe.min.js. Tests skip when these are missing.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest

from .live import AXE_PATH, CHROMIUM, CHROMIUM_ARGS, LiveServer, app_config, serve

# Generous for loaded CI machines; passing tests never wait this long.
TIMEOUT_MS = 10_000


@dataclass
class PageProblems:
    """What went wrong in a page that should not: script errors and CSP violations."""

    errors: List[str] = field(default_factory=list)


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The example app most tests share."""
    with serve(app_config(tmp_path_factory.mktemp("live"))) as live:
        yield live


@pytest.fixture
def make_server_with(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start an extra live server with some settings changed (short TTLs, tight limits)."""
    with contextlib.ExitStack() as stack:
        count = iter(range(1000))

        def start(**overrides: Any) -> LiveServer:
            folder = tmp_path / f"server{next(count)}"
            folder.mkdir()
            return stack.enter_context(serve(app_config(folder, **overrides)))

        yield start


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (bash tests/install.sh)")
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh contexts; fail the test on script errors or CSP violations."""
    contexts: List[Any] = []
    problems = PageProblems()

    def open_page(**context_options: Any) -> Any:
        context = browser.new_context(**context_options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.errors.append(f"page error: {error}"))

        def on_console(message: Any) -> None:
            if "Content Security Policy" in message.text or "Refused to" in message.text:
                problems.errors.append(f"CSP: {message.text}")

        page.on("console", on_console)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not problems.errors, "\n".join(problems.errors)


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    return new_page()


@pytest.fixture(scope="package")
def axe_source() -> str:
    if not AXE_PATH.exists():
        pytest.skip(f"{AXE_PATH} is missing (bash tests/install.sh)")
    return AXE_PATH.read_text(encoding="utf-8")
