"""Template matching, as an attacker holding the generator's source would write it.

Render every glyph the generator can draw (each character at every size, turn and warp its code
can pick, or a grid over them where the choice is continuous), correlate each with the image's
ink (normalized cross-correlation, all templates at once through FFTs), and decode left to right:
a dynamic programme picks ``length`` glyphs whose spacing fits how the generator advances from one
glyph to the next, maximizing the summed correlation.

Banks:

- ``ours_glyphs``: Image v2's own ``image_layout.draw_glyph`` for every character, each of the
  three shipped faces, 3 sizes x 6 turns x 4 slants (2,592 glyphs); image and glyphs alike are
  thresholded, opened (erode then dilate, 5x5: the ink curves, thinner than a stroke, and the
  specks mostly go), halved and blurred. The warp of the whole picture is left to the grid and
  the blur: over one glyph it is nearly a shift.
- ``captcha_glyphs``: the ``captcha`` package's ``ImageCaptcha``: its font at its three sizes, 9
  turns, and the horizontal squeezes its final resize applies; blurred a little.

numpy only.
"""

from __future__ import annotations

import functools
import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: Positions a template may stick out of the image by (glyphs near the edges).
MARGIN = 8
#: Templates correlated per FFT batch (bounds memory).
BATCH = 256


@dataclass(frozen=True)
class Bank:
    """What to match: ``(char, ink in 0..1)`` glyphs, already as ``prepare`` leaves an image;
    how far (as fractions of a glyph's width) the generator may move from one glyph's left edge
    to the next's; and ``prepare``: a PNG as the ink array the glyphs are correlated with."""

    glyphs: list[tuple[str, np.ndarray]]
    advance: tuple[float, float]
    prepare: Callable[[bytes], np.ndarray]


def ink(png: bytes) -> Image.Image:
    """The image as ink (mode "L", 255 = ink): darkness, stretched so that paper is 0 and the
    darkest ink 255."""
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)
    paper, dark = float(np.percentile(grey, 90)), float(grey.min())
    scaled = np.clip((paper - grey) / max(1.0, paper - dark), 0.0, 1.0)
    return Image.fromarray((scaled * 255).astype(np.uint8))


def _array(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32) / 255.0


def blurred_ink(blur: float) -> Callable[[bytes], np.ndarray]:
    """``prepare`` for banks that only approximate the glyphs: ink with a Gaussian blur."""
    return functools.partial(_blurred_ink, blur=blur)


def _blurred_ink(png: bytes, blur: float) -> np.ndarray:
    img = ink(png)
    return _array(img.filter(ImageFilter.GaussianBlur(blur)) if blur else img)


class Matcher:
    """Normalized cross-correlation of a bank against images of one size, then decoding."""

    def __init__(self, bank: Bank, shape: tuple[int, int]) -> None:
        self.bank = bank
        self.chars = sorted({c for c, _ in bank.glyphs})
        self.shape = (shape[0] + 2 * MARGIN, shape[1] + 2 * MARGIN)
        fits = [(c, m) for c, m in bank.glyphs if m.shape[0] <= self.shape[0] and m.any()]
        self.glyphs = fits
        self.sizes = [m.shape for _, m in fits]
        self.index = [self.chars.index(c) for c, _ in fits]
        self.norms = np.array([np.linalg.norm(m - m.mean()) for _, m in fits], dtype=np.float32)
        self.spectra = np.stack([self._spectrum(m) for _, m in fits])

    def _spectrum(self, mask: np.ndarray) -> np.ndarray:
        """Conjugate FFT of the zero-mean template, zero-padded to the padded image's size."""
        padded = np.zeros(self.shape, dtype=np.float32)
        padded[: mask.shape[0], : mask.shape[1]] = mask - mask.mean()
        return np.conj(np.fft.rfft2(padded)).astype(np.complex64)

    def scores(self, png: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Per character and left-edge column: the best correlation over rows and variants, and
        the width of the variant that gave it."""
        image = np.zeros(self.shape, dtype=np.float32)
        image[MARGIN:-MARGIN, MARGIN:-MARGIN] = self.bank.prepare(png)
        spectrum = np.fft.rfft2(image)
        sums = _integral(image), _integral(image * image)
        best = np.full((len(self.chars), self.shape[1]), -1.0, dtype=np.float32)
        width = np.ones(best.shape, dtype=np.int32)
        spread: dict[tuple[int, int], np.ndarray] = {}
        for start in range(0, len(self.glyphs), BATCH):
            stop = min(start + BATCH, len(self.glyphs))
            corr = np.fft.irfft2(spectrum * self.spectra[start:stop], s=self.shape)
            for k in range(start, stop):
                h, w = self.sizes[k]
                if (h, w) not in spread:
                    spread[h, w] = _spread(sums, h, w)
                ncc = corr[k - start, : self.shape[0] - h + 1, : self.shape[1] - w + 1]
                ncc = ncc / (spread[h, w] * self.norms[k])
                column = ncc.max(axis=0)
                row = best[self.index[k], : column.size]
                better = column > row
                row[better] = column[better]
                width[self.index[k], : column.size][better] = w
        return best, width

    def solve(self, png: bytes, length: int) -> str:
        """The ``length`` characters read from ``png``."""
        best, width = self.scores(png)
        return decode(best, width, length, self.bank.advance, self.chars)


def _integral(a: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + 1, a.shape[1] + 1), dtype=np.float64)
    out[1:, 1:] = a.cumsum(0).cumsum(1)
    return out


def _spread(sums: tuple[np.ndarray, np.ndarray], h: int, w: int) -> np.ndarray:
    """sqrt(sum of squared deviations) of the image over every h x w window (NCC's divisor)."""
    s1, s2 = (s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w] for s in sums)
    var = s2 - s1 * s1 / (h * w)
    return np.sqrt(np.maximum(var, 1e-3)).astype(np.float32)


def decode(
    best: np.ndarray,
    width: np.ndarray,
    length: int,
    advance: tuple[float, float],
    chars: list[str],
) -> str:
    """The highest-scoring row of ``length`` glyphs, each starting where the one before it may
    advance to (``advance``: fractions of its width)."""
    n_chars, n_cols = best.shape
    value = best.astype(np.float64)
    back: list[tuple[np.ndarray, np.ndarray]] = []
    lo, hi = advance
    for _ in range(length - 1):
        reach = np.full(n_cols, -np.inf)
        from_c = np.zeros(n_cols, dtype=np.int64)
        from_x = np.zeros(n_cols, dtype=np.int64)
        d_min = max(1, int(lo * width.min()))
        d_max = int(math.ceil(hi * width.max()))
        cols = np.arange(n_cols)
        for d in range(d_min, min(d_max, n_cols - 1) + 1):
            ok = (d >= lo * width[:, : n_cols - d]) & (d <= hi * width[:, : n_cols - d])
            cand = np.where(ok, value[:, : n_cols - d], -np.inf)
            c = cand.argmax(axis=0)
            v = cand[c, cols[: n_cols - d]]
            target = reach[d:]
            better = v > target
            target[better] = v[better]
            from_c[d:][better] = c[better]
            from_x[d:][better] = cols[: n_cols - d][better]
        back.append((from_c, from_x))
        value = best + reach[None, :]
    c, x = np.unravel_index(int(np.argmax(value)), value.shape)
    out = [chars[c]]
    for from_c, from_x in reversed(back):
        c, x = int(from_c[x]), int(from_x[x])
        out.append(chars[c])
    return "".join(reversed(out))


# -- banks ---------------------------------------------------------------------------------------


#: Our renderer's grid: the attacker's sampling of its continuous ranges (see image_layout).
OURS_SIZES = (72.0, 80.0, 88.0)  # final font sizes: 5th to 95th percentile 72..87 at 320x120
OURS_TURNS = (-20.0, -12.0, -4.0, 4.0, 12.0, 20.0)  # of -24..24 degrees
OURS_SLANTS = (-0.21, -0.07, 0.07, 0.21)  # of -0.28..0.28
OURS_SQUEEZE = 0.93  # of 0.82..1.04
OURS_STROKE = 1  # of 0, 1, 2 pixels at the outlines' 96 px
#: Opening (erosion then dilation, square side in pixels): thins out the ink curves (1/24 of
#: the height wide) and specks, keeps glyph strokes (~1/9 of the height). 5 read more than 3 or 7.
OPEN = 5
#: The image and glyphs are correlated at 1/REDUCE of their size (4x fewer pixels).
REDUCE = 2
BLUR = 1.0


def _clean(mask: Image.Image) -> np.ndarray:
    """Threshold, open (drop thin curves and specks), shrink, blur: an image or a glyph as the
    matcher sees it."""
    img = mask.point(lambda v: 255 if v >= 128 else 0)
    img = img.filter(ImageFilter.MinFilter(OPEN)).filter(ImageFilter.MaxFilter(OPEN))
    img = img.reduce(REDUCE).filter(ImageFilter.GaussianBlur(BLUR))
    return _array(img)


def _cleaned_ink(png: bytes) -> np.ndarray:
    return _clean(ink(png))


def _cleaned_glyph(mask: Image.Image) -> np.ndarray:
    pad = OPEN + 4 * REDUCE
    padded = Image.new("L", (mask.width + 2 * pad, mask.height + 2 * pad), 0)
    padded.paste(mask, (pad, pad))
    out = _clean(padded)
    rows, cols = np.nonzero(out > 0.02)
    if not rows.size:
        return out[:0, :0]
    return out[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def ours_glyphs(width: int, height: int, length: int) -> Bank:
    """Our renderer's glyphs (``image_layout.draw_glyph``): every character in each shipped
    face over a grid of the sizes, turns and slants it draws from, at a middle squeeze and
    stroke, cleaned as the image is. The decoder allows for the gaps ``lay_out`` leaves."""
    from flask_captcha_ext.selfhosted import image, image_fonts, image_layout

    scale = height / image.HEIGHT
    glyphs = []
    for char in image.ALPHABET:
        for face in range(len(image_fonts.FONT_FILES)):
            for size in OURS_SIZES:
                for turn in OURS_TURNS:
                    for slant in OURS_SLANTS:
                        mask = image_layout.draw_glyph(
                            char, face, size * scale, OURS_STROKE, turn, slant, OURS_SQUEEZE
                        )
                        glyphs.append((char, _cleaned_glyph(mask)))
    return Bank([g for g in glyphs if g[1].size], (0.85, 1.35), _cleaned_ink)


#: Blur for the captcha package's glyphs, whose random warp the bank leaves out.
CAPTCHA_BLUR = 0.8


def captcha_squeezes(maker: Any, alphabet: str, length: int, samples: int = 200) -> list[float]:
    """Five horizontal scale factors spanning (5th to 95th percentile) what ImageCaptcha's final
    resize applies to a row of ``length`` characters: found by laying out rows its own way."""
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    colour = (0, 0, 0, 255)
    factors = []
    for _ in range(samples):
        row = 0
        for char in random.choices(alphabet, k=length):
            if random.random() > maker.word_space_probability:
                row += maker._draw_character(" ", draw, colour).width
            row += maker._draw_character(char, draw, colour).width
        factors.append(maker._width / max(row, maker._width))
    factors.sort()
    lo, hi = factors[samples // 20], factors[-samples // 20]
    return sorted({round(lo + (hi - lo) * i / 4, 3) for i in range(5)})


def captcha_glyphs(width: int, height: int, alphabet: str, length: int) -> Bank:
    """The ``captcha`` package's glyphs: each character in its font at each of its sizes, turned
    over a grid of its rotation range, fitted back into the upright box as its warp step does
    (its random corner offsets left at zero), then squeezed horizontally over a grid of the
    factors its final resize applies."""
    from captcha.image import ImageCaptcha

    maker = ImageCaptcha(width=width, height=height)
    lo, hi = maker.character_rotate
    angles = [lo + (hi - lo) * i / 8 for i in range(9)]
    squeezes = captcha_squeezes(maker, alphabet, length)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    glyphs = []
    for font in maker.truefonts:
        for char in alphabet:
            _, _, w, h = draw.multiline_textbbox((1, 1), char, font=font)
            upright = Image.new("L", (int(w), int(h)), 0)
            ImageDraw.Draw(upright).text((0, 0), char, font=font, fill=255)
            upright = upright.crop(upright.getbbox())
            for angle in angles:
                turned = upright.rotate(angle, Image.Resampling.BILINEAR, expand=True)
                fitted = turned.resize((int(w), int(h)), Image.Resampling.BILINEAR)
                for s in squeezes:
                    squeezed = fitted.resize((max(1, round(w * s)), int(h)))
                    box = squeezed.getbbox()
                    if box:
                        glyphs.append((char, _blurred_glyph(squeezed.crop(box), CAPTCHA_BLUR)))
    return Bank(glyphs, (0.45, 2.2), blurred_ink(CAPTCHA_BLUR))


def _blurred_glyph(mask: Image.Image, blur: float) -> np.ndarray:
    pad = math.ceil(2 * blur)
    padded = Image.new("L", (mask.width + 2 * pad, mask.height + 2 * pad), 0)
    padded.paste(mask, (pad, pad))
    return _array(padded.filter(ImageFilter.GaussianBlur(blur)))
