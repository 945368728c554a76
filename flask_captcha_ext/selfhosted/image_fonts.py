"""The typefaces an image challenge draws with: three bold fonts shipped inside the package.

Atkinson Hyperlegible (made for low-vision readers), Fira Sans and Roboto Slab (a slab serif),
700 weight, Latin subset, as WOFF files from the @fontsource npm packages; licences beside them in
``fonts/`` (SIL OFL 1.1, Apache 2.0). Three designs of every letter means a solver cannot
correlate with one set of shapes; all three are designed to be read at a glance.

"""

from __future__ import annotations

import io
from functools import cache, lru_cache
from pathlib import Path

from PIL import ImageFont

__all__ = ["FONT_FILES", "font"]

FONT_DIR = Path(__file__).with_name("fonts")
FONT_FILES: tuple[Path, ...] = (
    FONT_DIR / "atkinson-hyperlegible-latin-700-normal.woff",
    FONT_DIR / "fira-sans-latin-700-normal.woff",
    FONT_DIR / "roboto-slab-latin-700-normal.woff",
)


@cache
def _font_bytes(face: int) -> bytes:
    return FONT_FILES[face].read_bytes()


@lru_cache(maxsize=32)
def font(face: int, size: int) -> ImageFont.FreeTypeFont:
    """Face number ``face`` (an index into :data:`FONT_FILES`) at ``size`` pixels."""
    return ImageFont.truetype(io.BytesIO(_font_bytes(face)), size)
