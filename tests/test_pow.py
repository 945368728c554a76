"""The ``pow`` challenge: ALTCHA PoW v2 (and v1 on request) made and checked by the altcha
library, with the issued challenge kept server-side and solved by the library's own solvers."""

from __future__ import annotations

import base64
import json
import re
import threading
import time

import altcha
import pytest

from flask_captcha_ext import verification
from flask_captcha_ext.selfhosted.pow import ALGORITHMS, ProofOfWork, challenge_id_of
from flask_captcha_ext.settings import ConfigError, derive_secret
from tests.helpers import generate, own_site_key, solve
from tests.support import SECRET

GEN, VAL = "/captcha/generate", "/captcha/validate"
POW_KEY = derive_secret(SECRET.encode(), "pow")
# Small work keeps the library's pure-Python solves quick on a busy CI machine.
FAST = {"CAPTCHA_POW_TARGET_MS": 50}


@pytest.fixture
def app(make_app, store_url):
    return make_app(CAPTCHA_STORE_URL=store_url, **FAST)


def _generate(app, **extra):
    body = {"site_key": own_site_key(app), "type": "pow", **extra}
    response = app.test_client().post(GEN, json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def b64(value) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def library_solve(challenge) -> str:
    """Solve with the altcha library's own solver (v2 or v1), to the payload a widget posts."""
    if "parameters" in challenge:
        solution = altcha.solve_challenge(altcha.Challenge.from_dict(challenge))
        assert solution is not None
        return b64({"challenge": challenge, "solution": solution.to_dict()})
    found = altcha.solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    assert found is not None
    keys = ("algorithm", "challenge", "salt", "signature")
    return b64({**{k: challenge[k] for k in keys}, "number": found.number})


def _validate(app, captcha_id, user_input):
    return app.test_client().post(
        VAL,
        json={"site_key": own_site_key(app), "captcha_id": captcha_id, "user_input": user_input},
    )


def test_generate_returns_a_signed_pbkdf2_v2_challenge_naming_itself(app):
    data = _generate(app)
    assert set(data) == {"captcha_id", "type", "challenge", "work", "expires_in"}
    params = data["challenge"]["parameters"]
    assert params["algorithm"] == "PBKDF2/SHA-256"
    assert params["cost"] == ALGORITHMS["PBKDF2/SHA-256"].cost
    assert params["data"] == {"id": data["captcha_id"]}
    assert re.fullmatch(r"[0-9a-f]{32}", params["keyPrefix"])  # deterministic: half the key
    assert params["expiresAt"] > time.time()
    assert re.fullmatch(r"[0-9a-f]{64}", data["challenge"]["signature"])
    assert data["work"] == 1


def test_library_solver_and_validate_give_a_token_that_verifies_once(app):
    data = _generate(app)
    response = _validate(app, data["captcha_id"], library_solve(data["challenge"]))
    body = response.get_json()
    assert body["valid"] is True
    with app.app_context():
        result = verification.verify(body["token"])
        assert result.success and result.challenge_type == "pow" and result.work == 1.0
        assert not verification.verify(body["token"]).success


def test_a_solution_cannot_spend_another_challenge(app):
    one, other = _generate(app), _generate(app)
    payload = library_solve(one["challenge"])
    assert _validate(app, other["captcha_id"], payload).get_json() == {"valid": False}
    # The wrong attempt spent ``other``; ``one`` was never tried, so it still passes once.
    assert _validate(app, one["captcha_id"], payload).get_json()["valid"] is True


def test_a_solution_is_accepted_once(app):
    data = _generate(app)
    payload = library_solve(data["challenge"])
    assert _validate(app, data["captcha_id"], payload).get_json()["valid"] is True
    again = _validate(app, data["captcha_id"], payload)
    assert again.status_code == 400 and "already used" in again.get_json()["detail"]


def test_concurrent_submissions_of_one_solution_win_once(make_app):
    app = make_app(**FAST)
    data = _generate(app)
    payload = library_solve(data["challenge"])
    results = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            VAL,
            json={
                "site_key": own_site_key(app),
                "captcha_id": data["captcha_id"],
                "user_input": payload,
            },
        )
        results.append((response.status_code, (response.get_json() or {}).get("valid")))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [(200, True)] + [(400, None)] * 7


def test_expired_challenge_is_refused(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TTL=1, **FAST)
    data = _generate(app)
    payload = library_solve(data["challenge"])
    time.sleep(1.3)
    response = _validate(app, data["captcha_id"], payload)
    assert response.status_code == 400 and "expired" in response.get_json()["detail"]


def test_the_signed_expiry_is_checked_even_if_the_store_still_has_the_challenge():
    late = ProofOfWork("PBKDF2/SHA-256", 50, POW_KEY, ttl=-5)
    issued = late.issue("id", 1.0, with_answer=True)
    assert late.check(issued.state, issued.answer) is False
    fresh = ProofOfWork("PBKDF2/SHA-256", 50, POW_KEY, ttl=60).issue("id", 1.0, True)
    assert late.check(fresh.state, fresh.answer) is True


@pytest.mark.parametrize("algorithm", ["PBKDF2/SHA-256", "SHA-256"])
def test_the_check_agrees_with_the_library_on_right_and_wrong_solutions(algorithm):
    """``check`` verifies by the key signature without re-checking the stored challenge's own
    signature: on right keys, wrong keys, other casings and non-hex it answers as
    ``altcha.verify_solution`` does."""
    pow = ProofOfWork(algorithm, 50, POW_KEY, ttl=60)
    for number in range(8):
        issued = pow.issue(f"id{number}", 1.0, with_answer=True)
        right = json.loads(base64.b64decode(issued.answer))["solution"]
        key = right["derivedKey"]
        wrong = ("0" if key[0] != "0" else "1") + key[1:]
        odd = (key.upper(), wrong, key[:-2], key + "00", key + "0", "zz" + key[2:], "")
        for derived in (key, *odd):
            solution = {"counter": right["counter"], "derivedKey": derived}
            library = altcha.verify_solution(
                altcha.Payload(
                    altcha.Challenge.from_dict(json.loads(issued.state)),
                    altcha.Solution(solution["counter"], derived),
                ),
                pow._key,
                hmac_key_secret=pow._key_key,
            ).verified
            ours = pow.check(issued.state, b64({"challenge": {}, "solution": solution}))
            assert ours == library, (derived, ours, library)
            assert ours == (derived.lower() == key)


def test_only_the_issued_challenge_counts_never_the_clients_copy():
    """An attacker who sends a challenge of their own choosing (cost 1, an empty key prefix)
    with a matching key gains nothing: only the stored challenge and its key signature count."""
    pow = ProofOfWork("PBKDF2/SHA-256", 50, POW_KEY, ttl=60)
    issued = pow.issue("id", 1.0, with_answer=True)
    cheap = json.loads(issued.state)
    cheap["parameters"].update(cost=1, keyPrefix="")
    key = altcha.derive_key_pbkdf2(
        altcha.ChallengeParameters.from_dict(cheap["parameters"]),
        bytes.fromhex(cheap["parameters"]["salt"]),
        bytes.fromhex(cheap["parameters"]["nonce"]) + (0).to_bytes(4, "big"),
    ).hex()
    forged = b64({"challenge": cheap, "solution": {"counter": 0, "derivedKey": key}})
    assert pow.check(issued.state, forged) is False
    assert pow.check(issued.state, issued.answer) is True


def test_work_scales_the_search_and_the_wait_it_stands_for():
    pow = ProofOfWork("PBKDF2/SHA-256", 500, POW_KEY, ttl=60)
    per_derivation = ALGORITHMS["PBKDF2/SHA-256"].browser_ms
    assert pow.bound(1) / 2 * per_derivation == pytest.approx(500, rel=0.02)
    assert pow.bound(8) == pytest.approx(8 * pow.bound(1), rel=0.01)


def _junk_cases(challenge, solution):
    good = {"challenge": challenge, "solution": solution}
    return {
        "not base64": "!!!not base64!!!",
        "base64 of non-JSON": base64.b64encode(b"\xff\xfe garbage").decode(),
        "JSON list": b64([1, 2, 3]),
        "JSON string": b64("hello"),
        "empty object": b64({}),
        "no solution": b64({"challenge": challenge}),
        "solution list": b64({**good, "solution": [solution["counter"]]}),
        "counter as string": b64({**good, "solution": {**solution, "counter": "1"}}),
        "counter as float": b64({**good, "solution": {**solution, "counter": 1.0}}),
        "counter as bool": b64({**good, "solution": {**solution, "counter": True}}),
        "negative counter": b64({**good, "solution": {**solution, "counter": -1}}),
        "huge counter": b64({**good, "solution": {**solution, "counter": 10**400}}),
        "derivedKey not hex": b64({**good, "solution": {**solution, "derivedKey": "zz" * 32}}),
        "derivedKey odd": b64({**good, "solution": {**solution, "derivedKey": "abc"}}),
        "derivedKey huge": b64({**good, "solution": {**solution, "derivedKey": "ab" * 1000}}),
        "derivedKey wrong": b64({**good, "solution": {**solution, "derivedKey": "00" * 32}}),
        "derivedKey null": b64({**good, "solution": {**solution, "derivedKey": None}}),
        "lone surrogate": b64({**good, "solution": {**solution, "derivedKey": "\ud800"}}),
        "v1 shape": b64(
            {"algorithm": "SHA-256", "challenge": "0", "number": 1, "salt": "s", "signature": "x"}
        ),
        "deep nesting": base64.b64encode(b"[" * 600 + b"]" * 600).decode(),
        "empty": "",
        "integer": 12345,
    }


JUNK_NAMES = list(_junk_cases({}, {"counter": 0, "derivedKey": ""}))


@pytest.mark.parametrize("case", JUNK_NAMES)
def test_junk_payloads_are_invalid_never_500_and_spend_the_challenge(make_app, case):
    app = make_app(**FAST)
    data, answer = generate(app, "pow")
    solution = json.loads(base64.b64decode(answer))["solution"]
    junk = _junk_cases(data["challenge"], solution)[case]
    response = _validate(app, data["captcha_id"], junk)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"valid": False}
    assert _validate(app, data["captcha_id"], answer).status_code == 400


def test_overlong_payload_is_400_with_detail(make_app):
    app = make_app(**FAST)
    data, _ = generate(app, "pow")
    response = _validate(app, data["captcha_id"], "A" * 5000)
    assert response.status_code == 400 and "longer than" in response.get_json()["detail"]


def test_payloads_name_their_challenge_and_nothing_else_is_read():
    assert challenge_id_of(b64({"challenge": {"parameters": {"data": {"id": "abc"}}}})) == "abc"
    assert challenge_id_of(b64({"salt": "f00?expires=1&id=xyz&"})) == "xyz"
    for junk in (
        "",
        "x",
        b64([]),
        b64({"challenge": {"parameters": {"data": {"id": 5}}}}),
        b64({"challenge": {"parameters": {"data": {"id": "a" * 65}}}}),
        None,
        7,
    ):
        assert challenge_id_of(junk) is None


def test_testing_helpers_solve_pow_too(app):
    token = solve(app, "pow")
    with app.app_context():
        assert verification.verify(token).success


@pytest.mark.parametrize("algorithm", ["SHA-256", "SCRYPT", "ARGON2ID"])
def test_every_v2_algorithm_is_solved_by_the_library_and_passes(make_app, algorithm):
    pytest.importorskip("argon2") if algorithm == "ARGON2ID" else None
    app = make_app(CAPTCHA_POW_ALGORITHM=algorithm, CAPTCHA_POW_TARGET_MS=50)
    data = _generate(app)
    assert data["challenge"]["parameters"]["algorithm"] == algorithm
    assert _validate(app, data["captcha_id"], library_solve(data["challenge"])).get_json()["valid"]


def test_altcha_v1_stays_available_for_existing_clients(make_app):
    app = make_app(CAPTCHA_POW_ALGORITHM="ALTCHA-V1", **FAST)
    data = _generate(app)
    challenge = data["challenge"]
    assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert re.fullmatch(r"[0-9a-f]+\?expires=\d+&id=[\w-]+&", challenge["salt"])
    assert challenge_id_of(b64({"salt": challenge["salt"]})) == data["captcha_id"]
    payload = library_solve(challenge)
    assert _validate(app, data["captcha_id"], payload).get_json()["valid"] is True


def test_v1_numbers_above_the_issued_bound_are_refused():
    pow = ProofOfWork("ALTCHA-V1", 50, POW_KEY, ttl=60)
    issued = pow.issue("id", 1.0)
    state = json.loads(issued.state)
    number = pow.bound(1) + 5
    fields = {k: state[k] for k in ("algorithm", "challenge", "salt", "signature")}
    assert pow.check(issued.state, b64({**fields, "number": number})) is False
    assert pow.check(issued.state, b64({**fields, "number": "1"})) is False


@pytest.mark.parametrize(
    "key, value",
    [
        ("CAPTCHA_POW_ALGORITHM", "MD5"),
        ("CAPTCHA_POW_ALGORITHM", "pbkdf2/sha-256"),
        ("CAPTCHA_POW_TARGET_MS", 0),
        ("CAPTCHA_POW_TARGET_MS", 10**6),
        ("CAPTCHA_POW_TARGET_MS", "500"),
        ("CAPTCHA_MIN_WORK", 0),
        ("CAPTCHA_MIN_WORK", "2"),
        ("CAPTCHA_MIN_WORK", float("nan")),
    ],
)
def test_bad_pow_settings_are_config_errors_naming_the_key(make_app, key, value):
    with pytest.raises(ConfigError, match=key):
        make_app(**{key: value})


def test_pow_can_be_left_out_of_the_challenge_types(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=("math",))
    response = app.test_client().post(GEN, json={"site_key": own_site_key(app), "type": "pow"})
    assert response.status_code == 400 and "type" in response.get_json()["detail"]


def test_apps_with_different_secrets_sign_differently(make_app, tmp_path):
    one = make_app(**FAST)
    data = _generate(one)
    payload = altcha.Payload.from_base64(library_solve(data["challenge"]))
    assert altcha.verify_solution(payload, POW_KEY).verified is True
    other_key = derive_secret(b"another-secret-key-0123456789abcd", "pow")
    assert altcha.verify_solution(payload, other_key).verified is False


@pytest.mark.parametrize("field", ["site_key", "captcha_id", "user_input", "proof"])
def test_unpaired_surrogate_escapes_in_the_request_are_400_not_500(make_app, field):
    app = make_app(**FAST)
    data, answer = generate(app, "pow")
    body = {"site_key": own_site_key(app), "captcha_id": data["captcha_id"], "user_input": answer}
    raw = json.dumps({**body, field: "\ud800"})  # JSON may spell it: "\\ud800"
    response = app.test_client().post(VAL, data=raw, content_type="application/json")
    assert response.status_code == 400 and "surrogate" in response.get_json()["detail"]
