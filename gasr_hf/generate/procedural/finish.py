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
- grain: fine noise, slightly blurred, of a few grey levels, as paper and print give;
- a textured ground: the flat background (the image's most common colour, away from any edge) is
  blended with a dead-leaves image, overlapping discs whose radii follow the r^-3 law, in colours
  taken from the image itself. Dead leaves reproduce the scale invariance, occlusions and edge
  statistics of natural images (Lee, Mumford and Huang 2001), which flat fills lack.

Some images get none of it, so the set still holds fully crisp artwork. The procedural backend applies
only the textured ground (:data:`BACKEND_STEPS`): measured with cpu_table3's model and budget, it raised
the Manga109_dev gain and lowered the natural-image cost, while the other three steps lowered both
(README, "what else was tried"); ``render_artwork(..., finish=STEPS)`` draws all four.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
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
    ground: float = 0.0
    """Strength (0..1) of a dead-leaves texture blended into the flat background."""


STEPS = ("blur", "wash", "grain", "ground")
PROBABILITY = {"blur": 0.6, "wash": 0.5, "grain": 0.6, "ground": 0.6}
"""How often each step is on for an image."""
BACKEND_STEPS = ("ground",)
"""The steps the procedural backend applies: the measured ones (README, "what else was tried")."""


def draw_finish(rng: random.Random, steps: Sequence[str] = STEPS) -> Finish:
    """Parameters for one image: each of ``steps`` is on with its own probability. Every step's
    on/off is drawn whichever are asked for, so one image's steps agree across choices of ``steps``."""
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise ValueError(f"unknown finishing steps {unknown}; expected some of {list(STEPS)}")
    on = {step: rng.random() < PROBABILITY[step] and step in steps for step in STEPS}
    ground = rng.uniform(0.3, 0.8) if on["ground"] else 0.0
    return Finish(
        blur_sigma=rng.uniform(0.6, 2.5) if on["blur"] else 0.0,
        blur_cover=rng.uniform(0.2, 0.8) if on["blur"] else 0.0,
        wash=rng.uniform(0.02, 0.08) if on["wash"] else 0.0,
        grain=rng.uniform(1.0, 5.0) if on["grain"] else 0.0,
        ground=ground,
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


DEAD_LEAVES_RADII = (1.5, 0.16)
"""Smallest radius in pixels and largest as a share of the image's shorter side."""


def dead_leaves(
    size: tuple[int, int], colours: np.ndarray, np_rng: np.random.Generator, discs: int
) -> Image.Image:
    """``discs`` overlapping discs, radii drawn from density r^-3, each filled with a colour drawn
    from ``colours`` (N x 3) and jittered (in grey only, when every colour is grey)."""
    width, height = size
    r_min = DEAD_LEAVES_RADII[0]
    r_max = max(r_min, DEAD_LEAVES_RADII[1] * min(width, height))
    u = np_rng.random(discs)
    radii = 1.0 / np.sqrt(1.0 / r_min**2 - u * (1.0 / r_min**2 - 1.0 / r_max**2))
    xs = np_rng.uniform(-r_max / 2, width + r_max / 2, discs)
    ys = np_rng.uniform(-r_max / 2, height + r_max / 2, discs)
    picks = colours[np_rng.integers(0, len(colours), discs)].astype(np.float64)
    grey = np.ptp(colours, axis=1).max() <= 2  # black-and-white art keeps grey discs
    jitter = np_rng.normal(0.0, 12.0, (discs, 1 if grey else 3))
    fills = np.clip(picks + jitter, 0, 255).astype(int)
    image = Image.new("RGB", size, tuple(int(v) for v in colours[0]))
    draw = ImageDraw.Draw(image)
    for x, y, r, fill in zip(xs, ys, radii, fills.tolist(), strict=True):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(fill))
    return image


def _background_mask(pixels: np.ndarray) -> np.ndarray:
    """Where the image holds its most common colour, at least 3 px from anything else, feathered."""
    rgb = pixels.astype(np.int64)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    values, counts = np.unique(packed[::4, ::4], return_counts=True)
    common = int(values[np.argmax(counts)])
    colour = np.array([(common >> 16) & 255, (common >> 8) & 255, common & 255])
    flat = np.abs(rgb - colour).max(axis=2) <= 3
    flat = ndimage.binary_erosion(flat, iterations=3)
    return ndimage.gaussian_filter(flat.astype(np.float32), 1.0)


def apply_finish(image: Image.Image, finish: Finish, seed: int) -> Image.Image:
    """``image`` (RGB) with ``finish`` applied; the same inputs give the same pixels."""
    if not (finish.blur_sigma or finish.wash or finish.grain or finish.ground):
        return image
    np_rng = np.random.default_rng(seed)
    size = image.size
    pixels = np.asarray(image, dtype=np.float32)
    if finish.ground:
        mask = _background_mask(pixels)
        colours = pixels[::16, ::16].reshape(-1, 3)
        discs = int(60_000 * size[0] * size[1] / 1024**2) + 50
        leaves = np.asarray(dead_leaves(size, colours, np_rng, discs=discs), np.float32)
        pixels = pixels + (leaves - pixels) * (mask * finish.ground)[..., None]
    if finish.blur_sigma:
        current = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
        soft = np.asarray(current.filter(ImageFilter.GaussianBlur(finish.blur_sigma)), np.float32)
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
        spread = float(noise.std())
        if spread > 1e-6:  # a 1-pixel image has no grain to scale
            pixels = pixels + (noise * (finish.grain / spread))[..., None]
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
