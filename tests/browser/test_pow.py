"""Proof of work in a real browser: the widget solves ALTCHA challenges itself, in a Web Worker.

The pages are the example app's /pow page (two forms: the invisible widget and one with a progress
bar, both posting to a ``@captcha_protected`` view).
"""

from __future__ import annotations

import contextlib
import re
import statistics
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from flask_captcha_ext.selfhosted import pow as pow_module
from flask_captcha_ext.state import get_state

from .conftest import TIMEOUT_MS
from .live import CHROMIUM, CHROMIUM_ARGS, LiveServer, app_config, serve
from .pages import MEASURE_POW, Widget

WORKING = "Verifying you are human\u2026"
FALLBACK = (
    "Automatic verification is not available in this browser. "
    "Please answer this challenge instead."
)
UNSUPPORTED = (
    "Automatic verification is not available in this browser. "
    "It needs a secure (https) connection."
)
EMAIL = "ada@example.com"
INSECURE_HOST = "fce-pow.test"  # resolved to 127.0.0.1 by Chromium: plain http, not localhost

# Record what the widgets report, from before the page's own scripts run (init scripts are not
# subject to the page's CSP).
RECORDER = """
window.__fce = {solved: [], progress: []};
document.addEventListener("fce:solved", (event) => {
  window.__fce.solved.push(Object.assign({widget: event.target.id}, event.detail));
});
new MutationObserver((records) => {
  for (const record of records) {
    window.__fce.progress.push([record.target.closest(".fce-widget").id,
                                Number(record.target.getAttribute("aria-valuenow"))]);
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["aria-valuenow"]});
"""


@pytest.fixture(scope="module")
def pow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve(app_config(tmp_path_factory.mktemp("pow"))) as live:
        yield live


@pytest.fixture
def make_pow_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    with contextlib.ExitStack() as stack:
        count = iter(range(1000))

        def start(**overrides: Any) -> LiveServer:
            folder = tmp_path / f"pow{next(count)}"
            folder.mkdir()
            return stack.enter_context(serve(app_config(folder, **overrides)))

        yield start


@pytest.fixture
def insecure_page(browser: Any) -> Iterator[Page]:
    """A page in a Chromium that reaches the server as http://fce-pow.test: no secure context,
    so no WebCrypto (as on any plain-http site away from localhost)."""
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1"],
    )
    errors: List[str] = []
    try:
        context = chromium.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: errors.append(f"CSP: {m.text}")
            if "Content Security Policy" in m.text or "Refused to" in m.text
            else None,
        )
        yield page
    finally:
        chromium.close()
    assert not errors, "\n".join(errors)


def insecure_url(server: LiveServer, path: str) -> str:
    return f"http://{INSECURE_HOST}:{urlsplit(server.url).port}{path}"


def hold(page: Page, pattern: str) -> List[Route]:
    """Hold every request to ``pattern`` until the test lets it go (``release``)."""
    held: List[Route] = []
    page.route(pattern, lambda route: held.append(route))
    return held


def release(page: Page, pattern: str, held: List[Route]) -> None:
    """Let the held requests go on, and stop holding new ones."""
    page.route(pattern, lambda route: route.continue_())
    for route in held:
        route.continue_()


def wait_for(page: Page, condition: Callable[[], bool]) -> None:
    for _ in range(TIMEOUT_MS // 50):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("timed out")


def check(page: Page, key: str) -> None:
    """Send the form of the widget ``key`` and expect the protected view to let it through."""
    page.locator(f"#card-{key}").get_by_role("button", name="Check").click()
    expect(page).to_have_url(re.compile(r"/widgets/check$"))
    expect(page.locator("#widgets-ok")).to_contain_text(key)


# -- solving --------------------------------------------------------------------------------------


def test_widget_solves_on_its_own_and_the_form_passes(page: Page, pow_server: LiveServer) -> None:
    validations: List[Dict[str, Any]] = []
    page.on(
        "request",
        lambda r: validations.append(r.post_data_json) if r.url.endswith("/api/validate") else None,
    )
    page.goto(pow_server.url + "/pow")
    widget = Widget(page, "#widget-pow")
    expect(widget.status).to_have_text("Verified")  # no click, nothing typed
    token = widget.token()
    assert token.count(".") == 2, token
    # Invisible: no image, no answer box, no progress bar; only the status line.
    expect(widget.answer_box).to_be_hidden()
    expect(widget.root.locator("img")).to_have_count(0)
    expect(widget.root.get_by_role("progressbar")).to_have_count(0)
    expect(widget.root.get_by_role("group", name="Security check")).to_be_visible()
    # What the widget validated: an ALTCHA payload for its own pow challenge.
    captcha_id = widget.captcha_id()
    mine = [v for v in validations if v["captcha_id"] == captcha_id]
    assert len(mine) == 1
    assert pow_module.parse_payload(mine[0]["user_input"]) is not None

    check(page, "pow")

    client = pow_server.app.test_client()
    # The token was spent by that submit: a replay is refused.
    replay = client.post(
        "/api/subscribe", json={"email": EMAIL}, headers={"X-Captcha-Token": token}
    )
    assert replay.status_code == 400
    # And so was the challenge: its solution cannot be validated again.
    again = client.post("/api/validate", json=mine[0])
    assert again.status_code == 400


def test_submit_before_solved_is_held_then_sent(page: Page, pow_server: LiveServer) -> None:
    held = hold(page, "**/api/generate")
    page.goto(pow_server.url + "/pow")
    wait_for(page, lambda: len(held) == 2)  # both widgets asked for a challenge
    widget = Widget(page, "#widget-pow")
    page.locator("#card-pow").get_by_role("button", name="Check").click()
    expect(widget.status).to_have_text(WORKING)
    page.wait_for_timeout(300)
    expect(page).to_have_url(pow_server.url + "/pow")  # held, not sent without a token
    release(page, "**/api/generate", held)
    expect(page.locator("#widgets-ok")).to_contain_text("pow")  # sent once verified


def test_progress_mode_shows_a_progressbar(
    page: Page, pow_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's secret number is the last one: the browser searches the whole range.
    monkeypatch.setattr(pow_module, "secrets", SimpleNamespace(randbelow=lambda n: n - 1))
    page.add_init_script(RECORDER)
    page.goto(pow_server.url + "/pow")
    widget = Widget(page, "#widget-pow-progress")
    bar = widget.root.get_by_role("progressbar", name="Verification progress")
    expect(bar).to_be_visible()
    expect(bar).to_have_attribute("aria-valuemin", "0")
    expect(bar).to_have_attribute("aria-valuemax", "100")
    expect(widget.root.get_by_role("group", name="Security check")).to_be_visible()
    expect(widget.status).to_have_text("Verified")
    assert widget.token().count(".") == 2
    progress = page.evaluate("window.__fce.progress")
    values = [value for key, value in progress if key == "widget-pow-progress"]
    assert values == sorted(values), values
    assert values[-1] == 100, values
    assert any(0 < v < 100 for v in values), values  # it moved on the way, not only at the end
    # The invisible widget on the same page shows no bar.
    expect(page.locator("#widget-pow").get_by_role("progressbar")).to_have_count(0)
    check(page, "pow-progress")


def test_switch_to_an_image_then_pass(page: Page, pow_server: LiveServer) -> None:
    held = hold(page, "**/api/validate")  # keep the proof of work from finishing
    page.goto(pow_server.url + "/pow")
    widget = Widget(page, "#widget-pow")
    first = widget.captcha_id()
    switch = widget.root.get_by_role("button", name="Use an image instead")
    expect(switch).to_be_visible()
    switch.click()
    widget.next_captcha_id(first)
    expect(widget.root.locator("img.fce-image")).to_be_visible()
    expect(widget.answer_box).to_be_focused()
    expect(widget.status).to_have_text("New challenge ready.")
    # Back among the typed kinds, the usual switch to a text question is there.
    expect(widget.root.get_by_role("button", name="Use a text question instead")).to_be_visible()
    release(page, "**/api/validate", held)  # the abandoned solution's reply changes nothing
    widget.solve(pow_server)
    check(page, "pow")


def test_solves_in_the_page_when_the_worker_cannot_load(
    page: Page, pow_server: LiveServer
) -> None:
    page.route("**/pow-worker.js", lambda route: route.fulfill(status=404, body="not here"))
    page.add_init_script(RECORDER)
    page.goto(pow_server.url + "/pow")
    widget = Widget(page, "#widget-pow")
    expect(widget.status).to_have_text("Verified")
    solved = [d for d in page.evaluate("window.__fce.solved") if d["widget"] == "widget-pow"]
    assert solved and solved[-1]["workers"] == 0  # in the page, not in a worker
    check(page, "pow")


def test_start_on_focus_waits_for_the_form(page: Page, pow_server: LiveServer) -> None:
    page.goto(pow_server.url + "/pow")
    expect(Widget(page, "#widget-pow").status).to_have_text("Verified")
    generated: List[str] = []
    page.on("request", lambda r: generated.append(r.url) if "/api/generate" in r.url else None)
    page.evaluate(
        """() => {
          const source = document.getElementById("widget-pow");
          const form = document.createElement("form");
          form.id = "focus-form";
          form.action = source.closest("form").action;
          form.method = "post";
          const label = document.createElement("label");
          label.textContent = "Your name";
          const input = document.createElement("input");
          input.id = "focus-name";
          label.appendChild(input);
          const el = document.createElement("div");
          el.id = "widget-focus";
          for (const name of ["fceSiteKey", "fceGenerateUrl", "fceValidateUrl", "fceTypes",
                              "fceType", "fceTokenTtl", "fcePowWorkerUrl"]) {
            el.dataset[name] = source.dataset[name];
          }
          el.dataset.fcePowStart = "focus";
          form.append(label, el);
          document.querySelector("main").appendChild(form);
          window.FlaskCaptcha.mount(el);
        }"""
    )
    made = Widget(page, "#widget-focus")
    page.wait_for_timeout(500)
    assert generated == []  # nothing solved before anyone is in the form
    expect(made.status).to_have_text("")
    page.get_by_label("Your name").focus()
    expect(made.status).to_have_text("Verified")
    assert len(generated) == 1
    assert made.token().count(".") == 2


def test_token_is_renewed_before_it_expires(
    page: Page, make_pow_server: Callable[..., LiveServer]
) -> None:
    server = make_pow_server(CAPTCHA_TOKEN_TTL=2)
    page.add_init_script(
        "window.__expired = 0; document.addEventListener('fce:expired', () => window.__expired++);"
    )
    page.goto(server.url + "/pow")
    widget = Widget(page, "#widget-pow")
    expect(widget.status).to_have_text("Verified")
    first_id, first_token = widget.captcha_id(), widget.token()
    # Shortly before its 2 s are up the token is dropped and a new proof of work solved, unasked.
    widget.next_captcha_id(first_id)
    token_input = widget.root.locator('input[name="captcha-token"]')
    expect(token_input).not_to_have_value(first_token)
    expect(token_input).to_have_value(re.compile(r"^[^.]+\.[^.]+\.[^.]+$"))
    expect(widget.status).to_have_text("Verified")
    assert page.evaluate("window.__expired") >= 1
    check(page, "pow")


# -- no WebCrypto ---------------------------------------------------------------------------------


def test_without_webcrypto_it_offers_an_image(insecure_page: Page, pow_server: LiveServer) -> None:
    page = insecure_page
    page.goto(insecure_url(pow_server, "/pow"))
    assert page.evaluate("window.isSecureContext") is False
    widget = Widget(page, "#widget-pow")
    expect(widget.status).to_have_text(FALLBACK)
    expect(widget.root.locator("img.fce-image")).to_be_visible()
    widget.solve(pow_server)
    check(page, "pow")


def test_without_webcrypto_on_a_pow_only_site_it_says_why(
    insecure_page: Page, make_pow_server: Callable[..., LiveServer]
) -> None:
    server = make_pow_server(CAPTCHA_CHALLENGE_TYPES=("pow",))
    page = insecure_page
    page.goto(insecure_url(server, "/pow"))
    widget = Widget(page, "#widget-pow")
    expect(widget.status).to_have_text(UNSUPPORTED)
    expect(widget.root.get_by_role("button", name=re.compile("instead"))).to_have_count(0)
    assert widget.token() == ""
    # It does not block the form; the server refuses it.
    page.locator("#card-pow").get_by_role("button", name="Check").click()
    expect(page.get_by_role("heading", name="CAPTCHA check failed")).to_be_visible()


# -- how long it takes ----------------------------------------------------------------------------


def test_median_solve_time_at_the_default_difficulty(
    page: Page, pow_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """15 fresh challenges at CAPTCHA_POW_MAX_NUMBER's default; prints the medians."""
    page.goto(pow_server.url + "/pow")
    for key in ("pow", "pow-progress"):
        expect(Widget(page, f"#widget-{key}").status).to_have_text("Verified")
    runs = [page.evaluate(MEASURE_POW, ["widget-pow", 60000]) for _ in range(15)]
    total = statistics.median(r["total"] for r in runs)
    solve = statistics.median(r["solve"] for r in runs)
    hashing = statistics.median(r["hashing"] for r in runs)
    max_number = get_state(pow_server.app).settings.pow_max_number
    with capsys.disabled():
        print(
            f"\n[pow maxnumber={max_number}, {runs[0]['workers']} worker(s)] median of "
            f"{len(runs)}: generate->token {total:.0f} ms, solve {solve:.0f} ms "
            f"(hashing {hashing:.0f} ms)"
        )
    assert all(0 <= r["number"] <= max_number for r in runs)
    assert all(r["solve"] <= r["total"] for r in runs)
    # Generous: a loaded CI machine still solves the default difficulty well within this.
    assert total < 15_000, runs


# -- accessibility --------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pow_states_have_no_serious_axe_violations(
    new_page: Callable[..., Any], pow_server: LiveServer, axe_source: str, scheme: str
) -> None:
    from .test_accessibility import axe, report

    # bypass_csp lets the test inject axe; the page's CSP is checked by the other tests.
    page = new_page(color_scheme=scheme, bypass_csp=True)
    held = hold(page, "**/api/validate")
    page.goto(pow_server.url + "/pow")
    for key in ("pow", "pow-progress"):
        widget = Widget(page, f"#widget-{key}")
        expect(widget.status).to_have_text(WORKING)
        expect(widget.root.get_by_role("button", name="Use an image instead")).to_be_visible()
    found = axe(page, axe_source)
    assert not found, f"solving ({scheme}):\n" + report(found)
    release(page, "**/api/validate", held)
    for key in ("pow", "pow-progress"):
        expect(Widget(page, f"#widget-{key}").status).to_have_text("Verified")
    found = axe(page, axe_source)
    assert not found, f"verified ({scheme}):\n" + report(found)
