"""Attack bench: how often solvers pass our image challenge vs the `captcha` package's images.

Run by hand from the repository root (needs the ``tesseract`` binary, and the ``bench`` extra:
``pip install -e ".[bench]"``, which brings ``captcha``, ``numpy`` and a CPU build of ``torch``)::

    python bench/bench_solvers.py                       # template + tesseract, 200 each: ~6 min
    python bench/bench_solvers.py --solvers cnn         # CNN (20,000 images, 5 CPU-min): ~14 min
    python bench/bench_solvers.py --n 200 --solvers template,tesseract,cnn \\
        --train-images 20000 --train-minutes 5 --seed 0

Ours: each attempt is a fresh image challenge from the real API (an app with ``CaptchaExt``,
self-hosted, SQLite store in a temporary folder, Flask test client): ``POST /captcha/generate``,
the solver reads only the PNG in the reply, ``POST /captcha/validate`` sends its reading, and a
pass is validate's ``"valid": true``. The challenge's proof-of-work part is answered with the
proof the testing hook (``flask_captcha_ext.testing.record_answers``) learns server-side, so the
bench pays no PoW; the image's answer is never looked at. Rate limits are off and pressure never
raises the work, so one client may ask for thousands of challenges. Theirs: ``ImageCaptcha`` of
the ``captcha`` package at the same pixel size, texts from our alphabet at our length, a pass is
an exact match. Lengths: the app's default ``CAPTCHA_IMAGE_LENGTH``.

Solvers (``--solvers``):

- ``template``: an attacker holding each generator's source renders every glyph it can draw and
  decodes the best-correlating row of glyphs (``bench/solver_template.py``).
- ``tesseract``: tesseract 5 with the alphabet as whitelist under a few preprocessing settings
  (``bench/solver_tesseract.py``). Each setting reads its own ``n`` fresh challenges; "any setting"
  reads another ``n`` with every setting and sends the readings' vote (a challenge takes one
  answer). For theirs the same ``n`` images serve every setting, and "oracle" counts an image as
  solved when any setting read it right (an upper bound; ours cannot be asked twice).
- ``cnn`` (optional: needs torch): a small CNN trained on ``--train-images`` images of each
  generator for ``--train-minutes`` of CPU time on one thread (``bench/solver_cnn.py``).

It prints one table: solver x {ours, captcha} passes, rates and seconds taken. Times: a loaded
2-core machine, 2 worker processes (``--workers``; the CNN trains on one thread).
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from bench import solver_tesseract  # noqa: E402
from flask_captcha_ext import CaptchaExt  # noqa: E402
from flask_captcha_ext.selfhosted import image  # noqa: E402
from flask_captcha_ext.settings import DEFAULTS  # noqa: E402
from flask_captcha_ext.state import get_state  # noqa: E402
from flask_captcha_ext.testing import record_answers  # noqa: E402

LENGTH: int = DEFAULTS["CAPTCHA_IMAGE_LENGTH"]
SOLVERS = ("template", "tesseract", "cnn")


# -- ours: the real API --------------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """What a client holds after generate: the id, the PNG and the proof for its PoW part."""

    captcha_id: str
    png: bytes
    proof: str


class Api:
    """An app with CaptchaExt serving image challenges, driven through its blueprint."""

    def __init__(self, folder: str) -> None:
        self.app = Flask("bench_solvers", instance_path=folder)
        self.app.config.update(
            TESTING=True,  # record_answers() works only in testing mode
            SECRET_KEY="bench-solvers-secret-0123456789abcdef",
            CAPTCHA_STORE_URL=f"sqlite:///{folder}/captcha.sqlite3",
            CAPTCHA_CHALLENGE_TYPES=("image",),
            CAPTCHA_CHALLENGE_TTL=3600,  # solving a batch may take minutes
            CAPTCHA_RATE_LIMIT_IP_GENERATE=None,
            CAPTCHA_RATE_LIMIT_IP_VALIDATE=None,
            CAPTCHA_POW_LEVELS=((0, 0, 1), (10**9, 10**9, 2)),  # pressure never raises work
            CAPTCHA_POW_TARGET_MS=50,
        )
        CaptchaExt(self.app)
        state = get_state(self.app)
        self.prefix = state.settings.url_prefix
        self.site_key = state.service.site_keys.own_site_key
        self.client = self.app.test_client()
        self.generated = self.validated = 0

    def generate(self, n: int) -> list[Challenge]:
        """``n`` fresh image challenges, as a client gets them."""
        out = []
        with record_answers(self.app) as answers:
            for _ in range(n):
                reply = self.client.post(
                    self.prefix + "/generate", json={"site_key": self.site_key, "type": "image"}
                )
                if reply.status_code != 200:
                    raise RuntimeError(f"generate refused: {reply.status_code} {reply.get_json()}")
                data = reply.get_json()
                png = base64.b64decode(data["image"])
                out.append(Challenge(data["captcha_id"], png, answers.proofs[data["captcha_id"]]))
        self.generated += n
        return out

    def passes(self, challenge: Challenge, reading: str) -> bool:
        """Send ``reading`` to validate; whether the API accepted it."""
        body = {
            "site_key": self.site_key,
            "captcha_id": challenge.captcha_id,
            "user_input": reading or "-",
            "proof": challenge.proof,
        }
        reply = self.client.post(self.prefix + "/validate", json=body)
        self.validated += 1
        return reply.status_code == 200 and reply.get_json()["valid"] is True


# -- theirs: the captcha package -----------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _image_captcha(width: int, height: int) -> Any:
    from captcha.image import ImageCaptcha

    return ImageCaptcha(width=width, height=height)


def captcha_png(text: str, width: int, height: int) -> bytes:
    """The ``captcha`` package's PNG of ``text`` at ``width`` x ``height``."""
    return _image_captcha(width, height).generate(text).getvalue()


def captcha_set(n: int, width: int, height: int) -> list[tuple[str, bytes]]:
    """``n`` (text, PNG) pairs from the ``captcha`` package, texts from our alphabet."""
    texts = [image.random_text(LENGTH) for _ in range(n)]
    return [(t, captcha_png(t, width, height)) for t in texts]


# -- solving on worker processes -----------------------------------------------------------------

_matchers: dict[tuple[str, int, int], Any] = {}


def _matcher(side: str, png: bytes) -> Any:
    """This worker's template matcher for ``side`` at ``png``'s size (built once: rendering the
    bank takes seconds)."""
    from PIL import Image

    from bench import solver_template as st

    width, height = Image.open(io.BytesIO(png)).size
    key = (side, width, height)
    if key not in _matchers:
        if side == "ours":
            bank = st.ours_glyphs(width, height, LENGTH)
        else:
            bank = st.captcha_glyphs(width, height, image.ALPHABET, LENGTH)
        _matchers[key] = st.Matcher(bank, bank.prepare(png).shape)
    return _matchers[key]


def _read(job: tuple[str, str, bytes]) -> str:
    """One reading: ``job`` is (solver, side, PNG); solver "template" or "tesseract:SETTING"."""
    solver, side, png = job
    if solver == "template":
        return _matcher(side, png).solve(png, LENGTH)
    setting = solver.split(":", 1)[1]
    return solver_tesseract.read(png, setting, image.ALPHABET)


class Pool:
    """At most ``workers`` processes reading images."""

    def __init__(self, workers: int) -> None:
        self.executor = ProcessPoolExecutor(workers)

    def read(self, solver: str, side: str, pngs: Sequence[bytes]) -> list[str]:
        jobs = [(solver, side, png) for png in pngs]
        return list(self.executor.map(_read, jobs, chunksize=4))

    def close(self) -> None:
        self.executor.shutdown()


# -- the runs ------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: passes out of attempts per side (None: not measured)."""

    name: str
    ours: Optional[tuple[int, int]] = None
    theirs: Optional[tuple[int, int]] = None
    seconds: Optional[float] = None


def run_template(api: Api, pool: Pool, n: int, theirs: list[tuple[str, bytes]]) -> list[Row]:
    start = time.perf_counter()
    ours = api.generate(n)
    readings = pool.read("template", "ours", [c.png for c in ours])
    passed = sum(api.passes(c, r) for c, r in zip(ours, readings))
    got = pool.read("template", "captcha", [png for _, png in theirs])
    right = sum(r == t for r, (t, _) in zip(got, theirs))
    return [Row("template", (passed, n), (right, len(theirs)), time.perf_counter() - start)]


def run_tesseract(api: Api, pool: Pool, n: int, theirs: list[tuple[str, bytes]]) -> list[Row]:
    settings = list(solver_tesseract.SETTINGS)
    rows, readings_theirs = [], []
    for setting in settings:
        start = time.perf_counter()
        ours = api.generate(n)
        readings = pool.read(f"tesseract:{setting}", "ours", [c.png for c in ours])
        passed = sum(api.passes(c, r) for c, r in zip(ours, readings))
        got = pool.read(f"tesseract:{setting}", "captcha", [png for _, png in theirs])
        readings_theirs.append(got)
        right = sum(r == t for r, (t, _) in zip(got, theirs))
        rows.append(
            Row(f"tesseract {setting}", (passed, n), (right, n), time.perf_counter() - start)
        )
    best = max(rows, key=lambda r: r.ours[0] if r.ours else 0)
    best_theirs = max(rows, key=lambda r: r.theirs[0] if r.theirs else 0)
    rows.append(Row("tesseract best single setting", best.ours, best_theirs.theirs))

    start = time.perf_counter()
    ours = api.generate(n)
    per_setting = [pool.read(f"tesseract:{s}", "ours", [c.png for c in ours]) for s in settings]
    votes = [solver_tesseract.vote(r, LENGTH) for r in zip(*per_setting)]
    passed = sum(api.passes(c, v) for c, v in zip(ours, votes))
    theirs_votes = [solver_tesseract.vote(r, LENGTH) for r in zip(*readings_theirs)]
    right = sum(v == t for v, (t, _) in zip(theirs_votes, theirs))
    rows.append(
        Row("tesseract any setting (vote)", (passed, n), (right, n), time.perf_counter() - start)
    )
    oracle = sum(t in r for r, (t, _) in zip(zip(*readings_theirs), theirs))
    rows.append(Row("tesseract any setting (oracle)", None, (oracle, n)))
    return rows


def run_cnn(api: Api, n: int, size: tuple[int, int], opts: argparse.Namespace) -> list[Row]:
    try:
        from bench import solver_cnn
    except ImportError as exc:  # torch is optional
        print(f"cnn: skipped ({exc}); pip install -e '.[bench]'")
        return []
    alphabet, (width, height) = image.ALPHABET, size
    makers: dict[str, Callable[[str], bytes]] = {
        "ours": functools.partial(image.render_png, width=width, height=height),
        "captcha": functools.partial(captcha_png, width=width, height=height),
    }
    row = Row(f"cnn ({opts.train_images} images, {opts.train_minutes:g} CPU-min each)")
    start = time.perf_counter()
    for side, make in makers.items():
        x, y = solver_cnn.dataset(make, alphabet, LENGTH, opts.train_images, opts.workers)
        net, info = solver_cnn.train(x, y, len(alphabet), opts.train_minutes, opts.seed)
        print(
            f"cnn {side}: {info['steps']} steps, {info['epochs']:.1f} epochs, "
            f"last loss {info['loss']:.3f}",
            flush=True,
        )
        if side == "ours":
            ours = api.generate(n)
            readings = solver_cnn.read(net, [c.png for c in ours], alphabet)
            row.ours = (sum(api.passes(c, r) for c, r in zip(ours, readings)), n)
        else:
            fresh = captcha_set(n, width, height)
            readings = solver_cnn.read(net, [png for _, png in fresh], alphabet)
            row.theirs = (sum(r == t for r, (t, _) in zip(readings, fresh)), n)
    row.seconds = time.perf_counter() - start
    return [row]


# -- output --------------------------------------------------------------------------------------


def _cell(value: Optional[tuple[int, int]]) -> str:
    if value is None:
        return "-"
    passed, total = value
    return f"{passed}/{total} {passed / total:6.1%}"


def print_table(rows: list[Row], size: tuple[int, int], api: Api, seconds: float) -> None:
    width, height = size
    print()
    alphabet = image.ALPHABET
    print(f"{LENGTH} characters from {alphabet!r} ({len(alphabet)}), {width}x{height} px")
    print(f"ours: passes counted by /validate; captcha pkg: ImageCaptcha({width}, {height}), exact")
    print(f"{'solver':48} {'ours':>15} {'captcha pkg':>15} {'seconds':>8}")
    for row in rows:
        secs = f"{row.seconds:8.0f}" if row.seconds is not None else f"{'':8}"
        print(f"{row.name:48} {_cell(row.ours):>15} {_cell(row.theirs):>15} {secs}")
    print(
        f"{api.generated} challenges generated and {api.validated} validated through the API; "
        f"{seconds:.0f} s in all"
    )


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="attempts per solver and side")
    parser.add_argument("--solvers", default="template,tesseract", help=",".join(SOLVERS))
    parser.add_argument("--workers", type=int, default=2, help="processes reading images")
    parser.add_argument("--train-images", type=int, default=20_000, help="CNN training set")
    parser.add_argument("--train-minutes", type=float, default=5.0, help="CNN CPU budget")
    parser.add_argument("--seed", type=int, default=0, help="CNN initialisation and batch order")
    opts = parser.parse_args(argv)
    opts.solvers = [s.strip() for s in opts.solvers.split(",") if s.strip()]
    unknown = set(opts.solvers) - set(SOLVERS)
    if unknown:
        parser.error(f"unknown solvers: {', '.join(sorted(unknown))}")
    return opts


def main(argv: Optional[Sequence[str]] = None) -> None:
    opts = parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        api = Api(folder)
        from PIL import Image

        size = Image.open(io.BytesIO(api.generate(1)[0].png)).size
        rows: list[Row] = []
        if {"template", "tesseract"} & set(opts.solvers):
            theirs = captcha_set(opts.n, *size)
            pool = Pool(opts.workers)
            try:
                if "template" in opts.solvers:
                    rows += run_template(api, pool, opts.n, theirs)
                if "tesseract" in opts.solvers:
                    rows += run_tesseract(api, pool, opts.n, theirs)
            finally:
                pool.close()
        if "cnn" in opts.solvers:
            rows += run_cnn(api, opts.n, size, opts)
        print_table(rows, size, api, time.perf_counter() - start)


if __name__ == "__main__":
    main()
