"""The app the throughput benches serve: CaptchaExt on a given store plus a bare JSON endpoint."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from flask_captcha_ext import CaptchaExt

SECRET = "bench-secret-0123456789abcdef0123456789"
HIGH = "100000000/hour"


def create_app(store_url: str, **config: Any) -> Flask:
    """Rate limits stay on (set too high to trip) so their store writes are part of the cost."""
    app = Flask("bench")
    app.config.update(
        {
            "SECRET_KEY": SECRET,
            "CAPTCHA_STORE_URL": store_url,
            "CAPTCHA_RATE_LIMIT_GENERATE": HIGH,
            "CAPTCHA_RATE_LIMIT_VALIDATE": HIGH,
            "CAPTCHA_RATE_LIMIT_IP_GENERATE": HIGH,
            "CAPTCHA_RATE_LIMIT_IP_VALIDATE": HIGH,
            **config,
        }
    )
    CaptchaExt(app)

    @app.post("/bare")
    def bare() -> Any:
        data = request.get_json()
        return jsonify(valid=bool(data.get("user_input")))

    return app
