"""A palette PNG written by hand: the image is a few grey levels, and Pillow's writer costs more
than all of the drawing."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

__all__ = ["palette_png"]

_RAW_MODES = {1: "1", 2: "L;2", 4: "L;4"}


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def palette_png(img: Image.Image, palette: bytes, bits: int) -> bytes:
    """A ``bits``-per-pixel palette PNG of ``img`` (mode "L" holding levels 0 .. 2**bits - 1)."""
    width, height = img.size
    try:
        packed = img.tobytes("raw", _RAW_MODES[bits])  # rows padded to whole bytes, as PNG wants
    except ValueError:  # Pillow < 12 (the newest for Python 3.9) lacks the L;2 / L;4 packers
        return pillow_png(img, palette, bits)
    stride = (width * bits + 7) // 8
    raw = b"".join(b"\0" + packed[i : i + stride] for i in range(0, stride * height, stride))
    comp = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)  # fast, and small for this data
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits, 3, 0, 0, 0)),
            _chunk(b"PLTE", palette),
            _chunk(b"IDAT", comp.compress(raw) + comp.flush()),
            _chunk(b"IEND", b""),
        )
    )


def pillow_png(img: Image.Image, palette: bytes, bits: int) -> bytes:
    """The same palette PNG through Pillow's own writer (slower; for older Pillow)."""
    indexed = Image.frombytes("P", img.size, img.tobytes())
    indexed.putpalette(palette)
    out = io.BytesIO()
    indexed.save(out, "PNG", bits=bits, compress_level=1)
    return out.getvalue()
