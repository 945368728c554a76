"""A test app served in its own process, for tests that span several processes.

Run as ``python -m tests.live_app STORE_URL PORT``. It exposes, for tests only, the answers of the
challenges it generated (``GET /_answers/<captcha_id>``) and a protected endpoint.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Any

from flask import Flask, abort, g, jsonify

from flask_captcha_ext import CaptchaExt, captcha_protected
from flask_captcha_ext.testing import record_answers

SECRET = "multi-process-shared-secret-0123456789"


def create_test_app(store_url: str, **config: Any) -> Flask:
    app = Flask("live_test_app")
    app.config.update(
        TESTING=True,
        SECRET_KEY=SECRET,
        CAPTCHA_STORE_URL=store_url,
        CAPTCHA_RATE_LIMIT_GENERATE="100000/hour",
        CAPTCHA_RATE_LIMIT_VALIDATE="100000/hour",
        CAPTCHA_RATE_LIMIT_IP_GENERATE="100000/minute",
        CAPTCHA_RATE_LIMIT_IP_VALIDATE="100000/minute",
        **config,
    )
    CaptchaExt(app)
    stack = ExitStack()
    answers = stack.enter_context(record_answers(app))
    app.extensions["captcha_test_stack"] = stack

    @app.get("/_answers/<captcha_id>")
    def answer(captcha_id: str):
        if captcha_id not in answers:
            abort(404)
        return jsonify(answer=answers[captcha_id])

    @app.get("/_site_key")
    def site_key():
        return jsonify(site_key=app.extensions["captcha"].service.site_keys.own_site_key)

    @app.post("/protected")
    @captcha_protected
    def protected():
        return jsonify(ok=True, provider=g.captcha_result.provider)

    return app


def main() -> None:
    from werkzeug.serving import make_server

    store_url, port = sys.argv[1], int(sys.argv[2])
    server = make_server("127.0.0.1", port, create_test_app(store_url), threaded=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
