"""Template matching, as an attacker holding the generator's source would write it.

Render every glyph the generator can draw (each character at every size, turn and warp its code
can pick, or a grid over them where the choice is continuous), correlate each with the image's
ink (normalized cross-correlation, all templates at once through FFTs), and decode left to right:
a dynamic programme picks ``length`` glyphs whose spacing fits how the generator advances from one
glyph to the next, maximizing the summed correlation.

Banks: ``ours_glyphs`` (flask_captcha_ext's renderer) and ``captcha_glyphs`` (the ``captcha``
package's ``ImageCaptcha``). numpy only.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: Positions a template may stick out of the image by (glyphs near the edges).
MARGIN = 8
#: Templates correlated per FFT batch (bounds memory).
BATCH = 256


@dataclass(frozen=True)
class Bank:
    """What to match: ``(char, ink mask in 0..1)`` pairs, and how far (as fractions of a glyph's
    width) the generator may move from one glyph's left edge to the next's."""

    glyphs: list[tuple[str, np.ndarray]]
    advance: tuple[float, float]
    #: A glyph's score is its correlation times its width to this power: without it, narrow
    #: glyphs (J, L) correlating well with a stroke of a wide one win too often.
    weight: float = 0.0
    #: Gaussian blur (pixels) applied to image and glyphs alike: tolerance for warps the bank
    #: only approximates.
    blur: float = 0.0


def ink(png: bytes, blur: float = 0.0) -> np.ndarray:
    """The image as ink in 0..1: darkness, stretched so that paper is 0 and the darkest ink 1."""
    img = Image.open(io.BytesIO(png)).convert("L")
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    grey = np.asarray(img, dtype=np.float32)
    paper, dark = float(np.percentile(grey, 90)), float(grey.min())
    return np.clip((paper - grey) / max(1.0, paper - dark), 0.0, 1.0)


class Matcher:
    """Normalized cross-correlation of a bank against images of one size, then decoding."""

    def __init__(self, bank: Bank, width: int, height: int) -> None:
        self.bank = bank
        self.chars = sorted({c for c, _ in bank.glyphs})
        self.shape = (height + 2 * MARGIN, width + 2 * MARGIN)
        fits = [(c, m) for c, m in bank.glyphs if m.shape[0] <= self.shape[0] and m.any()]
        if bank.blur:
            fits = [(c, _blurred(m, bank.blur)) for c, m in fits]
        self.glyphs = fits
        self.sizes = [m.shape for _, m in fits]
        self.index = [self.chars.index(c) for c, _ in fits]
        self.weights = [m.shape[1] ** bank.weight for _, m in fits]
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
        image[MARGIN:-MARGIN, MARGIN:-MARGIN] = ink(png, self.bank.blur)
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
                column = ncc.max(axis=0) * self.weights[k]
                row = best[self.index[k], : column.size]
                better = column > row
                row[better] = column[better]
                width[self.index[k], : column.size][better] = w
        return best, width

    def solve(self, png: bytes, length: int) -> str:
        """The ``length`` characters read from ``png``."""
        best, width = self.scores(png)
        return decode(best, width, length, self.bank.advance, self.chars)


def _blurred(mask: np.ndarray, radius: float) -> np.ndarray:
    pad = math.ceil(2 * radius)
    img = Image.fromarray(np.pad(mask * 255, pad).astype(np.uint8))
    return _mask(img.filter(ImageFilter.GaussianBlur(radius)))


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


def _mask(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32) / 255.0


def ours_glyphs(width: int, height: int, length: int) -> Bank:
    """Every glyph our renderer can paste into a ``width`` x ``height`` image of ``length``
    characters: each character at every size its layout can pick (the starting size, shrunk
    by 9/10 while the text is too wide, less 0%, 10% or 20%), turn and warp variant."""
    from flask_captcha_ext.selfhosted import image as r

    sizes = set()
    base = max(10, round(height * r._SIZE))
    for _ in range(2 if length <= 6 else 4):  # two shrink steps cover >99% at 5 characters
        sizes |= {base - k * base // 10 for k in range(r._SIZES)}
        base = max(10, base * 9 // 10)
    angles = range(-r._MAX_ANGLE, r._MAX_ANGLE + 1, r._ANGLE_STEP)
    glyphs = [
        (char, _mask(r._glyph(char, size, angle, warp)))
        for char in r.ALPHABET
        for size in sorted(sizes)
        for angle in angles
        for warp in range(r._WARPS)
    ]
    return Bank(glyphs, (r._ADVANCE[0] - 0.05, r._ADVANCE[1] + 0.05))


def captcha_glyphs(width: int, height: int, alphabet: str) -> Bank:
    """The ``captcha`` package's glyphs: each character in its font at each of its sizes, turned
    over a grid of its rotation range, fitted back into the upright box as its warp step does
    (its random corner offsets left at zero), then squeezed horizontally over a grid of the
    factors its final resize applies."""
    from captcha.image import ImageCaptcha

    maker = ImageCaptcha(width=width, height=height)
    lo, hi = maker.character_rotate
    angles = [lo + (hi - lo) * i / 8 for i in range(9)]
    squeezes = (0.5, 0.6, 0.7, 0.8, 0.95)
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
                        glyphs.append((char, _mask(squeezed.crop(box))))
    return Bank(glyphs, (0.45, 2.2), blur=0.8)
