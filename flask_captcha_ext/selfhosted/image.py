"""Self-hosted image challenge: random text and a PNG of it that people read and templates don't.

The image is drawn at twice the size it is shown (320x120 for a 160x60 widget), so it is sharp on
high-density screens. Steps, each in its own module:

1. :mod:`.image_layout` draws every glyph fresh in one of three shipped faces
   (:mod:`.image_fonts`) with continuous size, stroke, turn, slant and squeeze, and sets them in a
   row with gaps, so glyphs never merge;
2. :mod:`.image_noise` adds thin ink curves and specks and cuts paper-coloured curves and holes
   through the ink;
3. :mod:`.image_warp` bends the whole picture through a smooth random displacement field;
4. the ink mask becomes four grey levels in one of five palettes (contrast above 10:1) and a
   2-bit palette PNG (:mod:`.image_png`).

Nothing is cached between images but 99 upright outlines (11 characters, 3 faces, 3 weights),
drawn by :func:`prepare` in ~20 ms at ``init_app`` (so before a preloading master forks), so the
first image of a fresh worker costs what the thousandth does.

Randomness: the text comes from :mod:`secrets`; layout and noise use ``os.urandom``
(:class:`.image_random.Chance`).
"""

from __future__ import annotations

import secrets

from PIL import Image

from . import image_layout
from .image_noise import add_noise
from .image_png import palette_png
from .image_random import Chance
from .image_warp import warp

__all__ = ["ALPHABET", "HEIGHT", "WIDTH", "normalize_answer", "random_text", "render_png"]

#: Upper-case characters that no two of the three faces make look alike (no 0/O/Q/D, 1/I, 4,
#: 5/6/G/S, 7, 8/B, F/P, H/M/N, K/X/Y, V, Z; tests/test_image.py measures it), and no J: turned,
#: it was read as 9, L or T, the only misses of a 60-image reading panel. Compare answers
#: upper-cased. 11 characters, 5 of them by default: one blind guess passes 1 time in
#: 11**5 = 161,051.
ALPHABET = "ACELRTUW239"

#: The PNG's default size: twice the 160x60 CSS pixels the widget shows it at.
WIDTH, HEIGHT = 320, 120

_BITS = 2  # four grey levels: ink, two edge shades, paper
_LEVELS = (1 << _BITS) - 1
_PALETTES = (  # (ink, paper): dark on light, contrast ratio above 10:1
    ((20, 30, 90), (246, 244, 232)),
    ((95, 20, 30), (240, 246, 250)),
    ((15, 70, 40), (250, 246, 238)),
    ((35, 35, 35), (236, 242, 248)),
    ((70, 25, 95), (246, 248, 236)),
)
_PLTE: tuple[bytes, ...] = tuple(
    bytes(
        round(ink[c] + (paper[c] - ink[c]) * level / _LEVELS)
        for level in range(_LEVELS + 1)
        for c in range(3)
    )
    for ink, paper in _PALETTES
)
# Ink mask (255 = ink) -> palette index (0 = ink, _LEVELS = paper).
_TO_LEVEL = [_LEVELS - min(_LEVELS, (v * (_LEVELS + 1)) >> 8) for v in range(256)]


def normalize_answer(answer: str) -> str:
    """Canonical form of a user's answer: no whitespace anywhere, upper case."""
    return "".join(answer.split()).upper()


def random_text(length: int) -> str:
    """``length`` characters drawn from :data:`ALPHABET` with :mod:`secrets`."""
    if length < 1:
        raise ValueError("length must be at least 1")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def render_png(text: str, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A PNG of ``text``: separate, varied, bent glyphs with ink added and cut away."""
    if not text:
        raise ValueError("text must not be empty")
    if width < 16 or height < 16:
        raise ValueError("width and height must be at least 16")
    chance = Chance()
    mask = Image.new("L", (width, height), 0)
    for glyph in image_layout.lay_out(text, width, height, chance):
        mask.paste(
            255,
            (glyph.x, glyph.y, glyph.x + glyph.mask.width, glyph.y + glyph.mask.height),
            glyph.mask,
        )
    add_noise(mask, chance)
    levels = warp(mask, chance).point(_TO_LEVEL)
    return palette_png(levels, _PLTE[chance.below(len(_PLTE))], _BITS)


def prepare() -> None:
    """Draw the outlines every image starts from now (~20 ms, once per process): ``init_app``
    calls it when the app serves images, so no request pays for it."""
    image_layout.preload(ALPHABET)
