"""The official ALTCHA widget (npm ``altcha``) works against our endpoints as they are.

A test-only page loads the widget's CSP-friendly build (``dist_external``: ES module, separate
worker and stylesheet) from tests/node_modules under the example app's strict CSP. Its script asks
our ``POST generate`` for a pow challenge and gives the ``challenge`` object to ``<altcha-widget>``
through its ``challengejson`` attribute; when the widget says ``verified``, the script posts the
widget's payload to our ``POST validate``. Nothing about our endpoints changes for the widget.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
from flask import Flask, Response, render_template_string, send_from_directory
from playwright.sync_api import Page, expect

from flask_captcha_ext.state import get_state

from .live import LiveServer, app_config, serve_app

ALTCHA_DIR = Path(__file__).resolve().parents[1] / "node_modules" / "altcha"
BUNDLE_DIR = ALTCHA_DIR / "dist_external"
EMAIL = "ada@example.com"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>altcha-widget against flask-captcha-ext</title>
  <link rel="stylesheet" href="{{ url_for('altcha_asset', name='altcha.css') }}"
        nonce="{{ csp_nonce }}">
  <script type="module" src="{{ url_for('altcha_asset', name='altcha.js') }}"
          nonce="{{ csp_nonce }}"></script>
  <script src="{{ url_for('altcha_glue') }}" defer nonce="{{ csp_nonce }}"></script>
</head>
<body>
<main>
  <h1>altcha-widget</h1>
  <form id="altcha-form" method="post" action="{{ url_for('widgets_check') }}"
        data-site-key="{{ site_key }}"
        data-generate-url="{{ url_for('captcha.generate') }}"
        data-validate-url="{{ url_for('captcha.validate') }}"
        data-worker-url="{{ url_for('altcha_asset', name='worker.js') }}">
    <div id="altcha-slot"></div>
  </form>
  <pre id="altcha-result" role="status"></pre>
</main>
</body>
</html>"""

# The page's own script (no inline script under the CSP): our generate -> widget -> our validate.
GLUE = """(function () {
  "use strict";
  var form = document.getElementById("altcha-form");
  var out = document.getElementById("altcha-result");
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        return {status: response.status, body: data};
      });
    });
  }
  post(form.dataset.generateUrl, {site_key: form.dataset.siteKey, type: "pow"}).then(function (g) {
    form.dataset.captchaId = g.body.captcha_id;
    return customElements.whenDefined("altcha-widget").then(function () {
      var widget = document.createElement("altcha-widget");
      widget.setAttribute("challengejson", JSON.stringify(g.body.challenge));
      widget.setAttribute("workerurl", form.dataset.workerUrl);
      widget.setAttribute("hidefooter", "");
      widget.addEventListener("verified", function (event) {
        var payload = event.detail.payload;
        post(form.dataset.validateUrl, {
          site_key: form.dataset.siteKey, captcha_id: g.body.captcha_id, user_input: payload
        }).then(function (v) {
          out.textContent = JSON.stringify({status: v.status, body: v.body, payload: payload});
        });
      });
      document.getElementById("altcha-slot").appendChild(widget);
    });
  });
})();
"""


def altcha_app(config: Dict[str, Any]) -> Flask:
    """The example app plus test-only routes: the page, its script, and the npm bundle."""
    from example import create_app

    app = create_app(config)

    @app.get("/_altcha/")
    def altcha_page() -> str:
        state = get_state(app)
        return render_template_string(PAGE, site_key=state.service.site_keys.own_site_key)

    @app.get("/_altcha/glue.js")
    def altcha_glue() -> Response:
        return Response(GLUE, mimetype="text/javascript")

    @app.get("/_altcha/dist/<path:name>")
    def altcha_asset(name: str) -> Response:
        response = send_from_directory(BUNDLE_DIR, name)
        if name.endswith(".js"):
            response.mimetype = "text/javascript"
        return response

    return app


@pytest.fixture(scope="module")
def altcha_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not (BUNDLE_DIR / "altcha.js").exists():
        pytest.skip(f"{BUNDLE_DIR} is missing (bash tests/install.sh)")
    with serve_app(altcha_app(app_config(tmp_path_factory.mktemp("altcha")))) as live:
        yield live


def test_npm_altcha_is_version_2() -> None:
    if not ALTCHA_DIR.exists():
        pytest.skip(f"{ALTCHA_DIR} is missing (bash tests/install.sh)")
    version = json.loads((ALTCHA_DIR / "package.json").read_text())["version"]
    assert version.split(".")[0] == "2", version


def test_altcha_widget_solves_our_challenge_and_validate_accepts_it(
    page: Page, altcha_server: LiveServer
) -> None:
    page.goto(altcha_server.url + "/_altcha/")
    checkbox = page.get_by_role("checkbox", name=re.compile("not a robot", re.I))
    expect(checkbox).to_be_visible()
    checkbox.click()  # what a person does: tick the box; the widget solves the proof of work
    verified = page.locator("altcha-widget").get_by_role("checkbox", name="Verified")
    expect(verified).to_be_checked()
    result = page.locator("#altcha-result")
    expect(result).to_contain_text('"status":200')
    outcome = json.loads(result.text_content() or "{}")
    assert outcome["body"]["valid"] is True, outcome
    token = outcome["body"]["token"]
    assert token.count(".") == 2

    # The widget's payload: ALTCHA v1 fields for the very challenge our generate issued.
    payload = json.loads(base64.b64decode(outcome["payload"]))
    captcha_id = page.locator("#altcha-form").get_attribute("data-captcha-id")
    assert payload["algorithm"] == "SHA-256"
    assert isinstance(payload["number"], int)
    assert altcha_server.answers[captcha_id]  # generated by our endpoint, in this run
    # The widget also keeps the payload in its own hidden field, as it would post it.
    expect(page.locator('#altcha-form input[name="altcha"]')).to_have_value(outcome["payload"])
    expect(page.locator("altcha-widget")).to_contain_text(re.compile("verified", re.I))

    # The token verifies once, like any token of ours.
    client = altcha_server.app.test_client()
    headers = {"X-Captcha-Token": token}
    first = client.post("/api/subscribe", json={"email": EMAIL}, headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert client.post("/api/subscribe", json={"email": EMAIL}, headers=headers).status_code == 400
    # And the spent challenge takes no second payload.
    again = client.post(
        "/api/validate",
        json={
            "site_key": page.locator("#altcha-form").get_attribute("data-site-key"),
            "captcha_id": captcha_id,
            "user_input": outcome["payload"],
        },
    )
    assert again.status_code == 400
