"""A test app served in its own process(es), for tests that span several processes.

Run as ``python -m tests.live_app STORE_URL PORT`` or under gunicorn with
``'tests.live_app:create_test_app("redis://...")'``. For tests only, it keeps the answer of each
challenge it generates, and the proof of its PoW part, in the shared store, so any worker can tell
them (``GET /_answers/<id>``: ``{"answer", "proof"}``; tests/helpers.py ``live_validate_body``),
names the worker process in an ``X-Worker-Pid`` header, and has a protected endpoint.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from flask import Flask, abort, g, jsonify

from flask_captcha_ext import captcha_protected
from flask_captcha_ext.state import get_state
from tests.support import ALL_TYPES, build_app, make_wsgi_server, rate_limits

SECRET = "multi-process-shared-secret-0123456789"


def create_test_app(store_url: str, **config: Any) -> Flask:
    settings = {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "CAPTCHA_STORE_URL": store_url,
        "CAPTCHA_CHALLENGE_TYPES": ALL_TYPES,  # the tests answer math (quickest to learn)
        **rate_limits("100000/hour", "100000/minute"),
    }
    app = build_app("live_test_app", config=settings, **config)
    state = get_state(app)
    # Test-only: remember answers and proofs in the shared store so that every worker can tell
    # them (the proof is "" for pow, whose answer is the proof).
    state.service.answer_observer = lambda cid, answer, proof: state.store.put(
        "test-answer:" + cid, json.dumps({"answer": answer, "proof": proof}), 600
    )

    @app.get("/_answers/<captcha_id>")
    def answer(captcha_id: str):
        value = state.store.get("test-answer:" + captcha_id)
        if value is None:
            abort(404)
        return jsonify(json.loads(value))

    @app.after_request
    def name_worker(response):
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    @app.get("/_site_key")
    def site_key():
        return jsonify(site_key=get_state(app).service.site_keys.own_site_key)

    @app.post("/protected")
    @captcha_protected
    def protected():
        return jsonify(ok=True, provider=g.captcha_result.provider)

    return app


def main() -> None:
    store_url, port = sys.argv[1], int(sys.argv[2])
    server = make_wsgi_server(create_test_app(store_url), port)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
