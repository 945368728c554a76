"""Noise that adds ink and takes it away, drawn in the text's own colour.

- Ink curves across the text band, thinner than a glyph's stroke (people tell them apart; a
  colour or threshold filter cannot).
- Eraser curves in the paper's colour that cut through glyphs: an OCR engine's segmentation and
  a template's correlation both lose the strokes they cut, while people fill the gap.
- Ink specks and paper holes, a few pixels across.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from .image_random import Chance

__all__ = ["add_noise"]

INK_CURVES = 2
ERASER_CURVES = 1
INK_WIDTH = 1 / 24  # of the height (a glyph stroke is ~1/9)
ERASER_WIDTH = 1 / 48
SPECKS = 1 / 1200  # per pixel
HOLES = 1 / 2000


def _curve(width: int, height: int, chance: Chance) -> list[tuple[float, float]]:
    """Points of a wavy line through the text band, from near one edge to near the other."""
    y0 = height * chance.uniform(0.3, 0.7)
    amp = height * chance.uniform(0.08, 0.22)
    period = width * chance.uniform(0.45, 1.2)
    phase = chance.uniform(0, 2 * math.pi)
    slope = height * chance.uniform(-0.35, 0.35) / width
    step = max(4, width // 40)
    start, end = chance.below(width // 6), width - chance.below(width // 6)
    return [
        (x, y0 + slope * (x - width / 2) + amp * math.sin(2 * math.pi * x / period + phase))
        for x in range(start, end + step, step)
    ]


def _blots(width: int, height: int, count: int, radius: float, chance: Chance) -> list:
    boxes = []
    for _ in range(count):
        x, y = chance.uniform(0, width), chance.uniform(0, height)
        r = radius * chance.uniform(0.6, 1.4)
        boxes.append((x - r, y - r, x + r, y + r))
    return boxes


def add_noise(mask: Image.Image, chance: Chance) -> None:
    """Draw curves, specks and holes on ``mask`` (mode "L", 255 = ink) in place."""
    width, height = mask.size
    draw = ImageDraw.Draw(mask)
    for _ in range(ERASER_CURVES):
        line_width = max(1, round(height * ERASER_WIDTH))
        draw.line(_curve(width, height, chance), fill=0, width=line_width)
    for _ in range(INK_CURVES):
        line_width = max(1, round(height * INK_WIDTH))
        draw.line(_curve(width, height, chance), fill=255, width=line_width)
    radius = max(1.0, height / 60)
    for box in _blots(width, height, int(width * height * HOLES), radius, chance):
        draw.ellipse(box, fill=0)
    for box in _blots(width, height, int(width * height * SPECKS), radius, chance):
        draw.ellipse(box, fill=255)
