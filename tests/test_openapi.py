"""The OpenAPI document: valid itself, and describing the real responses of every endpoint."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict

import altcha
import pytest
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from flask_captcha_ext.selfhosted.sitekeys import derived_key_pair
from flask_captcha_ext.state import get_state
from tests.helpers import generate, own_site_key, solve
from tests.support import ALL_TYPES, SECRET

P = "/captcha"
OWN_SECRET = derived_key_pair(SECRET.encode())[1]


@pytest.fixture
def app(make_app):
    return make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES)


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


def _resolve(doc: Dict[str, Any], obj: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in obj:
        node: Any = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def check_response(doc, path, method, response) -> Dict[str, Any]:
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


def test_the_document_is_valid_openapi_3_1(doc):
    validate_spec(doc)
    assert doc["openapi"].startswith("3.1")
    assert {P + "/generate", P + "/validate", P + "/siteverify"} <= set(doc["paths"])


def test_paths_follow_the_url_prefix(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_URL_PREFIX="/api")
    doc = app.test_client().get("/api/openapi.json").get_json()
    validate_spec(doc)
    assert {"/api/generate", "/api/validate", "/api/siteverify"} <= set(doc["paths"])


def test_every_error_status_of_the_contract_is_documented(doc):
    for name in ("generate", "validate"):
        responses = doc["paths"][f"{P}/{name}"]["post"]["responses"]
        assert {"200", "400", "403", "413", "429", "503"} <= set(responses)
    assert {"200", "413", "503"} <= set(doc["paths"][P + "/siteverify"]["post"]["responses"])


@pytest.mark.parametrize("kind", ["image", "math", "pow"])
def test_generate_200_matches(app, doc, kind):
    payload = {"site_key": own_site_key(app), "type": kind}
    check_request(doc, P + "/generate", payload)
    response = app.test_client().post(P + "/generate", json=payload)
    body = check_response(doc, P + "/generate", "post", response)
    assert body["type"] == kind


def test_the_schemas_are_strict_enough_to_fail(app, doc):
    """A response with a wrong shape is refused (the checks above can fail)."""
    schema = doc["paths"][P + "/generate"]["post"]["responses"]["200"]["content"]
    validator = _validator(doc, schema["application/json"]["schema"])
    data, _ = generate(app, "pow")
    validator.validate(data)
    for broken in (
        {**data, "answer": 1},
        {**data, "challenge": {**data["challenge"], "salt": "abc?expires=1"}},
        {k: v for k, v in data.items() if k != "expires_in"},
        {**data, "type": "math"},
    ):
        with pytest.raises(ValidationError):
            validator.validate(broken)


def test_validate_responses_match(app, doc):
    client, site_key = app.test_client(), own_site_key(app)
    data, answer = generate(app, "math")
    right = {"site_key": site_key, "captcha_id": data["captcha_id"], "user_input": answer}
    check_request(doc, P + "/validate", right)
    body = check_response(doc, P + "/validate", "post", client.post(P + "/validate", json=right))
    assert body["valid"] is True
    data, _ = generate(app, "pow")
    wrong = {"site_key": site_key, "captcha_id": data["captcha_id"], "user_input": "bm9wZQ=="}
    body = check_response(doc, P + "/validate", "post", client.post(P + "/validate", json=wrong))
    assert body == {"valid": False}
    # The pow flow end to end, with the altcha library's solver.
    data, _ = generate(app, "pow")
    ch = data["challenge"]
    number = altcha.solve_challenge_v1(
        ch["challenge"], ch["salt"], ch["algorithm"], ch["maxnumber"]
    ).number
    fields = {k: ch[k] for k in ("algorithm", "challenge", "salt", "signature")}
    fields["number"] = number
    payload = base64.b64encode(json.dumps(fields).encode()).decode()
    solved = {"site_key": site_key, "captcha_id": data["captcha_id"], "user_input": payload}
    check_request(doc, P + "/validate", solved)
    body = check_response(doc, P + "/validate", "post", client.post(P + "/validate", json=solved))
    assert body["valid"] is True


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
    cases = [
        (client.post(path, data="nope", content_type="application/json"), 400),
        (client.post(path, json={"site_key": "unknown", "type": "math", "captcha_id": "x",
                                 "user_input": "1"}), 403),
        (client.post(path, json={"site_key": bound_key, "type": "math", "captcha_id": "x",
                                 "user_input": "1"}, headers={"Origin": "https://evil.example"}),
         403),
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


def test_store_outage_503_matches(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_STORE_URL="redis://127.0.0.1:1/0")
    doc = app.test_client().get(P + "/openapi.json").get_json()
    client = app.test_client()
    payload = {"site_key": own_site_key(app), "type": "math", "captcha_id": "x", "user_input": "1"}
    for endpoint in ("generate", "validate"):
        response = client.post(f"{P}/{endpoint}", json=payload)
        assert response.status_code == 503
        check_response(doc, f"{P}/{endpoint}", "post", response)
    response = client.post(P + "/siteverify", data={"secret": "ss_x", "response": "a.b.c"})
    assert response.status_code == 503
    check_response(doc, P + "/siteverify", "post", response)


def test_siteverify_responses_match(app, doc):
    client, path = app.test_client(), P + "/siteverify"
    form = {"secret": OWN_SECRET, "response": solve(app), "remoteip": "192.0.2.1"}
    check_request(doc, path, form, "application/x-www-form-urlencoded")
    body = check_response(doc, path, "post", client.post(path, data=form))
    assert body["success"] is True
    body = check_response(doc, path, "post", client.post(path, data=form))
    assert body["error-codes"] == ["timeout-or-duplicate"]
    fresh = {"secret": OWN_SECRET, "response": solve(app)}
    check_request(doc, path, fresh)
    assert check_response(doc, path, "post", client.post(path, json=fresh))["success"] is True
    for response in (
        client.post(path, data={}),
        client.post(path, data="{", content_type="application/json"),
        client.post(path, data={"secret": "ss_bad", "response": "x"}),
    ):
        assert check_response(doc, path, "post", response)["success"] is False
    big = client.post(path, data={"secret": "x" * 20000})
    assert big.status_code == 413
    check_response(doc, path, "post", big)
