"""Drive the self-hosted widget the way a person does: through its labels and roles."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, Page, expect

from .live import LiveServer

ANY = re.compile(r".+")

# ``page.evaluate(MEASURE_POW, [widget_id, timeout_ms])``: reset a verified pow widget and time
# its next proof of work, generate -> solve -> validate -> token (tests and bench_pow_browser).
MEASURE_POW = """async ([id, timeoutMs]) => {
  const el = document.getElementById(id);
  const started = performance.now();
  const solved = new Promise((resolve) => {
    el.addEventListener("fce:solved", (event) => resolve(event.detail), {once: true});
  });
  const verified = new Promise((resolve, reject) => {
    el.addEventListener("fce:verified", () => resolve(performance.now()), {once: true});
    el.addEventListener("fce:error", (event) => reject(new Error(JSON.stringify(event.detail))),
                        {once: true});
    setTimeout(() => reject(new Error(`no token after ${timeoutMs} ms`)), timeoutMs);
  });
  window.FlaskCaptcha.reset(el);
  const [detail, ended] = await Promise.all([solved, verified]);
  return {total: ended - started, solve: detail.took, hashing: detail.hashing,
          workers: detail.workers, number: detail.number};
}"""
WRONG = "0000"  # never right: the image alphabet has no 0, and no math answer is 0


class Widget:
    """One mounted ``.fce-widget`` on a page."""

    def __init__(self, page: Page, selector: str = ".fce-widget") -> None:
        self.page = page
        self.root: Locator = page.locator(selector)

    # -- what the person sees ---------------------------------------------------------------
    @property
    def answer_box(self) -> Locator:
        return self.root.get_by_role("textbox")

    @property
    def verify_button(self) -> Locator:
        return self.root.get_by_role("button", name="Verify")

    @property
    def refresh_button(self) -> Locator:
        return self.root.get_by_role("button", name="New challenge")

    @property
    def status(self) -> Locator:
        return self.root.get_by_role("status")

    # -- what the page holds ---------------------------------------------------------------
    def captcha_id(self) -> str:
        """The live challenge's public id (waits for the first challenge)."""
        expect(self.root).to_have_attribute("data-fce-captcha-id", ANY)
        value = self.root.get_attribute("data-fce-captcha-id")
        assert value
        return value

    def next_captcha_id(self, old: str) -> str:
        """Wait for a challenge other than ``old`` and return its id."""
        expect(self.root).not_to_have_attribute("data-fce-captcha-id", old)
        return self.captcha_id()

    def token(self) -> str:
        return self.root.locator('input[name="captcha-token"]').input_value()

    # -- actions ---------------------------------------------------------------------------
    def type_answer(self, server: LiveServer) -> str:
        """Type the right answer (learnt server-side) and return the challenge id."""
        captcha_id = self.captcha_id()
        self.answer_box.fill(server.answer(captcha_id))
        return captcha_id

    def solve(self, server: LiveServer) -> str:
        """Answer and verify; return the token the widget stored."""
        self.type_answer(server)
        self.verify_button.click()
        self.expect_verified()
        token = self.token()
        assert token.count(".") == 2, token
        return token

    def expect_verified(self) -> None:
        expect(self.status).to_have_text(re.compile("Verified"))
        expect(self.root.locator(".fce-done")).to_be_visible()
        expect(self.root.locator('input[name="captcha-token"]')).to_have_value(ANY)


def focused_outline(page: Page) -> Any:
    """The computed outline of the focused element: (style, width in px)."""
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
