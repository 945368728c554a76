"""People who cannot read the image have another way: beside a typed challenge (image or math) the
widget offers "Verify without typing" (proof of work) where the site allows it, and the image's
text alternative says what to do."""

from __future__ import annotations

import base64
import re
from typing import Any, Callable, Dict, Optional

import pytest
from playwright.sync_api import Page, Route, expect

from flask_captcha_ext.selfhosted.image import render_png

from .live import LiveServer
from .pages import Widget, expect_thanks, fill_contact, record_posts

NO_TYPING = "Can\u2019t read it? Verify without typing"
ALT_GENERIC = "Type the characters in this image."
ALT_COUNT = "Type the {n} characters in this image."
ALT_POW = "Can\u2019t read it? Choose \u201cVerify without typing\u201d."
# A proof of work solves in about 0.5 s of a browser's time; a busy 2-core machine takes longer.
SOLVE_MS = 60_000


def expected_alt(reply: Dict[str, Any], pow_allowed: bool) -> str:
    """The alt text the widget owes an image challenge, from generate's reply as received."""
    length = reply.get("length")
    counted = isinstance(length, int) and not isinstance(length, bool) and 1 <= length <= 64
    text = ALT_COUNT.format(n=length) if counted else ALT_GENERIC
    return f"{text} {ALT_POW}" if pow_allowed else text


def rewrite_image_replies(page: Page, change: Callable[[Dict[str, Any]], None]) -> None:
    """Let generate answer, then ``change`` its image replies before the widget sees them."""

    def handle(route: Route) -> None:
        response = route.fetch()
        data = response.json()
        if data.get("type") == "image":
            change(data)
        route.fulfill(status=response.status, json=data)

    page.route("**/api/generate", handle)


def no_typing_button(widget: Widget) -> Any:
    return widget.root.get_by_role("button", name=NO_TYPING, exact=True)


# -- "Verify without typing" ---------------------------------------------------------------------


def test_verify_without_typing_from_an_image_and_the_form_passes(
    page: Page, make_server_with: Callable[..., LiveServer]
) -> None:
    import jwt

    server = make_server_with(CAPTCHA_CHALLENGE_TYPES=("image", "pow"))
    generates = record_posts(page, "/api/generate")
    page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    expect(widget.root).to_have_attribute("data-fce-types", "image pow")
    first = widget.captcha_id()
    expect(widget.root.locator("img.fce-image")).to_be_visible()
    button = no_typing_button(widget)
    expect(button).to_be_visible()
    assert button.evaluate("b => [b.tagName, b.type]") == ["BUTTON", "button"]
    # One typed type only: nothing to cycle to.
    expect(widget.root.get_by_role("button", name=re.compile("instead"))).to_have_count(0)

    button.click()
    widget.next_captcha_id(first)
    assert generates[-1]["type"] == "pow"
    expect(widget.answer_box).to_be_hidden()
    expect(button).to_be_hidden()
    expect(widget.status).to_have_text("Verified", timeout=SOLVE_MS)
    expect(widget.status).to_be_focused()  # the button went away: focus is on what happens
    token = widget.token()
    assert jwt.decode(token, options={"verify_signature": False})["typ"] == "pow"

    page.get_by_role("button", name="Send message").click()
    expect_thanks(page)


def test_verify_without_typing_beside_both_typed_types(page: Page, server: LiveServer) -> None:
    """A site allowing image, math and pow: the image and math switch stays, and beside a text
    question too the way without typing is there, by keyboard as well."""
    page.goto(server.url + "/")
    widget = Widget(page)
    expect(widget.root).to_have_attribute("data-fce-types", "image math pow")
    first = widget.captcha_id()
    expect(no_typing_button(widget)).to_be_visible()
    widget.root.get_by_role("button", name="Use a text question instead").click()
    second = widget.next_captcha_id(first)
    expect(widget.root.locator(".fce-question")).to_be_visible()
    expect(widget.root.get_by_role("button", name="Use an image instead")).to_be_visible()
    button = no_typing_button(widget)
    expect(button).to_be_visible()

    # Tab order: the answer, Verify, then the way without typing.
    widget.answer_box.focus()
    page.keyboard.press("Tab")
    expect(widget.verify_button).to_be_focused()
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    widget.next_captcha_id(second)
    expect(widget.status).to_have_text("Verified", timeout=SOLVE_MS)
    expect(widget.status).to_be_focused()
    assert widget.token().count(".") == 2


def test_no_way_without_typing_where_the_site_allows_no_pow(
    page: Page, make_server_with: Callable[..., LiveServer]
) -> None:
    server = make_server_with(CAPTCHA_CHALLENGE_TYPES=("image", "math"))
    with page.expect_response(lambda r: r.url.endswith("/api/generate")) as generated:
        page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    expect(widget.root).to_have_attribute("data-fce-types", "image math")
    first = widget.captcha_id()
    reply = generated.value.json()
    assert reply["type"] == "image"
    image = widget.root.locator("img.fce-image")
    expect(image).to_have_attribute("alt", expected_alt(reply, pow_allowed=False))
    expect(no_typing_button(widget)).to_have_count(0)
    # The switch between the typed types still works, both ways.
    widget.root.get_by_role("button", name="Use a text question instead").click()
    second = widget.next_captcha_id(first)
    expect(widget.root.locator(".fce-question")).to_be_visible()
    expect(no_typing_button(widget)).to_have_count(0)
    widget.root.get_by_role("button", name="Use an image instead").click()
    widget.next_captcha_id(second)
    expect(image).to_be_visible()
    expect(no_typing_button(widget)).to_have_count(0)
    widget.solve(server)
    page.get_by_role("button", name="Send message").click()
    expect_thanks(page)


# -- the image's text alternative ----------------------------------------------------------------


def test_image_alt_says_what_to_do(page: Page, server: LiveServer) -> None:
    """The alt text of the image generate actually sent (with its count when it has ``length``)."""
    with page.expect_response(lambda r: r.url.endswith("/api/generate")) as generated:
        page.goto(server.url + "/")
    widget = Widget(page)
    captcha_id = widget.captcha_id()
    reply = generated.value.json()
    assert reply["type"] == "image" and reply["captcha_id"] == captcha_id
    if "length" in reply:
        assert reply["length"] == len(server.answer(captcha_id))
    alt = expected_alt(reply, pow_allowed=True)
    expect(widget.root.locator("img.fce-image")).to_have_attribute("alt", alt)
    expect(widget.root.get_by_role("img", name=alt, exact=True)).to_be_visible()


@pytest.mark.parametrize(
    "length, alt",
    [
        (5, f"Type the 5 characters in this image. {ALT_POW}"),
        (7, f"Type the 7 characters in this image. {ALT_POW}"),
        (None, f"{ALT_GENERIC} {ALT_POW}"),  # a service without `length`
        ("5", f"{ALT_GENERIC} {ALT_POW}"),  # not a number: no count rather than a wrong one
        (0, f"{ALT_GENERIC} {ALT_POW}"),
    ],
    ids=["5", "7", "absent", "string", "zero"],
)
def test_image_alt_counts_the_characters_when_generate_says(
    page: Page, server: LiveServer, length: Optional[Any], alt: str
) -> None:
    def set_length(data: Dict[str, Any]) -> None:
        data.pop("length", None)
        if length is not None:
            data["length"] = length

    rewrite_image_replies(page, set_length)
    page.goto(server.url + "/")
    widget = Widget(page)
    widget.captcha_id()
    expect(widget.root.locator("img.fce-image")).to_have_attribute("alt", alt)


def test_image_alt_and_button_in_german(page: Page, server: LiveServer) -> None:
    rewrite_image_replies(page, lambda data: data.update(length=6))
    page.goto(server.url + "/widgets")
    german = Widget(page, "#widget-de")
    german.captcha_id()
    expect(german.root.locator("img.fce-image")).to_have_attribute(
        "alt",
        "Geben Sie die 6 Zeichen in diesem Bild ein. "
        "Nicht lesbar? W\u00e4hlen Sie \u201eOhne Eingabe best\u00e4tigen\u201c.",
    )
    expect(
        german.root.get_by_role("button", name="Nicht lesbar? Ohne Eingabe best\u00e4tigen")
    ).to_be_visible()


def test_image_shows_at_160_by_60_css_pixels(page: Page, server: LiveServer) -> None:
    """A PNG with twice the pixels (for high-density screens) still takes 160x60 CSS pixels,
    scaled smoothly; the border does not eat into it."""
    big = base64.b64encode(render_png("ABCDE", width=320, height=120)).decode("ascii")
    rewrite_image_replies(page, lambda data: data.update(image=big))
    page.goto(server.url + "/")
    widget = Widget(page)
    widget.captcha_id()
    image = widget.root.locator("img.fce-image")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("width", "160")
    expect(image).to_have_attribute("height", "60")
    image.evaluate("img => img.decode()")
    shown = image.evaluate(
        "img => [img.naturalWidth, img.naturalHeight, img.clientWidth, img.clientHeight,"
        " getComputedStyle(img).imageRendering]"
    )
    assert shown == [320, 120, 160, 60, "auto"], shown
