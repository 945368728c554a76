"""The OpenAPI document: valid itself, and describing the real responses of every endpoint."""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Dict

import altcha
import pytest
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from flask_captcha_ext.selfhosted.openapi import openapi_document
from flask_captcha_ext.selfhosted.pow import ALGORITHMS, V1
from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair
from flask_captcha_ext.settings import POW_ALGORITHMS, POW_LEVELS
from flask_captcha_ext.state import get_state
from flask_captcha_ext.testing import record_answers
from tests.helpers import generate, own_site_key, solve, validate_body
from tests.support import ALL_TYPES, SECRET

P = "/captcha"
OWN_SECRET = derived_key_pair(SECRET.encode())[1]
# Small work keeps the pure-Python solves quick on a busy CI machine.
FAST = {"CAPTCHA_POW_TARGET_MS": 50}
TOP = POW_LEVELS[-1][2]
JSON_NUMBER = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?"


@pytest.fixture
def app(make_app):
    return make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, **FAST)


@pytest.fixture
def doc(app) -> Dict[str, Any]:
    response = app.test_client().get(P + "/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _validator(doc: Dict[str, Any], schema: Dict[str, Any]) -> OAS31Validator:
    # "#/components/..." references resolve against the root, so carry the components along.
    return OAS31Validator(
        {**schema, "components": doc["components"]}, format_checker=OAS31Validator.FORMAT_CHECKER
    )


def _component(doc: Dict[str, Any], name: str) -> OAS31Validator:
    return _validator(doc, {"$ref": f"#/components/schemas/{name}"})


def _resolve(doc: Dict[str, Any], obj: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in obj:
        node: Any = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def check_response(doc, path, method, response) -> Any:
    """Assert that ``response`` is documented for ``path`` and matches its schema and headers."""
    operation = doc["paths"][path][method]
    documented = operation["responses"]
    assert str(response.status_code) in documented, f"{response.status_code} not documented"
    spec = _resolve(doc, documented[str(response.status_code)])
    assert response.mimetype in spec["content"], response.mimetype
    body = response.get_json()
    _validator(doc, spec["content"][response.mimetype]["schema"]).validate(body)
    for header in spec.get("headers", {}):
        assert header in response.headers, f"documented header {header} missing"
    return body


def check_request(doc, path, payload, media="application/json") -> None:
    schema = doc["paths"][path]["post"]["requestBody"]["content"][media]["schema"]
    _validator(doc, schema).validate(payload)
    # The payloads inside are described too (contentSchema): check what they decode to.
    for field in ("user_input", "proof", "altcha"):
        value = payload.get(field) if isinstance(payload, dict) else None
        if isinstance(value, str) and len(value) > 100:
            _component(doc, "AltchaPayload").validate(json.loads(base64.b64decode(value)))


def check_query(doc, path, query: Dict[str, str]) -> None:
    """Assert that ``query`` satisfies the documented query parameters of GET ``path`` (and
    names no other)."""
    parameters = doc["paths"][path]["get"]["parameters"]
    assert set(query) <= {parameter["name"] for parameter in parameters}, query
    for parameter in parameters:
        assert parameter["in"] == "query"
        name, schema = parameter["name"], _resolve(doc, parameter["schema"])
        if parameter["required"]:
            assert name in query, name
        if name in query:
            value: Any = query[name]
            if schema.get("type") == "number" and re.fullmatch(JSON_NUMBER, value):
                value = float(value)  # else it stays a string: the schema refuses it
            _validator(doc, parameter["schema"]).validate(value)


def get_altcha(app, site_key=None, query=None, **headers):
    query = {"site_key": site_key or own_site_key(app), **(query or {})}
    return app.test_client().get(P + "/altcha", query_string=query, headers=headers)


def test_the_document_is_valid_openapi_3_1(doc):
    validate_spec(doc)
    assert doc["openapi"].startswith("3.1")
    assert {P + "/generate", P + "/validate", P + "/siteverify", P + "/altcha"} <= set(doc["paths"])
    parameters = doc["paths"][P + "/altcha"]["get"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [
        ("site_key", "query", True),
        ("min_work", "query", False),
        ("action", "query", False),
    ]


def test_paths_follow_the_url_prefix(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_URL_PREFIX="/api")
    doc = app.test_client().get("/api/openapi.json").get_json()
    validate_spec(doc)
    assert {"/api/generate", "/api/validate", "/api/siteverify", "/api/altcha"} <= set(doc["paths"])


def test_every_error_status_of_the_contract_is_documented(doc):
    for name in ("generate", "validate"):
        responses = doc["paths"][f"{P}/{name}"]["post"]["responses"]
        assert {"200", "400", "403", "413", "429", "503"} <= set(responses)
    assert {"200", "413", "503"} <= set(doc["paths"][P + "/siteverify"]["post"]["responses"])
    assert {"200", "400", "403", "429", "503"} <= set(
        doc["paths"][P + "/altcha"]["get"]["responses"]
    )


def test_the_document_follows_the_apps_levels(make_app, doc):
    """min_work and work are bounded by the top multiplier of the app's CAPTCHA_POW_LEVELS."""
    schemas = doc["components"]["schemas"]
    assert schemas["GenerateRequest"]["properties"]["min_work"]["maximum"] == TOP
    assert schemas["Work"]["maximum"] == TOP
    levels = ((0, 0, 1), (8, 5_000, 4))
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_POW_LEVELS=levels, **FAST)
    small = app.test_client().get(P + "/openapi.json").get_json()
    validate_spec(small)
    assert small["components"]["schemas"]["GenerateRequest"]["properties"]["min_work"] == {
        **schemas["GenerateRequest"]["properties"]["min_work"],
        "maximum": 4,
    }
    assert small["components"]["schemas"]["Work"]["maximum"] == 4
    client, path = app.test_client(), P + "/generate"
    for min_work, status in ((4, 200), (4.5, 400), (0.5, 200)):
        payload = {"site_key": own_site_key(app), "type": "pow", "min_work": min_work}
        response = client.post(path, json=payload)
        assert response.status_code == status, response.get_json()
        check_response(small, path, "post", response)
        if status == 200:
            check_request(small, path, payload)
        else:
            with pytest.raises(ValidationError):
                check_request(small, path, payload)
    # Outside an app, the default levels.
    assert openapi_document(P)["components"]["schemas"]["Work"]["maximum"] == TOP


@pytest.mark.parametrize("kind", ["image", "math", "pow"])
def test_generate_200_matches(app, doc, kind):
    payload = {"site_key": own_site_key(app), "type": kind}
    check_request(doc, P + "/generate", payload)
    response = app.test_client().post(P + "/generate", json=payload)
    body = check_response(doc, P + "/generate", "post", response)
    assert body["type"] == kind and body["work"] == 1
    assert ("pow" in body) is (kind != "pow") and ("challenge" in body) is (kind == "pow")


def test_generate_min_work_matches(app, doc):
    client, path, site_key = app.test_client(), P + "/generate", own_site_key(app)
    for min_work in (3.5, 1, TOP, 0.25):
        payload = {"site_key": site_key, "type": "image", "min_work": min_work}
        check_request(doc, path, payload)
        body = check_response(doc, path, "post", client.post(path, json=payload))
        assert body["work"] == max(1, min_work)
    payload = {"site_key": site_key, "type": "pow", "min_work": None}  # null: none
    check_request(doc, path, payload)
    assert check_response(doc, path, "post", client.post(path, json=payload))["work"] == 1
    for min_work in (0, -1, TOP + 0.5, 10**400, float("inf"), True, "2", [2]):
        payload = {"site_key": site_key, "type": "pow", "min_work": min_work}
        response = client.post(path, json=payload)
        with pytest.raises(ValidationError):
            check_request(doc, path, payload)
        assert response.status_code == 400, (min_work, response.get_json())
        check_response(doc, path, "post", response)


def _v2_broken(challenge: Dict[str, Any]):
    """Challenges a v2 challenge ``challenge`` must not be confused with."""
    params = challenge["parameters"]
    other = "SCRYPT" if params["algorithm"] != "SCRYPT" else "PBKDF2/SHA-256"
    memory_hard = ALGORITHMS[params["algorithm"]].memory_cost is not None
    yield {**challenge, "extra": 1}
    yield {k: v for k, v in challenge.items() if k != "signature"}
    yield {**challenge, "parameters": {**params, "algorithm": other}}
    yield {**challenge, "parameters": {**params, "algorithm": "PBKDF2/SHA-512"}}
    yield {**challenge, "parameters": {**params, "cost": params["cost"] + 1}}
    yield {**challenge, "parameters": {**params, "keyPrefix": params["keyPrefix"][:-2]}}
    yield {**challenge, "parameters": {**params, "keyPrefix": params["keyPrefix"].upper()}}
    yield {**challenge, "parameters": {**params, "data": {}}}
    yield {**challenge, "parameters": {**params, "data": {"id": "x", "more": 1}}}
    yield {**challenge, "parameters": {**params, "expiresAt": str(params["expiresAt"])}}
    yield {**challenge, "parameters": {k: v for k, v in params.items() if k != "keySignature"}}
    if memory_hard:
        yield {**challenge, "parameters": {k: v for k, v in params.items() if k != "memoryCost"}}
    else:
        yield {**challenge, "parameters": {**params, "memoryCost": 8, "parallelism": 1}}


def test_the_schemas_are_strict_enough_to_fail(app, doc):
    """A response or request with a wrong shape is refused (the checks here can fail)."""
    schema = doc["paths"][P + "/generate"]["post"]["responses"]["200"]["content"]
    validator = _validator(doc, schema["application/json"]["schema"])
    data, _ = generate(app, "pow")
    validator.validate(data)
    broken = [
        {**data, "answer": 1},
        {k: v for k, v in data.items() if k != "expires_in"},
        {k: v for k, v in data.items() if k != "work"},
        {**data, "work": 0.5},
        {**data, "work": TOP * 2},
        {**data, "type": "math"},
        {**data, "pow": data["challenge"]},
    ]
    broken += [{**data, "challenge": bad} for bad in _v2_broken(data["challenge"])]
    image, _ = generate(app, "image")
    image.pop("_proof")  # the test helper's, not the server's
    validator.validate(image)
    broken += [
        {k: v for k, v in image.items() if k != "pow"},
        {**image, "challenge": image["pow"]},
    ]
    for shape in broken:
        with pytest.raises(ValidationError):
            validator.validate(shape)
    request = _component(doc, "ValidateRequest")
    site_key, captcha_id = own_site_key(app), data["captcha_id"]
    for wrong in (
        {"site_key": site_key, "captcha_id": captcha_id},  # no user_input
        {"site_key": site_key, "user_input": "x"},  # no captcha_id
        {"site_key": site_key, "captcha_id": captcha_id, "altcha": "eA=="},  # altcha ignored
        {"captcha_id": captcha_id, "user_input": "x"},
        {"site_key": site_key, "altcha": ""},
        {"site_key": site_key, "altcha": "a" * 3073},
        {"site_key": site_key, "altcha": 5},
        {"site_key": site_key, "captcha_id": captcha_id, "user_input": "x", "proof": 5},
        {"site_key": site_key, "captcha_id": captcha_id, "user_input": "x", "proof": "a" * 4097},
    ):
        with pytest.raises(ValidationError):
            request.validate(wrong)


def _generate(app, doc, kind: str):
    """POST generate for ``kind``, checked against the document: the reply, the answer and the
    proof of its pow part (image, math), as the testing hook learns them."""
    with record_answers(app) as answers:
        response = app.test_client().post(
            P + "/generate", json={"site_key": own_site_key(app), "type": kind}
        )
    data = check_response(doc, P + "/generate", "post", response)
    return data, answers[data["captcha_id"]], answers.proofs.get(data["captcha_id"])


@pytest.mark.parametrize("algorithm", POW_ALGORITHMS)
def test_each_pow_algorithm_matches_its_documented_shape(make_app, algorithm):
    """Every CAPTCHA_POW_ALGORITHM: generate (pow, image, math) and GET altcha match the
    document, each challenge matches its own algorithm's shape only, and its solution passes
    validate in every documented way (user_input, proof, altcha), each payload as documented."""
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_POW_ALGORITHM=algorithm, **FAST)
    doc = app.test_client().get(P + "/openapi.json").get_json()
    client, site_key, path = app.test_client(), own_site_key(app), P + "/validate"
    version, other = ("V1", "V2") if algorithm == V1 else ("V2", "V1")
    own_shape, other_shape = (_component(doc, f"AltchaChallenge{v}") for v in (version, other))
    challenges = []
    for kind in ("pow", "image", "math"):
        data, answer, proof = _generate(app, doc, kind)
        challenges.append(data["challenge" if kind == "pow" else "pow"])
        payload = {"site_key": site_key, "captcha_id": data["captcha_id"], "user_input": answer}
        if kind == "math":  # without the proof of its pow part, a right answer fails
            check_request(doc, path, payload)
            assert check_response(doc, path, "post", client.post(path, json=payload)) == {
                "valid": False
            }
            data, answer, proof = _generate(app, doc, kind)
            payload.update(captcha_id=data["captcha_id"], user_input=answer)
        if proof is not None:
            payload["proof"] = proof
        check_request(doc, path, payload)
        body = check_response(doc, path, "post", client.post(path, json=payload))
        assert body["valid"] is True, (kind, body)
    # GET altcha: the bare challenge; its payload alone (the official widget's) passes validate.
    query = {"site_key": site_key}
    check_query(doc, P + "/altcha", query)
    with record_answers(app) as answers:
        response = client.get(P + "/altcha", query_string=query)
    challenges.append(check_response(doc, P + "/altcha", "get", response))
    (captcha_id,) = answers
    altcha_body = {"site_key": site_key, "altcha": answers[captcha_id]}
    check_request(doc, path, altcha_body)
    body = check_response(doc, path, "post", client.post(path, json=altcha_body))
    assert body["valid"] is True
    replay = client.post(path, json=altcha_body)
    assert replay.status_code == 400
    check_response(doc, path, "post", replay)
    for challenge in challenges:
        own_shape.validate(challenge)
        with pytest.raises(ValidationError):
            other_shape.validate(challenge)
        if version == "V2":
            params = challenge["parameters"]
            assert params["algorithm"] == algorithm
            assert params["cost"] == ALGORITHMS[algorithm].cost
            broken = list(_v2_broken(challenge))
        else:
            broken = [
                {**challenge, "salt": challenge["salt"].split("&id=")[0] + "&"},
                {**challenge, "algorithm": "SHA-512"},
                {**challenge, "maxnumber": 0},
            ]
        for bad in broken:
            with pytest.raises(ValidationError):
                own_shape.validate(bad)


def test_validate_responses_match(app, doc):
    client, site_key = app.test_client(), own_site_key(app)
    data, answer = generate(app, "math")
    right = validate_body(app, data, answer)
    assert "proof" in right
    check_request(doc, P + "/validate", right)
    body = check_response(doc, P + "/validate", "post", client.post(P + "/validate", json=right))
    assert body["valid"] is True
    data, _ = generate(app, "pow")
    wrong = {"site_key": site_key, "captcha_id": data["captcha_id"], "user_input": "bm9wZQ=="}
    body = check_response(doc, P + "/validate", "post", client.post(P + "/validate", json=wrong))
    assert body == {"valid": False}
    # The pow flow end to end, with the altcha library's own v2 solver.
    data, _ = generate(app, "pow")
    solution = altcha.solve_challenge(altcha.Challenge.from_dict(data["challenge"]))
    assert solution is not None
    payload = base64.b64encode(
        json.dumps({"challenge": data["challenge"], "solution": solution.to_dict()}).encode()
    ).decode()
    solved = {"site_key": site_key, "captcha_id": data["captcha_id"], "user_input": payload}
    check_request(doc, P + "/validate", solved)
    body = check_response(doc, P + "/validate", "post", client.post(P + "/validate", json=solved))
    assert body["valid"] is True
    # The same with the official widget's field instead of captcha_id and user_input.
    challenge = check_response(doc, P + "/altcha", "get", get_altcha(app))
    solution = altcha.solve_challenge(altcha.Challenge.from_dict(challenge))
    assert solution is not None
    payload = base64.b64encode(
        json.dumps({"challenge": challenge, "solution": solution.to_dict()}).encode()
    ).decode()
    solved = {"site_key": site_key, "altcha": payload, "action": "login"}
    check_request(doc, P + "/validate", solved)
    body = check_response(doc, P + "/validate", "post", client.post(P + "/validate", json=solved))
    assert body["valid"] is True
    # An altcha field that names no challenge of ours is a 400.
    for junk in ("", "eA==", "not base64", 5):
        response = client.post(P + "/validate", json={"site_key": site_key, "altcha": junk})
        assert response.status_code == 400
        check_response(doc, P + "/validate", "post", response)


def test_min_work_and_action_reach_the_token(app, doc):
    """GET altcha's and generate's min_work and action (documented) end up in the token, as
    siteverify says (work, action), when the validate request names no action."""
    client, site_key = app.test_client(), own_site_key(app)
    query = {"site_key": site_key, "min_work": "3", "action": "login"}
    check_query(doc, P + "/altcha", query)
    with record_answers(app) as answers:
        response = client.get(P + "/altcha", query_string=query)
    check_response(doc, P + "/altcha", "get", response)
    (captcha_id,) = answers
    bodies = [{"site_key": site_key, "altcha": answers[captcha_id]}]
    generated = {"site_key": site_key, "type": "math", "min_work": 2.5, "action": "signup"}
    check_request(doc, P + "/generate", generated)
    with record_answers(app) as answers:
        data = check_response(
            doc, P + "/generate", "post", client.post(P + "/generate", json=generated)
        )
    captcha_id = data["captcha_id"]
    bodies.append(
        {
            "site_key": site_key,
            "captcha_id": captcha_id,
            "user_input": answers[captcha_id],
            "proof": answers.proofs[captcha_id],
            "action": None,
        }
    )
    for body, work, action in zip(bodies, (3, 2.5), ("login", "signup")):
        check_request(doc, P + "/validate", body)
        reply = check_response(
            doc, P + "/validate", "post", client.post(P + "/validate", json=body)
        )
        verified = client.post(
            P + "/siteverify", data={"secret": OWN_SECRET, "response": reply["token"]}
        )
        verified = check_response(doc, P + "/siteverify", "post", verified)
        assert verified["success"] and (verified["work"], verified["action"]) == (work, action)


@pytest.mark.parametrize("endpoint", ["generate", "validate"])
def test_api_errors_match(make_app, endpoint):
    app = make_app(
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES,
        CAPTCHA_RATE_LIMIT_IP_GENERATE="1/hour",
        CAPTCHA_RATE_LIMIT_IP_VALIDATE="1/hour",
    )
    doc = app.test_client().get(P + "/openapi.json").get_json()
    path = f"{P}/{endpoint}"
    client = app.test_client()
    registry = get_state(app).service.site_keys
    bound_key, _, _ = registry.create("bound", ("https://shop.example",))
    site_key = own_site_key(app)
    common = {"type": "math", "captcha_id": "x", "user_input": "1"}
    cases = [
        (client.post(path, data="nope", content_type="application/json"), 400),
        (client.post(path, json={"site_key": "unknown", **common}), 403),
        (
            client.post(
                path,
                json={"site_key": bound_key, **common},
                headers={"Origin": "https://evil.example"},
            ),
            403,
        ),
        (client.post(path, data="x" * 20000, content_type="application/json"), 413),
    ]
    valid = {"site_key": site_key, "type": "math", "captcha_id": "unknown", "user_input": "1"}
    first = client.post(path, json=valid)
    cases.append((first, 200 if endpoint == "generate" else 400))
    cases.append((client.post(path, json=valid), 429))
    for response, status in cases:
        assert response.status_code == status, (status, response.get_json())
        body = check_response(doc, path, "post", response)
        assert body["detail"] if status != 200 else body


def test_altcha_errors_match(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_RATE_LIMIT_IP_GENERATE="1/hour")
    doc = app.test_client().get(P + "/openapi.json").get_json()
    client, path = app.test_client(), P + "/altcha"
    registry = get_state(app).service.site_keys
    bound_key, _, _ = registry.create("bound", ("https://shop.example",))
    image_only, _, _ = registry.create("image only", types=("image",))
    cases = [
        (client.get(path), 400),  # no site_key
        (client.get(path, query_string={"site_key": ""}), 400),
        (get_altcha(app, image_only), 400),  # the key may not have pow
        (get_altcha(app, "unknown"), 403),
        (get_altcha(app, bound_key, Origin="https://evil.example"), 403),
    ]
    for query in (
        {"min_work": "abc"},
        {"min_work": "0"},
        {"min_work": "-1"},
        {"min_work": "nan"},
        {"min_work": "inf"},
        {"min_work": str(TOP + 1)},
        {"action": "not an action"},
        {"action": ""},
        {"action": "a" * 65},
    ):
        with pytest.raises(ValidationError):
            check_query(doc, path, {"site_key": "x", **query})
        cases.append((get_altcha(app, query=query), 400))
    cases += [(get_altcha(app), 200), (get_altcha(app), 429)]
    for response, status in cases:
        assert response.status_code == status, (status, response.get_json())
        body = check_response(doc, path, "get", response)
        assert body["detail"] if status != 200 else body["signature"]
        assert response.headers["Cache-Control"] == "no-store"
    assert "Retry-After" in cases[-1][0].headers
    with pytest.raises(ValidationError):
        check_query(doc, path, {"site_key": ""})
    head = client.head(path, query_string={"site_key": own_site_key(app)})
    assert head.status_code == 405 and head.headers["Allow"] == "GET"


def test_store_outage_503_matches(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_STORE_URL="redis://127.0.0.1:1/0")
    doc = app.test_client().get(P + "/openapi.json").get_json()
    client = app.test_client()
    payload = {"site_key": own_site_key(app), "type": "math", "captcha_id": "x", "user_input": "1"}
    for endpoint in ("generate", "validate"):
        response = client.post(f"{P}/{endpoint}", json=payload)
        assert response.status_code == 503
        check_response(doc, f"{P}/{endpoint}", "post", response)
    response = get_altcha(app)
    assert response.status_code == 503
    check_response(doc, P + "/altcha", "get", response)
    response = client.post(P + "/siteverify", data={"secret": "ss_x", "response": "a.b.c"})
    assert response.status_code == 503
    check_response(doc, P + "/siteverify", "post", response)


def test_siteverify_responses_match(app, doc):
    client, path = app.test_client(), P + "/siteverify"
    form = {"secret": OWN_SECRET, "response": solve(app), "remoteip": "192.0.2.1"}
    check_request(doc, path, form, "application/x-www-form-urlencoded")
    body = check_response(doc, path, "post", client.post(path, data=form))
    assert body["success"] is True and body["work"] == 1
    body = check_response(doc, path, "post", client.post(path, data=form))
    assert body["error-codes"] == ["timeout-or-duplicate"] and body["work"] is None
    fresh = {"secret": OWN_SECRET, "response": solve(app, "image")}
    check_request(doc, path, fresh)
    body = check_response(doc, path, "post", client.post(path, json=fresh))
    assert body["success"] is True and body["challenge_type"] == "image"
    for response in (
        client.post(path, data={}),
        client.post(path, data="{", content_type="application/json"),
        client.post(path, data={"secret": "ss_bad", "response": "x"}),
    ):
        assert check_response(doc, path, "post", response)["success"] is False
    big = client.post(path, data={"secret": "x" * 20000})
    assert big.status_code == 413
    check_response(doc, path, "post", big)
