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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

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
    size: tuple[int, int],
    colours: np.ndarray,
    np_rng: np.random.Generator,
    discs: int,
    support: np.ndarray | None = None,
) -> Image.Image:
    """``discs`` overlapping discs, radii drawn from density r^-3, each filled with a colour drawn
    from ``colours`` (N x 3) and jittered (in grey only, when every colour is grey).

    With ``support`` (height x width, bool), the discs that cannot reach it are not drawn
    (:func:`_culled`): its pixels are the same, the rest may differ, and ``np_rng`` advances the same."""
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
    boxes = np.stack([xs - radii, ys - radii, xs + radii, ys + radii], axis=1)
    keep = ~_culled(boxes, size, support)
    boxes, fills = boxes[keep], fills[keep]
    image = Image.new("RGB", size, tuple(int(v) for v in colours[0]))
    # ImageDraw.ellipse's own Python work (ink lookup, checks) costs as much as drawing a small disc,
    # so the discs go straight to the drawing core it wraps, with the inks it would compute, in one
    # map() with no Python loop body. Boxes as tuples of floats: numpy scalars are slow.
    core = ImageDraw.Draw(image).draw
    corners = zip(*(boxes[:, k].tolist() for k in range(4)), strict=True)
    deque(map(core.draw_ellipse, corners, _inks(core, fills), repeat(1)), maxlen=0)
    return image


def _inks(core: Any, fills: np.ndarray) -> list[int]:
    """The drawing core's ink for each RGB row of ``fills`` (N x 3, 0..255), as ``core.draw_ink``
    gives it: the pixel's bytes R, G, B, 255 read as a native int32, packed for all rows at once;
    asked of ``draw_ink`` row by row if a probe colour shows another packing."""

    def packed(rgb: np.ndarray) -> list[int]:
        rgb = rgb.astype(np.uint32)
        return (
            (rgb[:, 0] | rgb[:, 1] << 8 | rgb[:, 2] << 16 | np.uint32(255) << 24)
            .view(np.int32)
            .tolist()
        )

    probe = (1, 2, 255)
    if core.draw_ink(probe) != packed(np.array([probe]))[0]:
        return [core.draw_ink(tuple(row)) for row in fills.tolist()]
    return packed(fills)


BLOCK = 8
"""Side in pixels of the blocks the culling test works on (coarser blocks: cheaper, fewer culled)."""


def _culled(boxes: np.ndarray, size: tuple[int, int], support: np.ndarray | None) -> np.ndarray:
    """Which discs can be left out without changing a pixel of ``support`` (none when it is None):
    those whose box, widened by 2 px for rasterisation, touches no BLOCK x BLOCK block holding a
    support pixel, by a summed-area table over the blocks (so it only ever keeps too many)."""
    culled = np.zeros(len(boxes), bool)
    if support is None:
        return culled
    width, height = size
    ny, nx = -(-height // BLOCK), -(-width // BLOCK)
    padded = np.zeros((ny * BLOCK, nx * BLOCK), bool)
    padded[:height, :width] = support
    table = np.zeros((ny + 1, nx + 1), np.int32)
    table[1:, 1:] = padded.reshape(ny, BLOCK, nx, BLOCK).any(axis=(1, 3)).cumsum(0).cumsum(1)
    x0 = np.clip((np.floor(boxes[:, 0]) - 2) // BLOCK, 0, nx - 1).astype(np.intp)
    y0 = np.clip((np.floor(boxes[:, 1]) - 2) // BLOCK, 0, ny - 1).astype(np.intp)
    x1 = np.clip((np.ceil(boxes[:, 2]) + 2) // BLOCK, 0, nx - 1).astype(np.intp) + 1
    y1 = np.clip((np.ceil(boxes[:, 3]) + 2) // BLOCK, 0, ny - 1).astype(np.intp) + 1
    return table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0] == 0


def _background_mask(pixels: np.ndarray) -> np.ndarray:
    """Where the image (height x width x 3, uint8) holds its most common colour, at least 3 px from
    anything else, feathered."""
    rgb = pixels[::4, ::4].astype(np.int32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    values, counts = np.unique(packed, return_counts=True)
    common = int(values[np.argmax(counts)])
    colour = ((common >> 16) & 255, (common >> 8) & 255, common & 255)
    # Within 3 levels of the colour in every channel: a lookup table per channel, cheaper than
    # integer arithmetic on the whole image.
    levels = np.arange(256)
    flat = np.ones(pixels.shape[:2], bool)
    for c, value in enumerate(colour):
        flat &= (np.abs(levels - value) <= 3)[pixels[..., c]]
    flat = _eroded(flat, iterations=3)
    return ndimage.gaussian_filter(flat.astype(np.float32), 1.0)


def _eroded(mask: np.ndarray, iterations: int) -> np.ndarray:
    """``scipy.ndimage.binary_erosion(mask, iterations=...)`` (the 4-neighbour cross, outside the
    image counts as False), as four shifted ANDs per iteration: the same result, ~20x faster."""
    for _ in range(iterations):
        out = mask.copy()
        out[1:] &= mask[:-1]
        out[:-1] &= mask[1:]
        out[:, 1:] &= mask[:, :-1]
        out[:, :-1] &= mask[:, 1:]
        out[[0, -1]] = False
        out[:, [0, -1]] = False
        mask = out
    return mask


def apply_finish(image: Image.Image, finish: Finish, seed: int) -> Image.Image:
    """``image`` (RGB) with ``finish`` applied; the same inputs give the same pixels."""
    if not (finish.blur_sigma or finish.wash or finish.grain or finish.ground):
        return image
    np_rng = np.random.default_rng(seed)
    size = image.size
    drawn = np.asarray(image, dtype=np.uint8)
    pixels = drawn.astype(np.float32) if finish.blur_sigma or finish.wash or finish.grain else None
    if finish.ground:
        mask = _background_mask(drawn)
        support = mask > 0
        colours = drawn[::16, ::16].reshape(-1, 3).astype(np.float32)
        discs = int(60_000 * size[0] * size[1] / 1024**2) + 50
        leaves = dead_leaves(size, colours, np_rng, discs=discs, support=support)
        # Blended on the support only: elsewhere the weight is 0 and the pixels stay as drawn.
        # Flat indices and take(): a gather by a boolean mask is about twice as slow.
        where = np.flatnonzero(support)
        under = drawn.reshape(-1, 3).take(where, axis=0).astype(np.float32)
        over = np.asarray(leaves).reshape(-1, 3).take(where, axis=0).astype(np.float32)
        blended = under + (over - under) * (mask.reshape(-1).take(where) * finish.ground)[:, None]
        if pixels is None:  # no later step: only the support's pixels change
            out = drawn.copy()
            out.reshape(-1, 3)[where] = _to_uint8(blended)
            return Image.fromarray(out)
        pixels.reshape(-1, 3)[where] = blended
    if finish.blur_sigma:
        current = Image.fromarray(_to_uint8(pixels))
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
    return Image.fromarray(_to_uint8(pixels))


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Float pixel values rounded and clipped to 0..255, as uint8."""
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
