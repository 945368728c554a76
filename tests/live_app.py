"""A test app served in its own process(es), for tests that span several processes.

Run as ``python -m tests.live_app STORE_URL PORT`` or under gunicorn with
``'tests.live_app:create_test_app("redis://...")'``. For tests only, it keeps the answer of each
challenge it generates in the shared store, so any worker can tell it (``GET /_answers/<id>``),
names the worker process in an ``X-Worker-Pid`` header, and has a protected endpoint.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from flask import Flask, abort, g, jsonify

from flask_captcha_ext import CaptchaExt, captcha_protected

SECRET = "multi-process-shared-secret-0123456789"


def create_test_app(store_url: str, **config: Any) -> Flask:
    app = Flask("live_test_app")
    settings = {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "CAPTCHA_STORE_URL": store_url,
        "CAPTCHA_RATE_LIMIT_GENERATE": "100000/hour",
        "CAPTCHA_RATE_LIMIT_VALIDATE": "100000/hour",
        "CAPTCHA_RATE_LIMIT_IP_GENERATE": "100000/minute",
        "CAPTCHA_RATE_LIMIT_IP_VALIDATE": "100000/minute",
    }
    app.config.update({**settings, **config})
    CaptchaExt(app)
    state = app.extensions["captcha"]
    # Test-only: remember answers in the shared store so that every worker can tell them.
    state.service.answer_observer = lambda cid, answer: state.store.put(
        "test-answer:" + cid, answer, 600
    )

    @app.get("/_answers/<captcha_id>")
    def answer(captcha_id: str):
        value = state.store.get("test-answer:" + captcha_id)
        if value is None:
            abort(404)
        return jsonify(answer=value)

    @app.after_request
    def name_worker(response):
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

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
