"""What ``import flask_captcha_ext`` and ``init_app`` load: nothing the configuration does not use.

Each check runs in a fresh interpreter, so that nothing an earlier test imported hides an eager
import. The lists are explicit: a new module-level import of a heavy library, or of one of our
modules that only some configurations need, fails here until it is made lazy or listed.
``bench/bench_import.py`` measures what this saves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, FrozenSet

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not hasattr(sys, "stdlib_module_names"), reason="needs sys.stdlib_module_names (3.10+)"
)

#: Never loaded by ``import flask_captcha_ext``; only by the configurations that use them.
HEAVY = (
    "requests",
    "urllib3",
    "httpx",
    "aiohttp",
    "asyncio",
    "cryptography",
    "jwt",
    "limits",
    "PIL",
    "redis",
    "altcha",
    "argon2",
    "wtforms",
    "flask_wtf",
    "flask_cors",
    "sqlite3",
)

#: Our modules that ``import flask_captcha_ext`` loads, and no others.
IMPORTED = frozenset(
    "flask_captcha_ext" + (f".{name}" if name else "")
    for name in (
        "",
        "decorators",
        "extension",
        "failure",
        "providers",
        "providers.base",
        "providers.fallback",
        "providers.glue",
        "providers.local",
        "providers.policy",
        "rates",
        "result",
        "selfhosted",
        "selfhosted.blueprint",
        "selfhosted.challenges",
        "selfhosted.cli",
        "selfhosted.jws",
        "selfhosted.pow",
        "selfhosted.pressure",
        "selfhosted.ratelimit",
        "selfhosted.service",
        "selfhosted.sitekeys",
        "selfhosted.siteverify",
        "selfhosted.tokens",
        "settings",
        "signals",
        "state",
        "stores",
        "stores.base",
        "verification",
        "widget",
    )
)
IMAGE = frozenset(
    f"flask_captcha_ext.selfhosted.{name}"
    for name in (
        "image",
        "image_fonts",
        "image_layout",
        "image_noise",
        "image_png",
        "image_random",
        "image_warp",
    )
)
#: What a default ``init_app`` adds: the SQLite store, the image renderer with Pillow (images
#: are a default type and every page's no-JavaScript fallback draws one), and the ``altcha``
#: library for proof of work (which imports argon2-cffi when it is installed).
DEFAULT_INIT = frozenset({"flask_captcha_ext.stores.sqlite", *IMAGE})
POW_LIBRARY = frozenset({"altcha", "argon2", "_argon2_cffi_bindings", "_cffi_backend"})

_PROBE = """
import json, sys, tempfile
import flask
before = set(sys.modules)
{code}
new = set(sys.modules) - before
ours = sorted(m for m in sys.modules if m.split(".")[0] == "flask_captcha_ext")
third = sorted({{m.split(".")[0] for m in new}} - set(sys.stdlib_module_names))
print(json.dumps({{"all": sorted(sys.modules), "ours": ours, "third_party": third}}))
"""
_APP = """
import flask_captcha_ext
app = flask.Flask("probe", instance_path=tempfile.mkdtemp())
app.config["SECRET_KEY"] = "probe-secret-0123456789abcdef0123"
app.config.update({config!r})
flask_captcha_ext.CaptchaExt(app)
"""


def probe(code: str) -> Dict[str, FrozenSet[str]]:
    """The modules a fresh interpreter holds after ``import flask`` and ``code``: all of them,
    ours, and the third-party top-level packages ``code`` added."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(code=code)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return {key: frozenset(value) for key, value in json.loads(out.stdout).items()}


def init_app(**config: object) -> Dict[str, FrozenSet[str]]:
    return probe(_APP.format(config=config))


def heavy(modules: FrozenSet[str]) -> FrozenSet[str]:
    return frozenset(m for m in modules if m.split(".")[0] in HEAVY)


def test_import_loads_nothing_heavy():
    found = probe("import flask_captcha_ext")
    assert heavy(found["all"]) == frozenset()
    assert found["third_party"] == {"flask_captcha_ext"}
    assert found["ours"] == IMPORTED


def test_a_default_init_app_loads_only_what_the_default_uses():
    found = init_app()
    assert found["ours"] == IMPORTED | DEFAULT_INIT
    assert found["third_party"] == {"flask_captcha_ext", "PIL"} | (
        POW_LIBRARY & found["third_party"]
    )
    assert "altcha" in found["third_party"]
    assert {m.split(".")[0] for m in heavy(found["all"])} == {
        "sqlite3",
        "PIL",
        "altcha",
        *({"argon2"} & found["third_party"]),
    }


def test_proof_of_work_alone_loads_no_image_renderer():
    found = init_app(CAPTCHA_CHALLENGE_TYPES=("pow",))
    assert found["ours"] == IMPORTED | {"flask_captcha_ext.stores.sqlite"}
    assert "PIL" not in found["third_party"] and "altcha" in found["third_party"]


def test_a_third_party_provider_loads_its_http_client_and_no_challenge_code():
    found = init_app(
        CAPTCHA_PROVIDER="turnstile", CAPTCHA_SITE_KEY="site", CAPTCHA_SECRET_KEY="secret"
    )
    assert {"requests", "urllib3"} <= found["third_party"]
    assert not {"PIL", "altcha", "jwt", "cryptography", "httpx"} & found["third_party"]
    assert "flask_captcha_ext.providers.turnstile" in found["ours"]
    assert not IMAGE & found["ours"]


def test_memory_store_loads_no_sqlite_and_no_redis_client():
    found = init_app(CAPTCHA_STORE_URL="memory://", CAPTCHA_CHALLENGE_TYPES=("pow",))
    assert not {"sqlite3", "redis"} & {m.split(".")[0] for m in found["all"]}


def test_forms_are_loaded_on_first_access():
    found = probe(
        "import flask_captcha_ext as f\n"
        "assert {'CaptchaField', 'CaptchaRequired'} <= set(dir(f))\n"
        "assert 'wtforms' not in sys.modules\n"
        "from flask_captcha_ext import CaptchaField, CaptchaRequired\n"
        "from flask_captcha_ext.forms import CaptchaField as Same\n"
        "assert CaptchaField is Same and CaptchaRequired.__module__ == 'flask_captcha_ext.forms'\n"
        "assert set(f.__all__) <= set(dir(f))\n"
        "try:\n    f.NoSuchName\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit(1)"
    )
    assert "wtforms" in found["third_party"] and "flask_captcha_ext.forms" in found["ours"]
