"""The app the throughput benches serve: CaptchaExt on a given store plus a bare JSON endpoint and
a baseline image endpoint made with the `captcha` package."""

from __future__ import annotations

import base64
from typing import Any, List

from captcha.image import ImageCaptcha
from flask import Flask, jsonify, request

from flask_captcha_ext.selfhosted.image import HEIGHT, WIDTH, random_text
from flask_captcha_ext.selfhosted.service import CaptchaService
from tests.helpers import new_challenges
from tests.support import ALL_TYPES, build_app, rate_limits

SECRET = "bench-secret-0123456789abcdef0123456789"
HIGH = "100000000/hour"


def create_app(store_url: str, **config: Any) -> Flask:
    """Rate limits stay on (set too high to trip) so their store writes are part of the cost.
    Every challenge type is served (the benches validate math by default). ``POST
    /captcha-package`` is bench_image.py's baseline: what a minimal Flask view with the `captcha`
    package does (render our size and default length, base64, jsonify; it stores nothing)."""
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

    package_image = ImageCaptcha(width=WIDTH, height=HEIGHT)  # loads its fonts on first use
    length = app.config["CAPTCHA_IMAGE_LENGTH"]

    @app.post("/captcha-package")
    def captcha_package() -> Any:
        png = package_image.generate(random_text(length)).getvalue()
        return jsonify(image=base64.b64encode(png).decode("ascii"))

    return app


def validate_bodies(service: CaptchaService, kind: str, count: int) -> List[dict]:
    """``count`` new challenges of ``kind`` answered right (with the proofs of their PoW parts), as
    validate request bodies. Made by the service itself, so no rate limit or pressure applies;
    each costs two PBKDF2 derivations (the challenge, its solution learnt through the testing
    hook), about 1 ms here, which is why they are made before a timed round."""
    key = service.site_keys.own_site_key
    bodies = []
    for captcha_id, answer, proof in new_challenges(service, kind, count):
        body = {"site_key": key, "captcha_id": captcha_id, "user_input": answer}
        if proof:  # a pow challenge's answer is its proof
            body["proof"] = proof
        bodies.append(body)
    return bodies
