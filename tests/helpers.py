"""Small helpers shared by tests: drive the self-hosted API as a client would."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import requests
from flask import Flask

from flask_captcha_ext.selfhosted import service as service_module
from flask_captcha_ext.state import get_state
from flask_captcha_ext.testing import Answers, record_answers

if TYPE_CHECKING:
    import pytest

    from flask_captcha_ext.selfhosted.service import CaptchaService


def own_site_key(app: Flask) -> str:
    return get_state(app).service.site_keys.own_site_key


def generate(
    app: Flask, kind: str = "pow", site_key: str | None = None, *, origin: str | None = None
) -> Tuple[Dict[str, Any], str]:
    """Generate a challenge over HTTP (from a page of ``origin`` when given); return the reply
    and the answer (learnt server-side). The proof of an image or math challenge's PoW part goes
    into the reply as ``"_proof"``."""
    with record_answers(app) as answers:
        response = app.test_client().post(
            _prefix(app) + "/generate",
            json={"site_key": site_key or own_site_key(app), "type": kind},
            headers={"Origin": origin} if origin else {},
        )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    if data["captcha_id"] in answers.proofs:
        data["_proof"] = answers.proofs[data["captcha_id"]]
    return data, answers[data["captcha_id"]]


def validate_body(
    app: Flask, data: Dict[str, Any], answer: Any, site_key: str | None = None
) -> Dict[str, Any]:
    """The validate request body answering the generated challenge ``data`` with ``answer``
    (with the proof of its PoW part, when it has one)."""
    body: Dict[str, Any] = {
        "site_key": site_key or own_site_key(app),
        "captcha_id": data["captcha_id"],
        "user_input": answer,
    }
    if "_proof" in data:
        body["proof"] = data["_proof"]
    return body


def new_challenges(service: CaptchaService, kind: str, count: int) -> List[Tuple[str, str, str]]:
    """``count`` new challenges of ``kind`` for the app's own key, made by ``service`` directly
    (no HTTP, no rate limits, no pressure), each as (captcha_id, answer, proof of its PoW
    part; "" for pow). Each costs two key derivations: the challenge and its solution."""
    answers = Answers()
    previous, service.answer_observer = service.answer_observer, answers.observe
    try:
        own = service.site_keys.own
        ids = [service.new_challenge(own, kind)["captcha_id"] for _ in range(count)]
    finally:
        service.answer_observer = previous
    return [(i, answers[i], answers.proofs.get(i, "")) for i in ids]


def live_validate_body(base: str, site_key: str, captcha_id: str) -> Dict[str, Any]:
    """The validate request body answering challenge ``captcha_id`` of tests/live_app.py served
    at ``base``, with the answer and proof its ``/_answers`` tell (any worker knows them)."""
    known = requests.get(
        f"{base}/_answers/{captcha_id}", timeout=5, headers={"Connection": "close"}
    ).json()
    body = {"site_key": site_key, "captcha_id": captcha_id, "user_input": known["answer"]}
    if known["proof"]:
        body["proof"] = known["proof"]
    return body


def page_challenge(
    app: Flask, kind: str = "image", client_ip: str = "127.0.0.1"
) -> Tuple[Dict[str, Any], str]:
    """A server-rendered (no-JavaScript) challenge of the app's own key, as a page view for
    ``client_ip`` makes it, and its answer (learnt server-side). It carries no proof of work but
    refuses answers sent within its ``"wait"`` seconds: see ``after_the_wait``."""
    with app.test_request_context(environ_base={"REMOTE_ADDR": client_ip}):
        with record_answers(app) as answers:
            data = get_state(app).service.new_page_challenge(kind, client_ip)
    assert data is not None, "no page challenge: generate limit or live ceiling reached"
    return data, answers[data["captcha_id"]]


def after_the_wait(monkeypatch: pytest.MonkeyPatch, wait: float) -> None:
    """Move the clock (``time.time``, as the service reads it) ``wait`` + 0.5 seconds ahead, so
    that no-JavaScript challenges issued so far may be answered; challenges issued afterwards
    wait from the moved clock. A second call moves it ahead again; monkeypatch undoes it."""
    real = time.time
    monkeypatch.setattr(service_module.time, "time", lambda: real() + wait + 0.5)


def solve(
    app: Flask, kind: str = "pow", origin: Optional[str] = None, action: Optional[str] = None
) -> str:
    """A fresh success token for the app's own site key, solved on a page of ``origin`` (its
    ``hst`` claim) for ``action`` (its ``act`` claim) when given."""
    data, answer = generate(app, kind)
    body = validate_body(app, data, answer)
    if action is not None:
        body["action"] = action
    response = app.test_client().post(
        _prefix(app) + "/validate", json=body, headers={"Origin": origin} if origin else {}
    )
    body = response.get_json()
    assert body["valid"] is True, body
    return body["token"]


def _prefix(app: Flask) -> str:
    return get_state(app).settings.url_prefix
