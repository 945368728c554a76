"""``captcha_widget(nonce=csp_nonce)`` on a page without ``csp_nonce`` renders, without a nonce."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Type

import pytest
from flask import Flask, render_template_string
from jinja2 import ChainableUndefined, DebugUndefined, StrictUndefined, Undefined

TEMPLATE = (
    '{% from "flask_captcha_ext/macros.html" import captcha_widget %}'
    "{{ captcha_widget(nonce=csp_nonce) }}"
)


def _render(app: Flask, undefined: Optional[Type[Undefined]] = None, **context: Any) -> str:
    if undefined is not None:
        app.jinja_env.undefined = undefined
    with app.test_request_context("/"):
        return render_template_string(TEMPLATE, **context)


def _nonce_warnings(caplog: pytest.LogCaptureFixture) -> list:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "undefined" in r.getMessage()
        and "nonce" in r.getMessage()
    ]


@pytest.mark.parametrize(
    "undefined", [None, Undefined, StrictUndefined, ChainableUndefined, DebugUndefined]
)
def test_undefined_nonce_renders_without_one_and_warns(
    make_app, caplog: pytest.LogCaptureFixture, undefined: Optional[Type[Undefined]]
) -> None:
    app = make_app()
    caplog.set_level(logging.WARNING)
    html = _render(app, undefined)
    assert 'class="fce-widget' in html
    assert "nonce=" not in html
    warnings = _nonce_warnings(caplog)
    assert warnings, [r.getMessage() for r in caplog.records]
    assert "csp_nonce" in warnings[0].getMessage()


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({"csp_nonce": "n0nce-abc123"}, id="string"),
        pytest.param({"csp_nonce": lambda: "n0nce-abc123"}, id="callable"),
    ],
)
def test_defined_nonce_still_appears(
    make_app, caplog: pytest.LogCaptureFixture, context: Dict[str, Any]
) -> None:
    app = make_app()
    caplog.set_level(logging.WARNING)
    html = _render(app, **context)
    assert 'class="fce-widget' in html
    assert 'nonce="n0nce-abc123"' in html
    assert not _nonce_warnings(caplog)


def test_undefined_nonce_in_a_real_request_is_not_a_500(make_app) -> None:
    app = make_app()

    @app.get("/page")
    def page() -> str:
        return render_template_string(TEMPLATE)

    response = app.test_client().get("/page")
    assert response.status_code == 200
    assert "fce-widget" in response.get_data(as_text=True)
