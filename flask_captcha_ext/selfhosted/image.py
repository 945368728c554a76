"""Self-hosted image challenge: random text and a fast, OCR-unfriendly PNG of it.

Font: Pillow's bundled Aileron Regular (``ImageFont.load_default(size=...)``, Pillow >= 10.1 built
with FreeType, as every Pillow wheel is). Aileron is CC0, so no font file or licence ships with the
package and no system font is assumed.

Speed: each glyph is rendered bold, condensed, warped and rotated once per (character, size, angle
bucket, warp variant) and cached. Glyph bitmaps are neither secrets nor app state, so a bounded
module-level cache is fine. An image is then a few mask pastes, two lines and some dots on a
16-level canvas, written as a 4-bit palette PNG by hand (Pillow's PNG writer costs more than all
the drawing).

What beats off-the-shelf OCR while people still read it: per-glyph rotation, size and baseline
jitter, touching glyphs, thin curves and specks in the glyphs' own colour (so no colour or
threshold filter separates them from the text).

Randomness: the text comes from :mod:`secrets`; layout and noise use ``os.urandom`` bytes.
"""

from __future__ import annotations

import io
import math
import os
import secrets
import struct
import zlib
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

__all__ = ["ALPHABET", "normalize_answer", "random_text", "render_png"]

#: Upper-case glyphs with no look-alikes among themselves or with the characters left out
#: (0/O/Q/D, 1/I/i/l, 2/Z, 4/A, 5/S, 6/G, 7/T, 8/B, 9/g/q, U/V). Compare answers upper-cased.
ALPHABET = "ACEFHJKLMNPRTWXY3"

_SIZE = 0.75  # font size as a fraction of the height (shrunk when the text is too wide)
_SIZES = 3  # size variants per glyph, 10% apart
_CONDENSE = 0.8  # glyph width scale: tall, narrow glyphs fit without piling up
_MAX_ANGLE, _ANGLE_STEP = 24, 6  # rotation buckets in degrees
_WARPS = 3  # cached warp variants per glyph
_ADVANCE = (0.9, 1.02)  # next glyph starts at this fraction of the previous one's width
_JITTER = 0.15  # vertical jitter of each glyph, as a fraction of the height
_LINES = 2  # ink-coloured curves across the text
_LINE_WIDTH = 1 / 24  # of the height: well under a glyph stroke, so people tell them apart
_DOTS = 1 / 100  # one- and two-pixel dots, per pixel
_SPECKS = 1 / 300  # 3x3 specks (a median filter doesn't remove them), per pixel
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


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("Pillow was built without FreeType; image captchas need it")
    return font


@lru_cache(maxsize=4096)
def _glyph(char: str, size: int, angle: int, warp: int) -> Image.Image:
    """Mask (mode "L", 255 = ink) of ``char``: bold, condensed, wave-warped, rotated, cropped."""
    font = _font(size)
    stroke = max(1, round(size / 22))
    left, top, right, bottom = font.getbbox(char, stroke_width=stroke)
    pad = size // 6
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).text(
        (pad - left, pad - top), char, font=font, fill=255, stroke_width=stroke, stroke_fill=255
    )
    # Condense and warp in one mesh transform: rows slide sideways, columns bob up and down.
    out_w = max(1, round(w * _CONDENSE))
    amp_x, amp_y = size * (0.03 + 0.015 * warp), size * (0.05 - 0.015 * warp)
    phase = 1.0 + warp * 2.1

    xs, ys = [*range(0, out_w, 8), out_w], [*range(0, h, 8), h]
    src = {
        (x, y): (
            x / _CONDENSE + amp_x * math.sin(2 * math.pi * y / h + phase),
            y + amp_y * math.sin(2 * math.pi * x / out_w + phase * 1.3),
        )
        for x in xs
        for y in ys
    }
    mesh = [
        ((x0, y0, x1, y1), (*src[x0, y0], *src[x0, y1], *src[x1, y1], *src[x1, y0]))
        for x0, x1 in zip(xs, xs[1:])
        for y0, y1 in zip(ys, ys[1:])
    ]
    mask = mask.transform((out_w, h), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
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
        (
            char,
            rnd.below(angles) * _ANGLE_STEP - _MAX_ANGLE,
            rnd.below(_WARPS),
            rnd.uniform(*_ADVANCE),
            rnd.below(_SIZES),
        )
        for char in text
    ]
    size = max(10, round(height * _SIZE))
    while True:
        glyphs = [
            _glyph(char, size - k * size // 10, angle, warp) for char, angle, warp, _, k in picks
        ]
        advances = [int(glyph.width * pick[3]) for glyph, pick in zip(glyphs, picks)]
        total = sum(advances[:-1]) + glyphs[-1].width
        if total <= width - 8 or size <= 10:
            break
        size = max(10, size * 9 // 10)
    x = (width - total) // 2 + rnd.below(7) - 3
    placed = []
    for glyph, advance in zip(glyphs, advances):
        slack = height - glyph.height
        jitter = max(0, min(slack // 2 - 2, int(height * _JITTER)))
        placed.append((glyph, x, slack // 2 - jitter + rnd.below(2 * jitter + 1)))
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


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png(img: Image.Image, palette: bytes) -> bytes:
    """A 4-bit palette PNG of ``img`` (mode "L" holding levels 0..15)."""
    width, height = img.size
    try:
        packed = img.tobytes("raw", "L;4")  # rows padded to whole bytes, as PNG wants
    except ValueError:  # Pillow < 12 (the newest for Python 3.9) has no L;4 packer
        return _pillow_png(img, palette)
    stride = (width + 1) // 2
    raw = b"".join(b"\0" + packed[i : i + stride] for i in range(0, stride * height, stride))
    comp = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)  # fast, and small for this data
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 4, 3, 0, 0, 0)),
            _chunk(b"PLTE", palette),
            _chunk(b"IDAT", comp.compress(raw) + comp.flush()),
            _chunk(b"IEND", b""),
        )
    )


def _pillow_png(img: Image.Image, palette: bytes) -> bytes:
    """The same 4-bit palette PNG through Pillow's own writer (slower; older Pillow)."""
    indexed = Image.frombytes("P", img.size, img.tobytes())
    indexed.putpalette(palette)
    out = io.BytesIO()
    indexed.save(out, "PNG", bits=4, compress_level=1)
    return out.getvalue()


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
    dots = [(rnd.below(width), rnd.below(height)) for _ in range(int(width * height * _DOTS))]
    draw.point(dots, fill=_INK)
    draw.point([(x + 1, y) for x, y in dots[::2]], fill=_INK)  # some dots two pixels wide
    specks = [(rnd.below(width), rnd.below(height)) for _ in range(int(width * height * _SPECKS))]
    draw.point([(x + i, y + j) for x, y in specks for i in range(3) for j in range(3)], fill=_INK)
    return _png(img, _PLTE[rnd.below(len(_PLTE))])
