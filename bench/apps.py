"""The app the throughput benches serve: CaptchaExt on a given store plus a bare JSON endpoint."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from tests.support import ALL_TYPES, build_app, rate_limits

SECRET = "bench-secret-0123456789abcdef0123456789"
HIGH = "100000000/hour"


def create_app(store_url: str, **config: Any) -> Flask:
    """Rate limits stay on (set too high to trip) so their store writes are part of the cost.
    Every challenge type is served (the benches validate math by default)."""
    app = build_app(
        "bench",
        config={
            "SECRET_KEY": SECRET,
            "CAPTCHA_STORE_URL": store_url,
            "CAPTCHA_CHALLENGE_TYPES": ALL_TYPES,
            **rate_limits(HIGH),
        },
        **config,
    )

    @app.post("/bare")
    def bare() -> Any:
        data = request.get_json()
        return jsonify(valid=bool(data.get("user_input")))

    return app
