"""Widget templates of the seven providers: script URL, element, data attributes, nonce, escaping,
the execute flows (invisible, v3, gkCAPTCHA render) and the self-hosted fallback."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Dict, List, Optional, Tuple

import pytest
from flask import render_template_string

from flask_captcha_ext.providers.glue import GLUE_JS
from flask_captcha_ext.providers.recaptcha_v3 import RecaptchaV3
from tests.support import build_app

EVIL_KEY = 'k"><script>alert(1)</script>&'

#: provider -> (script URL prefix, element tag, element class, site key attribute)
EXPECT: Dict[str, Tuple[str, str, Optional[str], str]] = {
    "recaptcha": ("https://www.google.com/recaptcha/api.js", "div", "g-recaptcha", "data-sitekey"),
    "recaptcha_v3": ("https://www.google.com/recaptcha/api.js?render=", "input", None, ""),
    "hcaptcha": ("https://js.hcaptcha.com/1/api.js", "div", "h-captcha", "data-sitekey"),
    "turnstile": (
        "https://challenges.cloudflare.com/turnstile/v0/api.js",
        "div",
        "cf-turnstile",
        "data-sitekey",
    ),
    "friendlycaptcha": (
        "https://cdn.jsdelivr.net/npm/@friendlycaptcha/sdk@0.1/site.min.js",
        "div",
        "frc-captcha",
        "data-sitekey",
    ),
    "trustcaptcha": (
        "https://cdn.trustcomponent.com/trustcaptcha/3.0.x/trustcaptcha.esm.min.js",
        "trustcaptcha-component",
        None,
        "sitekey",
    ),
    "gkcaptcha": (
        "https://gkcaptcha.gatekeeper.sa/widget/gk-captcha.js",
        "div",
        "gk-captcha",
        "data-sitekey",
    ),
}


class Page(HTMLParser):
    """Tags with their (unescaped) attributes, and the text of each script."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: List[Tuple[str, Dict[str, Optional[str]]]] = []
        self.scripts: List[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data

    def find(self, tag=None, **attrs) -> List[Dict[str, Optional[str]]]:
        found = []
        for name, have in self.tags:
            if tag and name != tag:
                continue
            if all(have.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append(have)
        return found

    def with_attr(self, attr: str) -> List[Dict[str, Optional[str]]]:
        return [have for _, have in self.tags if attr in have]


def render(provider: str, call: str = "", **config) -> str:
    app = build_app(
        "widget_test",
        TESTING=True,
        SECRET_KEY="widget-test-secret-0123456789abcdef",
        CAPTCHA_PROVIDER=provider,
        CAPTCHA_SITE_KEY=EVIL_KEY,
        CAPTCHA_SECRET_KEY="secret",
        CAPTCHA_STORE_URL="memory://",
        **config,
    )
    call = call or 'nonce="n0nce", theme="dark", language="de", class_="extra", data_test="x"'
    with app.test_request_context():
        return render_template_string("{{ captcha_widget(" + call + ") }}")


@pytest.mark.parametrize("provider", list(EXPECT))
def test_widget(provider):
    html = render(provider)
    page = Page(html)
    script_prefix, tag, css, key_attr = EXPECT[provider]
    (box,) = page.with_attr("data-fce-mode")
    box_id = box["id"]
    assert box_id and box_id.startswith("fce-")

    scripts = page.find("script")
    assert scripts and all(s.get("nonce") == "n0nce" for s in scripts)
    (main,) = page.find("script", data_fce_for=box_id)
    assert main["src"].startswith(script_prefix)

    assert EVIL_KEY not in html and "<script>alert" not in html  # escaped everywhere
    assert box["data-fce-sitekey"] == EVIL_KEY
    for _, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), attrs  # no inline handlers
    for text in page.scripts:
        assert text.strip() in ("", GLUE_JS.strip())  # the only inline script is the static glue

    if provider == "recaptcha_v3":
        (field,) = page.find("input", name="g-recaptcha-response")
        assert "render=k%22%3E%3Cscript%3E" in main["src"]
        return
    (element,) = page.with_attr("data-fce-el")
    assert page.tags[[a for _, a in page.tags].index(element)][0] == tag
    assert element[key_attr] == EVIL_KEY
    assert "extra" in element["class"].split() and element["data-test"] == "x"
    if css:
        assert css in element["class"].split()


def test_languages_and_themes():
    assert "hl=de" in Page(render("recaptcha")).find("script")[0]["src"]
    assert "hl=de" in Page(render("hcaptcha")).find("script")[0]["src"]
    assert Page(render("recaptcha")).with_attr("data-fce-el")[0]["data-theme"] == "dark"
    turnstile = Page(render("turnstile")).with_attr("data-fce-el")[0]
    assert turnstile["data-language"] == "de" and turnstile["data-theme"] == "dark"
    assert Page(render("friendlycaptcha")).with_attr("data-fce-el")[0]["data-lang"] == "de"
    trust = Page(render("trustcaptcha")).with_attr("data-fce-el")[0]
    assert trust["language"] == "de" and trust["theme"] == "dark"


def test_plain_checkbox_has_no_script_of_ours():
    page = Page(render("hcaptcha", 'nonce="n"'))
    assert not page.with_attr("data-fce-init")  # no glue
    assert "data-callback" not in page.with_attr("data-fce-el")[0]


@pytest.mark.parametrize("provider", ["recaptcha", "hcaptcha"])
def test_invisible_widgets_get_the_execute_flow(provider):
    page = Page(render(provider, 'nonce="n", size="invisible"'))
    (box,) = page.with_attr("data-fce-mode")
    assert box["data-fce-mode"] == "invisible"
    (element,) = page.with_attr("data-fce-el")
    assert element["data-size"] == "invisible"
    assert element["data-callback"] == "fceDone_" + box["id"][4:]
    assert element["data-expired-callback"] == "fceExpired_" + box["id"][4:]
    assert page.find("script", data_fce_init=box["id"], nonce="n")
    assert '"fceDone_" + key' in GLUE_JS


def test_v3_action_and_execute_flow():
    page = Page(render("recaptcha_v3", 'nonce="n", action="contact/send"'))
    (box,) = page.with_attr("data-fce-mode")
    assert box["data-fce-mode"] == "score" and box["data-fce-action"] == "contact/send"
    assert page.find("script", data_fce_init=box["id"])
    default = Page(render("recaptcha_v3", "", CAPTCHA_ACTION="signup"))
    assert default.with_attr("data-fce-mode")[0]["data-fce-action"] == "signup"
    # No action anywhere: the one the server-side policy expects by default.
    bare = Page(render("recaptcha_v3", 'nonce="n"'))
    assert bare.with_attr("data-fce-mode")[0]["data-fce-action"] == RecaptchaV3.default_action
    assert RecaptchaV3.default_action == "submit"


@pytest.mark.parametrize("provider", ["recaptcha_v3", "turnstile"])
def test_bad_actions_are_refused(provider):
    with pytest.raises(ValueError, match="action"):
        render(provider, 'action="x\\"><script>"')


def test_turnstile_action():
    element = Page(render("turnstile", 'action="login"')).with_attr("data-fce-el")[0]
    assert element["data-action"] == "login"


def test_gkcaptcha_renders_through_the_glue():
    page = Page(render("gkcaptcha", 'nonce="n", size="invisible"'))
    (box,) = page.with_attr("data-fce-mode")
    assert box["data-fce-mode"] == "render" and box["data-fce-size"] == "invisible"
    assert page.find("input", name="captchaToken", type="hidden")
    assert page.with_attr("data-fce-el")[0]["id"] == box["id"] + "-el"


def test_friendlycaptcha_v1_widget():
    page = Page(render("friendlycaptcha", CAPTCHA_VERIFY_URL="https://x.test/api/v1/siteverify"))
    srcs = [s["src"] for s in page.find("script")]
    assert any("friendly-challenge@0.9/widget.module.min.js" in src for src in srcs)
    (compat,) = [a for a in page.find("script") if "nomodule" in a]
    assert compat["src"].endswith("friendly-challenge@0.9/widget.min.js")


@pytest.mark.parametrize("provider", list(EXPECT))
def test_selfhosted_fallback(provider):
    html = render(provider, 'nonce="n0nce"', CAPTCHA_FALLBACK="selfhosted")
    page = Page(html)
    (box,) = page.with_attr("data-fce-mode")
    assert int(box["data-fce-wait"]) > 0
    assert [a for a in page.find("template") if "data-fce-fallback" in a]  # inert until needed
    (spare,) = [a for _, a in page.tags if "fce-widget" in (a.get("class") or "").split()]
    assert spare["data-fce-site-key"]
    assert html.index("<template") < html.index("fce-widget") < html.index("</template>")
    assert page.find("script", data_fce_init=box["id"], nonce="n0nce")
    assert all(s.get("nonce") == "n0nce" for s in page.find("script"))
    # the glue script comes before the provider's script, so it sees its load error
    assert html.index("data-fce-init") < html.index("data-fce-for")
