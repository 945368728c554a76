"""The widget glue in a real browser (headless Chromium through Playwright), under a nonce CSP.

Provider scripts never load from the internet: every request to another host than 127.0.0.1 is
answered by a stand-in script (or aborted, to simulate a provider that is down). Checks: the v3 and
invisible execute flows post a token, gkCAPTCHA renders through ``gkCaptcha.render``, and a failed
provider script mounts the self-hosted widget; with no CSP violation or script error.
Skips when Playwright or Chromium are missing (``bash tests/install.sh`` installs them).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional

import pytest
from flask import request

from tests.support import ThreadedServer, build_app

CHROMIUM = os.environ.get("FCE_CHROMIUM", "/usr/bin/chromium")
NONCE = "t3st-n0nce"
CSP = f"script-src 'nonce-{NONCE}'; worker-src 'self'; object-src 'none'; base-uri 'none'"

#: Stand-ins for the providers' scripts (what the glue relies on, nothing more).
FAKE_GRECAPTCHA = """
window.grecaptcha = {
  ready: function (f) { f(); },
  execute: function (key, opts) {
    if (opts) { return Promise.resolve("v3:" + key + ":" + opts.action); }
    var el = document.querySelector(".g-recaptcha");
    el.querySelector("textarea").value = "v2-invisible";
    setTimeout(function () { window[el.getAttribute("data-callback")]("v2-invisible"); }, 20);
  }
};
document.querySelectorAll(".g-recaptcha").forEach(function (el) {
  var t = document.createElement("textarea");
  t.name = "g-recaptcha-response"; t.hidden = true; el.appendChild(t);
});
"""
FAKE_GK = """
window.gkCaptcha = { render: function (id, opts) {
  document.getElementById(id).setAttribute("data-rendered", opts.siteKey + ":" + (opts.mode || ""));
  setTimeout(function () { opts.onSuccess("gk-token"); }, 20);
} };
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (bash tests/install.sh)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


class Live:
    """A Flask app on 127.0.0.1 serving one form page with the widget and an echo endpoint."""

    def __init__(self, tmp_path: Any, **config: Any) -> None:
        app = build_app(
            "browser_widget_test",
            instance_path=tmp_path,
            SECRET_KEY="browser-widget-secret-0123456789abcdef",
            CAPTCHA_SITE_KEY="site-key-1",
            CAPTCHA_SECRET_KEY="secret",
            CAPTCHA_STORE_URL="memory://",
            CAPTCHA_RATE_LIMIT_IP_GENERATE=None,
            **config,
        )
        widget_args: Dict[str, Any] = {}

        @app.get("/")
        def form() -> Any:
            from flask import render_template_string

            page = render_template_string(
                "<!doctype html><html lang=en><body><form method=post action=/submit>"
                "<input name=email value=a@b.c>{{ captcha_widget(nonce=nonce, **args) }}"
                "<button type=submit name=go value=1>Send</button></form></body></html>",
                nonce=NONCE,
                args=widget_args,
            )
            return page, 200, {"Content-Security-Policy": CSP}

        @app.post("/submit")
        def submit() -> Any:
            return json.dumps(request.form.to_dict(flat=True))

        self.args = widget_args
        self.server = ThreadedServer(app)
        self.url = self.server.url + "/"

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def live(tmp_path: Any) -> Iterator[Any]:
    servers: List[Live] = []

    def start(**config: Any) -> Live:
        servers.append(Live(tmp_path / str(len(servers)), **config))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    contexts: List[Any] = []
    problems: List[str] = []

    def opener(url: str, scripts: Optional[Dict[str, str]] = None) -> Any:
        context = browser.new_context()
        context.set_default_timeout(10_000)
        contexts.append(context)

        def route(r: Any) -> None:
            target = r.request.url
            if target.startswith("http://127.0.0.1:"):
                return r.continue_()
            for prefix, body in (scripts or {}).items():
                if target.startswith(prefix):
                    return r.fulfill(status=200, content_type="text/javascript", body=body)
            return r.abort()  # nothing leaves the machine; unknown providers are "down"

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(url)
        return page

    yield opener
    for context in contexts:
        context.close()
    assert problems == []


def posted(page: Any) -> Dict[str, str]:
    page.wait_for_url("**/submit")
    return json.loads(page.inner_text("body"))


def test_v3_token_is_fetched_on_submit(live, open_page):
    server = live(CAPTCHA_PROVIDER="recaptcha_v3", CAPTCHA_ACTION="contact")
    page = open_page(server.url, {"https://www.google.com/recaptcha/api.js": FAKE_GRECAPTCHA})
    page.click("button")
    form = posted(page)
    assert form["g-recaptcha-response"] == "v3:site-key-1:contact"
    assert form["go"] == "1"  # the submitter survives the resubmit


def test_invisible_v2_waits_for_the_callback(live, open_page):
    server = live(CAPTCHA_PROVIDER="recaptcha")
    server.args["size"] = "invisible"
    page = open_page(server.url, {"https://www.google.com/recaptcha/api.js": FAKE_GRECAPTCHA})
    page.click("button")
    assert posted(page)["g-recaptcha-response"] == "v2-invisible"


def test_gkcaptcha_renders_and_posts_its_token(live, open_page):
    server = live(CAPTCHA_PROVIDER="gkcaptcha")
    server.args["size"] = "invisible"
    page = open_page(server.url, {"https://gkcaptcha.gatekeeper.sa/": FAKE_GK})
    page.wait_for_selector("[data-rendered='site-key-1:invisible']", state="attached")
    page.wait_for_function("document.querySelector('[name=captchaToken]').value === 'gk-token'")
    page.click("button")
    assert posted(page)["captchaToken"] == "gk-token"


@pytest.mark.parametrize("provider", ["hcaptcha", "trustcaptcha"])  # classic, module script
def test_failed_provider_script_mounts_the_selfhosted_widget(provider, live, open_page):
    server = live(CAPTCHA_PROVIDER=provider, CAPTCHA_FALLBACK="selfhosted")
    page = open_page(server.url)  # every provider URL is aborted: the script fails to load
    page.wait_for_selector(".fce-fallback .fce-widget.fce-js")
    assert page.locator("[data-fce-el]").count() == 0
    assert page.locator("[data-fce-state=fallback]").count() == 1
    assert page.locator(".fce-widget").count() == 1  # the spare one, mounted once


def test_working_provider_keeps_the_fallback_inert(live, open_page):
    server = live(CAPTCHA_PROVIDER="recaptcha_v3", CAPTCHA_FALLBACK="selfhosted")
    page = open_page(server.url, {"https://www.google.com/recaptcha/api.js": FAKE_GRECAPTCHA})
    page.wait_for_function("!!window.grecaptcha")
    assert page.locator(".fce-widget").count() == 0  # still inside its <template>
    page.click("button")
    form = posted(page)
    assert form["g-recaptcha-response"].startswith("v3:") and "captcha-token" not in form
