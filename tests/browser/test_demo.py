"""The /demo page: a live demo of the self-hosted JSON API beside its documentation."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .live import LiveServer


def test_demo_page_generates_and_validates(page: Page, server: LiveServer) -> None:
    """The live API demo shows raw JSON for generate and validate, and decodes the token."""
    page.goto(server.url + "/demo")
    page.get_by_role("button", name="Generate math CAPTCHA").click()
    response = page.locator("#demo-response")
    expect(response).to_contain_text('"captcha_id"')
    expect(page.locator("#demo-status")).to_have_text(re.compile(r"^200"))
    captcha_id = page.get_by_label("captcha_id").input_value()
    assert captcha_id
    expect(page.locator("#demo-challenge .demo-question")).to_have_text(re.compile(r"^What is"))

    page.get_by_label("user_input").fill(server.answer(captcha_id))
    page.get_by_role("button", name="Validate").click()
    expect(response).to_contain_text('"valid": true')
    expect(page.locator("#demo-claims")).to_contain_text('"iss": "flask-captcha-ext"')

    page.get_by_role("button", name="Validate").click()  # the same challenge again
    expect(page.locator("#demo-status")).to_have_text(re.compile(r"^400"))
    expect(response).to_contain_text("already used")

    page.get_by_role("button", name="Generate image CAPTCHA").click()
    expect(page.locator("#demo-challenge img")).to_be_visible()
    expect(response).to_contain_text("characters)")  # the base64 image is abbreviated

    page.get_by_label("Site key").fill("sk_unknown")
    page.get_by_role("button", name="Generate image CAPTCHA").click()
    expect(page.locator("#demo-status")).to_have_text(re.compile(r"^403"))
    expect(response).to_contain_text('"detail"')


def test_demo_documents_the_live_settings(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/demo")
    docs = page.get_by_role("article")
    for text in (
        "POST /api/generate",
        "POST /api/validate",
        "CAPTCHA_RATE_LIMIT_GENERATE",
        "CAPTCHA_RATE_LIMIT_IP_VALIDATE",
        "Retry-After",
        "413",
        "503",
        "jti",
    ):
        expect(docs).to_contain_text(text)
    expect(docs.get_by_role("table", name="Error statuses")).to_contain_text("429")
