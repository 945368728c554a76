"""A reading panel for the image challenge: images to read by eye, then a score of the readings.

Run by hand from the repository root::

    python bench/panel_image.py make OUT [--n 60] [--before]   # OUT/NN.png, OUT/sheet-K.png
    python bench/panel_image.py score OUT READINGS.txt          # one reading per line, in order

``make`` writes ``n`` fresh images of the default length, each scaled to the widget's 160x60 CSS
pixels as a standard-density screen shows it (the harder case: a high-density screen shows all
320x120), and contact sheets of 12 to read from. The answers go to OUT/answers.json, which the
reader must not open before scoring. ``--before`` draws with the renderer of commit 872f5b0 (the
one this panel replaced: 160x60, shown as is). ``score`` prints how many readings were right on
the first try (case-insensitive, spaces ignored) and lists the misses.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.append(str(Path(__file__).resolve().parents[1]))

BEFORE = "872f5b0"
SHOWN = (160, 60)
PER_SHEET = 12


def _renderer(before: bool):  # type: ignore[no-untyped-def]
    if not before:
        from flask_captcha_ext.selfhosted import image

        return image
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:flask_captcha_ext/selfhosted/image.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "image_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("image_before", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make(out: Path, n: int, before: bool) -> None:
    """Write the images, the sheets and the answers."""
    renderer = _renderer(before)
    out.mkdir(parents=True, exist_ok=True)
    answers = []
    shown = []
    for i in range(n):
        text = renderer.random_text(5)
        img = Image.open(io.BytesIO(renderer.render_png(text))).convert("RGB")
        if img.size != SHOWN:
            img = img.resize(SHOWN, Image.Resampling.BOX)  # what a 1x screen shows
        img.save(out / f"{i + 1:02d}.png")
        answers.append(text)
        shown.append(img)
    for k in range(0, n, PER_SHEET):
        batch = shown[k : k + PER_SHEET]
        sheet = Image.new(
            "RGB", (2 * (SHOWN[0] + 30), (len(batch) + 1) // 2 * (SHOWN[1] + 14)), "white"
        )
        draw = ImageDraw.Draw(sheet)
        for j, img in enumerate(batch):
            x, y = (j % 2) * (SHOWN[0] + 30) + 24, (j // 2) * (SHOWN[1] + 14)
            sheet.paste(img, (x, y))
            draw.text((x - 22, y + 24), f"{k + j + 1}", fill="black")
        sheet.save(out / f"sheet-{k // PER_SHEET + 1}.png")
    (out / "answers.json").write_text(json.dumps(answers), encoding="utf-8")


def score(out: Path, readings_file: Path) -> None:
    """Compare the readings with the answers."""
    answers = json.loads((out / "answers.json").read_text(encoding="utf-8"))
    readings = [line.strip() for line in readings_file.read_text(encoding="utf-8").splitlines()]
    readings = [r for r in readings if r]
    if len(readings) != len(answers):
        sys.exit(f"{len(readings)} readings for {len(answers)} images")
    misses = [
        (i + 1, r, a)
        for i, (r, a) in enumerate(zip(readings, answers))
        if "".join(r.split()).upper() != a
    ]
    right = len(answers) - len(misses)
    print(f"{right}/{len(answers)} read right on the first try ({right / len(answers):.0%})")
    for number, reading, answer in misses:
        print(f"  {number:2d}: read {reading!r}, was {answer!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make_cmd = sub.add_parser("make")
    make_cmd.add_argument("out", type=Path)
    make_cmd.add_argument("--n", type=int, default=60)
    make_cmd.add_argument("--before", action="store_true")
    score_cmd = sub.add_parser("score")
    score_cmd.add_argument("out", type=Path)
    score_cmd.add_argument("readings", type=Path)
    opts = parser.parse_args()
    if opts.command == "make":
        make(opts.out, opts.n, opts.before)
    else:
        score(opts.out, opts.readings)


if __name__ == "__main__":
    main()
