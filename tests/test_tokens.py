"""Success tokens: claims, single use, and one error code per way of failing."""

from __future__ import annotations

import time

import jwt
import pytest

from flask_captcha_ext import verification
from flask_captcha_ext.selfhosted.tokens import (
    CLAIM_MARGIN,
    CLOCK_LEEWAY,
    ISSUER,
    TokenService,
)
from flask_captcha_ext.stores import open_store
from tests.helpers import solve
from tests.support import ALL_TYPES

SECRET = b"k" * 32


@pytest.fixture
def tokens(store_url):
    return TokenService(SECRET, open_store(store_url), ttl=60)


def test_claims(tokens):
    token = tokens.issue("site1", "math")
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], issuer=ISSUER, audience=tokens._store.epoch().id
    )
    assert {"iss", "aud", "sub", "jti", "iat", "exp", "typ"} <= set(claims)
    assert claims["sub"] == "site1" and claims["exp"] - claims["iat"] == 60
    assert claims["typ"] == "math"


def test_valid_once_then_duplicate(tokens):
    token = tokens.issue("site1", "math")
    first = tokens.verify(token, "site1")
    assert first.success and first.provider == "selfhosted" and first.challenge_ts
    assert tokens.verify(token, "site1").error_codes == ("token-duplicate",)


def _skewed(store, seconds: float, ttl: int = 60) -> TokenService:
    """A token service on another host of the same deployment whose clock is ``seconds`` off."""
    return TokenService(SECRET, store, ttl=ttl, clock=lambda: time.time() + seconds)


def test_expired(store_url):
    store = open_store(store_url)
    token = TokenService(SECRET, store, ttl=60).issue("site1", "math")
    late = 60 + CLOCK_LEEWAY + 1
    assert _skewed(store, late).verify(token, "site1").error_codes == ("token-expired",)
    # Just past exp but within the leeway: another host's clock may be that far behind.
    assert _skewed(store, 60 + CLOCK_LEEWAY - 2).verify(token, "site1").success


def test_an_issuer_a_little_ahead_is_accepted_one_far_ahead_is_not(store_url):
    """Hosts disagree by a few seconds: a token issued by a clock 2 s ahead passes here (it was
    refused while iat had no leeway); one issued from a minute in the future does not."""
    store = open_store(store_url)
    here = TokenService(SECRET, store, ttl=60)
    assert here.verify(_skewed(store, 2).issue("site1", "math"), "site1").success
    far = here.verify(_skewed(store, 60).issue("site1", "math"), "site1")
    assert far.error_codes == ("token-invalid",)


def test_a_verifier_ahead_keeps_the_claim_for_the_whole_lifetime(tmp_path):
    """A verifier whose clock runs 6 s ahead claimed the jti for exp minus its own time, so the
    claim lapsed while hosts with right clocks still accepted the token (10 of 10 replays). The
    claim now lives for the token's whole lifetime plus the leeway and a margin."""
    import sqlite3

    store = open_store(f"sqlite:///{tmp_path}/c.db")
    token = TokenService(SECRET, store, ttl=60).issue("site1", "math")
    assert _skewed(store, 6).verify(token, "site1").success
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with sqlite3.connect(tmp_path / "c.db") as db:
        (expires_at,) = db.execute(
            "SELECT expires_at FROM captcha_store WHERE key = ?", ("jti:" + jti,)
        ).fetchone()
    kept = expires_at - time.time()
    assert kept >= 60 + CLOCK_LEEWAY + CLAIM_MARGIN - 5, kept
    assert _skewed(store, -5).verify(token, "site1").error_codes == ("token-duplicate",)


def test_tampered_payload_and_wrong_key(tokens):
    token = tokens.issue("site1", "math")
    header, payload, signature = token.split(".")
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "sub": "x"},
        b"other-key" * 4,
        algorithm="HS256",
    )
    assert tokens.verify(forged, "x").error_codes == ("token-invalid",)
    flipped = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert tokens.verify(flipped, "site1").error_codes == ("token-invalid",)
    none_alg = jwt.encode(jwt.decode(token, options={"verify_signature": False}), None, "none")
    assert tokens.verify(none_alg, "site1").error_codes == ("token-invalid",)


def test_other_site(tokens):
    token = tokens.issue("site1", "math")
    assert tokens.verify(token, "site2").error_codes == ("token-site-mismatch",)
    # A refusal for the wrong site does not spend the token.
    assert tokens.verify(token, "site1").success


@pytest.mark.parametrize("junk", ["", None, 5, "a.b.c", "x" * 10000, ["t"], "a.b.\udc80", "é.b.c"])
def test_junk_is_refused(tokens, junk):
    result = tokens.verify(junk, "site1")
    assert not result.success and result.error_codes


def test_missing_claims_are_refused(tokens):
    now = int(time.time())
    token = jwt.encode(
        {"iss": ISSUER, "sub": "site1", "iat": now, "exp": now + 60}, SECRET, "HS256"
    )
    assert tokens.verify(token, "site1").error_codes == ("token-invalid",)


def test_verify_through_the_extension(make_app, store_url):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_STORE_URL=store_url)
    token = solve(app)
    ext = verification
    with app.app_context():
        result = ext.verify(token)
        assert result.success and result.score is None and result.challenge_type == "pow"
        assert ext.verify(token).error_codes == ("token-duplicate",)
        assert ext.verify(None).error_codes == ("missing-input-response",)


def test_token_secret_setting_is_used(make_app):
    app = make_app(CAPTCHA_TOKEN_SECRET="a-very-long-token-secret-value-0123456789")
    token = solve(app)
    jwt.decode(
        token,
        "a-very-long-token-secret-value-0123456789",
        algorithms=["HS256"],
        issuer=ISSUER,
        options={"verify_aud": False},
    )


def test_disabled_passes_with_a_log_line(make_app, caplog):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_ENABLED=False)
    with app.app_context(), caplog.at_level("INFO", logger="flask_captcha_ext"):
        result = verification.verify("anything")
    assert result.success and "CAPTCHA_ENABLED is False" in caplog.text
