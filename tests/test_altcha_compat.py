"""ALTCHA's own libraries against our endpoints, and what the ``altcha`` field must refuse.

The PyPI ``altcha`` package (2.x) is the reference solver: its v2 ``solve_challenge`` (and, with
``CAPTCHA_POW_ALGORITHM = "ALTCHA-V1"``, ``solve_challenge_v1``) solves what ``GET altcha`` and
``POST generate`` hand out, and the payload it leads to, built as the official widget builds it
(base64 JSON ``{"challenge", "solution"}``; v1: the challenge's fields and ``number``), passes
``POST validate {"site_key", "altcha"}``, ``@captcha_protected`` (form field or JSON key
``altcha``), ``CaptchaField`` and ``captcha.verify(payload)`` - once.

Everything else a client can send there (no, unknown or revoked site key; garbage, oversized,
foreign, expired, replayed or spliced payloads) gets a 4xx ``{"detail"}`` or a failed result:
never a 500 (the test client re-raises errors), never a pass.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import altcha
import pytest
from flask import Flask, jsonify
from flask_wtf import FlaskForm
from wtforms import StringField

from flask_captcha_ext import CaptchaExt, CaptchaField, captcha_protected
from flask_captcha_ext.state import get_state
from tests.support import ROOT, rate_limits

from .browser.altcha_readme import HEADING, SNIPPET
from .helpers import own_site_key

PREFIX = "/captcha"
V2_ALGORITHMS = ["PBKDF2/SHA-256", "SHA-256", "SCRYPT", "ARGON2ID"]
# The least base work there is: a Python solve stays well under a second.
FAST = {"CAPTCHA_POW_TARGET_MS": 50, **rate_limits(None)}


# -- clients: the widget's part, done by the PyPI library ----------------------------------------


def b64(data: Any) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode("ascii")


def unb64(payload: str) -> Dict[str, Any]:
    return json.loads(base64.b64decode(payload))


def solve_v2(challenge: Dict[str, Any]) -> str:
    """The payload the widget 3.x posts for a PoW v2 ``challenge``, solved by PyPI ``altcha``."""
    solution = altcha.solve_challenge(altcha.Challenge.from_dict(challenge))
    assert solution is not None, challenge
    return b64({"challenge": challenge, "solution": solution.to_dict()})


def solve_v1(challenge: Dict[str, Any]) -> str:
    """The payload the widget 2.x posts for a v1 ``challenge``, solved by PyPI ``altcha``."""
    solution = altcha.solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    assert solution is not None, challenge
    fields = ("algorithm", "challenge", "salt", "signature")
    return b64({**{k: challenge[k] for k in fields}, "number": solution.number, "took": 1})


def solve(challenge: Dict[str, Any]) -> str:
    return solve_v2(challenge) if "parameters" in challenge else solve_v1(challenge)


def challenge_id(challenge: Dict[str, Any]) -> str:
    if "parameters" in challenge:
        return challenge["parameters"]["data"]["id"]
    found = re.search(r"[?&]id=([^&]+)", challenge["salt"])
    assert found, challenge
    return found.group(1)


class ContactForm(FlaskForm):
    name = StringField("Name")
    captcha = CaptchaField()


def make(make_app: Callable[..., Flask], **config: Any) -> Flask:
    """An app with the routes a site would have: a view behind ``@captcha_protected`` and a
    Flask-WTF form with a ``CaptchaField``."""
    app = make_app(**{**FAST, "WTF_CSRF_ENABLED": False, **config})

    @app.post("/protected")
    @captcha_protected
    def protected() -> Any:
        return {"ok": True}

    @app.post("/contact")
    def contact() -> Any:
        form = ContactForm()
        if form.validate_on_submit():
            return jsonify(ok=True)
        return jsonify(ok=False, errors=form.errors), 400

    return app


def get_challenge(app: Flask, site_key: Optional[str] = None) -> Dict[str, Any]:
    response = app.test_client().get(
        PREFIX + "/altcha", query_string={"site_key": site_key or own_site_key(app)}
    )
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def generate_challenge(app: Flask) -> Dict[str, Any]:
    response = app.test_client().post(
        PREFIX + "/generate", json={"site_key": own_site_key(app), "type": "pow"}
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert challenge_id(data["challenge"]) == data["captcha_id"]
    return data["challenge"]


def validate(app: Flask, payload: Any, site_key: Optional[str] = None) -> Any:
    body = {"site_key": site_key or own_site_key(app), "altcha": payload}
    return app.test_client().post(PREFIX + "/validate", json=body)


def assert_valid(response: Any) -> str:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["valid"] is True and body["token"].count(".") == 2, body
    return body["token"]


def assert_refused(response: Any) -> None:
    """A 4xx ``{"detail"}`` or ``{"valid": false}``: never a pass."""
    body = response.get_json()
    if response.status_code == 200:
        assert body == {"valid": False}, body
    else:
        assert response.status_code in (400, 403, 413), (response.status_code, body)
        assert isinstance(body.get("detail"), str) and body["detail"], body
        assert "token" not in body


def verify(app: Flask, payload: Any) -> Any:
    with app.app_context():
        return CaptchaExt.verify(payload)


def passes_nowhere(app: Flask, payload: Any) -> None:
    """The payload fails at every door that takes an ``altcha`` payload: ``POST validate``, the
    form field and the JSON key of ``@captcha_protected``, ``captcha.verify``. ``payload`` may be
    a function making a fresh one for each door (where a payload names a live challenge, its
    first attempt spends it: the next door would only show that)."""
    make_payload = payload if callable(payload) else lambda: payload
    client = app.test_client()
    assert_refused(validate(app, make_payload()))
    value = make_payload()
    form = client.post("/protected", data={"altcha": value} if isinstance(value, str) else {})
    assert form.status_code == 400, form.get_data(as_text=True)
    as_json = client.post("/protected", json={"altcha": make_payload()})
    assert as_json.status_code == 400, as_json.get_data(as_text=True)
    assert not verify(app, make_payload()).success


# -- (c) the PyPI solver against GET altcha and POST generate --------------------------------------


@pytest.mark.parametrize("algorithm", V2_ALGORITHMS)
def test_pypi_v2_solver_solves_get_altcha(make_app, algorithm: str) -> None:
    if algorithm == "ARGON2ID" and importlib.util.find_spec("argon2") is None:
        pytest.skip("ARGON2ID needs the [argon2] extra")
    app = make(make_app, CAPTCHA_POW_ALGORITHM=algorithm)
    challenge = get_challenge(app)
    # The bare ALTCHA v2 challenge: nothing of ours around it, our id in its signed data.
    assert set(challenge) == {"parameters", "signature"}
    assert challenge["parameters"]["algorithm"] == algorithm
    assert challenge["parameters"]["data"] == {"id": challenge_id(challenge)}
    payload = solve_v2(challenge)

    token = assert_valid(validate(app, payload))
    assert_refused(validate(app, payload))  # spent
    # The token is one of ours: it passes once.
    assert verify(app, token).success
    assert not verify(app, token).success


def test_pypi_v2_solver_solves_post_generate(make_app) -> None:
    app = make(make_app)
    payload = solve_v2(generate_challenge(app))
    assert_valid(validate(app, payload))
    assert_refused(validate(app, payload))
    # The same payload also answers as ``user_input`` with the challenge's ``captcha_id``.
    challenge = generate_challenge(app)
    body = {
        "site_key": own_site_key(app),
        "captcha_id": challenge_id(challenge),
        "user_input": solve_v2(challenge),
    }
    assert_valid(app.test_client().post(PREFIX + "/validate", json=body))


@pytest.mark.parametrize("source", ["get", "generate"])
def test_pypi_v1_solver_with_altcha_v1(make_app, source: str) -> None:
    app = make(make_app, CAPTCHA_POW_ALGORITHM="ALTCHA-V1")
    challenge = get_challenge(app) if source == "get" else generate_challenge(app)
    assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    payload = solve_v1(challenge)
    assert_valid(validate(app, payload))
    assert_refused(validate(app, payload))
    # And through a form, as widget 2.x posts it.
    fresh = solve_v1(get_challenge(app))
    client = app.test_client()
    assert client.post("/protected", data={"altcha": fresh}).get_json() == {"ok": True}
    assert client.post("/protected", data={"altcha": fresh}).status_code == 400


@pytest.mark.parametrize("algorithm", ["PBKDF2/SHA-256", "ALTCHA-V1"])
def test_payload_passes_every_door_once(make_app, algorithm: str) -> None:
    """The ``altcha`` form field and JSON key of ``@captcha_protected``, ``CaptchaField`` and
    ``captcha.verify(payload)``: each passes a fresh payload, then refuses it."""
    app = make(make_app, CAPTCHA_POW_ALGORITHM=algorithm)
    client = app.test_client()
    doors: List[Callable[[str], bool]] = [
        lambda p: client.post("/protected", data={"altcha": p}).status_code == 200,
        lambda p: client.post("/protected", json={"altcha": p}).status_code == 200,
        lambda p: client.post("/contact", data={"name": "Ada", "altcha": p}).status_code == 200,
        lambda p: verify(app, p).success,
    ]
    for door in doors:
        payload = solve(get_challenge(app))
        assert door(payload)
        assert not door(payload)
        passes_nowhere(app, payload)


def test_min_work_setting_reaches_get_altcha(make_app) -> None:
    """With CAPTCHA_MIN_WORK, GET altcha issues that much work (the page cannot ask for it, as
    widget.js does), so the official widget's payload passes ``@captcha_protected``."""
    app = make(make_app, CAPTCHA_MIN_WORK=2)
    one = solve_v2(generate_challenge(app))  # work 1: what the app's minimum refuses
    assert app.test_client().post("/protected", data={"altcha": one}).status_code == 400
    payload = solve_v2(get_challenge(app))
    response = app.test_client().post("/protected", data={"altcha": payload})
    assert response.get_json() == {"ok": True}


def test_readme_shows_the_tested_snippet() -> None:
    """README.md's "Use the official ALTCHA widget" block is the code the browser test runs."""
    readme = (Path(ROOT) / "README.md").read_text(encoding="utf-8")
    if HEADING not in readme:
        pytest.skip(f"README.md has no section {HEADING!r} yet")
    assert SNIPPET in readme


# -- (d) GET altcha: refused without a usable site key ------------------------------------------


def assert_detail(response: Any, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.get_data())
    body = response.get_json()
    assert set(body) == {"detail"} and body["detail"], body


def test_get_altcha_refuses_bad_site_keys(make_app) -> None:
    app = make(make_app)
    client = app.test_client()
    keys = get_state(app).service.site_keys
    revoked_key, _, revoked = keys.create("gone")
    assert keys.revoke(revoked.id) is not None
    image_only = keys.create("images", types=("image",))[0]
    pinned = keys.create("pinned", origins=("https://good.example",))[0]
    url = PREFIX + "/altcha"

    assert_detail(client.get(url), 400)  # missing
    assert_detail(client.get(url, query_string={"site_key": ""}), 400)
    assert_detail(client.get(url, query_string={"site_key": "sk_unknown"}), 403)
    assert_detail(client.get(url, query_string={"site_key": "x" * 20_000}), 403)
    assert_detail(client.get(url + "?site_key=%00%ff%fe"), 403)
    assert_detail(client.get(url, query_string={"site_key": revoked_key}), 403)
    assert_detail(client.get(url, query_string={"site_key": image_only}), 400)
    evil = {"Origin": "https://evil.example"}
    assert_detail(client.get(url, query_string={"site_key": pinned}, headers=evil), 403)
    good = {"Origin": "https://good.example"}
    assert client.get(url, query_string={"site_key": pinned}, headers=good).status_code == 200
    post = client.post(url, json={"site_key": own_site_key(app)})
    assert_detail(post, 405)


def test_get_altcha_for_another_key_does_not_pass_for_ours(make_app) -> None:
    """A challenge issued to another site key is that key's: our own key (the forms' key)
    refuses its payload, the other key takes it."""
    app = make(make_app)
    other = get_state(app).service.site_keys.create("other")[0]
    passes_nowhere(app, lambda: solve_v2(get_challenge(app, other)))
    assert_valid(validate(app, solve_v2(get_challenge(app, other)), site_key=other))


# -- (d) the altcha field: garbage, foreign, expired, replayed, spliced --------------------------

SOLUTION = {"counter": 1, "derivedKey": "00" * 32}


def garbage() -> List[Any]:
    """Payloads that are not solutions of one of our challenges; a function of ``live`` (a fresh
    challenge of ours, unsolved) for those that name one."""
    with_live: List[Callable[[Dict[str, Any]], Any]] = [
        lambda live: b64({**live, "solution": SOLUTION}),
        lambda live: b64({"challenge": live, "solution": SOLUTION}),
        lambda live: b64({"challenge": live, "solution": {"counter": 10**400, "derivedKey": "a"}}),
        lambda live: b64({"challenge": live, "solution": {"counter": -1, "derivedKey": "zz"}}),
        lambda live: b64({"challenge": live, "solution": {"counter": 1.5, "derivedKey": "00"}}),
        lambda live: b64({"challenge": live, "solution": {"counter": True, "derivedKey": "0"}}),
        lambda live: b64({"challenge": live, "solution": {"counter": 1, "derivedKey": None}}),
        lambda live: b64({"challenge": live, "solution": {"counter": 1, "derivedKey": "0" * 300}}),
        lambda live: b64({"challenge": live, "solution": [1, 2]}),
        lambda live: b64({"challenge": live}),
        lambda live: b64({"challenge": live, "solution": SOLUTION, "pad": "x" * 4_000}),
        lambda live: challenge_id(live),
        lambda live: {"challenge": live, "solution": SOLUTION},
    ]
    constant: List[Any] = [
        "",
        " ",
        "not base64!!",
        "====",
        base64.b64encode(b"\xff\xfe\x00").decode(),
        b64("just a string"),
        b64([1, 2, 3]),
        b64(None),
        b64({}),
        base64.b64encode(b"[" * 50_000).decode()[:3000],
        base64.b64encode(b'{"a":' * 2_000 + b"1" + b"}" * 2_000).decode(),
        b64({"challenge": None, "solution": None, "test": True}),  # widget 3.x test mode
        b64({"challenge": {"parameters": {"data": {"id": "nope"}}}, "solution": SOLUTION}),
        b64({"challenge": {"parameters": {"data": {"id": 12345}}}, "solution": SOLUTION}),
        b64({"challenge": {"parameters": {"data": {"id": "x" * 65}}}, "solution": SOLUTION}),
        b64({"challenge": {"parameters": {"data": {"id": ["a"]}}}, "solution": SOLUTION}),
        b64({"challenge": {"parameters": "x"}, "solution": SOLUTION}),
        b64({"salt": "abc?id=&expires=1", "number": 1}),
        b64({"salt": 7, "number": 1}),
        "A" * 100_000,  # over the JSON body limit (413) and any field's
        123,
        12.5,
        True,
        None,
        [],
        ["x"],
    ]
    return constant + with_live


@pytest.mark.parametrize("algorithm", ["PBKDF2/SHA-256", "ALTCHA-V1"])
def test_garbage_payloads_fail_everywhere(make_app, algorithm: str) -> None:
    app = make(make_app, CAPTCHA_POW_ALGORITHM=algorithm)
    for payload in garbage():
        if callable(payload):
            passes_nowhere(app, lambda payload=payload: payload(get_challenge(app)))
        else:
            passes_nowhere(app, payload)
    # Nothing above was a pass, and none of it broke the next visitor's pass.
    assert_valid(validate(app, solve(get_challenge(app))))


def test_garbage_v1_payloads_fail(make_app) -> None:
    app = make(make_app, CAPTCHA_POW_ALGORITHM="ALTCHA-V1")

    def with_number(number: Any, **changes: Any) -> Callable[[], str]:
        def make_payload() -> str:
            live = get_challenge(app)
            fields = {k: live[k] for k in ("algorithm", "challenge", "salt", "signature")}
            return b64({**fields, "number": number, **changes})

        return make_payload

    for number in (-1, 10**400, 10**9, 1.5, True, None, "1", [1]):
        passes_nowhere(app, with_number(number))
    passes_nowhere(app, with_number(1, algorithm="SHA-1"))
    passes_nowhere(app, with_number(1, signature="00" * 32))


def test_payload_of_a_foreign_challenge_fails(make_app) -> None:
    """A challenge signed with another secret (another deployment, or a client making its own
    with the PyPI library and naming one of our live ids) fails, solved as it may be."""
    app = make(make_app)
    other = make(
        make_app, SECRET_KEY="another-deployment-secret-0123456789", CAPTCHA_STORE_URL="memory://"
    )
    passes_nowhere(app, lambda: solve_v2(get_challenge(other)))

    def forged_v2() -> str:
        made = altcha.create_challenge(
            "PBKDF2/SHA-256",
            2_000,
            counter=3,
            data={"id": challenge_id(get_challenge(app))},  # one of our live challenges
            hmac_secret="attacker-secret",
            hmac_key_secret="attacker-key-secret",
        )
        return solve_v2(made.to_dict())

    passes_nowhere(app, forged_v2)

    app1 = make(make_app, CAPTCHA_POW_ALGORITHM="ALTCHA-V1")

    def forged_v1() -> str:
        made = altcha.create_challenge_v1(
            altcha.ChallengeOptionsV1(
                algorithm="SHA-256",
                max_number=10,
                hmac_key="attacker",
                params={"id": challenge_id(get_challenge(app1))},
            )
        )
        fields = ("algorithm", "challenge", "salt", "signature")
        return solve_v1({**{k: getattr(made, k) for k in fields}, "maxnumber": made.max_number})

    passes_nowhere(app1, forged_v1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Move the wall clock and the monotonic clock (the stores' TTLs) forward."""
    offset = [0.0]
    real_time, real_monotonic = time.time, time.monotonic
    monkeypatch.setattr(time, "time", lambda: real_time() + offset[0])
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + offset[0])

    def forward(seconds: float) -> None:
        offset[0] += seconds

    return forward


@pytest.mark.parametrize("store", ["memory", "sqlite"])
@pytest.mark.parametrize("algorithm", ["PBKDF2/SHA-256", "ALTCHA-V1"])
def test_expired_payload_fails(make_app, clock, tmp_path, store: str, algorithm: str) -> None:
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path / 'expiry.sqlite3'}"
    app = make(make_app, CAPTCHA_STORE_URL=url, CAPTCHA_POW_ALGORITHM=algorithm)
    ttl = get_state(app).settings.challenge_ttl
    payloads = [solve(get_challenge(app)) for _ in range(5)]
    clock(ttl - 5)
    assert_valid(validate(app, payloads.pop()))  # still in time
    clock(10)
    passes_nowhere(app, iter(payloads).__next__)


@pytest.mark.parametrize("algorithm", ["PBKDF2/SHA-256", "ALTCHA-V1"])
def test_spliced_payload_fails_and_leaves_the_other_challenge(make_app, algorithm: str) -> None:
    """A payload naming challenge A (``data.id``; v1: the salt's ``id``) with the solution of
    challenge B fails; B, never attempted, still takes its own payload."""
    app = make(make_app, CAPTCHA_POW_ALGORITHM=algorithm)
    b = get_challenge(app)
    pb = unb64(solve(b))

    def splices(a: Dict[str, Any]) -> List[Dict[str, Any]]:
        pa = unb64(solve(a))
        if algorithm == "ALTCHA-V1":
            return [
                {**pa, "number": pb["number"]},  # A's fields, B's number
                {**pb, "salt": pa["salt"]},  # B's everything, A's salt (so A's id)
                {**pb, "salt": pb["salt"].replace(challenge_id(b), challenge_id(a))},
            ]
        b_named_a = json.loads(json.dumps(b))
        b_named_a["parameters"]["data"]["id"] = challenge_id(a)
        return [
            {"challenge": a, "solution": pb["solution"]},  # A, with B's solution
            {"challenge": b_named_a, "solution": pb["solution"]},  # B relabelled as A
        ]

    for index in range(len(splices(get_challenge(app)))):
        passes_nowhere(app, lambda index=index: b64(splices(get_challenge(app))[index]))
    assert_valid(validate(app, b64(pb)))  # B was never attempted


def test_tampered_payload_fails(make_app) -> None:
    app = make(make_app)

    def tampered() -> str:
        data = unb64(solve_v2(get_challenge(app)))
        key = data["solution"]["derivedKey"]
        data["solution"]["derivedKey"] = key[:-1] + ("0" if key[-1] != "0" else "1")
        return b64(data)

    passes_nowhere(app, tampered)


def test_payload_naming_an_image_challenge_fails(make_app) -> None:
    """The solved proof-of-work part of an image challenge, posted as an ``altcha`` payload
    (it names the image challenge's id), does not pass: the typed answer is missing."""
    app = make(make_app, CAPTCHA_CHALLENGE_TYPES=("pow", "image"))

    def proof_of_image() -> str:
        response = app.test_client().post(
            PREFIX + "/generate", json={"site_key": own_site_key(app), "type": "image"}
        )
        image = response.get_json()
        proof = solve_v2(image["pow"])
        assert challenge_id(unb64(proof)["challenge"]) == image["captcha_id"]
        return proof

    passes_nowhere(app, proof_of_image)


def test_replayed_payload_fails_at_every_door(make_app) -> None:
    app = make(make_app)
    payload = solve_v2(get_challenge(app))
    assert app.test_client().post("/protected", data={"altcha": payload}).status_code == 200
    for _ in range(3):
        passes_nowhere(app, payload)
