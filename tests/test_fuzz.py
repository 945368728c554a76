"""Property-based fuzzing of every parser of client input (hypothesis).

What may come from a client: the JSON bodies of generate (``min_work`` too), validate (``proof``
and the official widget's ``altcha`` too) and siteverify (and siteverify's form, multipart and
query fields), GET altcha's query, tokens given to ``captcha.verify`` and to ``@captcha_protected``
(form, JSON, header), ALTCHA payloads (v2 and v1: to ``pow.decode_payload``,
``pow.challenge_id_of`` and ``ProofOfWork.check`` directly, and through every door), the
no-JavaScript fields ``captcha-id`` and ``captcha-answer``, any method or path under the
blueprint's prefix, and a provider's reply. The properties: no 5xx and no exception, a 4xx always
says why in ``{"detail"}``, and nothing passes unless it carries a right answer (with the work
its challenge asked for) or a fresh genuine token (each of which passes once).

CI runs a bounded number of examples (the file takes well under a minute); dig deeper by hand
with ``CAPTCHA_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from functools import cache
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple
from unittest import mock
from urllib.parse import quote_from_bytes

import jwt
import pytest
from flask import Flask, g, jsonify
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from flask_captcha_ext import CaptchaExt, captcha_protected, verification
from flask_captcha_ext.selfhosted.pow import ProofOfWork, challenge_id_of, decode_payload
from flask_captcha_ext.selfhosted.service import NOSCRIPT_WAIT_MAX, CaptchaService
from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair
from flask_captcha_ext.selfhosted.siteverify import siteverify
from flask_captcha_ext.selfhosted.tokens import ISSUER
from flask_captcha_ext.settings import POW_ALGORITHMS, POW_LEVELS, derive_secret
from flask_captcha_ext.state import get_state
from flask_captcha_ext.testing import record_answers
from tests import support

EXAMPLES = int(os.environ.get("CAPTCHA_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
SECRET = "fuzz-secret-key-0123456789abcdef0123"
OWN_KEY, OWN_SECRET = derived_key_pair(SECRET.encode())
TOKEN_KEY = derive_secret(SECRET.encode(), "token")
HIGH = "100000000/hour"
P = "/captcha"
TYPES = ("image", "math", "pow")
JSON_CT = "application/json"
TOP_WORK = POW_LEVELS[-1][2]


@pytest.fixture(scope="module", autouse=True)
def readable_falsifying_examples() -> Iterator[None]:
    """Print failing inputs again: schemathesis' pytest plugin, once loaded, blanks hypothesis'
    printer for the whole session (for its own speed), which leaves ``Falsifying example: f(x=)``.
    """
    import hypothesis.core
    from hypothesis.vendor.pretty import RepresentationPrinter

    patched = hypothesis.core.RepresentationPrinter
    hypothesis.core.RepresentationPrinter = RepresentationPrinter  # type: ignore[misc]
    yield
    hypothesis.core.RepresentationPrinter = patched  # type: ignore[misc]


# -- strategies ---------------------------------------------------------------------------------

# Strings a client may send, lone surrogates and NULs included (st.text() leaves surrogates out).
SPECIAL_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",
        "\udfff",
        "a\udc80b",
        "PASSED",
        "null",
        "x.y.z",
        "..",
        "%ff",
        "\u2212",
        "0",
        "-1",
        "1e999",
        "NaN",
        "é",
        "\U0001d518",
        OWN_KEY,
        OWN_SECRET,
    ]
)
LONG_TEXT = st.integers(4_000, 6_000).map(lambda n: "a" * n)
ANY_CHARS = st.text(st.characters(exclude_categories=()), max_size=20)
# Strings JSON allows but UTF-8 cannot encode: a lone surrogate somewhere in them.
SURROGATED = st.tuples(ANY_CHARS, st.sampled_from(["\ud800", "\udbff", "\udc80"]), ANY_CHARS).map(
    "".join
)
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40), SPECIAL_TEXT, SURROGATED, LONG_TEXT
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),
    TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(TEXT, kids, max_size=4)),
    max_leaves=12,
)
# Bodies no JSON strategy makes: too deep, too big, bad UTF-8, numbers past int's digit limit.
RAW_BODIES = st.sampled_from(
    [
        b"",
        b"{",
        b"[" * 8_000 + b"]" * 8_000,  # deep, yet under the 16 KiB limit
        b'{"a":' * 2_500 + b"1" + b"}" * 2_500,
        b'{"site_key": "\xff\xfe", "type": "math"}',
        b'{"user_input": 1' + b"1" * 5_000 + b"}",
        b'{"site_key": "' + b"a" * 20_000 + b'"}',
        b'"\\ud800"',
        b"\xef\xbb\xbf{}",
        b"\x00" * 100,
        b"secret=a&response=b",
    ]
)
CONTENT_TYPES = st.sampled_from(
    [
        JSON_CT,
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "",
    ]
)


def dumps(value: Any) -> bytes:
    """JSON with lone surrogates escaped (``\\ud800``), as a hostile client may send them."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def json_objects(fields: Dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """JSON objects that may hold each field (good values or junk) plus arbitrary extra keys."""
    optional = {name: st.one_of(strategy, JSON_VALUES) for name, strategy in fields.items()}
    return st.builds(
        lambda known, extra: {**extra, **known},
        st.fixed_dictionaries({}, optional=optional),
        st.dictionaries(TEXT, JSON_VALUES, max_size=3),
    )


def bodies(fields: Dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Request bodies: objects with the fields, any JSON, raw bytes, mangled UTF-8, odd shapes."""
    objects = json_objects(fields)
    return st.one_of(
        objects.map(dumps),
        objects.map(dumps),
        JSON_VALUES.map(dumps),
        st.binary(max_size=200),
        st.builds(
            lambda b, junk: b[:-1] + junk + b[-1:], objects.map(dumps), st.binary(max_size=4)
        ),
        RAW_BODIES,
    )


def parsed(body: bytes) -> Optional[Dict[str, Any]]:
    """What a correct server may read from ``body``: a JSON object of valid Unicode, or None."""
    try:
        data = json.loads(body)
        json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, RecursionError, UnicodeError):
        return None
    return data if isinstance(data, dict) else None


def loose(text: Any) -> str:
    """A looser normal form than any the server applies: if the server accepts an answer, this
    form of it equals this form of the right answer (whitespace, case, sign and minus sign)."""
    value = "".join(str(text).split()).upper().replace("\u2212", "-")
    return value[1:] if value.startswith("+") else value


# -- apps ---------------------------------------------------------------------------------------


def build_app(store_url: str, instance: str, **config: Any) -> Flask:
    """An app on ``store_url`` with limits too high to trip and a protected view."""
    app = support.build_app(
        "fuzz_app",
        instance_path=instance,
        TESTING=True,
        SECRET_KEY=SECRET,
        CAPTCHA_STORE_URL=store_url,
        CAPTCHA_CHALLENGE_TYPES=support.ALL_TYPES,
        **support.rate_limits(HIGH),
        **config,
    )

    @app.post("/protected")
    @captcha_protected
    def protected() -> Any:
        return jsonify(ok=True, provider=g.captcha_result.provider)

    return app


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    folder = tmp_path_factory.mktemp("fuzz")
    url = support.store_url_for(request.param, folder, filename="fuzz.sqlite3")
    return build_app(url, str(folder))


@pytest.fixture(scope="module", params=["memory", "sqlite", "redis"])
def any_store_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Flask:
    folder = tmp_path_factory.mktemp("fuzz")
    url = support.store_url_for(
        request.param,
        folder,
        filename="fuzz.sqlite3",
        redis_url=lambda: request.getfixturevalue("redis_server").url,
    )
    return build_app(url, str(folder))


def service(app: Flask) -> CaptchaService:
    return get_state(app).service


def fresh(app: Flask, kind: str, page: bool = False) -> Tuple[str, str]:
    """A new challenge of ``kind`` for the app's own key: its id and its right answer (``page``:
    a no-JavaScript one, without proof of work; it waits, see ``after_the_wait``)."""
    return fresh_with_proof(app, kind, page)[:2]


def fresh_with_proof(app: Flask, kind: str, page: bool = False) -> Tuple[str, str, str]:
    """``fresh``, and the payload solving the challenge's pow part ("" for pow and page ones)."""
    with record_answers(app) as answers:
        made = service(app).new_challenge(service(app).site_keys.own, kind, page=page)
    captcha_id = made["captcha_id"]
    return captcha_id, answers[captcha_id], answers.proofs.get(captcha_id, "")


def after_the_wait() -> Any:
    """Within the block, the clock is past any no-JavaScript challenge's wait."""
    real = time.time
    return mock.patch("time.time", lambda: real() + NOSCRIPT_WAIT_MAX + 1)


def fresh_token(app: Flask) -> str:
    """A genuine, unspent success token of the app's own key."""
    return service(app).tokens.issue(service(app).site_keys.own.id, "math")


def assert_error(response: Any, statuses: Tuple[int, ...] = (400, 403, 404, 405, 413)) -> None:
    """A refusal: one of ``statuses``, answered as JSON ``{"detail": "<non-empty>"}``."""
    assert response.status_code in statuses, (response.status_code, response.get_data()[:300])
    body = response.get_json(silent=True)
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], (
        response.status_code,
        response.get_data()[:300],
    )


# -- generate -----------------------------------------------------------------------------------


MIN_WORKS = st.one_of(
    st.floats(0, TOP_WORK, exclude_min=True),
    st.integers(1, int(TOP_WORK)),
    st.sampled_from([0, -1, TOP_WORK, TOP_WORK + 1e-9, 10**400, 5e-324, True, False, "2", None]),
    st.floats(),
    JSON_VALUES,
)


def min_work_ok(value: Any) -> bool:
    """Whether generate must accept ``value`` as min_work (absent or null: none)."""
    if value is None:
        return True
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and 0 < value <= TOP_WORK


ACTIONS = st.one_of(
    st.sampled_from(["login", "a/b.c-d_e", "a" * 64, "a" * 65, "", "x y", "\u00e9", None]),
    TEXT,
)


def action_ok(value: Any) -> bool:
    """Whether a widget may name ``value`` as its action (absent or null: none)."""
    return value is None or (
        isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_./-]{1,64}", value) is not None
    )


@FUZZ
@given(
    body=bodies(
        {
            "site_key": st.just(OWN_KEY),
            "type": st.sampled_from(TYPES),
            "min_work": MIN_WORKS,
            "action": ACTIONS,
        }
    ),
    content_type=CONTENT_TYPES,
)
@example(body=dumps({"site_key": OWN_KEY, "type": "pow", "min_work": 10**400}), content_type="")
@example(
    body=b'{"site_key": "%s", "type": "pow", "min_work": NaN}' % OWN_KEY.encode(),
    content_type=JSON_CT,
)
def test_generate_answers_a_challenge_or_a_4xx_for_any_body(
    app: Flask, body: bytes, content_type: str
) -> None:
    response = app.test_client().post(P + "/generate", data=body, content_type=content_type)
    data = parsed(body) if len(body) <= 16 * 1024 else None
    ok = data is not None and data.get("site_key") == OWN_KEY and data.get("type") in TYPES
    if not ok or not min_work_ok(data.get("min_work")) or not action_ok(data.get("action")):
        assert_error(response)
        return
    assert response.status_code == 200, response.get_data()[:300]
    reply = response.get_json()
    assert reply["type"] == data["type"] and reply["expires_in"] > 0
    assert 1 <= reply["work"] <= TOP_WORK and reply["work"] >= (data.get("min_work") or 0)
    kind = data["type"]
    extra = {
        "pow": ["challenge"],
        "image": ["image", "length", "pow"],
        "math": ["question", "pow"],
    }[kind]
    assert set(reply) == {"captcha_id", "type", "work", "expires_in", *extra}
    challenge = reply["challenge" if kind == "pow" else "pow"]
    assert challenge["parameters"]["data"] == {"id": reply["captcha_id"]}


# -- validate -----------------------------------------------------------------------------------


def right_variants(kind: str, answer: str) -> st.SearchStrategy:
    """Ways of sending the right answer that the service must accept."""
    if kind == "pow":
        return st.just(answer)
    variants = [answer, f" {answer} ", f"\t{answer}\n"]
    if kind == "math":
        variants += [int(answer), f"+{answer}" if not answer.startswith("-") else answer]
        variants.append(answer.replace("-", "\u2212"))
    else:
        variants += [answer.lower(), " ".join(answer)]
    return st.sampled_from(variants)


@FUZZ
@given(data=st.data(), kind=st.sampled_from(TYPES), content_type=CONTENT_TYPES)
def test_validate_passes_right_answers_only(
    app: Flask, data: st.DataObject, kind: str, content_type: str
) -> None:
    captcha_id, answer, proof = fresh_with_proof(app, kind)
    _, _, other_proof = fresh_with_proof(app, "math")  # another challenge's: never the proof
    use_real_id = data.draw(st.booleans(), label="real id")
    right = data.draw(st.booleans(), label="right answer")
    right_proof = data.draw(st.booleans(), label="right proof")
    proofs = payloads(proof or other_proof, other_proof)
    fields: Dict[str, st.SearchStrategy] = {
        "site_key": st.just(OWN_KEY),
        "captcha_id": st.just(captcha_id) if use_real_id else TEXT,
        "user_input": right_variants(kind, answer) if right else st.one_of(TEXT, st.integers()),
        "proof": st.just(proof) if right_proof and proof else st.one_of(proofs, st.none()),
    }
    clean = data.draw(st.booleans(), label="clean body")
    if clean:
        body = dumps({name: data.draw(strategy, label=name) for name, strategy in fields.items()})
        content_type = JSON_CT
    else:
        body = data.draw(bodies(fields), label="body")
    response = app.test_client().post(P + "/validate", data=body, content_type=content_type)
    if response.status_code != 200:
        assert_error(response)
        return
    sent = parsed(body)
    assert sent is not None and sent["site_key"] == OWN_KEY
    reply = response.get_json()
    if reply["valid"] is True:
        assert sent["captcha_id"] == captcha_id, "a pass for a challenge that was not issued"
        if kind == "pow":
            assert same_solution(sent["user_input"], answer)
        else:
            assert loose(sent["user_input"]) == loose(answer), (sent["user_input"], answer)
            assert same_solution(sent.get("proof"), proof), "a pass without the work"
        assert set(reply) == {"valid", "token"}
        with app.app_context():
            assert verification.verify(reply["token"]).success
    else:
        assert reply == {"valid": False}
        worked = kind == "pow" or (right_proof and proof)
        assert not (clean and use_real_id and right and worked), "a right answer was refused"
    # Whatever happened, the challenge is spent (a refused body never reached it, or it is).
    again = app.test_client().post(
        P + "/validate", json={"site_key": OWN_KEY, "captcha_id": captcha_id, "user_input": answer}
    )
    if sent.get("captcha_id") == captcha_id:
        assert_error(again, (400,))


@FUZZ
@given(data=st.data(), source=st.sampled_from(["pow", "math", "image"]), extra=JSON_VALUES)
def test_validate_passes_the_altcha_field_of_a_live_pow_challenge_only(
    app: Flask, data: st.DataObject, source: str, extra: Any
) -> None:
    """``{"site_key", "altcha"}``: the payload names its challenge. Only the right solution of a
    live pow challenge passes; an image or math challenge's pow proof never does (its question
    is unanswered), whatever it is spliced with."""
    captcha_id, answer, proof = fresh_with_proof(app, source)
    right = answer if source == "pow" else proof
    other = fresh_with_proof(app, "math")[2]
    value = data.draw(st.one_of(st.just(right), payloads(right, other)), label="altcha")
    body: Dict[str, Any] = {"site_key": OWN_KEY, "altcha": value}
    if data.draw(st.booleans(), label="more fields"):  # user_input and proof are overridden
        body.update(user_input=extra, proof=right, action="login")
    response = app.test_client().post(P + "/validate", data=dumps(body), content_type=JSON_CT)
    named = challenge_id_of(value)
    # Else a lone surrogate somewhere (400) or a body past the limit (413).
    clean = parsed(dumps(body)) is not None and len(dumps(body)) <= 16 * 1024
    if response.status_code != 200:
        assert_error(response, (400, 413))  # 413: JSON values past the body limit
        assert value != right or source != "pow" or not clean, "a right payload was refused"
        return
    assert named is not None and isinstance(value, str)
    reply = response.get_json()
    if reply["valid"] is True:
        assert source == "pow" and named == captcha_id, (source, named, captcha_id)
        assert same_solution(value, right), value
        with app.app_context():
            assert verification.verify(reply["token"]).success
    else:
        assert reply == {"valid": False}
        assert source != "pow" or value != right, "a right payload was refused"


def _query_value(value: Any) -> str:
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
    return quote_from_bytes(raw)


@FUZZ
@given(
    site_key=st.one_of(st.just(OWN_KEY), TEXT, st.binary(max_size=40)),
    min_work=st.one_of(
        st.none(),
        MIN_WORKS,
        st.sampled_from(["", " 2 ", "1e1", "1_0", "0x10", "nan", "-inf", "Infinity", "٣"]),
    ),
    action=st.one_of(st.none(), ACTIONS),
    repeat=st.booleans(),
)
def test_get_altcha_answers_a_challenge_for_our_key_and_good_parameters_only(
    app: Flask, site_key: Any, min_work: Any, action: Any, repeat: bool
) -> None:
    query = "site_key=" + _query_value(site_key)
    if min_work is not None:
        query += "&min_work=" + _query_value(min_work)
    if action is not None:
        query += "&action=" + _query_value(action)
    if repeat:  # the first of repeated parameters counts
        query += "&site_key=x" + "&min_work=-1" * (min_work is not None)
        query += "&action=%20" * (action is not None)
    response = app.test_client().get(P + "/altcha?" + query)
    try:  # the query parameter as a number, the way Python reads one
        number: Any = None if min_work is None else float(str(min_work))
    except ValueError:
        number = "not a number"
    # A query string has no null and decodes bad UTF-8 leniently: what the server may read.
    sent_action = None if action is None else str(action)
    if site_key != OWN_KEY or not min_work_ok(number) or not action_ok(sent_action):
        assert_error(response, (400, 403))
        return
    assert response.status_code == 200, (query, response.get_data()[:300])
    challenge = response.get_json()
    assert set(challenge) == {"parameters", "signature"}
    assert (
        challenge_id_of(base64.b64encode(json.dumps({"challenge": challenge}).encode()).decode())
        == challenge["parameters"]["data"]["id"]
    )


# -- siteverify ---------------------------------------------------------------------------------


def _form(fields: Dict[str, Any]) -> bytes:
    """``fields`` form-encoded, values as raw bytes (so bad UTF-8 and surrogates go through)."""
    parts = []
    for name, value in fields.items():
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
        parts.append(
            quote_from_bytes(name.encode("utf-8", "surrogatepass")) + "=" + quote_from_bytes(raw)
        )
    return "&".join(parts).encode()


def _multipart(fields: Dict[str, Any]) -> Tuple[bytes, str]:
    boundary = "fuzzboundary7MA4YWxk"
    chunks = []
    for name, value in fields.items():
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode(
                "utf-8", "surrogatepass"
            )
            + raw
            + b"\r\n"
        )
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@FUZZ
@given(data=st.data(), encoding=st.sampled_from(["json", "form", "multipart", "query", "raw"]))
def test_siteverify_passes_a_fresh_token_with_its_secret_only(
    app: Flask, data: st.DataObject, encoding: str
) -> None:
    token = fresh_token(app)
    values = {
        "secret": st.one_of(st.just(OWN_SECRET), TEXT, JSON_VALUES),
        "response": st.one_of(st.just(token), TEXT, JSON_VALUES),
        "remoteip": st.one_of(TEXT, JSON_VALUES),
    }
    client = app.test_client()
    url = P + "/siteverify"
    if encoding == "raw":
        body = data.draw(bodies(values), label="raw body")
        response = client.post(url, data=body, content_type=data.draw(CONTENT_TYPES))
        sent: Dict[str, Any] = {}
        carried = token.encode() in body
    else:
        if encoding != "json":  # form fields are bytes: bad UTF-8 goes through too
            values = {k: st.one_of(v, st.binary(max_size=20)) for k, v in values.items()}
        sent = data.draw(st.fixed_dictionaries({}, optional=values), label="fields")
        carried = sent.get("secret") == OWN_SECRET and sent.get("response") == token
        if encoding == "json":
            response = client.post(url, data=dumps(sent), content_type=JSON_CT)
        elif encoding == "form":
            response = client.post(
                url, data=_form(sent), content_type="application/x-www-form-urlencoded"
            )
        elif encoding == "multipart":
            body, content_type = _multipart(sent)
            response = client.post(url, data=body, content_type=content_type)
        else:
            response = client.post(url + "?" + _form(sent).decode())
            if "secret" in sent:  # never from the query string: URLs land in access logs
                assert_error(response, (400,))
                assert "POST body" in response.get_json()["detail"]
                return
    if response.status_code == 413:
        assert_error(response, (413,))
        return
    assert response.status_code == 200, response.get_data()[:300]
    reply = response.get_json()
    assert set(reply) == {
        "success",
        "challenge_ts",
        "hostname",
        "challenge_type",
        "action",
        "work",
        "error-codes",
    }
    assert reply["work"] is None if not reply["success"] else reply["work"] >= 1
    assert reply["success"] is (not reply["error-codes"])
    if reply["success"]:
        assert carried, sent
        replay = client.post(url, data={"secret": OWN_SECRET, "response": token})
        assert replay.get_json()["error-codes"] == ["timeout-or-duplicate"], "verified twice"
    ip = sent.get("remoteip")
    clean_ip = ip is None or (isinstance(ip, str) and parsed(dumps({"ip": ip})) is not None)
    if encoding != "raw" and carried and clean_ip:
        assert reply["success"], (sent, reply)


@FUZZ
@given(
    fields=st.one_of(
        st.none(),
        st.dictionaries(TEXT, JSON_VALUES, max_size=4),
        st.fixed_dictionaries({}, optional={"secret": TEXT, "response": TEXT, "remoteip": TEXT}),
    )
)
def test_siteverify_function_takes_any_fields(app: Flask, fields: Optional[Dict[str, Any]]) -> None:
    """The protocol function itself, for callers that parse the request their own way."""
    svc = service(app)
    with app.app_context():
        reply = siteverify(svc, fields)
    assert reply["success"] is False and reply["error-codes"]


# -- tokens: captcha.verify and @captcha_protected ---------------------------------------------


def _mutate(token: str, how: Tuple[str, int, str]) -> str:
    """``token`` changed in one place: a character, a cut, a segment dropped or added."""
    kind, where, char = how
    at = where % len(token)
    head, body, _ = token.split(".")
    return {
        "replace": token[:at] + char + token[at + 1 :],
        "cut": token[: max(at, 1)],
        "no-signature": f"{head}.{body}.",
        "two-parts": f"{head}.{body}",
        "four-parts": token + ".",
        "padded": f" {token}\n",
        "upper": token.upper(),
    }[kind]


MUTATIONS = st.tuples(
    st.sampled_from(
        [
            "replace",
            "replace",
            "replace",
            "cut",
            "no-signature",
            "two-parts",
            "four-parts",
            "padded",
            "upper",
        ]
    ),
    st.integers(0, 10_000),
    st.sampled_from("AQgw_-.=a0+/ \x00\u00e9"),
)


CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.one_of(st.just(ISSUER), JSON_VALUES),
        "sub": st.one_of(st.just(derived_key_pair(SECRET.encode())[0]), JSON_VALUES),
        "jti": st.one_of(st.text(min_size=1, max_size=8), JSON_VALUES),
        "iat": st.one_of(st.just(int(time.time())), JSON_VALUES),
        "exp": st.one_of(st.just(int(time.time()) + 3600), JSON_VALUES),
    },
)


def forged(claims: Dict[str, Any], key: bytes, alg: str) -> str:
    """A JWT with ``claims``, signed by ``key`` (or unsigned for alg none), JSON-escaped."""
    header = {"alg": alg, "typ": "JWT"}

    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(dumps(obj)).decode().rstrip("=")

    signing_input = f"{part(header)}.{part(claims)}"
    if alg == "none":
        return signing_input + "."
    import hashlib
    import hmac

    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def junk_tokens(app: Flask) -> st.SearchStrategy:
    return st.one_of(
        JSON_VALUES,
        st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
        st.builds(
            forged,
            CLAIMS,
            st.sampled_from([b"k" * 32, b"", TOKEN_KEY]),
            st.sampled_from(["HS256", "none", "HS512", "RS256"]),
        ),
        MUTATIONS.map(lambda how: _mutate(fresh_token(app), how)),
    )


class Passes:
    """Which jti values passed in each app: a token (or any encoding of it) passes once."""

    def __init__(self) -> None:
        self.jtis: Dict[int, Set[str]] = {}

    def record(self, app: Flask, token: Any) -> None:
        claims = jwt.decode(token, options={"verify_signature": False})
        seen = self.jtis.setdefault(id(app), set())
        assert claims["jti"] not in seen, f"jti {claims['jti']!r} passed twice"
        seen.add(claims["jti"])


@pytest.fixture(scope="module")
def passes() -> Iterator[Passes]:
    yield Passes()


def _genuine(app: Flask, token: Any) -> bool:
    """Whether ``token`` verifies under the app's key with the claims the service requires."""
    try:
        claims = jwt.decode(
            token,
            TOKEN_KEY,
            algorithms=["HS256"],
            issuer=ISSUER,
            audience=service(app).store.epoch().id,
            options={"require": ["iss", "aud", "sub", "jti", "iat", "exp", "typ"]},
        )
    except (jwt.InvalidTokenError, TypeError, ValueError):
        return False
    return (
        claims["sub"] == service(app).site_keys.own.id
        and isinstance(claims["jti"], str)
        and claims["typ"] in service(app).settings.challenge_types
    )


@FUZZ
@given(data=st.data())
def test_verify_passes_genuine_tokens_once_and_nothing_else(
    app: Flask, passes: Passes, data: st.DataObject
) -> None:
    token = data.draw(st.one_of(junk_tokens(app), st.just(fresh_token(app))), label="token")
    remote_ip = data.draw(st.one_of(st.none(), TEXT), label="remote_ip")
    action = data.draw(st.one_of(st.none(), TEXT), label="action")
    with app.test_request_context():
        ext = verification
        result = ext.verify(token, remote_ip, action)
        if result.success:
            assert isinstance(token, str) and _genuine(app, token), token
            passes.record(app, token)
            assert not ext.verify(token).success
        else:
            assert result.error_codes


@FUZZ
@given(
    data=st.data(),
    kind=st.sampled_from(TYPES),
    carrier=st.sampled_from(["form", "json", "header", "mixed"]),
    accept_json=st.booleans(),
)
def test_captcha_protected_passes_only_a_fresh_token_or_a_right_answer(
    any_store_app: Flask,
    passes: Passes,
    data: st.DataObject,
    kind: str,
    carrier: str,
    accept_json: bool,
) -> None:
    app = any_store_app
    token = fresh_token(app)
    captcha_id, answer, proof = fresh_with_proof(app, kind)
    pow_id, pow_answer = fresh(app, "pow")  # for the official widget's altcha field
    values = {
        "captcha-token": st.one_of(st.just(token), junk_tokens(app)),
        "captcha-id": st.one_of(st.just(captcha_id), TEXT, JSON_VALUES),
        "captcha-answer": st.one_of(
            right_variants(kind, answer), st.just(proof), TEXT, JSON_VALUES
        ),
        "altcha": st.one_of(st.just(pow_answer), payloads(pow_answer, proof or answer)),
        "g-recaptcha-response": TEXT,
    }
    fields = data.draw(st.fixed_dictionaries({}, optional=values), label="fields")
    headers = {"Accept": JSON_CT} if accept_json else {"Accept": "text/html"}
    client = app.test_client()
    if carrier == "json":
        response = client.post(
            "/protected", data=dumps(fields), content_type=JSON_CT, headers=headers
        )
    elif carrier == "header":
        value = fields.get("captcha-token", token)
        if not isinstance(value, str):
            value = json.dumps(value)
        try:
            header = value.encode("latin-1").decode("latin-1")
        except UnicodeEncodeError:
            header = value.encode("utf-8", "surrogatepass").decode("latin-1")
        assume("\n" not in header and "\r" not in header and "\x00" not in header)
        response = client.post("/protected", headers={**headers, "X-Captcha-Token": header})
        fields = {"captcha-token": header}
    else:
        form = {k: v if isinstance(v, (str, bytes)) else json.dumps(v) for k, v in fields.items()}
        if carrier == "mixed":
            body, content_type = _multipart(form)
        else:
            body, content_type = _form(form), "application/x-www-form-urlencoded"
        response = client.post("/protected", data=body, content_type=content_type, headers=headers)
    if response.status_code == 200:
        reply = response.get_json()
        assert reply == {"ok": True, "provider": "selfhosted"}
        if fields.get("captcha-token") == token or _genuine(app, fields.get("captcha-token")):
            passes.record(app, fields["captcha-token"])
        else:
            # The altcha field with a live pow challenge's payload, or the no-JS fields with one:
            # an image or math challenge has a pow part the form fields cannot prove.
            altcha, named = fields.get("altcha"), challenge_id_of(fields.get("altcha"))
            ok = same_solution(altcha, pow_answer) and named == pow_id
            if kind == "pow":
                ok = ok or (same_solution(altcha, answer) and named == captcha_id)
                sent = fields.get("captcha-answer")
                ok = ok or (fields.get("captcha-id") == captcha_id and same_solution(sent, answer))
            assert ok, (fields, kind)
        return
    assert response.status_code in (400, 503), response.get_data()[:300]
    if accept_json or carrier == "json":
        reply = response.get_json()
        assert set(reply) == {"detail", "error_codes"} and reply["detail"] and reply["error_codes"]
    else:
        assert response.mimetype == "text/html"


def right_list(kind: str, answer: str) -> List[Any]:
    """A few ways of sending the right answer that the service must accept."""
    if kind == "pow":
        return [answer, f" {answer}\n", answer]
    if kind == "math":
        return [answer, f" {answer} ", f"+{answer}"]
    return [answer, answer.lower(), " ".join(answer)]


@FUZZ
@given(
    kind=st.sampled_from(TYPES),
    page=st.booleans(),
    carrier=st.sampled_from(["json", "form", "multipart"]),
    real_id=st.booleans(),
    junk_id=st.one_of(TEXT, JSON_VALUES),
    sent_answer=st.one_of(st.tuples(st.just("right"), st.integers(0, 2)), TEXT, JSON_VALUES),
)
# Found by this test: a lone surrogate in a JSON no-JS answer, or in its id, crashed (500).
@example(kind="math", page=True, carrier="json", real_id=True, junk_id="", sent_answer="\ud800")
@example(kind="math", page=True, carrier="json", real_id=False, junk_id="\ud800", sent_answer="1")
def test_noscript_fields_pass_right_answers_only(
    any_store_app: Flask,
    kind: str,
    page: bool,
    carrier: str,
    real_id: bool,
    junk_id: Any,
    sent_answer: Any,
) -> None:
    """A no-JavaScript (page) challenge passes with its right answer after its wait; a widget's
    image or math challenge never passes there (its pow part is unproven), a pow one with its
    payload."""
    app = any_store_app
    page = page and kind != "pow"  # a page cannot compute: no page pow challenges
    captcha_id, answer = fresh(app, kind, page=page)
    if isinstance(sent_answer, tuple):
        sent_answer = right_list(kind, answer)[sent_answer[1]]
    fields = {"captcha-id": captcha_id if real_id else junk_id, "captcha-answer": sent_answer}
    client = app.test_client()
    with after_the_wait():
        if carrier == "json":
            response = client.post("/protected", data=dumps(fields), content_type=JSON_CT)
        else:
            form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
            body, content_type = (
                _multipart(form)
                if carrier == "multipart"
                else (_form(form), "application/x-www-form-urlencoded")
            )
            response = client.post(
                "/protected", data=body, content_type=content_type, headers={"Accept": JSON_CT}
            )
    if kind == "pow":
        right = same_solution(sent_answer, answer)
    else:
        right = page and loose(sent_answer) == loose(answer)
    if response.status_code == 200:
        assert real_id and right, (fields, answer, page)
        return
    assert response.status_code == 400, response.get_data()[:300]
    reply = response.get_json()
    assert set(reply) == {"detail", "error_codes"} and reply["detail"] and reply["error_codes"]
    if real_id and right and isinstance(sent_answer, str):
        pytest.fail(f"a right answer was refused: {sent_answer!r} for {answer!r}: {reply}")


# -- proof of work: ALTCHA payloads ----------------------------------------------------------


def _b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else dumps(value)
    return base64.b64encode(raw).decode()


def unb64(payload: Any) -> Any:
    """What a base64 JSON payload holds, read more loosely than the server does; None if
    nothing."""
    if not isinstance(payload, str):
        return None
    try:
        return json.loads(base64.b64decode(payload.strip()))
    except (ValueError, RecursionError):  # binascii.Error and UnicodeDecodeError included
        return None


def same_solution(sent: Any, right: str) -> bool:
    """Whether ``sent`` carries the solution of the right payload ``right``: for v2 the same
    derived key (hex; its case aside) with a uint32 counter, for v1 the same number (an int).
    A payload's copy of the challenge is not read by the server, so it does not count here.
    Whatever passes ``ProofOfWork.check`` must have this; the right payload itself passes."""
    mine, real = unb64(sent), unb64(right)
    if not isinstance(mine, dict):
        return False
    if "solution" in real:
        solution = mine.get("solution")
        if not isinstance(solution, dict):
            return False
        counter, key = solution.get("counter"), solution.get("derivedKey")
        if type(counter) is not int or not 0 <= counter < 2**32 or not isinstance(key, str):
            return False
        if not re.fullmatch(r"(?:[0-9a-fA-F]{2})*", key):  # hex, nothing else
            return False
        return bytes.fromhex(key) == bytes.fromhex(real["solution"]["derivedKey"])
    number = mine.get("number")
    return type(number) is int and number == real["number"]


Change = Callable[[Dict[str, Any], Dict[str, Any]], Any]  # (right, other) -> new value


def _const(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return strategy.map(lambda v: lambda g, o: v)


# Changes as functions of the right payload and another challenge's right payload (decoded), so
# that what hypothesis draws does not depend on the example's challenges (it replays draws when
# it shrinks). Each maps a field to its new value; DROP removes the field.
DROP: Any = object()


def _flip_at(i: int) -> Callable[[str], str]:
    return lambda k: k[:i] + ("0" if k[i] != "0" else "1") + k[i + 1 :]


def _in_solution(name: str, f: Callable[[Any], Any]) -> Change:
    return lambda g, o: {**g["solution"], name: f(g["solution"][name])}


def _of_number(f: Callable[[int], Any]) -> Change:
    return lambda g, o: f(g["number"])


NUMBER_CHANGES: List[Callable[[int], Any]] = [
    lambda n: n - 1,
    lambda n: n + 1,
    lambda n: n + 2,
    str,
    float,
    lambda n: True,
    lambda n: -1,
    lambda n: 2**32 + n,
    lambda n: 10**300,
    lambda n: None,
    lambda n: [n],
]
KEY_CHANGES: List[Callable[[str], Any]] = (
    [
        str.upper,  # the same key: may pass
        lambda k: k.replace("a", "A"),  # the same key: may pass
        lambda k: k[:-2],
        lambda k: k[:-1],
        lambda k: k + "00",
        lambda k: "0" * len(k),
        lambda k: k[1:] + k[:1],
        lambda k: " " + k,
        lambda k: k * 8,
        lambda k: "zz" + k[2:],
        lambda k: k[:32],
        lambda k: "",
        lambda k: None,
        lambda k: bytes.fromhex(k).decode("latin-1"),
    ]
    + [_flip_at(i) for i in (0, 1, 31, 32, 63)]
)
V2_CHANGES: Dict[str, List[Change]] = {
    "solution": [
        lambda g, o: o["solution"],  # another challenge's solution
        lambda g, o: DROP,
        lambda g, o: "x",
        lambda g, o: [g["solution"]],
        lambda g, o: {"counter": g["solution"]["counter"]},
        lambda g, o: {"derivedKey": g["solution"]["derivedKey"]},
        lambda g, o: {**g["solution"], "time": "NaN"},
        lambda g, o: {**g["solution"], "number": 0},
        lambda g, o: {**g["solution"], "counter": o["solution"]["counter"]},
        lambda g, o: {**g["solution"], "derivedKey": o["solution"]["derivedKey"]},
    ]
    + [_in_solution("counter", f) for f in NUMBER_CHANGES]
    + [_in_solution("derivedKey", f) for f in KEY_CHANGES],
    "challenge": [
        lambda g, o: o["challenge"],  # spliced: this solution, another challenge
        lambda g, o: {**g["challenge"], "signature": o["challenge"]["signature"]},
        lambda g, o: DROP,
        lambda g, o: None,
    ],
    "number": [lambda g, o: 0, lambda g, o: o["solution"]["counter"]],
}
V1_CHANGES: Dict[str, List[Change]] = {
    "number": [lambda g, o: o["number"], lambda g, o: DROP]
    + [_of_number(f) for f in NUMBER_CHANGES],
    "salt": [
        lambda g, o: o["salt"],
        lambda g, o: g["salt"] + "x",
        lambda g, o: g["salt"][:-1],
        lambda g, o: g["salt"] + "id=x&",
        lambda g, o: g["salt"].replace("expires=", "expires=9"),
        lambda g, o: DROP,
    ],
    "challenge": [lambda g, o: o["challenge"], lambda g, o: g["challenge"].upper()],
    "signature": [lambda g, o: o["signature"], lambda g, o: DROP],
    "algorithm": [lambda g, o: "SHA-1", lambda g, o: "SHA-512", lambda g, o: None],
    "solution": [lambda g, o: {"counter": 0, "derivedKey": "00"}],
}


def change_strategies(changes: Dict[str, List[Change]]) -> Dict[str, st.SearchStrategy]:
    """Each field's changes, or any JSON value in its place."""
    return {
        name: st.one_of(st.sampled_from(fs), _const(JSON_VALUES)) for name, fs in changes.items()
    }


def _changed(changes: Dict[str, Change], good: Dict[str, Any], other: Dict[str, Any]) -> Any:
    out = dict(good)
    for name, change in changes.items():
        value = change(good, other)
        if value is DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


# How a (changed) payload object is sent: encoded normally or oddly, padded past the limit.
ENCODINGS = st.sampled_from(
    [
        _b64,
        _b64,
        lambda d: " " + _b64(d) + "\n",  # whitespace around: stripped
        lambda d: _b64(d).rstrip("="),
        lambda d: base64.urlsafe_b64encode(dumps(d)).decode(),
        lambda d: _b64(d)[:-4],
        lambda d: _b64(d) + "AAAA",
        lambda d: "=" + _b64(d),
        lambda d: _b64(json.dumps(d, indent=2, sort_keys=True).encode()),
        lambda d: _b64({**d, "pad": "x" * 3_000}),  # past the payload limit
        lambda d: _b64([d]),
        lambda d: _b64(dumps(d).decode().replace("{", "{ ", 1).encode("utf-16")),
    ]
)
# Payloads no change of a right one makes.
JUNK_PAYLOADS = st.one_of(
    TEXT,
    JSON_VALUES,
    JSON_VALUES.map(_b64),
    st.binary(max_size=300).map(_b64),
    st.sampled_from(
        [
            _b64(b"[" * 2_000),  # under the length limit, past json's nesting limit
            _b64(b'{"a":' * 600 + b"1" + b"}" * 600),
            _b64(b'{"solution": {"counter": 1, "derivedKey": "\\ud800"}, "number": NaN}'),
            _b64(b'{"number": 1e999, "solution": Infinity}'),
            _b64(b"\xff\xfe{}"),
            _b64(b'{"challenge": {"parameters": {"data": {"id": "\\ud800"}}}}'),
            "A" * 3_073,
            "A" * 3_072,
            "====",
            "",
            " ",
        ]
    ),
)


def payloads(right: str, other: str) -> st.SearchStrategy:
    """Payloads near the right one ``right`` (fields changed, spliced with ``other``, another
    challenge's right payload, re-encoded), ``other`` itself, and junk."""
    good, foreign = unb64(right), unb64(other)
    changes = change_strategies(V2_CHANGES if "solution" in good else V1_CHANGES)
    near = st.builds(
        lambda fs, encode: encode(_changed(fs, good, foreign)),
        st.fixed_dictionaries({}, optional=changes),
        ENCODINGS,
    )
    return st.one_of(near, near, near, st.just(other), JUNK_PAYLOADS)


@cache
def issued(algorithm: str, ttl: int = 300) -> Tuple[ProofOfWork, Any, Any]:
    """A ProofOfWork of ``algorithm`` and two challenges it issued (each: public, state, answer),
    made once: check() reads but never spends, so every example may use them."""
    pow = ProofOfWork(algorithm, target_ms=50, hmac_key=b"fuzz-pow-key" * 3, ttl=ttl)
    return pow, pow.issue("id-one", 1.0, with_answer=True), pow.issue("id-two", 4.0, True)


@pytest.mark.parametrize("algorithm", POW_ALGORITHMS)
@FUZZ
@given(data=st.data())
def test_pow_check_passes_the_real_solution_only(algorithm: str, data: st.DataObject) -> None:
    pow, one, two = issued(algorithm)
    sent = data.draw(st.one_of(st.just(one.answer), payloads(one.answer, two.answer)), label="p")
    decoded = decode_payload(sent)
    passed = pow.check(one.state, sent)
    assert passed is same_solution(sent, one.answer) or (passed is False and decoded is None), sent
    if sent == one.answer or (isinstance(sent, str) and sent.strip() == one.answer):
        assert passed, "the right payload was refused"
    # Neither the other challenge's state, nor one of the other protocol version, takes it.
    assert not pow.check(two.state, sent) or same_solution(sent, two.answer)
    stranger = issued("ALTCHA-V1" if algorithm != "ALTCHA-V1" else "PBKDF2/SHA-256")[1]
    assert not pow.check(stranger.state, sent) or same_solution(sent, stranger.answer)


@pytest.mark.parametrize("algorithm", POW_ALGORITHMS)
def test_pow_check_refuses_every_single_change_of_the_solution(algorithm: str) -> None:
    """Each change of the list above, alone (the fuzzing above combines them at random): a
    payload passes exactly when it still carries the real solution."""
    pow, one, two = issued(algorithm)
    good, other = unb64(one.answer), unb64(two.answer)
    changes = V2_CHANGES if algorithm != "ALTCHA-V1" else V1_CHANGES
    for name, fs in changes.items():
        for change in fs:
            sent = _b64(_changed({name: change}, good, other))
            assert pow.check(one.state, sent) is same_solution(sent, one.answer), (name, sent)


def test_an_expired_challenge_refuses_even_its_real_solution() -> None:
    for algorithm in ("PBKDF2/SHA-256", "ALTCHA-V1"):
        pow, one, _ = issued(algorithm, ttl=-5)
        assert not pow.check(one.state, one.answer), algorithm


@FUZZ
@given(
    data=st.data(),
    algorithm=st.sampled_from(["PBKDF2/SHA-256", "ALTCHA-V1"]),
    junk=st.one_of(JUNK_PAYLOADS, st.binary(max_size=50), st.sampled_from([b"", bytearray(3)])),
)
def test_decode_payload_and_challenge_id_of_take_anything(
    data: st.DataObject, algorithm: str, junk: Any
) -> None:
    _, one, two = issued(algorithm)
    sent = data.draw(st.one_of(st.just(junk), payloads(one.answer, two.answer)), label="payload")
    decoded = decode_payload(sent)
    named = challenge_id_of(sent)
    try:  # the reference: strict base64 of UTF-8 JSON (RFC 8259), at most 3,072 characters
        assert isinstance(sent, str) and 0 < len(sent) <= 3_072
        strict = json.loads(base64.b64decode(sent.strip(), validate=True).decode("utf-8"))
    except (AssertionError, ValueError, RecursionError):
        strict = None
    assert decoded == (strict if isinstance(strict, dict) else None)
    if decoded is None:
        assert named is None
        return
    if named is not None:  # the id the payload itself names, v2 data.id or v1 salt id=
        assert isinstance(named, str) and 0 < len(named) <= 64
        params = decoded.get("challenge", {})
        v2_id = (
            params.get("parameters", {}).get("data", {}).get("id")
            if isinstance(params, dict)
            else None
        )
        v1_ids = re.findall(r"[?&]id=([^&]*)", str(decoded.get("salt", "")))
        assert named == v2_id or named in v1_ids, (named, decoded)
    if sent in (one.answer, two.answer):
        assert named == ("id-one" if sent == one.answer else "id-two")


# -- no 5xx, and JSON errors, for any method and path under the prefix -------------------------


SEGMENTS = st.one_of(
    st.sampled_from(
        [
            "generate",
            "validate",
            "siteverify",
            "openapi.json",
            "altcha",
            "altcha?site_key=x",
            f"altcha?site_key={OWN_KEY}",
            "static",
            "widget.js",
            "static/widget.js",
            "static/nope.js",
            "..",
            "%2e%2e",
            "",
            "generate/",
            "GENERATE",
            "static/../../settings.py",
        ]
    ),
    st.text("abcxyz-_.%/", max_size=12),
)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]),
    path=SEGMENTS,
    body=st.one_of(st.just(b""), JSON_VALUES.map(dumps)),
)
def test_every_refusal_under_the_prefix_is_json(
    app: Flask, method: str, path: str, body: bytes
) -> None:
    response = app.test_client().open(f"{P}/{path}", method=method, data=body, content_type=JSON_CT)
    assert response.status_code < 500, (method, path, response.status_code)
    if response.status_code >= 400 and method == "HEAD":  # same headers, no body
        assert response.mimetype == JSON_CT and response.status_code in (400, 403, 404, 405)
    elif response.status_code >= 400:
        assert_error(response, (400, 403, 404, 405, 413))
        if response.status_code == 405:
            assert response.headers.get("Allow")
    elif 300 <= response.status_code < 400:  # werkzeug's own redirects (e.g. a slash added)
        assert response.headers["Location"]


# -- JSON 404/405 on the blueprint's paths, and only there --------------------------------------


def _plain_app(
    tmp_path: Any,
    prefix: str = P,
    handler_before: bool = False,
    handler_after: bool = False,
    generic: bool = False,
) -> Flask:
    app = support.build_app(
        "user_app",
        instance_path=tmp_path,
        init=False,  # the test sets error handlers up before and after the extension
        TESTING=True,
        SECRET_KEY=SECRET,
        CAPTCHA_STORE_URL="memory://",
        CAPTCHA_URL_PREFIX=prefix,
    )

    def mine(error: Any) -> Any:
        return f"user page {error.code}", error.code

    if handler_before:
        app.register_error_handler(404, mine)
        app.register_error_handler(405, mine)
    if generic:
        from werkzeug.exceptions import HTTPException

        app.register_error_handler(HTTPException, mine)
    CaptchaExt(app)
    if handler_after:
        app.register_error_handler(404, mine)
        app.register_error_handler(405, mine)

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    return app


def test_wrong_method_and_unknown_subpath_answer_json(tmp_path: Any) -> None:
    client = _plain_app(tmp_path).test_client()
    wrong = client.get(P + "/generate")
    assert_error(wrong, (405,))
    assert "POST" in wrong.headers["Allow"]
    assert_error(client.post(P + "/nope"), (404,))
    assert_error(client.get(P), (404,))
    assert_error(client.get(P + "/static/nope.js"), (404,))
    # The rest of the app is untouched: Flask's own HTML pages.
    for response, code in (
        (client.get("/nope"), 404),
        (client.post("/hello"), 405),
        (client.get(P + "x/generate"), 404),
    ):
        assert response.status_code == code and response.mimetype == "text/html"


@pytest.mark.parametrize("order", ["before", "after", "generic"])
def test_the_apps_own_error_handlers_still_win_for_its_paths(tmp_path: Any, order: str) -> None:
    app = _plain_app(
        tmp_path,
        handler_before=order == "before",
        handler_after=order == "after",
        generic=order == "generic",
    )
    client = app.test_client()
    assert client.get("/nope").get_data(as_text=True) == "user page 404"
    assert client.post("/hello").get_data(as_text=True) == "user page 405"
    assert_error(client.get(P + "/generate"), (405,))
    assert_error(client.get(P + "/nope"), (404,))


def test_an_empty_prefix_makes_only_the_blueprints_own_paths_json(tmp_path: Any) -> None:
    client = _plain_app(tmp_path, prefix="").test_client()
    assert_error(client.get("/generate"), (405,))
    assert_error(client.get("/siteverify"), (405,))
    nope = client.get("/nope")
    assert nope.status_code == 404 and nope.mimetype == "text/html"


# -- provider replies -------------------------------------------------------------------------


@cache
def _provider(name: str) -> Any:
    from flask_captcha_ext.providers import build_provider
    from flask_captcha_ext.settings import DEFAULTS, load_settings

    config = {
        **DEFAULTS,
        "CAPTCHA_PROVIDER": name,
        "CAPTCHA_SITE_KEY": "site",
        "CAPTCHA_SECRET_KEY": "secret",
        "CAPTCHA_STORE_URL": "memory://",
        # Never contacted (only replies are fed in); self-hosted needs it to be a provider.
        "CAPTCHA_VERIFY_URL": "https://127.0.0.1:9/captcha/siteverify",
    }
    return build_provider(load_settings(config))


def _providers() -> List[str]:
    from flask_captcha_ext.providers import REGISTRY

    return sorted(REGISTRY)


def _passed_marker(name: str, data: Optional[Dict[str, Any]]) -> bool:
    """Whether a provider reply itself says the token passed (the one thing that may pass)."""
    if not isinstance(data, dict):
        return False
    if name == "trustcaptcha":
        return data.get("verificationPassed") is True
    return data.get("success") is True


PROVIDER_REPLIES = st.one_of(
    st.none(),
    st.dictionaries(TEXT, JSON_VALUES, max_size=5),
    st.fixed_dictionaries(
        {},
        optional={
            "success": st.one_of(st.booleans(), JSON_VALUES),
            "verificationPassed": st.one_of(st.booleans(), JSON_VALUES),
            "score": JSON_VALUES,
            "action": JSON_VALUES,
            "hostname": JSON_VALUES,
            "challenge_ts": st.one_of(st.just("2020-01-01T00:00:00Z"), JSON_VALUES),
            "error-codes": JSON_VALUES,
            "data": JSON_VALUES,
            "origin": JSON_VALUES,
            "gatewayFailoverActive": JSON_VALUES,
        },
    ),
)


@pytest.mark.parametrize("name", _providers())
@FUZZ
@given(
    status=st.sampled_from([200, 200, 200, 201, 400, 401, 403, 404, 412, 429, 500]),
    data=PROVIDER_REPLIES,
)
def test_provider_replies_pass_only_when_the_provider_says_so(
    name: str, status: int, data: Optional[Dict[str, Any]]
) -> None:
    from flask_captcha_ext.providers.http import Reply
    from flask_captcha_ext.result import CaptchaError, VerificationResult

    provider = _provider(name)
    token = base64.b64encode(b'{"verificationId": "abc-123"}').decode()
    call = provider.build_call(token, None)  # type: ignore[attr-defined]
    try:
        result = provider.interpret(Reply(status, data), call)  # type: ignore[attr-defined]
    except CaptchaError:
        return  # verify() turns these into failed results
    assert isinstance(result, VerificationResult)
    if result.success:
        assert status == 200 and _passed_marker(name, data), (status, data)


def test_loose_is_looser_than_the_services_own_normal_forms() -> None:
    """The oracle above is only sound if every answer the kinds accept is equal under it."""
    from flask_captcha_ext.selfhosted import image

    for text in ("ab c", " AbC\t", "a\u2003b"):
        assert loose(image.normalize_answer(text)) == loose(text)
    assert re.fullmatch(r"-?\d+", loose("\u221212"))
