"""axe-core scans: no critical or serious violation in the widget (light and dark) or the pages."""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional

import pytest
from playwright.sync_api import Page, expect

from .live import LiveServer
from .pages import WRONG, Widget

BLOCKING = ("critical", "serious")

AXE_RUN = """async (context) => {
  const results = await axe.run(context || document, {
    resultTypes: ["violations"],
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
  });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + n.failureSummary),
  }));
}"""


def axe(page: Page, source: str, context: Optional[str] = None) -> List[Dict[str, Any]]:
    """The blocking (critical or serious) violations axe finds in ``context`` of ``page``."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    violations = page.evaluate(AXE_RUN, context)
    return [v for v in violations if v["impact"] in BLOCKING]


def report(violations: List[Dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['impact']}: {v['id']} ({v['help']})\n    " + "\n    ".join(v["nodes"])
        for v in violations
    )


@pytest.fixture(params=["light", "dark"])
def scheme_page(request: Any, new_page: Callable[..., Any]) -> Page:
    # bypass_csp lets the test inject axe; the app's CSP is checked by the other tests.
    return new_page(color_scheme=request.param, bypass_csp=True)


def test_widget_states_have_no_serious_violations(
    scheme_page: Page, server: LiveServer, axe_source: str
) -> None:
    page = scheme_page
    page.goto(server.url + "/widgets")
    widgets = [Widget(page, f"#widget-{key}") for key in ("light", "dark", "auto", "de")]
    for widget in widgets:
        widget.captcha_id()
    found = axe(page, axe_source, ".fce-widget")
    assert not found, "fresh challenges:\n" + report(found)

    light, dark, auto, _ = widgets
    light.solve(server)
    first = dark.captcha_id()
    dark.answer_box.fill(WRONG)
    dark.verify_button.click()
    dark.next_captcha_id(first)
    expect(dark.status).to_have_text(re.compile("not right"))
    auto.verify_button.click()  # nothing typed: "Please type your answer first."
    expect(auto.status).to_have_text("Please type your answer first.")
    found = axe(page, axe_source, ".fce-widget")
    assert not found, "verified, wrong-answer and empty-answer states:\n" + report(found)


@pytest.mark.parametrize("path", ["/", "/subscribe", "/widgets", "/demo"])
def test_example_pages_have_no_serious_violations(
    new_page: Callable[..., Any], server: LiveServer, axe_source: str, path: str
) -> None:
    for scheme in ("light", "dark"):
        page = new_page(color_scheme=scheme, bypass_csp=True)
        page.goto(server.url + path)
        for widget in page.locator(".fce-widget").all():
            expect(widget).to_have_attribute("data-fce-captcha-id", re.compile(".+"))
        found = axe(page, axe_source)
        assert not found, f"{path} ({scheme}):\n" + report(found)
