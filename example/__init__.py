"""Example site for flask-captcha-ext: ``flask --app example run``, then open http://127.0.0.1:5000.

Pages:
  /           a contact form (Flask-WTF ``FlaskForm`` with ``CaptchaField``)
  /subscribe  a page whose script posts JSON to ``POST /api/subscribe`` (``@captcha_protected``)
  /widgets    several independent widgets on one page: light, dark, auto, a math one, German
  /pow        proof of work: an invisible widget and one with a progress bar
  /demo       a live demo of the self-hosted JSON API with its documentation beside it

Works with no configuration and no network: the CAPTCHA store is SQLite in the instance folder.
Every page is served with a strict Content-Security-Policy (no inline script or style), which the
widget is built to live with.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from typing import Any, Dict, Mapping, Optional

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from flask_captcha_ext import CaptchaExt, CaptchaField, captcha_protected

log = logging.getLogger(__name__)

#: Used when SECRET_KEY is not in the environment. Fine on your laptop, never in production.
DEV_SECRET_KEY = "flask-captcha-ext-example-dev-key-not-secret"  # noqa: S105
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

captcha = CaptchaExt()


class ContactForm(FlaskForm):
    """What a visitor sends us; the CAPTCHA field renders the widget and checks it."""

    name = StringField("Your name", validators=[DataRequired(), Length(max=100)])
    email = EmailField(
        "Email address",
        validators=[DataRequired(), Regexp(EMAIL_PATTERN, message="Enter a valid email address.")],
    )
    message = TextAreaField("Message", validators=[DataRequired(), Length(max=2000)])
    captcha = CaptchaField("Security check")


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    """Build the example app; ``config`` overrides any setting (tests pass TESTING, a store...)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY") or DEV_SECRET_KEY,
        # "/api" gives the API exactly the paths of the documentation page: /api/generate ...
        CAPTCHA_URL_PREFIX="/api",
        # Math is opt-in (its question is text a script can read); the demo pages show it.
        CAPTCHA_CHALLENGE_TYPES=("pow", "image", "math"),
        EXAMPLE_CSP=True,
    )
    if config:
        app.config.update(config)
    if app.config["SECRET_KEY"] == DEV_SECRET_KEY and not (app.debug or app.testing):
        log.warning("example: SECRET_KEY is the development default; set SECRET_KEY in production")
    os.makedirs(app.instance_path, exist_ok=True)
    captcha.init_app(app)
    _register_security_headers(app)
    _register_views(app)
    return app


def _register_security_headers(app: Flask) -> None:
    @app.before_request
    def make_nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.context_processor
    def inject_nonce() -> Dict[str, Any]:
        return {"csp_nonce": g.get("csp_nonce")}

    @app.after_request
    def security_headers(response: Response) -> Response:
        if current_app.config["EXAMPLE_CSP"] and response.mimetype == "text/html":
            nonce = g.get("csp_nonce", "")
            response.headers["Content-Security-Policy"] = (
                "default-src 'none'; "
                f"script-src 'self' 'nonce-{nonce}'; "
                f"style-src 'self' 'nonce-{nonce}'; "
                "img-src 'self' data:; "
                "connect-src 'self'; "
                "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
            )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _register_views(app: Flask) -> None:
    @app.route("/", methods=["GET", "POST"])
    def contact() -> Any:
        form = ContactForm()
        if form.validate_on_submit():
            log.info("contact message from %s <%s>", form.name.data, form.email.data)
            flash(f"Thank you, {form.name.data}. Your message was sent.")
            return redirect(url_for("thanks"))
        status = 400 if form.is_submitted() else 200
        return render_template("contact.html", form=form), status

    @app.get("/thanks")
    def thanks() -> str:
        return render_template("thanks.html")

    @app.get("/subscribe")
    def subscribe_page() -> str:
        return render_template("subscribe.html")

    @app.post("/api/subscribe")
    @captcha_protected
    def api_subscribe() -> Any:
        data = request.get_json(silent=True)
        email = data.get("email") if isinstance(data, dict) else request.form.get("email")
        if not isinstance(email, str) or not _valid_email(email):
            return jsonify(detail="'email' must be an email address"), 400
        result = g.captcha_result
        return jsonify(
            subscribed=email.strip(),
            captcha={"provider": result.provider, "score": result.score},
        )

    @app.get("/widgets")
    def widgets() -> str:
        return render_template("widgets.html")

    @app.post("/widgets/check")
    @captcha_protected
    def widgets_check() -> str:
        which = request.form.get("which", "")
        return render_template("widgets_ok.html", result=g.captcha_result, which=which)

    @app.get("/pow")
    def pow_page() -> str:
        return render_template("pow.html")

    @app.get("/demo")
    def demo() -> str:
        state = app.extensions["captcha"]
        settings = state.settings
        config = app.config
        limits = [
            ("generate", "per site key", "CAPTCHA_RATE_LIMIT_GENERATE"),
            ("generate", "per client IP", "CAPTCHA_RATE_LIMIT_IP_GENERATE"),
            ("validate", "per site key", "CAPTCHA_RATE_LIMIT_VALIDATE"),
            ("validate", "per client IP", "CAPTCHA_RATE_LIMIT_IP_VALIDATE"),
        ]
        views = app.view_functions
        return render_template(
            "demo.html",
            site_key=state.service.site_keys.own_site_key,
            generate_url=url_for("captcha.generate"),
            validate_url=url_for("captcha.validate"),
            siteverify_url=(
                url_for("captcha.siteverify") if "captcha.siteverify" in views else None
            ),
            openapi_url=(url_for("captcha.openapi") if "captcha.openapi" in views else None),
            types=[kind for kind in settings.challenge_types if kind in ("image", "math")],
            all_types=settings.challenge_types,
            limits=[(ep, scope, key, config.get(key) or "no limit") for ep, scope, key in limits],
            challenge_ttl=settings.challenge_ttl,
            token_ttl=settings.token_ttl,
            max_body=settings.max_content_length,
            prefix=settings.url_prefix,
        )


def _valid_email(value: str) -> bool:
    return len(value) <= 254 and re.match(EMAIL_PATTERN, value.strip()) is not None
