"""The self-hosted image challenge: alphabet, text, answers and the PNG itself."""

from __future__ import annotations

import io
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
# most one of each group, and none of NEVER.
LOOK_ALIKES = ["0OQD", "1IL|!", "17T", "2Z", "5S", "6G", "8B3", "9gq", "UV", "4A", "CG"]
NEVER = set("0Oo1lIi5S2Z8B6b9gquv")


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
    assert 15 <= len(ALPHABET) <= 25
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


@pytest.mark.parametrize("size", [(160, 60), (200, 80), (161, 61), (120, 40)])
def test_png_is_valid_and_sized(size):
    png = render_png("ACEF", *size)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(io.BytesIO(png)).verify()  # structure and chunk CRCs
    img = _open(png)
    assert img.format == "PNG"
    assert img.size == size
    lo, hi = img.convert("L").getextrema()
    assert hi - lo > 150  # something dark is drawn on something light


def test_default_size_and_long_text():
    assert _open(render_png(random_text(4))).size == (160, 60)
    assert _open(render_png(random_text(10))).size == (160, 60)  # glyphs shrink to fit


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
        png = render_png(random_text(4))
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
        grey, paper_level = _grey(render_png(random_text(4)))
        eroded = grey.filter(ImageFilter.MaxFilter(3))
        strokes = eroded.point([255 if v < paper_level - 100 else 0 for v in range(256)])
        left, top, right, bottom = strokes.getbbox()
        assert right - left > 0.5 * grey.width
        assert bottom - top > 0.6 * grey.height


def test_pillow_writer_fallback_gives_the_same_pixels() -> None:
    """Older Pillow (Python 3.9) lacks the L;4 packer: the fallback must write the same image."""
    from PIL import Image

    img = Image.new("L", (37, 11), 0)
    for x in range(37):
        img.putpixel((x, x % 11), x % 16)
    palette = bytes(value for level in range(16) for value in (level * 16,) * 3)
    from flask_captcha_ext.selfhosted import image

    fast, slow = image._png(img, palette), image._pillow_png(img, palette)
    decoded = [Image.open(io.BytesIO(data)).convert("L") for data in (fast, slow)]
    assert decoded[0].tobytes() == decoded[1].tobytes()
