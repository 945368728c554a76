"""Glyphs of an image challenge and where they go: continuous size, slant, turn, width, stroke.

Each glyph of an image is one of three faces and three stroke weights, put through one affine
transform (size, rotation, slant, horizontal squeeze) with parameters drawn from continuous
ranges; the whole picture is bent afterwards (:mod:`.image_warp`). There is no cache of finished
glyphs, so no finite set of bitmaps that a solver could take from this code and correlate with an
image.

Glyphs are set left to right with a gap between their boxes, so they never run into each other
(people misread merged glyphs: "HF", "MM"); the row shrinks as a whole when it is too wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw

from .image_fonts import FONT_FILES, font
from .image_random import Chance

BILINEAR = Image.Resampling.BILINEAR

__all__ = ["Glyph", "SIZE_RANGE", "draw_glyph", "lay_out", "outline", "preload"]

#: Font size as a fraction of the image height, before the row is shrunk to fit.
SIZE_RANGE = (0.62, 0.74)
MAX_TURN = 24.0  # degrees, either way
MAX_SLANT = 0.28  # horizontal shear, either way
SQUEEZE = (0.82, 1.04)  # horizontal scale
BASE_SIZE = 96  # pixels: outlines are drawn at this size once, then scaled per image
STROKES = 3  # extra stroke 0, 1 or 2 pixels at BASE_SIZE: regular, bold, heavier
GAP = (0.02, 0.06)  # between glyph boxes, as a fraction of the height
JITTER = 0.13  # vertical offset either way, as a fraction of the height


@dataclass(frozen=True)
class Glyph:
    """One drawn character: its ink mask (mode "L", 255 = ink) and its top-left corner."""

    mask: Image.Image
    x: int
    y: int


@cache
def outline(char: str, face: int, stroke: int) -> Image.Image:
    """The upright ink mask of ``char`` in one face at :data:`BASE_SIZE`, with extra stroke.

    The only cached bitmaps: every image scales, turns, slants and squeezes them by amounts drawn
    from continuous ranges, then bends the whole picture, so none of them reaches an image as is.
    """
    fnt = font(face, BASE_SIZE)
    left, top, right, bottom = fnt.getbbox(char, stroke_width=stroke)
    pad = 2
    mask = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(mask).text(
        (pad - left, pad - top), char, font=fnt, fill=255, stroke_width=stroke, stroke_fill=255
    )
    return mask


def draw_glyph(
    char: str, face: int, size: float, stroke: int, turn: float, slant: float, squeeze: float
) -> Image.Image:
    """The ink mask of ``char`` at ``size`` pixels: turned, slanted and squeezed, and cropped."""
    mask = outline(char, face, stroke)
    w, h = mask.size
    scale = size / BASE_SIZE
    # Forward map about the centre: p' = R(turn) . Shear(slant) . Scale(scale * squeeze, scale) . p
    cos, sin = math.cos(math.radians(turn)), math.sin(math.radians(turn))
    sx = scale * squeeze
    a, b = cos * sx, (cos * slant - sin) * scale
    c, d = sin * sx, (sin * slant + cos) * scale
    corners = [(x - w / 2, y - h / 2) for x in (0, w) for y in (0, h)]
    xs = [a * x + b * y for x, y in corners]
    ys = [c * x + d * y for x, y in corners]
    out_w, out_h = math.ceil(max(xs) - min(xs)) + 2, math.ceil(max(ys) - min(ys)) + 2
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det  # inverse: output -> input
    cx, cy = out_w / 2, out_h / 2
    data = (ia, ib, w / 2 - ia * cx - ib * cy, ic, id_, h / 2 - ic * cx - id_ * cy)
    out = mask.transform((out_w, out_h), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
    box = out.getbbox()
    return out.crop(box) if box else out


def _random_glyph(char: str, size: float, chance: Chance) -> Image.Image:
    return draw_glyph(
        char,
        face=chance.below(len(FONT_FILES)),
        size=size,
        stroke=chance.below(STROKES),
        turn=chance.uniform(-MAX_TURN, MAX_TURN),
        slant=chance.uniform(-MAX_SLANT, MAX_SLANT),
        squeeze=chance.uniform(*SQUEEZE),
    )


def preload(alphabet: str) -> None:
    """Draw every outline now (~20 ms), so the first image costs what the thousandth does."""
    for char in alphabet:
        for face in range(len(FONT_FILES)):
            for stroke in range(STROKES):
                outline(char, face, stroke)


def lay_out(text: str, width: int, height: int, chance: Chance) -> list[Glyph]:
    """Glyphs of ``text`` placed in a row across the image, centred, jittered, never touching."""
    scale = chance.uniform(*SIZE_RANGE)
    margin = max(2, width // 40)
    sizes = [max(8.0, height * scale * chance.uniform(0.94, 1.04)) for _ in text]
    masks = [_random_glyph(char, size, chance) for char, size in zip(text, sizes)]
    gaps = [round(height * chance.uniform(*GAP)) for _ in text[1:]]
    total = sum(m.width for m in masks) + sum(gaps)
    tallest = max(m.height for m in masks)
    fit = min((width - 2 * margin) / total, (height - 2 * margin) / tallest)
    if fit < 1:  # too wide (or tall): shrink the row as drawn, rather than draw it again
        masks = [
            m.resize((max(1, int(m.width * fit)), max(1, int(m.height * fit))), BILINEAR)
            for m in masks
        ]
        gaps = [int(gap * fit) for gap in gaps]
        total = sum(m.width for m in masks) + sum(gaps)
    x = (width - total) // 2
    placed = []
    for i, mask in enumerate(masks):
        slack = height - mask.height
        jitter = min(slack // 2, round(height * JITTER))
        y = slack // 2 + round(chance.uniform(-jitter, jitter))
        placed.append(Glyph(mask, x, max(0, min(slack, y))))
        x += mask.width + (gaps[i] if i < len(gaps) else 0)
    return placed
