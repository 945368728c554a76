"""Bots pay, people don't wait: pressure raises the work a network pays, every challenge carries
work, views can ask for more, and no-JavaScript answers pay in time. Each test is an attack (or a
visitor) against the real generate/validate endpoints and store."""

from __future__ import annotations

import time

import pytest

from flask_captcha_ext import captcha_protected, verification
from flask_captcha_ext.selfhosted import pressure
from flask_captcha_ext.selfhosted import service as service_module
from flask_captcha_ext.settings import ConfigError
from flask_captcha_ext.state import get_state
from tests.helpers import generate, own_site_key, solve, validate_body
from tests.support import ALL_TYPES, build_app, rate_limits
from tests.test_pow import library_solve

GEN, VAL = "/captcha/generate", "/captcha/validate"
FAST = {"CAPTCHA_POW_TARGET_MS": 50, **rate_limits(None)}


def ask(app, ip="203.0.113.7", kind="pow", **extra):
    response = app.test_client().post(
        GEN,
        json={"site_key": own_site_key(app), "type": kind, **extra},
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


class Clock:
    """time.time() moved forward by ``offset`` seconds, for pressure windows and waits."""

    def __init__(self, monkeypatch):
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(pressure.time, "time", lambda: real() + self.offset)


# -- pressure ------------------------------------------------------------------------------


def test_the_25th_challenge_a_network_asks_within_a_minute_costs_at_least_3x(make_app, store_url):
    app = make_app(CAPTCHA_STORE_URL=store_url, **FAST)
    works = [ask(app)["work"] for _ in range(25)]
    assert works[0] == 1
    assert works[24] >= 3 * works[0]
    assert works == sorted(works)  # never cheaper while the network keeps asking


def test_another_network_stays_at_the_base_level_while_one_is_under_pressure(make_app):
    app = make_app(**FAST)
    for _ in range(60):
        ask(app, ip="198.51.100.1")
    assert ask(app, ip="198.51.100.1")["work"] >= 32
    assert ask(app, ip="192.0.2.44")["work"] == 1
    # One IPv6 /64 is one network: its hosts share a pressure.
    for host in range(30):
        ask(app, ip=f"2001:db8:1:2::{host + 1:x}")
    assert ask(app, ip="2001:db8:1:2::ffff")["work"] > 1
    assert ask(app, ip="2001:db8:1:3::1")["work"] == 1


def test_a_network_that_asks_once_in_a_while_never_leaves_the_base_level(make_app, monkeypatch):
    clock = Clock(monkeypatch)
    app = make_app(**FAST)
    works = []
    for _ in range(36):  # six hours, one page view every ten minutes (and a refresh)
        works += [ask(app)["work"], ask(app)["work"]]
        clock.offset += 600
    assert set(works) == {1}


def test_pressure_decays_over_minutes(make_app, monkeypatch):
    clock = Clock(monkeypatch)
    app = make_app(**FAST)
    for _ in range(40):
        ask(app)
    assert ask(app)["work"] >= 32
    clock.offset += 2 * pressure.WINDOW
    assert ask(app)["work"] == 1


def test_wrong_answers_add_pressure_like_asking_does(make_app):
    app = make_app(**FAST)
    client = app.test_client()
    for _ in range(6):
        data = ask(app)
        body = {"site_key": own_site_key(app), "captcha_id": data["captcha_id"], "user_input": "x"}
        reply = client.post(VAL, json=body, environ_base={"REMOTE_ADDR": "203.0.113.7"})
        assert reply.get_json() == {"valid": False}
    # 6 asks + 6 failures + 5 more asks: past the 16 row, where 6 asks alone would not be.
    for _ in range(5):
        ask(app)
    assert ask(app)["work"] >= 4


def test_site_key_pressure_raises_work_for_every_network(make_app):
    levels = ((0, 0, 1), (1000, 30, 2), (2000, 60, 4))
    app = make_app(CAPTCHA_POW_LEVELS=levels, **FAST)
    for n in range(35):
        ask(app, ip=f"10.0.{n}.1")  # a distributed attack: every network fresh
    assert ask(app, ip="10.9.9.9")["work"] == 2


def test_pressure_is_shared_by_apps_on_one_store(make_app, tmp_path, store_url):
    """Workers and hosts agree: two apps (two workers) on one store see one pressure."""
    if store_url.startswith("memory://"):
        pytest.skip("a memory store lives in one app")
    one = make_app(CAPTCHA_STORE_URL=store_url, **FAST)
    other = make_app(CAPTCHA_STORE_URL=store_url, **FAST)
    for _ in range(12):
        ask(one)
    for _ in range(12):
        ask(other)
    assert ask(one)["work"] >= 8


def test_under_pressure_the_answer_is_more_work_not_a_refusal(make_app):
    """Default limits: 30 asks a minute from one network is the burst limit; until then the
    answer is work, and a visitor from elsewhere is never refused."""
    app = make_app(CAPTCHA_POW_TARGET_MS=50)
    works = [ask(app, ip="203.0.113.9")["work"] for _ in range(30)]
    assert works[-1] >= 8
    refused = app.test_client().post(
        GEN,
        json={"site_key": own_site_key(app), "type": "pow"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert refused.status_code == 429 and "Try again in" in refused.get_json()["detail"]
    assert int(refused.headers["Retry-After"]) <= 60
    assert ask(app, ip="192.0.2.1")["work"] == 1


@pytest.mark.parametrize(
    "levels",
    [
        (),
        ((1, 0, 1),),
        ((0, 0, 2),),
        ((0, 0, 1), (10, 100, 0.5)),
        ((0, 0, 1), (10, 100, 2), (5, 200, 4)),
        ((0, 0, 1), (10, 100, 2), (20, 200, 2)),
        ((0, 0, 1), (10, 100)),
        ((0, 0, 1), (10, 100, 5000)),
        ((0, 0, 1), ("10", 100, 2)),
        "0,0,1",
    ],
)
def test_bad_level_tables_are_config_errors(make_app, levels):
    with pytest.raises(ConfigError, match="CAPTCHA_POW_LEVELS"):
        make_app(CAPTCHA_POW_LEVELS=levels)


# -- every challenge carries work ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["image", "math"])
def test_image_and_math_need_their_proof_of_work_too(make_app, kind):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, **FAST)
    client = app.test_client()
    data, answer = generate(app, kind)
    assert "pow" in data and data["work"] == 1
    without = {k: v for k, v in validate_body(app, data, answer).items() if k != "proof"}
    assert client.post(VAL, json=without).get_json() == {"valid": False}

    data, answer = generate(app, kind)
    other, _ = generate(app, kind)
    spliced = {**validate_body(app, data, answer), "proof": other["_proof"]}
    assert client.post(VAL, json=spliced).get_json() == {"valid": False}

    data, answer = generate(app, kind)
    wrong = validate_body(app, data, "nope")
    assert client.post(VAL, json=wrong).get_json() == {"valid": False}

    data, answer = generate(app, kind)
    good = client.post(VAL, json=validate_body(app, data, answer)).get_json()
    assert good["valid"] is True
    with app.app_context():
        result = verification.verify(good["token"])
        assert result.success and result.work == 1.0 and result.challenge_type == kind


@pytest.mark.parametrize("value", [0, -1, True, "2", 10**6, None])
def test_generate_min_work_is_checked(make_app, value):
    app = make_app(**FAST)
    response = app.test_client().post(
        GEN, json={"site_key": own_site_key(app), "type": "pow", "min_work": value}
    )
    if value is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 400 and "min_work" in response.get_json()["detail"]


def test_min_work_refuses_tokens_that_did_less_work(make_app):
    app = make_app(**FAST)
    cheap = solve(app)
    with app.app_context():
        result = verification.verify(cheap, min_work=4)
    assert not result.success and "work-too-low" in result.error_codes

    data = ask(app, min_work=4)
    assert data["work"] == 4
    with app.app_context():
        body = {
            "site_key": own_site_key(app),
            "captcha_id": data["captcha_id"],
            "user_input": library_solve(data["challenge"]),
        }
        token = app.test_client().post(VAL, json=body).get_json()["token"]
        assert verification.verify(token, min_work=4).work == 4


def test_captcha_min_work_and_the_decorator_apply_it(make_app):
    app = make_app(CAPTCHA_MIN_WORK=2, **FAST)

    @app.post("/strict")
    @captcha_protected(min_work=3)
    def strict():
        return "ok"

    @app.post("/plain")
    @captcha_protected
    def plain():
        return "ok"

    client = app.test_client()
    assert client.post("/plain", data={"captcha-token": solve(app)}).status_code == 400
    with app.test_request_context():
        assert 'data-fce-min-work="2.0"' in str(app.jinja_env.globals["captcha_widget"]())
    # A page that asks for the work gets it, and its token passes where enough was asked.
    for min_work, path, status in ((2, "/plain", 200), (2, "/strict", 400), (3, "/strict", 200)):
        data = ask(app, min_work=min_work)
        body = {
            "site_key": own_site_key(app),
            "captcha_id": data["captcha_id"],
            "user_input": library_solve(data["challenge"]),
        }
        token = client.post(VAL, json=body).get_json()["token"]
        assert client.post(path, data={"captcha-token": token}).status_code == status


# -- no-JavaScript visitors pay in time ------------------------------------------------------


def _page_challenge(app, ip="203.0.113.50"):
    with app.test_request_context(environ_base={"REMOTE_ADDR": ip}):
        return get_state(app).service.new_page_challenge("math", ip)


def test_a_no_js_answer_sent_too_soon_is_refused_kindly_and_not_spent(make_app, monkeypatch):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, **FAST)
    seen = {}
    get_state(app).service.answer_observer = lambda cid, answer, proof: seen.update({cid: answer})
    page = _page_challenge(app)
    assert "pow" not in page and page["wait"] >= 3
    form = {
        "captcha-id": page["captcha_id"],
        "captcha-answer": seen[page["captcha_id"]],
        "message": "hello",
    }

    @app.post("/contact")
    @captcha_protected
    def contact():
        return "sent"

    client = app.test_client()
    early = client.post("/contact", data=form, headers={"Accept": "text/html"})
    assert early.status_code == 400
    assert "wait" in early.get_data(as_text=True).lower()
    real = time.time
    monkeypatch.setattr(service_module.time, "time", lambda: real() + page["wait"] + 0.5)
    assert client.post("/contact", data=form).status_code == 200  # the same challenge, later
    assert client.post("/contact", data=form).status_code == 400  # and only once


def test_no_js_waits_grow_under_pressure_and_share_the_networks_budget(make_app):
    app = make_app(
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_POW_TARGET_MS=500, **rate_limits(None)
    )
    first = _page_challenge(app)
    for _ in range(40):
        ask(app, ip="203.0.113.50")  # the same network's widget challenges
    later = _page_challenge(app)
    assert first["wait"] == 3
    assert later["wait"] > first["wait"] and later["work"] >= 32
    assert later["wait"] <= service_module.NOSCRIPT_WAIT_MAX


def test_a_page_challenge_id_posted_to_validate_early_does_not_pass(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, **FAST)
    seen = {}
    get_state(app).service.answer_observer = lambda cid, answer, proof: seen.update({cid: answer})
    page = _page_challenge(app)
    body = {
        "site_key": own_site_key(app),
        "captcha_id": page["captcha_id"],
        "user_input": seen[page["captcha_id"]],
    }
    assert app.test_client().post(VAL, json=body).get_json() == {"valid": False}


def test_build_app_defaults_have_no_quota_on_the_own_key(tmp_path):
    """The README's promise for a busy site: 10,000 visitors an hour on the app's own key from
    many networks are never refused and never leave the base level."""
    app = build_app(
        instance_path=tmp_path,
        TESTING=True,
        SECRET_KEY="x" * 32,
        CAPTCHA_POW_TARGET_MS=50,
        CAPTCHA_STORE_URL="sqlite:///" + str(tmp_path / "c.sqlite3"),
    )
    works = {ask(app, ip=f"10.{n // 250}.{n % 250}.1")["work"] for n in range(600)}
    assert works == {1}


def test_page_views_add_no_pressure_so_browsing_visitors_stay_at_the_base(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, **FAST)
    for _ in range(30):  # thirty page views with a no-JS challenge each
        _page_challenge(app, ip="203.0.113.7")
    assert ask(app)["work"] == 1


def test_what_one_network_is_can_be_configured(make_app):
    app = make_app(CAPTCHA_NETWORK_PREFIXES=(24, 48), **FAST)
    for host in range(1, 21):
        ask(app, ip=f"198.51.100.{host}")  # twenty hosts of one /24
    assert ask(app, ip="198.51.100.200")["work"] >= 4
    assert ask(app, ip="198.51.101.1")["work"] == 1
    for host in range(20):
        ask(app, ip=f"2001:db8:5:{host:x}::1")  # one /48, twenty /64s
    assert ask(app, ip="2001:db8:5:ffff::1")["work"] >= 4


@pytest.mark.parametrize("value", [(33, 64), (32, 20), (32,), "32,64", (True, 64), (32.0, 64)])
def test_bad_network_prefixes_are_config_errors(make_app, value):
    with pytest.raises(ConfigError, match="CAPTCHA_NETWORK_PREFIXES"):
        make_app(CAPTCHA_NETWORK_PREFIXES=value)


def test_spoofed_forwarding_headers_do_not_make_a_fresh_network(make_app):
    """Without ProxyFix the app sees the socket's address: a bot that invents X-Forwarded-For
    and X-Real-IP values for every request still shares one pressure."""
    app = make_app(**FAST)
    client = app.test_client()
    works = []
    for n in range(30):
        headers = {"X-Forwarded-For": f"10.1.{n}.1", "X-Real-IP": f"10.2.{n}.1"}
        reply = client.post(
            GEN,
            json={"site_key": own_site_key(app), "type": "pow"},
            headers=headers,
            environ_base={"REMOTE_ADDR": "203.0.113.99"},
        )
        works.append(reply.get_json()["work"])
    assert works[-1] >= 8


def test_the_no_js_form_tells_the_visitor_how_long_to_wait(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, **FAST)
    with app.test_request_context():
        html = str(app.jinja_env.globals["captcha_widget"](language="de"))
    assert "frühestens 3 Sekunden" in html


# -- answers checked without a token keep what their challenge was issued for ----------------


def _altcha(app, **query):
    reply = app.test_client().get(
        "/captcha/altcha", query_string={"site_key": own_site_key(app), **query}
    )
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def test_the_challenge_url_takes_a_views_min_work_and_action(make_app):
    app = make_app(**FAST)

    @app.post("/login")
    @captcha_protected(action="login", min_work=4)
    def login():
        return "in"

    client = app.test_client()
    plain = library_solve(_altcha(app))
    assert client.post("/login", data={"altcha": plain}).status_code == 400
    bound = _altcha(app, min_work="4", action="login")
    assert bound["parameters"]["data"] == bound["parameters"]["data"]  # shape unchanged
    assert client.post("/login", data={"altcha": library_solve(bound)}).status_code == 200
    other = _altcha(app, min_work="4", action="signup")
    assert client.post("/login", data={"altcha": library_solve(other)}).status_code == 400


@pytest.mark.parametrize(
    "query, status",
    [({"min_work": "abc"}, 400), ({"min_work": "nan"}, 400), ({"min_work": "0"}, 400),
     ({"min_work": "1e9"}, 400), ({"action": "bad action!"}, 400)],
)
def test_the_challenge_url_refuses_bad_parameters(make_app, query, status):
    app = make_app(**FAST)
    reply = app.test_client().get(
        "/captcha/altcha", query_string={"site_key": own_site_key(app), **query}
    )
    assert reply.status_code == status and reply.get_json()["detail"]


def test_head_on_the_challenge_url_makes_no_challenge(make_app):
    app = make_app(**FAST)
    reply = app.test_client().head("/captcha/altcha", query_string={"site_key": "x"})
    assert reply.status_code == 405


def test_a_key_without_pow_is_told_so_at_the_challenge_url(make_app):
    app = make_app(CAPTCHA_CHALLENGE_TYPES=("image",), **FAST)
    reply = app.test_client().get("/captcha/altcha", query_string={"site_key": own_site_key(app)})
    assert reply.status_code == 400 and "proof-of-work" in reply.get_json()["detail"]


def test_min_work_beyond_the_level_table_is_a_config_error(make_app):
    with pytest.raises(ConfigError, match="CAPTCHA_MIN_WORK"):
        make_app(CAPTCHA_MIN_WORK=200)


def test_no_js_answers_meet_the_action_and_hostname_rules(make_app, monkeypatch):
    app = make_app(
        CAPTCHA_CHALLENGE_TYPES=ALL_TYPES, CAPTCHA_HOSTNAMES=("good.example",), **FAST
    )
    seen = {}
    get_state(app).service.answer_observer = lambda cid, answer, proof: seen.update({cid: answer})

    @app.post("/login")
    @captcha_protected(action="login")
    def login():
        return "in"

    def page(host, action):
        with app.test_request_context(base_url=f"http://{host}/"):
            html = str(app.jinja_env.globals["captcha_widget"](action=action))
        captcha_id = html.split('name="captcha-id" value="', 1)[1].split('"', 1)[0]
        return {"captcha-id": captcha_id, "captcha-answer": seen[captcha_id]}

    forms = [page("good.example", "login"), page("evil.example", "login"),
             page("good.example", "signup")]
    real = time.time
    monkeypatch.setattr(service_module.time, "time", lambda: real() + 200)
    client = app.test_client()
    assert [client.post("/login", data=form).status_code for form in forms] == [200, 400, 400]
