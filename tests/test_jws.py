"""Our HS256 codec and PyJWT: the same bytes both ways, and ours refuses what it should."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_captcha_ext.selfhosted import jws
from flask_captcha_ext.selfhosted.tokens import ISSUER, TokenService
from flask_captcha_ext.stores import open_store

KEY = b"k" * 32
CLAIMS = {"iss": ISSUER, "aud": "epoch", "sub": "site", "jti": "j", "iat": 1, "exp": 2**40}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(claims) -> bytes:
    return json.dumps(claims, separators=(",", ":")).encode()


@settings(max_examples=200, deadline=None)
@given(
    claims=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6),
    key=st.binary(min_size=32, max_size=64),
)
def test_signs_byte_for_byte_as_pyjwt(claims, key):
    payload = _payload(claims)
    ours = jws.sign(payload, key)
    theirs = jwt.PyJWS().encode(payload, key, algorithm="HS256", headers={"typ": "JWT"})
    assert ours == theirs
    assert jws.verify(theirs, key) == claims
    assert jwt.PyJWS().decode(ours, key, algorithms=["HS256"]) == payload


def test_reads_pyjwt_tokens_and_pyjwt_reads_ours():
    theirs = jwt.encode(CLAIMS, KEY, algorithm="HS256")
    assert jws.verify(theirs, KEY) == CLAIMS
    assert jws.unverified_claims(theirs) == CLAIMS
    ours = jws.sign(_payload(CLAIMS), KEY)
    assert jwt.decode(ours, KEY, algorithms=["HS256"], audience="epoch", issuer=ISSUER) == CLAIMS
    assert ours == theirs  # PyJWT sorts the header and writes the claims compactly, as we do


def test_token_service_tokens_are_pyjwt_tokens(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/t.db")
    tokens = TokenService(KEY, store, ttl=60)
    token = tokens.issue("site", "pow", hostname="example.org", action="login", work=2.5)
    claims = jwt.decode(
        token, KEY, algorithms=["HS256"], issuer=ISSUER, audience=store.epoch().id
    )
    assert claims["sub"] == "site" and claims["wrk"] == 2.5 and claims["act"] == "login"
    forged = jwt.encode({**claims, "jti": "new"}, KEY, algorithm="HS256")
    assert tokens.verify(forged, "site").success  # a token PyJWT signs with the key passes


def _token(header: dict, claims=CLAIMS, key=KEY) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(_payload(claims))}"
    return signing_input + "." + _b64(jws._mac(key, signing_input.encode()))


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "JWT"},
        {"alg": "HS512", "typ": "JWT"},
        {"alg": "hs256", "typ": "JWT"},
        {"alg": "HS256", "typ": "JWT", "kid": "1"},
        {"alg": "HS256", "typ": "JWT", "b64": False, "crit": ["b64"]},
        {"alg": "HS256", "typ": "at+jwt"},
        {"typ": "JWT"},
        [],
    ],
)
def test_refuses_any_other_header_even_when_signed(header):
    with pytest.raises(jws.InvalidToken):
        jws.verify(_token(header), KEY)
    with pytest.raises(jws.InvalidToken):
        jws.unverified_claims(_token(header))


def test_accepts_the_header_without_typ():
    assert jws.verify(_token({"alg": "HS256"}), KEY) == CLAIMS


def test_refuses_unsigned_wrong_key_and_tampering():
    none = jwt.encode(CLAIMS, None, algorithm="none")
    with pytest.raises(jws.InvalidToken):
        jws.verify(none, KEY)
    with pytest.raises(jws.InvalidToken):
        jws.verify(jwt.encode(CLAIMS, b"other" * 8, algorithm="HS256"), KEY)
    header, payload, signature = jws.sign(_payload(CLAIMS), KEY).split(".")
    other = _b64(_payload({**CLAIMS, "sub": "x"}))
    for bad in (
        f"{header}.{other}.{signature}",
        f"{header}.{payload}.{signature}=",  # padding: PyJWT accepts it, one string per token here
        f"{header}.{payload}.{signature[:-1]}",
        f"{header}.{payload}.{signature}.",
        f"{header}.{payload}",
        f"{header}.{payload}.{signature[:-1]}{'B' if signature[-1] == 'A' else 'A'}",
        f"{header}.{payload}.{signature[:10]}!{signature[10:]}",
        f"{header}.{payload}.{signature[:10]}\u00e9{signature[10:]}",
    ):
        with pytest.raises(jws.InvalidToken):
            jws.verify(bad, KEY)


@pytest.mark.parametrize("payload", [b"[1]", b'"text"', b"1", b"{", b"\xff", b"[" * 3000])
def test_payload_must_be_a_json_object(payload):
    signing_input = f"{_b64(jws.HEADER)}.{_b64(payload)}"
    token = signing_input + "." + _b64(jws._mac(KEY, signing_input.encode()))
    with pytest.raises(jws.InvalidToken):
        jws.verify(token, KEY)


def test_non_canonical_base64_is_refused():
    header, payload, signature = jws.sign(_payload(CLAIMS), KEY).split(".")
    # The last character of a 43-character segment carries 2 unused bits: set one.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(signature[-1]) ^ 1]
    tweaked = f"{header}.{payload}.{signature[:-1]}{last}"
    assert base64.urlsafe_b64decode(tweaked.split(".")[2] + "=") == base64.urlsafe_b64decode(
        signature + "="
    )
    with pytest.raises(jws.InvalidToken):
        jws.verify(tweaked, KEY)
