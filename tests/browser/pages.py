"""Drive the self-hosted widget the way a person does: through its labels and roles."""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List

from playwright.sync_api import Locator, Page, Route, expect

from .conftest import TIMEOUT_MS
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
NAME, EMAIL, MESSAGE = "Ada Lovelace", "ada@example.com", "Hello from the analytical engine."


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
        # exact: "Can’t read it? Verify without typing" is a button too
        return self.root.get_by_role("button", name="Verify", exact=True)

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


# -- the example's contact form (/) ----------------------------------------------------------------


def fill_contact(page: Page) -> None:
    page.get_by_label("Your name").fill(NAME)
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Message").fill(MESSAGE)


def expect_contact_kept(page: Page) -> None:
    expect(page.get_by_label("Your name")).to_have_value(NAME)
    expect(page.get_by_label("Email address")).to_have_value(EMAIL)
    expect(page.get_by_label("Message")).to_have_value(MESSAGE)


def expect_thanks(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/thanks$"))
    expect(page.get_by_role("status")).to_have_text(f"Thank you, {NAME}. Your message was sent.")


def focused_outline(page: Page) -> Any:
    """The computed outline of the focused element: (style, width in px)."""
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )


# -- the network, held and let go ------------------------------------------------------------------


def hold(page: Page, pattern: str) -> List[Route]:
    """Hold every request to ``pattern`` until the test lets it go (``release``). Requests of the
    page's Web Workers count too (e.g. ``**/altcha/pbkdf2.js``, the proof-of-work worker)."""
    held: List[Route] = []
    page.route(pattern, lambda route: held.append(route))
    return held


def release(page: Page, pattern: str, held: List[Route]) -> None:
    """Let the held requests go on, and stop holding new ones."""
    page.route(pattern, lambda route: route.continue_())
    for route in held:
        route.continue_()


def wait_for(page: Page, condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (something only the test process sees) until true, or fail."""
    for _ in range(TIMEOUT_MS // 50):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("timed out")


def record_posts(page: Page, endpoint: str) -> List[Dict[str, Any]]:
    """The JSON bodies the page posts to ``endpoint`` (e.g. "/api/validate"), as they are sent."""
    bodies: List[Dict[str, Any]] = []
    page.on(
        "request",
        lambda r: bodies.append(r.post_data_json) if r.url.endswith(endpoint) else None,
    )
    return bodies
