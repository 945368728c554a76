"""The official ALTCHA widget (npm ``altcha``) on a plain Flask page, with no glue of ours.

3.x (``tests/node_modules/altcha3``): the README's own code (tests/browser/altcha_readme.py) runs
on a Flask app with the default settings (ALTCHA PoW v2, PBKDF2/SHA-256). Its page loads the
widget's ``dist/main/altcha.js`` module (workers inlined) from the app's static folder, and
``<altcha-widget challenge=...>`` fetches its challenge from our ``GET /captcha/altcha``. The
person ticks the box, the widget solves the proof of work and puts its payload in the form's
``altcha`` field, and the form posts to a view behind ``@captcha_protected``.

2.x (``tests/node_modules/altcha``): the same code with ``challengeurl=`` instead of
``challenge=``, under ``CAPTCHA_POW_ALGORITHM = "ALTCHA-V1"`` (the v1 protocol of widgets 2.x).

No test hook of ours runs: the browser does the work, the server learns nothing in advance.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator
from urllib.parse import parse_qs

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from flask_captcha_ext import CaptchaExt
from tests.support import ThreadedServer

from .altcha_readme import SNIPPET, add_signup
from .live import SECRET

NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"
ALTCHA3_DIR = NODE_MODULES / "altcha3" / "dist" / "main"  # npm altcha@3, its main bundle
ALTCHA2_DIR = NODE_MODULES / "altcha" / "dist"  # npm altcha@2, its main bundle
EMAIL = "ada@example.com"
THANKS = "Thanks for signing up!"
# The widget's proof of work (about CAPTCHA_POW_TARGET_MS, 500 ms, on an idle machine) and its
# challenge fetch, on a loaded 2-core CI machine; a passing run never waits this long.
SOLVE_TIMEOUT_MS = 90_000


@dataclass
class Site:
    """A live Flask app running the README's code, and what it serves the widget from."""

    app: Flask
    url: str


def readme_app(static_folder: Path, config: Dict[str, Any], snippet: str = SNIPPET) -> Flask:
    """A Flask app set up as the README's "Three lines each" does, plus the ALTCHA section's
    code; its static folder is the npm package's bundle directory (where ``altcha.js`` is)."""
    if not (static_folder / "altcha.js").exists():
        pytest.skip(f"{static_folder / 'altcha.js'} is missing (bash tests/install.sh)")
    app = Flask("altcha_readme_app", static_folder=str(static_folder), static_url_path="/static")
    app.config.update(config)
    captcha = CaptchaExt(app)
    add_signup(app, captcha, snippet)
    return app


def base_config(tmp_path: Path, **overrides: Any) -> Dict[str, Any]:
    return {
        "SECRET_KEY": SECRET,
        "CAPTCHA_STORE_URL": "sqlite:///" + str(tmp_path / "captcha.sqlite3"),
        **overrides,
    }


@pytest.fixture(scope="module")
def site3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The README's page and view with the 3.x widget and the default settings."""
    app = readme_app(ALTCHA3_DIR, base_config(tmp_path_factory.mktemp("altcha3")))
    with ThreadedServer(app) as server:
        yield Site(app, server.url)


@pytest.fixture(scope="module")
def site2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The same code for the 2.x widget: ``challengeurl=`` and CAPTCHA_POW_ALGORITHM ALTCHA-V1."""
    old = '<altcha-widget challenge="'
    assert SNIPPET.count(old) == 1
    snippet = SNIPPET.replace(old, '<altcha-widget challengeurl="')
    config = base_config(tmp_path_factory.mktemp("altcha2"), CAPTCHA_POW_ALGORITHM="ALTCHA-V1")
    app = readme_app(ALTCHA2_DIR, config, snippet)
    with ThreadedServer(app) as server:
        yield Site(app, server.url)


@pytest.fixture(scope="module")
def site3_v1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The README's page, unchanged, under ALTCHA-V1: widgets 3.x still read v1 challenges."""
    config = base_config(tmp_path_factory.mktemp("altcha3v1"), CAPTCHA_POW_ALGORITHM="ALTCHA-V1")
    app = readme_app(ALTCHA3_DIR, config)
    with ThreadedServer(app) as server:
        yield Site(app, server.url)


def solve_in_page(page: Page, site: Site) -> str:
    """Open the sign-up page, fill it in and tick the widget's box as a person does; wait until
    the widget has verified. The payload it put in the form's ``altcha`` field."""
    page.goto(site.url + "/signup")
    page.get_by_label("Email").fill(EMAIL)
    checkbox = page.get_by_role("checkbox", name=re.compile("not a robot", re.I))
    expect(checkbox).not_to_be_checked()
    # A person ticks the box by its label: 3.x draws its tick mark over the box's middle.
    label = page.locator("altcha-widget label").filter(has_text=re.compile("not a robot", re.I))
    with page.expect_response(re.compile(r"/captcha/altcha\?site_key=")) as fetched:
        label.click()
    assert fetched.value.status == 200, fetched.value.text()
    state = page.locator("altcha-widget .altcha")
    expect(state).to_have_attribute("data-state", "verified", timeout=SOLVE_TIMEOUT_MS)
    field = page.locator('form input[type="hidden"][name="altcha"]')
    expect(field).to_have_value(re.compile(r"^[A-Za-z0-9+/]+=*$"))
    return field.input_value()


def submit(page: Page, site: Site) -> Any:
    """Press the form's button; the response to its POST (the browser then shows it)."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url == site.url + "/signup"
    ) as posted:
        page.get_by_role("button", name="Sign up").click()
    return posted.value


def post_form(page: Page, site: Site, payload: str) -> Any:
    """POST the form as a browser would, with ``payload`` in the ``altcha`` field."""
    return page.request.post(site.url + "/signup", form={"email": EMAIL, "altcha": payload})


def decode(payload: str) -> Dict[str, Any]:
    return json.loads(base64.b64decode(payload))


def encode(data: Dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode("ascii")


def test_npm_packages_are_the_expected_majors() -> None:
    """The 3.x and 2.x widgets sit side by side (tests/install.sh: ``altcha3`` is an alias)."""
    for folder, major in (("altcha3", "3"), ("altcha", "2")):
        manifest = NODE_MODULES / folder / "package.json"
        if not manifest.exists():
            pytest.skip(f"{manifest} is missing (bash tests/install.sh)")
        data = json.loads(manifest.read_text())
        assert data["name"] == "altcha"
        assert data["version"].split(".")[0] == major, (folder, data["version"])


def test_altcha3_readme_page_signs_up_once(page: Page, site3: Site) -> None:
    """(a) The README's page as it is: tick, verified, submit -> the protected view answers."""
    assert site3.app.config["CAPTCHA_POW_ALGORITHM"] == "PBKDF2/SHA-256"  # the default
    payload = solve_in_page(page, site3)

    response = submit(page, site3)
    assert response.status == 200, response.text()
    expect(page.locator("body")).to_have_text(THANKS)
    # What the browser posted: the form's fields, the widget's payload among them.
    posted = parse_qs(response.request.post_data or "")
    assert posted == {"email": [EMAIL], "altcha": [payload]}, posted

    # A PoW v2 payload: our challenge (its id in the signed data) and the widget's solution.
    data = decode(payload)
    parameters = data["challenge"]["parameters"]
    assert parameters["algorithm"] == "PBKDF2/SHA-256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{10,64}", parameters["data"]["id"])
    assert isinstance(data["solution"]["counter"], int)
    assert data["solution"]["derivedKey"].startswith(parameters["keyPrefix"])

    # The same payload posted again (replayed) fails: a challenge passes once.
    again = post_form(page, site3, payload)
    assert again.status == 400, again.text()
    assert THANKS not in again.text()


def test_altcha3_tampered_payload_fails(page: Page, site3: Site) -> None:
    """(a) A payload whose solution was changed fails, on a challenge nobody has answered."""
    payload = solve_in_page(page, site3)
    data = decode(payload)
    key = data["solution"]["derivedKey"]
    data["solution"]["derivedKey"] = key[:-1] + ("0" if key[-1] != "0" else "1")
    tampered = post_form(page, site3, encode(data))
    assert tampered.status == 400, tampered.text()
    assert THANKS not in tampered.text()
    # The failed attempt spent the challenge: the widget's own payload no longer passes either.
    assert post_form(page, site3, payload).status == 400


def test_altcha2_with_challengeurl_and_altcha_v1(page: Page, site2: Site) -> None:
    """(b) Widget 2.x, ``challengeurl=`` our GET endpoint, ALTCHA-V1: passes once, no glue."""
    payload = solve_in_page(page, site2)
    data = decode(payload)  # the v1 payload: the issued challenge's fields and the number found
    assert data["algorithm"] == "SHA-256" and isinstance(data["number"], int)
    assert "id=" in data["salt"]

    response = submit(page, site2)
    assert response.status == 200, response.text()
    expect(page.locator("body")).to_have_text(THANKS)
    assert parse_qs(response.request.post_data or "")["altcha"] == [payload]

    again = post_form(page, site2, payload)
    assert again.status == 400, again.text()


def test_altcha3_under_altcha_v1(page: Page, site3_v1: Site) -> None:
    """A site that switched to ALTCHA-V1 for 2.x widgets keeps working with the 3.x widget: it
    solves the v1 challenge and posts a v1 payload."""
    payload = solve_in_page(page, site3_v1)
    assert isinstance(decode(payload)["number"], int)
    response = submit(page, site3_v1)
    assert response.status == 200, response.text()
    expect(page.locator("body")).to_have_text(THANKS)
    assert post_form(page, site3_v1, payload).status == 400
