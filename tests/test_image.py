"""The self-hosted image challenge: alphabet, text, answers and the PNG itself."""

from __future__ import annotations

import io
import subprocess
import sys
from collections import Counter

import pytest
from PIL import Image, ImageFilter

from flask_captcha_ext.selfhosted.image import (
    ALPHABET,
    normalize_answer,
    random_text,
    render_png,
)

# Characters people confuse once distorted (upper case is displayed); the alphabet may hold at
# most one of each group, and none of NEVER (whole look-alike groups people misread: X/Y/K, M/N/H).
LOOK_ALIKES = ["0OQD", "1IL|!", "17T", "2Z", "5S", "56G", "8B3", "9gq", "UV", "4A", "CG", "FPR"]
NEVER = set("0Oo1lIi5SZ8B6b4gquvXYKMNHFPV7J")  # J: turned, read as 9, L or T


def _open(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    img.load()
    return img


def _grey(png: bytes) -> tuple[Image.Image, int]:
    """The image in grey and its background (most common) level."""
    grey = _open(png).convert("L")
    hist = grey.histogram()
    return grey, hist.index(max(hist))


def _relative_luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_alphabet_has_no_look_alikes():
    assert len(set(ALPHABET)) == len(ALPHABET), "duplicate characters"
    assert 11 <= len(ALPHABET) <= 25
    assert ALPHABET == ALPHABET.upper()
    assert not NEVER & set(ALPHABET)
    for group in LOOK_ALIKES:
        present = [c for c in group if c in ALPHABET]
        assert len(present) <= 1, f"look-alikes {present} are all in the alphabet"


@pytest.mark.parametrize("length", [1, 4, 8])
def test_random_text_length_and_alphabet(length):
    for _ in range(50):
        text = random_text(length)
        assert len(text) == length
        assert set(text) <= set(ALPHABET)


def test_random_text_varies_and_covers_the_alphabet():
    texts = [random_text(6) for _ in range(300)]
    assert len(set(texts)) >= 295  # millions of possibilities: repeats are near impossible
    counts = Counter("".join(texts))
    assert set(counts) == set(ALPHABET)
    expected = 1800 / len(ALPHABET)  # about 100 per character: far off means a bias
    assert expected / 2 < min(counts.values()) <= max(counts.values()) < expected * 1.7


def test_random_text_rejects_empty():
    with pytest.raises(ValueError):
        random_text(0)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("acef", "ACEF"),
        ("AcEf", "ACEF"),
        ("  ac ef \n", "ACEF"),
        ("a\tc e\u00a0f", "ACEF"),
        ("", ""),
    ],
)
def test_normalize_answer(answer, expected):
    assert normalize_answer(answer) == expected


def test_text_is_its_own_normalized_answer():
    text = random_text(5)
    assert normalize_answer(text.lower()) == normalize_answer(f" {text} ") == text


def test_no_two_characters_look_alike_in_any_face():
    """Upright and at the size used, no two characters of the alphabet in any two of the shipped
    faces correlate as closely as T and 7, K and X or S and 3 do (0.71 to 0.73 by this measure;
    E and L, the closest pair kept, 0.68)."""
    from flask_captcha_ext.selfhosted.image_fonts import FONT_FILES
    from flask_captcha_ext.selfhosted.image_layout import draw_glyph

    def shape(char: str, face: int) -> list[float]:
        glyph = draw_glyph(char, face, 80, 1, 0.0, 0.0, 1.0).resize((24, 32))
        values = list(glyph.tobytes())
        mean = sum(values) / len(values)
        centred = [v - mean for v in values]
        norm = sum(v * v for v in centred) ** 0.5
        return [v / norm for v in centred]

    faces = range(len(FONT_FILES))
    shapes = {c: [shape(c, f) for f in faces] for c in ALPHABET + "S7KX"}

    def likeness(a: str, b: str) -> float:
        return max(sum(x * y for x, y in zip(p, q)) for p in shapes[a] for q in shapes[b])

    for pair in ("T7", "KX", "S3"):  # the measure sees look-alikes
        assert likeness(*pair) > 0.7
    worst = max((likeness(a, b), a, b) for i, a in enumerate(ALPHABET) for b in ALPHABET[i + 1 :])
    assert worst[0] < 0.7, f"{worst[1]} and {worst[2]} look alike ({worst[0]:.2f})"


@pytest.mark.parametrize("size", [(320, 120), (160, 60), (200, 80), (161, 61), (120, 40)])
def test_png_is_valid_and_sized(size):
    png = render_png("ACEF", *size)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(io.BytesIO(png)).verify()  # structure and chunk CRCs
    img = _open(png)
    assert img.format == "PNG"
    assert img.size == size
    lo, hi = img.convert("L").getextrema()
    assert hi - lo > 150  # something dark is drawn on something light


def test_default_size_is_twice_the_widget_and_long_text_fits():
    """320x120: sharp at the widget's 160x60 CSS pixels on a high-density screen."""
    assert _open(render_png(random_text(5))).size == (320, 120)
    assert _open(render_png(random_text(10))).size == (320, 120)  # glyphs shrink to fit


def test_render_rejects_bad_input():
    with pytest.raises(ValueError):
        render_png("")
    with pytest.raises(ValueError):
        render_png("ACEF", 8, 60)


def test_two_renders_of_the_same_text_differ():
    a, b = render_png("ACEF"), render_png("ACEF")
    assert a != b
    assert _open(a).convert("L").tobytes() != _open(b).convert("L").tobytes()


def test_contrast_and_ink_coverage():
    for _ in range(20):
        png = render_png(random_text(5))
        rgb = _open(png).convert("RGB").tobytes()
        colours = Counter(zip(rgb[0::3], rgb[1::3], rgb[2::3]))
        paper = colours.most_common(1)[0][0]
        ink = min(colours, key=_relative_luminance)
        light, dark = _relative_luminance(paper), _relative_luminance(ink)
        assert (light + 0.05) / (dark + 0.05) >= 7, "below WCAG AAA contrast"

        grey, paper_level = _grey(png)
        ink_levels = [v for v in grey.tobytes() if v < paper_level - 100]
        share = len(ink_levels) / (grey.width * grey.height)
        assert 0.08 < share < 0.45, f"ink covers {share:.0%} of the image"
        assert paper_level - sum(ink_levels) / len(ink_levels) > 150


def test_glyphs_are_big():
    """Glyph strokes (what survives a 3x3 erosion; lines and dots don't) fill much of the image."""
    for _ in range(20):
        grey, paper_level = _grey(render_png(random_text(5)))
        eroded = grey.filter(ImageFilter.MaxFilter(3))
        strokes = eroded.point([255 if v < paper_level - 100 else 0 for v in range(256)])
        left, top, right, bottom = strokes.getbbox()
        assert right - left > 0.5 * grey.width
        assert bottom - top > 0.6 * grey.height


@pytest.mark.parametrize("bits", [2, 4])
def test_pillow_writer_fallback_gives_the_same_pixels(bits: int) -> None:
    """Older Pillow (Python 3.9) lacks the L;2/L;4 packers: the fallback writes the same image."""
    from flask_captcha_ext.selfhosted.image_png import palette_png, pillow_png

    levels = 1 << bits
    img = Image.new("L", (37, 11), 0)
    for x in range(37):
        img.putpixel((x, x % 11), x % levels)
    palette = bytes(value for level in range(levels) for value in (level * 255 // levels,) * 3)
    fast, slow = palette_png(img, palette, bits), pillow_png(img, palette, bits)
    decoded = [Image.open(io.BytesIO(data)).convert("L") for data in (fast, slow)]
    assert decoded[0].tobytes() == decoded[1].tobytes()
    assert Image.open(io.BytesIO(fast)).info.get("transparency") is None


def test_no_two_glyphs_are_the_same_bitmap():
    """Continuous size, turn, slant and squeeze: the same character never comes out as the same
    pixels, so there is no finite set of finished glyphs to correlate with."""
    from flask_captcha_ext.selfhosted.image_layout import lay_out
    from flask_captcha_ext.selfhosted.image_random import Chance

    chance = Chance()
    glyphs = [g.mask.tobytes() for _ in range(20) for g in lay_out("AAAAA", 320, 120, chance)]
    assert len(set(glyphs)) == len(glyphs)


def _in_a_fresh_process(script: str) -> list[str]:
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()


def test_outlines_are_ready_after_init_app():
    """A fresh worker draws its first image at full speed: ``init_app`` of an app that serves
    images draws every cached outline (11 characters, 3 faces, 3 weights), and images add none."""
    out = _in_a_fresh_process(
        "import tempfile\n"
        "from flask import Flask\n"
        "from flask_captcha_ext import CaptchaExt\n"
        "app = Flask('a')\n"
        "app.config.update(SECRET_KEY='s' * 32, CAPTCHA_PROVIDER='selfhosted',\n"
        "    CAPTCHA_STORE_URL='sqlite:///' + tempfile.mkdtemp() + '/c.db')\n"
        "CaptchaExt(app)\n"
        "from flask_captcha_ext.selfhosted import image, image_layout as layout\n"
        "before = layout.outline.cache_info()\n"
        "for _ in range(30): image.render_png(image.random_text(8))\n"
        "after = layout.outline.cache_info()\n"
        "print(before.currsize, after.misses - before.misses)\n"
    )
    from flask_captcha_ext.selfhosted import image_layout
    from flask_captcha_ext.selfhosted.image_fonts import FONT_FILES

    assert int(out[0]) == len(ALPHABET) * len(FONT_FILES) * image_layout.STROKES
    assert int(out[1]) == 0, "an image drew an outline that init_app did not"


def test_apps_without_images_never_load_the_renderer():
    out = _in_a_fresh_process(
        "import sys, tempfile\n"
        "import flask_captcha_ext\n"
        "print('flask_captcha_ext.selfhosted.image' in sys.modules)\n"
        "from flask import Flask\n"
        "app = Flask('a')\n"
        "app.config.update(SECRET_KEY='s' * 32, CAPTCHA_PROVIDER='selfhosted',\n"
        "    CAPTCHA_CHALLENGE_TYPES=('pow',),\n"
        "    CAPTCHA_STORE_URL='sqlite:///' + tempfile.mkdtemp() + '/c.db')\n"
        "flask_captcha_ext.CaptchaExt(app)\n"
        "print('flask_captcha_ext.selfhosted.image' in sys.modules)\n"
    )
    assert out == ["False", "False"]


def test_fonts_ship_with_their_licences():
    from flask_captcha_ext.selfhosted.image_fonts import FONT_DIR, FONT_FILES

    assert len(FONT_FILES) == 3
    for path in FONT_FILES:
        assert path.is_file() and path.stat().st_size > 5000
    licences = sorted(p.name for p in FONT_DIR.glob("LICENSE-*.txt"))
    assert len(licences) == 3
    for name in licences:
        text = (FONT_DIR / name).read_text(encoding="utf-8")
        assert "Open Font License" in text or "Apache License" in text
