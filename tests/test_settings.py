"""init_app: defaults, validation naming the key, and independence of apps."""

from __future__ import annotations

import pytest

from flask_captcha_ext import CaptchaExt, ConfigError
from flask_captcha_ext.settings import DEFAULTS
from flask_captcha_ext.state import get_state
from tests.helpers import generate, validate_body
from tests.support import build_app


def test_every_key_is_set_with_its_default(make_app):
    app = make_app()
    for key, value in DEFAULTS.items():
        assert key in app.config
        if key not in ("CAPTCHA_STORE_URL",):
            assert app.config[key] == value
    settings = get_state(app).settings
    assert settings.provider == "selfhosted"
    assert settings.blueprint is None  # None: as the provider needs
    assert get_state(app).api is True
    assert settings.timeout == (3.0, 5.0)


def test_user_values_are_kept(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TTL=60, CAPTCHA_URL_PREFIX="/api")
    assert app.config["CAPTCHA_CHALLENGE_TTL"] == 60
    assert get_state(app).settings.challenge_ttl == 60
    assert "/api/generate" in {r.rule for r in app.url_map.iter_rules()}


def test_zero_config_uses_sqlite_in_instance_folder(tmp_path):
    app = build_app("zero", instance_path=tmp_path / "inst", TESTING=True)
    url = app.config["CAPTCHA_STORE_URL"]
    assert url.startswith("sqlite:///") and str(tmp_path / "inst") in url
    client = app.test_client()
    site_key = get_state(app).service.site_keys.own_site_key
    response = client.post("/captcha/generate", json={"site_key": site_key, "type": "pow"})
    assert response.status_code == 200
    assert (tmp_path / "inst" / "captcha.sqlite3").exists()


def test_without_a_secret_nothing_is_kept_in_the_store(tmp_path):
    """Testing without SECRET_KEY: each process makes up its own secret and stores none."""
    url = "sqlite:///" + str(tmp_path / "shared.sqlite3")
    states = [
        get_state(
            build_app(name, instance_path=tmp_path / name, TESTING=True, CAPTCHA_STORE_URL=url)
        )
        for name in ("one", "two")
    ]
    keys = {state.service.site_keys.own_site_key for state in states}
    assert len(keys) == 2
    assert states[0].store.get("master-secret") is None


@pytest.mark.parametrize(
    "key, value",
    [
        ("CAPTCHA_PROVIDER", "nope"),
        ("CAPTCHA_ENABLED", "yes"),
        ("CAPTCHA_TIMEOUT", "slow"),
        ("CAPTCHA_TIMEOUT", (0, 5)),
        ("CAPTCHA_MIN_SCORE", 2),
        ("CAPTCHA_STORE_URL", "postgres://x"),
        ("CAPTCHA_URL_PREFIX", "api"),
        ("CAPTCHA_CHALLENGE_TTL", 0),
        ("CAPTCHA_TOKEN_TTL", "300"),
        ("CAPTCHA_CHALLENGE_TYPES", ("image", "audio")),
        ("CAPTCHA_RATE_LIMIT_GENERATE", "lots"),
        ("CAPTCHA_CORS_ORIGINS", [1]),
        ("CAPTCHA_TOKEN_SECRET", "short"),
        ("CAPTCHA_VERIFY_URL", "ftp://x"),
        ("CAPTCHA_BLUEPRINT", "maybe"),
        ("CAPTCHA_BLUEPRINT", False),  # the self-hosted widget needs its endpoints
        ("CAPTCHA_IMAGE_LENGTH", 20),
        ("CAPTCHA_TIMEOUT", "35"),
        ("CAPTCHA_TIMEOUT", float("nan")),
        ("CAPTCHA_TIMEOUT", (1, float("inf"))),
        ("CAPTCHA_CORS_ORIGINS", 5),
        ("CAPTCHA_HOSTNAMES", True),
        ("CAPTCHA_CHALLENGE_TYPES", 5),
        ("CAPTCHA_CHALLENGE_TYPES", ("math", "math")),
        ("CAPTCHA_STORE_URL", "sqlite://x.db"),
        ("CAPTCHA_STORE_URL", "redis://127.0.0.1:99999/0"),
    ],
)
def test_bad_values_fail_at_init_app_naming_the_key(make_app, key, value):
    with pytest.raises(ConfigError) as info:
        make_app(**{key: value})
    assert key in str(info.value)


def test_third_party_provider_without_keys_fails_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match="CAPTCHA_SECRET_KEY"):
        build_app("p", instance_path=tmp_path, CAPTCHA_PROVIDER="hcaptcha", CAPTCHA_SITE_KEY="site")


def test_settings_are_frozen(make_app):
    settings = get_state(make_app()).settings
    with pytest.raises(AttributeError):
        settings.provider = "hcaptcha"  # type: ignore[misc]


def test_two_apps_in_one_process_are_independent(tmp_path):
    ext = CaptchaExt()
    apps = []
    for name in ("a", "b"):
        app = build_app(name, instance_path=tmp_path / name, ext=ext,
                        SECRET_KEY=f"secret-of-{name}-0123456789", CAPTCHA_STORE_URL="memory://")
        apps.append(app)
    a, b = (get_state(app) for app in apps)
    assert a is not b and a.store is not b.store
    assert a.service.site_keys.own_site_key != b.service.site_keys.own_site_key

    # A token issued by app a is worthless on app b, and b's keys are unknown to a.
    client = apps[0].test_client()
    apps[0].testing = True
    gen, answer = generate(apps[0], "image")
    token = client.post(
        "/captcha/validate", json=validate_body(apps[0], gen, answer)
    ).get_json()["token"]
    with apps[1].app_context():
        assert ext.verify(token).error_codes == ("token-invalid",)
    with apps[0].app_context():
        assert ext.verify(token).success
    other = (
        apps[1]
        .test_client()
        .post(
            "/captcha/generate", json={"site_key": a.service.site_keys.own_site_key, "type": "math"}
        )
    )
    assert other.status_code == 403


def test_blueprint_may_be_off_for_a_third_party_provider(make_app):
    app = make_app(CAPTCHA_BLUEPRINT=False, CAPTCHA_PROVIDER="turnstile", CAPTCHA_TEST_MODE=True)
    assert app.test_client().post("/captcha/generate", json={}).status_code == 404
