"""A smooth random displacement of the whole image: the text bends as one piece.

Every pixel moves by a field made of two sine waves per axis, with directions, wavelengths and
phases drawn per image. Glyphs keep their shape locally (people read them), but no two images
bend the same way, so a glyph never appears as the same pixels twice. Pillow's MESH transform does
the per-pixel work in C; Python only computes the grid's corners. It samples the nearest pixel:
the glyphs' edges are already smoothed by their own transform, and bilinear sampling here doubled
the cost of the whole image.
"""

from __future__ import annotations

import math

from PIL import Image

from .image_random import Chance

__all__ = ["warp"]

AMPLITUDE = (0.035, 0.07)  # of the height, per wave
WAVELENGTH = (0.5, 1.3)  # of the width
CELL = 80  # mesh cell side in pixels (at 320x120: 4 x 2 cells; the waves are 160 px or longer)


def _field(width: int, height: int, chance: Chance) -> list[tuple[float, float, float, float]]:
    """(amplitude, kx, ky, phase) of each wave: two for x, then two for y."""
    waves = []
    for _ in range(4):
        amplitude = height * chance.uniform(*AMPLITUDE)
        length = width * chance.uniform(*WAVELENGTH)
        angle = chance.uniform(0, math.pi)
        k = 2 * math.pi / length
        waves.append((amplitude, k * math.cos(angle), k * math.sin(angle), chance.uniform(0, 6.3)))
    return waves


def warp(mask: Image.Image, chance: Chance) -> Image.Image:
    """``mask`` resampled through a random smooth displacement field (same size)."""
    width, height = mask.size
    waves = _field(width, height, chance)

    def source(x: int, y: int) -> tuple[float, float]:
        dx = sum(a * math.sin(kx * x + ky * y + p) for a, kx, ky, p in waves[:2])
        dy = sum(a * math.sin(kx * x + ky * y + p) for a, kx, ky, p in waves[2:])
        return x + dx, y + dy

    xs = [*range(0, width, CELL), width]
    ys = [*range(0, height, CELL), height]
    src = {(x, y): source(x, y) for x in xs for y in ys}
    mesh = [
        ((x0, y0, x1, y1), (*src[x0, y0], *src[x0, y1], *src[x1, y1], *src[x1, y0]))
        for x0, x1 in zip(xs, xs[1:])
        for y0, y1 in zip(ys, ys[1:])
    ]
    return mask.transform(mask.size, Image.Transform.MESH, mesh, Image.Resampling.NEAREST)
