"""Self-hosted image challenge: random text and a fast, OCR-unfriendly PNG of it.

Font: Pillow's bundled Aileron Regular (``ImageFont.load_default(size=...)``, Pillow >= 10.1 with
FreeType, which every Pillow wheel has). Aileron is CC0, so no font file or licence ships with the
package and no system font is assumed.

Speed: each glyph is rendered, emboldened, warped and rotated once per (character, size, angle
bucket, warp variant) and cached; glyph bitmaps are neither secrets nor app state, so a bounded
module-level cache is fine. An image is then a few mask pastes and lines on a 16-level canvas,
written as a 4-bit palette PNG by hand (Pillow's PNG writer costs more than the drawing).

Randomness: the text comes from :mod:`secrets`; layout and noise use ``os.urandom`` bytes
consumed in bulk.
"""

from __future__ import annotations

import math
import os
import secrets
import struct
import zlib
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

__all__ = ["ALPHABET", "normalize_answer", "random_text", "render_png"]

#: Upper-case glyphs with no look-alikes among themselves or with the characters left out
#: (0/O/Q/D, 1/I/i/l, 2/Z, 5/S, 6/G, 7/T, 8/B, 9/g/q, U/V ...). Answers are compared upper-cased.
ALPHABET = "ACEFHJKLMNPRTWXY34"

_ANGLE_STEP = 4
_MAX_ANGLE = 24
_WARPS = 4  # cached warp variants per glyph
_ADVANCE = (0.82, 0.95)  # next glyph starts at this fraction of the previous one's width
_LINES = 2  # ink-coloured curves across the text
_LINE_WIDTH = 1 / 24  # of the height
_DOTS = 1 / 100  # per pixel
_CUTS = 2  # paper-coloured curves cutting through the glyphs
_CUT_WIDTH = 2
_SIZE = 0.68  # font size as a fraction of the height (shrunk when the text is too wide)
_CONDENSE = 1.0  # glyph width scale
_INK, _PAPER = 0, 15  # canvas levels; the palette maps 0..15 onto ink..paper
_PALETTES = (  # (ink, paper): dark on light, contrast ratio above 10:1
    ((20, 30, 90), (246, 244, 232)),
    ((95, 20, 30), (240, 246, 250)),
    ((15, 70, 40), (250, 246, 238)),
    ((35, 35, 35), (236, 242, 248)),
    ((70, 25, 95), (246, 248, 236)),
)
_PLTE: tuple[bytes, ...] = tuple(
    bytes(round(ink[c] + (paper[c] - ink[c]) * i / _PAPER) for i in range(16) for c in range(3))
    for ink, paper in _PALETTES
)


def normalize_answer(answer: str) -> str:
    """Canonical form of a user's answer: no whitespace anywhere, upper case."""
    return "".join(answer.split()).upper()


def random_text(length: int) -> str:
    """``length`` characters drawn from :data:`ALPHABET` with :mod:`secrets`."""
    if length < 1:
        raise ValueError("length must be at least 1")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("Pillow was built without FreeType; image captchas need it")
    return font


@lru_cache(maxsize=8192)
def _glyph(char: str, size: int, angle: int, warp: int) -> Image.Image:
    """Mask (mode "L", 255 = ink) of ``char``: bold, wave-warped, rotated, cropped tight."""
    font = _font(size)
    stroke = max(1, round(size / 22))
    left, top, right, bottom = font.getbbox(char, stroke_width=stroke)
    pad = size // 6
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).text(
        (pad - left, pad - top), char, font=font, fill=255, stroke_width=stroke, stroke_fill=255
    )
    # A fixed (per variant) sine warp: rows slide sideways, columns bob up and down.
    amp_x, amp_y = size * (0.04 + 0.02 * (warp & 1)), size * (0.03 + 0.02 * (warp >> 1))
    phase = warp * 1.7
    step = 4
    mesh = []
    for y0 in range(0, h, step):
        y1 = min(y0 + step, h)
        for x0 in range(0, w, step):
            x1 = min(x0 + step, w)

            def src(x: int, y: int) -> tuple[float, float]:
                return (
                    x + amp_x * math.sin(2 * math.pi * y / h + phase),
                    y + amp_y * math.sin(2 * math.pi * x / w + phase * 1.3),
                )

            quad = (*src(x0, y0), *src(x0, y1), *src(x1, y1), *src(x1, y0))
            mesh.append(((x0, y0, x1, y1), quad))
    mask = mask.transform((w, h), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
    if _CONDENSE != 1:
        mask = mask.resize((max(1, round(w * _CONDENSE)), h), Image.Resampling.BILINEAR)
    mask = mask.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    bbox = mask.getbbox()
    return mask.crop(bbox) if bbox else mask


class _Noise:
    """Cheap non-secret randomness for layout and noise: ``os.urandom`` bytes in bulk."""

    def __init__(self, n: int = 256) -> None:
        self._buf = os.urandom(n)
        self._i = 0

    def byte(self) -> int:
        if self._i >= len(self._buf):
            self._buf, self._i = os.urandom(len(self._buf)), 0
        self._i += 1
        return self._buf[self._i - 1]

    def below(self, n: int) -> int:
        """An int in [0, n), coarse (256 steps); fine for noise."""
        return self.byte() * n >> 8

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.byte() / 255


def _layout(text: str, width: int, height: int, rnd: _Noise) -> list[tuple[Image.Image, int, int]]:
    """Glyph masks and their top-left corners: touching, centred, jittered, shrunk to fit."""
    angles = 2 * _MAX_ANGLE // _ANGLE_STEP + 1
    picks = [
        (c, rnd.below(angles) * _ANGLE_STEP - _MAX_ANGLE, rnd.below(_WARPS), rnd.uniform(*_ADVANCE))
        for c in text
    ]
    size = max(10, round(height * _SIZE))
    while True:
        glyphs = [_glyph(c, size, angle, warp) for c, angle, warp, _ in picks]
        advances = [int(g.width * adv) for g, (*_, adv) in zip(glyphs, picks)]
        total = sum(advances[:-1]) + glyphs[-1].width
        if total <= width - 8 or size <= 10:
            break
        size = max(10, size * 9 // 10)
    x = (width - total) // 2 + rnd.below(7) - 3
    placed = []
    for glyph, advance in zip(glyphs, advances):
        slack = height - glyph.height
        y = slack // 2 + (rnd.below(slack // 2 + 1) - slack // 4 if slack > 0 else 0)
        placed.append((glyph, x, y))
        x += advance
    return placed


def _curve(width: int, height: int, rnd: _Noise) -> list[tuple[float, float]]:
    """Points of a wavy line across the text band."""
    y0 = height * rnd.uniform(0.3, 0.7)
    amp = height * rnd.uniform(0.1, 0.25)
    period = width * rnd.uniform(0.5, 1.2)
    phase = rnd.uniform(0, 2 * math.pi)
    slope = height * rnd.uniform(-0.4, 0.4) / width
    x_end = width - rnd.below(width // 8)
    return [
        (x, y0 + slope * (x - width / 2) + amp * math.sin(2 * math.pi * x / period + phase))
        for x in range(rnd.below(width // 8), x_end + 6, 6)
    ]


def _png(img: Image.Image, palette: bytes) -> bytes:
    """A 4-bit palette PNG of ``img`` (mode "L", levels 0..15)."""
    width, height = img.size
    packed = img.tobytes("raw", "L;4")
    stride = (width + 1) // 2
    raw = b"".join(b"\0" + packed[i : i + stride] for i in range(0, stride * height, stride))
    comp = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
    idat = comp.compress(raw) + comp.flush()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 4, 3, 0, 0, 0)
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        chunk(b"IHDR", ihdr),
        chunk(b"PLTE", palette),
        chunk(b"IDAT", idat),
        chunk(b"IEND", b""),
    ))


def render_png(text: str, width: int = 160, height: int = 60) -> bytes:
    """A PNG of ``text``: dark, bold, rotated, touching glyphs crossed by ink-coloured curves."""
    if not text:
        raise ValueError("text must not be empty")
    if width < 16 or height < 16:
        raise ValueError("width and height must be at least 16")
    rnd = _Noise()
    img = Image.new("L", (width, height), _PAPER)
    for glyph, x, y in _layout(text, width, height, rnd):
        img.paste(_INK, (x, y, x + glyph.width, y + glyph.height), glyph)
    draw = ImageDraw.Draw(img)
    line_width = max(2, round(height * _LINE_WIDTH))
    for _ in range(_LINES):
        draw.line(_curve(width, height, rnd), fill=_INK, width=line_width, joint="curve")
    for _ in range(_CUTS):
        draw.line(_curve(width, height, rnd), fill=_PAPER, width=_CUT_WIDTH, joint="curve")
    dots = [(rnd.below(width), rnd.below(height)) for _ in range(int(width * height * _DOTS))]
    draw.point(dots, fill=_INK)
    draw.point([(x + 1, y) for x, y in dots[::2]], fill=_INK)
    return _png(img, _PLTE[rnd.below(len(_PLTE))])
