"""The self-hosted widget in a real browser: forms, fetch, no JavaScript, keyboard, many widgets."""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List

from playwright.sync_api import Page, expect

from flask_captcha_ext.selfhosted.blueprint import TIMED_OUT
from flask_captcha_ext.selfhosted.pow import decode_payload

from .live import LiveServer
from .pages import (
    EMAIL,
    MESSAGE,
    NAME,
    WRONG,
    Widget,
    expect_contact_kept,
    expect_thanks,
    fill_contact,
    focused_outline,
    hold,
    release,
    wait_for,
)

# -- the contact form (Flask-WTF + CaptchaField) -----------------------------------------------


def test_person_solves_the_challenge_and_gets_through(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    token = widget.solve(server)
    expect(widget.answer_box).to_be_hidden()
    page.get_by_role("button", name="Send message").click()
    expect_thanks(page)
    # The token was spent by that submit: a replay is refused.
    replay = server.app.test_client().post(
        "/api/subscribe", json={"email": EMAIL}, headers={"X-Captcha-Token": token}
    )
    assert replay.status_code == 400


def test_the_widget_signs_the_expected_action_into_its_token(
    page: Page, make_server_with: Callable[..., LiveServer]
) -> None:
    """CAPTCHA_ACTION: the widget posts the action with its answer, the token carries it, and
    the form's check (which expects it) passes; a token of another action would not."""
    import jwt

    server = make_server_with(CAPTCHA_ACTION="contact")
    page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    expect(widget.root).to_have_attribute("data-fce-action", "contact")
    token = widget.solve(server)
    assert jwt.decode(token, options={"verify_signature": False})["act"] == "contact"
    page.get_by_role("button", name="Send message").click()
    expect_thanks(page)


def test_an_image_token_needs_its_proof_of_work(page: Page, server: LiveServer) -> None:
    """An image carries a proof-of-work part: the right answer alone is refused; the widget
    solves the part in its workers while the person types, and its own submit passes."""
    validations: List[Dict[str, Any]] = []
    page.on(
        "request",
        lambda r: validations.append(r.post_data_json) if r.url.endswith("/api/validate") else None,
    )
    page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    first = widget.captcha_id()
    expect(widget.root.locator("img.fce-image")).to_be_visible()
    # Without ``proof`` the right answer does not pass (and the challenge is spent).
    without_proof = server.app.test_client().post(
        "/api/validate",
        json={
            "site_key": widget.root.get_attribute("data-fce-site-key"),
            "captcha_id": first,
            "user_input": server.answer(first),
        },
    )
    assert without_proof.status_code == 200
    assert without_proof.get_json() == {"valid": False}

    widget.refresh_button.click()
    second = widget.next_captcha_id(first)
    widget.type_answer(server)
    page.get_by_role("button", name="Send message").click()
    expect_thanks(page)
    # What the widget sent: the answer, and the ALTCHA payload of this challenge's pow part.
    mine = [v for v in validations if v["captcha_id"] == second]
    assert len(mine) == 1
    assert mine[0]["user_input"] == server.answer(second)
    proof = decode_payload(mine[0]["proof"])
    assert proof is not None
    assert proof["challenge"]["parameters"]["data"] == {"id": second}
    expected = decode_payload(server.answers.proofs[second])  # the server's own solution
    assert expected is not None
    assert proof["solution"]["counter"] == expected["solution"]["counter"]


def test_verify_waits_for_the_proof_of_work(page: Page, server: LiveServer) -> None:
    """Answered before the workers are done: "Checking..." until they are, then validated."""
    validations: List[str] = []
    page.on("request", lambda r: validations.append(r.url) if "/api/validate" in r.url else None)
    held = hold(page, "**/altcha/pbkdf2.js")  # the workers cannot start yet
    page.goto(server.url + "/")
    widget = Widget(page)
    wait_for(page, lambda: len(held) > 0)
    widget.type_answer(server)
    widget.verify_button.click()
    expect(widget.status).to_have_text("Checking\u2026")
    expect(widget.verify_button).to_have_attribute("aria-disabled", "true")
    assert validations == []  # nothing is sent without the proof
    release(page, "**/altcha/pbkdf2.js", held)
    widget.expect_verified()
    assert len(validations) == 1


def test_submit_before_verify_validates_first(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    widget.type_answer(server)
    page.get_by_role("button", name="Send message").click()  # no click on Verify
    expect_thanks(page)


def test_submit_with_empty_answer_is_held(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    first = widget.captcha_id()
    page.get_by_role("button", name="Send message").click()
    expect(widget.status).to_have_text("Please complete the security check first.")
    expect(widget.answer_box).to_be_focused()
    expect(widget.answer_box).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(server.url + "/")
    assert widget.captcha_id() == first  # nothing was spent


def test_wrong_answer_new_challenge_and_form_data_kept(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    first = widget.captcha_id()
    widget.answer_box.fill(WRONG)
    widget.verify_button.click()
    expect(widget.status).to_have_text(re.compile("not right"))
    second = widget.next_captcha_id(first)
    assert second != first
    assert widget.token() == ""
    expect(widget.answer_box).to_have_value("")
    expect(widget.answer_box).to_have_attribute("aria-invalid", "true")
    expect(widget.answer_box).to_be_focused()
    expect_contact_kept(page)
    # The spent challenge stays spent: its right answer no longer helps.
    response = server.app.test_client().post(
        "/api/validate",
        json={
            "site_key": widget.root.get_attribute("data-fce-site-key"),
            "captcha_id": first,
            "user_input": server.answer(first),
        },
    )
    assert response.status_code == 400
    # The person answers the new challenge and gets through.
    widget.type_answer(server)
    page.get_by_role("button", name="Send message").click()
    expect_thanks(page)


def test_wrong_answer_on_submit_stays_on_the_page(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    first = widget.captcha_id()
    widget.answer_box.fill(WRONG)
    page.get_by_role("button", name="Send message").click()
    widget.next_captcha_id(first)
    expect(widget.status).to_have_text(re.compile("not right"))
    expect(page).to_have_url(server.url + "/")
    expect(widget.answer_box).to_be_focused()
    expect_contact_kept(page)


def test_server_refuses_a_form_without_captcha(page: Page, server: LiveServer) -> None:
    """With the script's check bypassed, the server still refuses, and keeps what was typed."""
    page.goto(server.url + "/")
    fill_contact(page)
    Widget(page).captcha_id()
    page.evaluate("document.getElementById('contact-form').submit()")  # skips submit listeners
    expect(page.get_by_role("alert")).to_contain_text("Please complete the CAPTCHA.")
    expect_contact_kept(page)
    Widget(page).captcha_id()  # a fresh widget is ready


def test_refresh_gives_a_new_challenge(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    widget = Widget(page)
    first = widget.captcha_id()
    widget.answer_box.fill("half-typed")
    widget.refresh_button.click()
    second = widget.next_captcha_id(first)
    assert second != first
    expect(widget.status).to_have_text("New challenge ready.")
    expect(widget.answer_box).to_have_value("")
    expect(widget.root.locator("img.fce-image")).to_have_attribute(
        "src", re.compile(r"^data:image/png;base64,")
    )
    widget.solve(server)


def test_switch_to_a_text_question(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    widget = Widget(page)
    first = widget.captcha_id()
    widget.root.get_by_role("button", name="Use a text question instead").click()
    widget.next_captcha_id(first)
    expect(widget.root.locator(".fce-question")).to_have_text(re.compile(r"^What is \d+ . \d+\?$"))
    expect(widget.root.get_by_label("Answer", exact=True)).to_be_visible()
    expect(widget.root.get_by_role("button", name="Use an image instead")).to_be_visible()
    widget.solve(server)


# -- JSON endpoint from the page's fetch() ------------------------------------------------------


def test_json_endpoint_from_fetch(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/subscribe")
    page.get_by_label("Email address").fill(EMAIL)
    widget = Widget(page, "#subscribe-captcha")
    first = widget.captcha_id()
    widget.solve(server)
    page.get_by_role("button", name="Subscribe").click()
    result = page.locator("#subscribe-result")
    expect(result).to_have_text(f"Subscribed {EMAIL}. Thank you!")
    expect(page).to_have_url(server.url + "/subscribe")  # no navigation
    # The widget reset itself for the next request: new challenge, no token.
    widget.next_captcha_id(first)
    assert widget.token() == ""
    expect(widget.answer_box).to_be_visible()


def test_json_endpoint_submit_before_verify(page: Page, server: LiveServer) -> None:
    """The widget holds the submit, validates, then the page's own submit listener posts JSON."""
    page.goto(server.url + "/subscribe")
    page.get_by_label("Email address").fill(EMAIL)
    widget = Widget(page, "#subscribe-captcha")
    widget.type_answer(server)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#subscribe-result")).to_have_text(f"Subscribed {EMAIL}. Thank you!")


# -- no JavaScript ------------------------------------------------------------------------------


def wait_out_the_noscript_wait(page: Page) -> None:
    """A no-JavaScript challenge takes no answer for the few seconds its hint states (the wait
    that stands in for proof of work); wait them out from now, the page's render."""
    hint = page.locator(".fce-noscript .fce-hint").text_content() or ""
    seconds = re.search(r"(\d+) seconds or more", hint)
    assert seconds, hint
    page.wait_for_timeout(int(seconds.group(1)) * 1000 + 250)


def test_form_works_without_javascript(new_page: Callable[..., Any], server: LiveServer) -> None:
    page = new_page(java_script_enabled=False)
    page.goto(server.url + "/")
    fill_contact(page)
    image = page.get_by_role("img", name="Type the 5 characters in this image.")
    expect(image).to_be_visible()
    captcha_id = page.locator('input[name="captcha-id"]').input_value()
    # Sent at once: quicker than the challenge's wait allows; refused, what was typed is kept.
    page.get_by_label("Type the characters shown in the image").fill(WRONG)
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("alert")).to_contain_text("quicker than this security check allows")
    expect_contact_kept(page)
    # After the wait, a wrong answer: refused, what was typed is kept, a new challenge is shown.
    wait_out_the_noscript_wait(page)
    page.get_by_label("Type the characters shown in the image").fill(WRONG)
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong")
    expect_contact_kept(page)
    second_id = page.locator('input[name="captcha-id"]').input_value()
    assert second_id != captcha_id
    wait_out_the_noscript_wait(page)
    page.get_by_label("Type the characters shown in the image").fill(server.answer(second_id))
    page.get_by_role("button", name="Send message").click()
    expect_thanks(page)


# -- several widgets ----------------------------------------------------------------------------


def test_widgets_on_one_page_are_independent(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/widgets")
    light, dark = Widget(page, "#widget-light"), Widget(page, "#widget-dark")
    auto, german = Widget(page, "#widget-auto"), Widget(page, "#widget-de")
    ids = {w.captcha_id() for w in (light, dark, auto, german)}
    assert len(ids) == 4
    # One script tag for the page (it comes with the first widget), one mount per widget.
    assert page.locator("script[src$='/widget.js']").count() == 1
    assert page.locator(".fce-widget .fce-box").count() == 4

    light_token = light.solve(server)
    assert dark.token() == "" and auto.token() == "" and german.token() == ""
    expect(dark.answer_box).to_be_visible()

    dark_id = dark.captcha_id()
    dark.refresh_button.click()
    dark.next_captcha_id(dark_id)
    assert light.token() == light_token  # untouched by the other widget's refresh

    auto_id = auto.captcha_id()
    auto.answer_box.fill(WRONG)
    auto.verify_button.click()
    auto.next_captcha_id(auto_id)
    expect(auto.status).to_have_text(re.compile("not right"))
    expect(dark.status).to_have_text("New challenge ready.")
    expect(light.status).to_have_text(re.compile("Verified"))
    expect(auto.root.locator(".fce-question")).to_be_visible()  # challenge_type="math"

    # Language and theme per widget.
    expect(german.root.get_by_role("button", name="Prüfen")).to_be_visible()
    expect(german.root.get_by_role("group", name="Sicherheitsprüfung")).to_be_visible()
    expect(dark.root).to_have_class(re.compile(r"\bfce-theme-dark\b"))

    # The dark widget's own form passes with its own token.
    dark.solve(server)
    page.locator("#card-dark").get_by_role("button", name="Check").click()
    expect(page.locator("#widgets-ok")).to_contain_text("dark")


# -- keyboard only ------------------------------------------------------------------------------


def test_keyboard_only(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    widget = Widget(page)
    captcha_id = widget.captcha_id()
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_label("Your name").focus()
    page.keyboard.type(NAME)
    page.keyboard.press("Tab")
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(MESSAGE)

    page.keyboard.press("Tab")
    expect(widget.refresh_button).to_be_focused()
    style, width = focused_outline(page)
    assert style != "none" and width >= 2, (style, width)

    page.keyboard.press("Tab")
    expect(widget.answer_box).to_be_focused()
    style, width = focused_outline(page)
    assert style != "none" and width >= 2, (style, width)

    page.keyboard.press("Tab")
    expect(widget.verify_button).to_be_focused()
    style, width = focused_outline(page)
    assert style != "none" and width >= 2, (style, width)
    page.keyboard.press("Shift+Tab")

    page.keyboard.type(server.answer(captcha_id))
    page.keyboard.press("Enter")  # verifies; does not submit the form
    widget.expect_verified()
    expect(page).to_have_url(server.url + "/")
    expect_contact_kept(page)

    # Focus sits on the "Verified" note; the next Tab reaches the submit button.
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send message")).to_be_focused()
    page.keyboard.press("Enter")
    expect_thanks(page)


# -- failures and expiry ------------------------------------------------------------------------


def test_rate_limit_shows_the_retry_message_and_does_not_block(
    page: Page, make_server_with: Callable[..., LiveServer]
) -> None:
    server = make_server_with(CAPTCHA_RATE_LIMIT_IP_GENERATE="1/minute")
    page.goto(server.url + "/")
    fill_contact(page)
    widget = Widget(page)
    widget.captcha_id()
    widget.refresh_button.click()
    expect(widget.status).to_have_text(
        re.compile(r"Too many attempts\. Please wait \d+ seconds, then try again\.")
    )
    # No challenge to answer: the widget lets the form go, and the server decides.
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("alert")).to_contain_text("Please complete the CAPTCHA.")
    expect_contact_kept(page)


def test_a_long_wait_is_said_in_minutes(
    page: Page, make_server_with: Callable[..., LiveServer]
) -> None:
    """Nobody should read "Please wait 2157 seconds"."""
    server = make_server_with(CAPTCHA_RATE_LIMIT_IP_GENERATE="1/hour")
    page.goto(server.url + "/")
    widget = Widget(page)
    widget.captcha_id()
    widget.refresh_button.click()
    expect(widget.status).to_have_text(
        re.compile(r"Too many attempts\. Please try again in \d+ minutes\.")
    )


def test_network_error_is_announced(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    widget = Widget(page)
    first = widget.captcha_id()
    page.route("**/api/generate", lambda route: route.abort())
    widget.refresh_button.click()
    expect(widget.status).to_have_text(re.compile("Could not reach the server"))
    expect(widget.answer_box).to_be_hidden()  # nothing to answer
    expect(widget.refresh_button).to_be_focused()  # the way out is at hand
    page.unroute("**/api/generate")
    widget.refresh_button.click()
    assert widget.next_captcha_id(first) != first


def test_a_timed_out_validate_leads_to_a_new_challenge(page: Page, server: LiveServer) -> None:
    """A 503 without Retry-After (the store timed out; the challenge may be used up): the widget
    says the check is unavailable, drops the challenge and keeps "New challenge" at hand."""
    page.goto(server.url + "/")
    widget = Widget(page)
    page.route(
        "**/api/validate",
        lambda route: route.fulfill(status=503, json={"detail": TIMED_OUT}),
    )
    first = widget.type_answer(server)
    widget.verify_button.click()
    expect(widget.status).to_have_text(re.compile("unavailable right now"))
    expect(widget.answer_box).to_be_hidden()  # that challenge is not offered again
    page.unroute("**/api/validate")
    widget.refresh_button.click()
    assert widget.next_captcha_id(first) != first
    widget.solve(server)


def test_challenge_and_token_refresh_before_they_expire(
    page: Page, make_server_with: Callable[..., LiveServer]
) -> None:
    server = make_server_with(CAPTCHA_CHALLENGE_TTL=6, CAPTCHA_TOKEN_TTL=5)
    page.goto(server.url + "/")
    widget = Widget(page)
    solved_at = widget.captcha_id()  # read before solving: the token lives only a few seconds
    widget.solve(server)
    # The token is dropped shortly before its 5 s are up, and a new challenge appears.
    fresh = widget.next_captcha_id(solved_at)
    assert widget.token() == ""
    expect(widget.status).to_have_text("Your verification expired. Please solve a new challenge.")
    # An unanswered challenge is replaced shortly before its 6 s are up.
    widget.next_captcha_id(fresh)
    expect(widget.answer_box).to_be_visible()


# -- the JavaScript API -------------------------------------------------------------------------


def test_mount_api_for_script_created_widgets(page: Page, server: LiveServer) -> None:
    """FlaskCaptcha.mount() serves e.g. a provider's fallback; language follows <html lang>."""
    page.goto(server.url + "/subscribe")
    Widget(page, "#subscribe-captcha").captcha_id()
    same = page.evaluate(
        """() => {
          document.documentElement.lang = "fr-CA";
          const source = document.getElementById("subscribe-captcha");
          const el = document.createElement("div");
          el.id = "made-by-script";
          for (const name of ["fceSiteKey", "fceGenerateUrl", "fceValidateUrl", "fceTokenTtl",
                              "fceTypes"]) {
            el.dataset[name] = source.dataset[name];
          }
          el.dataset.fceTheme = "dark";
          document.querySelector("main").appendChild(el);
          const first = window.FlaskCaptcha.mount(el);
          return first === window.FlaskCaptcha.mount(el);
        }"""
    )
    assert same is True  # mounting twice gives the same widget
    made = Widget(page, "#made-by-script")
    made.captcha_id()
    expect(made.root.locator(".fce-box")).to_have_count(1)
    expect(made.root).to_have_class(re.compile(r"\bfce-theme-dark\b"))
    expect(made.root.get_by_role("button", name="Vérifier", exact=True)).to_be_visible()
    expect(made.root.get_by_role("button", name="Nouveau défi")).to_be_visible()
    # Its token input was created for it, and it verifies like any other widget.
    made.type_answer(server)
    made.root.get_by_role("button", name="Vérifier", exact=True).click()
    expect(made.status).to_have_text(re.compile("Vérifié"))
    assert page.evaluate("window.FlaskCaptcha.token('#made-by-script')") == made.token() != ""
