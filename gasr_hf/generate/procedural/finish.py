"""The finishing pass: what paint, paper and print do to drawn artwork after the last stroke.

Drawn layouts are vector-crisp everywhere: every edge has the same 2x-supersampled sharpness and
every fill is flat. Illustrations, printed covers and photographs are not: parts are soft
(airbrush, watercolour, a blurred background behind a sharp figure), fills vary in density, and
paper and print leave a fine grain. An SR model that only ever sees crisp edges learns to
sharpen everything, which costs PSNR on soft and textured images. So each image, with
parameters drawn from its row's random stream, gets:

- softness that varies over the page: the image is blended with a Gaussian-blurred copy of
  itself through a smooth random mask, so some regions stay nearly crisp and others are soft;
- a wash: a low-frequency multiplicative variation of density, as uneven paint or ink coverage
  gives (the same for the three channels, so black-and-white art stays grey);
- grain: fine noise, slightly blurred, of a few grey levels, as paper and print give.

Some images get none of it, so the set still holds fully crisp artwork.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage


@dataclass(frozen=True)
class Finish:
    """One image's finishing parameters (0 turns a step off)."""

    blur_sigma: float
    """Sigma in output pixels of the soft copy blended in through the mask."""
    blur_cover: float
    """Roughly the share of the page the soft copy covers (0..1)."""
    wash: float
    """Relative amplitude of the density variation."""
    grain: float
    """Standard deviation of the grain in grey levels (of 255)."""


def draw_finish(rng: random.Random) -> Finish:
    """Parameters for one image: each step is on with its own probability."""
    blur = rng.random() < 0.6
    wash = rng.random() < 0.5
    grain = rng.random() < 0.6
    return Finish(
        blur_sigma=rng.uniform(0.6, 2.5) if blur else 0.0,
        blur_cover=rng.uniform(0.2, 0.8) if blur else 0.0,
        wash=rng.uniform(0.02, 0.08) if wash else 0.0,
        grain=rng.uniform(1.0, 5.0) if grain else 0.0,
    )


def _smooth_field(
    np_rng: np.random.Generator, size: tuple[int, int], cells: int, channels: int
) -> np.ndarray:
    """Zero-mean, unit-scale noise that varies over about ``cells`` cells across the image
    (height x width x channels, float32), made at a quarter of the size and enlarged."""
    width, height = size
    coarse = np_rng.standard_normal((cells + 1, cells + 1, channels)).astype(np.float32)
    small = (max(1, width // 4), max(1, height // 4))
    fields = []
    for c in range(channels):
        field = Image.fromarray(coarse[..., c]).resize(small, Image.BICUBIC)
        fields.append(np.asarray(field.resize((width, height), Image.BILINEAR), np.float32))
    return np.stack(fields, axis=-1)


def apply_finish(image: Image.Image, finish: Finish, seed: int) -> Image.Image:
    """``image`` (RGB) with ``finish`` applied; the same inputs give the same pixels."""
    if not (finish.blur_sigma or finish.wash or finish.grain):
        return image
    np_rng = np.random.default_rng(seed)
    size = image.size
    pixels = np.asarray(image, dtype=np.float32)
    if finish.blur_sigma:
        soft = np.asarray(image.filter(ImageFilter.GaussianBlur(finish.blur_sigma)), np.float32)
        field = _smooth_field(np_rng, size, cells=4, channels=1)
        # a logistic of the field: about blur_cover of the page is soft, with smooth borders
        threshold = float(np.quantile(field[::8, ::8], 1.0 - finish.blur_cover))
        mask = 1.0 / (1.0 + np.exp(-(field - threshold) * 4.0))
        pixels = pixels + (soft - pixels) * mask
    if finish.wash:
        pixels = pixels * (1.0 + finish.wash * _smooth_field(np_rng, size, cells=8, channels=1))
    if finish.grain:
        height, width = size[1], size[0]
        noise = np_rng.standard_normal((height, width), dtype=np.float32)
        noise = ndimage.gaussian_filter(noise, 0.5)
        noise *= finish.grain / max(float(noise.std()), 1e-6)
        pixels = pixels + noise[..., None]
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
