"""The Flask integration: decorator, WTForms field, widget macro, switches and test helpers."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, g, jsonify, render_template_string
from flask_wtf import FlaskForm
from wtforms import StringField

from flask_captcha_ext import (
    CaptchaExt,
    CaptchaField,
    captcha_failed,
    captcha_protected,
    captcha_verified,
)
from flask_captcha_ext.testing import TEST_TOKEN
from tests.helpers import after_the_wait, page_challenge, solve
from tests.support import build_app, free_port


def _routes(app: Flask) -> None:
    @app.post("/bare")
    @captcha_protected
    def bare():
        return jsonify(ok=True, provider=g.captcha_result.provider)

    @app.post("/args")
    @captcha_protected(action="login", min_score=0.5)
    def with_args():
        return jsonify(ok=True)


@pytest.fixture
def app(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    _routes(app)
    return app


def test_token_in_form_field(app):
    response = app.test_client().post("/bare", data={"captcha-token": solve(app)})
    assert response.status_code == 200 and response.get_json()["provider"] == "selfhosted"


def test_token_in_json_body_and_header(app):
    client = app.test_client()
    assert client.post("/bare", json={"captcha-token": solve(app)}).status_code == 200
    token = solve(app, action="login")  # /args expects the action; the token must carry it
    assert client.post("/args", headers={"X-Captcha-Token": token}).status_code == 200


def test_a_token_passes_once(app):
    token = solve(app)
    client = app.test_client()
    assert client.post("/bare", data={"captcha-token": token}).status_code == 200
    again = client.post("/bare", json={"captcha-token": token})
    assert again.status_code == 400
    assert again.get_json()["error_codes"] == ["token-duplicate"]


def test_noscript_pair(app, monkeypatch):
    client = app.test_client()
    (first, first_answer), (data, answer) = page_challenge(app), page_challenge(app)
    after_the_wait(monkeypatch, max(first["wait"], data["wait"]))
    ok = client.post(
        "/bare", data={"captcha-id": first["captcha_id"], "captcha-answer": first_answer}
    )
    assert ok.status_code == 200
    wrong = client.post("/bare", data={"captcha-id": data["captcha_id"], "captcha-answer": "x"})
    assert wrong.status_code == 400
    replay = client.post("/bare", data={"captcha-id": data["captcha_id"], "captcha-answer": answer})
    assert replay.status_code == 400


def test_missing_token_json_and_html_failures(app):
    client = app.test_client()
    as_json = client.post("/bare", json={})
    assert as_json.status_code == 400
    assert as_json.get_json() == {
        "detail": "Please complete the CAPTCHA.",
        "error_codes": ["missing-input-response"],
    }
    xhr = client.post("/bare", data={}, headers={"X-Requested-With": "XMLHttpRequest"})
    assert xhr.status_code == 400 and xhr.is_json
    html = client.post("/bare", data={"name": "x"}, headers={"Accept": "text/html"})
    assert html.status_code == 400 and html.mimetype == "text/html"
    assert b"Please complete the CAPTCHA." in html.data


def test_forged_token_fails(app):
    response = app.test_client().post("/bare", json={"captcha-token": "a.b.c"})
    assert response.status_code == 400
    assert response.get_json()["error_codes"] == ["token-invalid"]


def test_custom_failure_handler(make_app):
    ext = CaptchaExt()
    app = build_app(
        "handler", TESTING=True, SECRET_KEY="k" * 32, CAPTCHA_STORE_URL="memory://", ext=ext
    )

    @ext.failure_handler
    def on_fail(result):
        return jsonify(custom=True, codes=list(result.error_codes)), 418

    _routes(app)
    response = app.test_client().post("/bare", json={})
    assert response.status_code == 418 and response.get_json()["custom"] is True


def test_signals_carry_the_result(app):
    seen = []

    def record(sender, result):
        seen.append((sender.name, result.success))

    with captcha_verified.connected_to(record, app), captcha_failed.connected_to(record, app):
        client = app.test_client()
        client.post("/bare", json={"captcha-token": solve(app)})
        client.post("/bare", json={})
    assert seen == [(app.name, True), (app.name, False)]


def test_test_mode_accepts_passed(make_app):
    app = make_app(CAPTCHA_TEST_MODE=True)
    _routes(app)
    client = app.test_client()
    assert client.post("/bare", json={"captcha-token": TEST_TOKEN}).status_code == 200
    assert client.post("/bare", json={"captcha-token": "FAILED"}).status_code == 400


def test_test_mode_warns_outside_testing_and_debug(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="flask_captcha_ext"):
        build_app("prod", instance_path=tmp_path, SECRET_KEY="s" * 32, CAPTCHA_TEST_MODE=True,
                  CAPTCHA_STORE_URL="memory://")
    assert "CAPTCHA_TEST_MODE" in caplog.text


def test_disabled_skips_checks_and_renders_nothing(make_app, caplog):
    app = make_app(CAPTCHA_ENABLED=False)
    _routes(app)
    with caplog.at_level(logging.INFO, logger="flask_captcha_ext"):
        assert app.test_client().post("/bare", json={}).status_code == 200
    assert "CAPTCHA_ENABLED is False" in caplog.text
    with app.test_request_context():
        assert render_template_string("{{ captcha_widget() }}").strip() == ""


class ContactForm(FlaskForm):
    name = StringField("Name")
    captcha = CaptchaField()


def test_captcha_field_validates_on_submit(app):
    @app.route("/contact", methods=["GET", "POST"])
    def contact():
        form = ContactForm()
        if form.validate_on_submit():
            return jsonify(ok=True, name=form.name.data)
        return jsonify(ok=False, errors=form.errors), 400

    client = app.test_client()
    ok = client.post("/contact", data={"name": "Ada", "captcha-token": solve(app)})
    assert ok.get_json() == {"ok": True, "name": "Ada"}
    bad = client.post("/contact", data={"name": "Ada", "captcha-token": "nope"})
    assert bad.status_code == 400
    assert bad.get_json()["errors"]["captcha"]
    missing = client.post("/contact", data={"name": "Ada"})
    assert missing.get_json()["errors"] == {"captcha": ["Please complete the CAPTCHA."]}


def test_field_renders_the_widget(app):
    with app.test_request_context():
        form = ContactForm()
        html = str(form.captcha(theme="dark"))
    assert 'name="captcha-token"' in html and "dark" in html


def test_macro_and_global_render_the_same_widget_with_options(app):
    template = (
        '{% from "flask_captcha_ext/macros.html" import captcha_widget as w %}'
        '{{ w(nonce="n0nce", theme="dark", language="de", challenge_type="image", '
        'class_="x\\"><script>", data_test="1") }}'
    )
    with app.test_request_context():
        html = render_template_string(template)
        second = render_template_string("{{ captcha_widget() }}")
    with app.test_request_context():
        global_html = render_template_string(
            "{{ captcha_widget(nonce=make_nonce) }}", make_nonce=lambda: "callable-nonce"
        )
    assert 'nonce="n0nce"' in html and 'nonce="callable-nonce"' in global_html
    # Script and style come once per page, with the first widget.
    assert "widget.js" in html and "widget.js" not in second and "fce-widget" in second
    assert "<script>" not in html.replace("<script src", "").replace("</script>", "")
    assert "&#34;&gt;&lt;script&gt;" in html or "&quot;&gt;&lt;script&gt;" in html
    assert 'data-test="1"' in html
    assert "<noscript>" in html and 'name="captcha-answer"' in html and 'name="captcha-id"' in html


def test_bad_widget_options_fail_loudly(app):
    with app.test_request_context(), pytest.raises(ValueError):
        render_template_string('{{ captcha_widget(theme="neon") }}')


def test_csrf_protect_does_not_block_the_json_api(tmp_path):
    from flask_wtf import CSRFProtect

    from tests.helpers import own_site_key

    app = build_app("csrf", instance_path=tmp_path, init=False, SECRET_KEY="k" * 32,
                    CAPTCHA_STORE_URL="memory://")
    CSRFProtect(app)
    CaptchaExt(app)
    reply = app.test_client().post(
        "/captcha/generate", json={"site_key": own_site_key(app), "type": "pow"}
    )
    assert reply.status_code == 200


def test_lone_surrogate_token_is_a_clean_400(app):
    reply = app.test_client().post(
        "/bare", data='{"captcha-token": "a.b.\\udc80"}', content_type="application/json"
    )
    assert reply.status_code == 400


def test_noscript_answers_count_against_the_validate_limits(make_app, monkeypatch):
    app = make_app(WTF_CSRF_ENABLED=False, CAPTCHA_RATE_LIMIT_IP_VALIDATE="2/hour")
    _routes(app)
    client = app.test_client()
    pages = [page_challenge(app) for _ in range(3)]
    after_the_wait(monkeypatch, max(data["wait"] for data, _ in pages))
    statuses = []
    for data, answer in pages:
        form = {"captcha-id": data["captcha_id"], "captcha-answer": answer}
        reply = client.post("/bare", data=form, headers={"X-Requested-With": "XMLHttpRequest"})
        statuses.append(reply.status_code)
    assert statuses == [200, 200, 429]
    # The refused attempt left its challenge alone: it was not spent.
    limited = reply.get_json()
    assert limited["error_codes"] == ["rate-limited"] and "Too many" in limited["detail"]
    # The one place the tests read the state through app.extensions["captcha"], the documented
    # contract (flask_captcha_ext/state.py); everywhere else goes through get_state(app).
    assert app.extensions["captcha"].store.get("challenge:" + data["captcha_id"]) is not None


def test_page_view_challenges_stop_at_the_client_generate_limit(make_app):
    app = make_app(CAPTCHA_RATE_LIMIT_IP_GENERATE="2/hour")
    with app.test_request_context():
        pages = [render_template_string("{{ captcha_widget() }}") for _ in range(3)]
    assert ['name="captcha-id"' in page for page in pages] == [True, True, False]
    assert "fce-widget" in pages[2]  # the JavaScript widget still renders


def test_widget_renders_without_a_noscript_challenge_when_the_store_is_down(tmp_path):
    app = build_app(
        "down",
        instance_path=tmp_path,
        TESTING=True,
        SECRET_KEY="store-down-secret-0123456789abcdef",
        CAPTCHA_STORE_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    with app.test_request_context():
        html = render_template_string("{{ captcha_widget() }}")
    assert "fce-widget" in html and 'name="captcha-id"' not in html


def test_async_views_are_verified_with_verify_async(app):
    @app.post("/async")
    @captcha_protected
    async def async_view():
        return jsonify(ok=True, provider=g.captcha_result.provider)

    client = app.test_client()
    ok = client.post("/async", data={"captcha-token": solve(app)})
    assert ok.status_code == 200 and ok.get_json() == {"ok": True, "provider": "selfhosted"}
    missing = client.post("/async", json={})
    assert missing.status_code == 400
    assert missing.get_json()["error_codes"] == ["missing-input-response"]


def test_decorator_and_form_field_check_one_token_once(app):
    @app.post("/both")
    @captcha_protected
    def both():
        form = ContactForm()
        return jsonify(ok=form.validate_on_submit(), errors=form.errors)

    client = app.test_client()
    reply = client.post("/both", data={"name": "Ada", "captcha-token": solve(app)})
    assert reply.get_json() == {"ok": True, "errors": {}}
