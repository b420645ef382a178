"""JPEG blockiness of Bhardwaj & Pankajakshan (2018), as the implementation behind DiverSeg and GASR
computes it, vectorised over blocks.

The image is converted to grayscale with OpenCV's ``BGR2GRAY`` on uint8 (what ``cv2.imread`` followed
by ``cvtColor`` gives). Along each axis of length ``L`` with ``m = L % 8``, ``L - m`` pixels are used
when ``m >= 4``, else ``L - m - 8``; ``n`` is that divided by 8. Every 8x8 block of the grid at (0, 0)
and of the grid of the image shifted by (4, 4) gets an orthonormal 2-D DCT-II (same ``n`` for both).
For each of the 64 coefficients, ``V = sqrt((b + c - 2a)^2 + (d + e - 2a)^2)`` with ``a`` the
coefficient in a block, ``b, c`` in its left and right neighbours and ``d, e`` above and below,
averaged over the blocks whose 0-based row and column index both run from 2 to ``n - 2``. The score
is ``sum over coefficients of |V_shifted - V| / V``: about 1 for a never-compressed image, tens to
hundreds after JPEG compression.

Undefined cases follow the reference arithmetic: a coefficient with ``V == 0`` (a flat image) gives
NaN or infinity. Images with fewer than 4 blocks along a side have no interior blocks and are refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from gasr_hf.annotate.pixels import MapAnnotator, RowResults, annotate_rows, to_rgb

BLOCK = 8
MIN_BLOCKS = 4


def _blocks_along(length: int) -> int:
    margin = length % BLOCK
    used = length - margin if margin >= BLOCK // 2 else length - margin - BLOCK
    return used // BLOCK


def min_side() -> int:
    """The smallest side length with at least ``MIN_BLOCKS`` blocks (36 pixels)."""
    return next(n for n in range(1, 64) if _blocks_along(n) >= MIN_BLOCKS)


def grayscale(image: Image.Image | np.ndarray) -> np.ndarray:
    """uint8 grayscale as the reference computes it: OpenCV ``BGR2GRAY`` of the 8-bit colour image.

    A PIL image in mode ``L`` is used as is (``BGR2GRAY`` of three equal channels is the identity);
    other PIL modes are converted to RGB first (alpha dropped, as ``cv2.imread`` does). A numpy array
    must be uint8, either ``(H, W)`` grayscale or ``(H, W, 3)`` in RGB order.
    """
    import cv2

    if isinstance(image, Image.Image):
        if image.mode == "L":
            return np.asarray(image)
        array = np.asarray(to_rgb(image))
    else:
        array = np.asarray(image)
        if array.dtype != np.uint8:
            raise ValueError(f"image array must be uint8, got dtype {array.dtype}")
        if array.ndim == 2:
            return array
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"image array must be (H, W) or (H, W, 3), got shape {array.shape}")
    # RGB2GRAY on RGB is bit-identical to BGR2GRAY on the BGR copy cv2.imread makes, one copy fewer.
    return cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_RGB2GRAY)


def _block_dct(gray: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Orthonormal DCT-II of every 8x8 block of the grid at (0, 0): shape (n_rows, n_cols, 8, 8)."""
    from scipy.fft import dctn

    region = gray[: n_rows * BLOCK, : n_cols * BLOCK].astype(np.float64)
    blocks = region.reshape(n_rows, BLOCK, n_cols, BLOCK).swapaxes(1, 2)
    return dctn(blocks, type=2, axes=(2, 3), norm="ortho")


def _mean_variation(coef: np.ndarray) -> np.ndarray:
    """Per-coefficient V averaged over interior blocks (rows and columns 2 .. n-2): shape (8, 8)."""
    n_rows, n_cols = coef.shape[:2]
    a = coef[2 : n_rows - 1, 2 : n_cols - 1]
    left = coef[2 : n_rows - 1, 1 : n_cols - 2]
    right = coef[2 : n_rows - 1, 3:n_cols]
    above = coef[1 : n_rows - 2, 2 : n_cols - 1]
    below = coef[3:n_rows, 2 : n_cols - 1]
    variation = np.sqrt((left + right - 2 * a) ** 2 + (above + below - 2 * a) ** 2)
    return variation.mean(axis=(0, 1))


def blockiness(image: Image.Image | np.ndarray) -> float:
    """The JPEG blockiness score of one image (see the module docstring for the exact measure).

    Raises ``ValueError`` when the image has fewer than 4 blocks along a side (under 36 pixels).
    """
    gray = grayscale(image)
    height, width = gray.shape
    n_rows, n_cols = _blocks_along(height), _blocks_along(width)
    if n_rows < MIN_BLOCKS or n_cols < MIN_BLOCKS:
        raise ValueError(
            f"image of {width}x{height} pixels is too small for blockiness: "
            f"need at least {min_side()} pixels per side"
        )
    aligned = _mean_variation(_block_dct(gray, n_rows, n_cols))
    shifted = _mean_variation(_block_dct(gray[BLOCK // 2 :, BLOCK // 2 :], n_rows, n_cols))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(np.abs(shifted - aligned) / aligned))


@dataclass(frozen=True)
class Blockiness(MapAnnotator):
    """``datasets.map`` annotator adding ``blockiness`` (NaN for images under 36 pixels a side)."""

    image_column: str = "image"
    column: ClassVar[str] = "blockiness"

    def feature(self) -> Any:
        import datasets

        return datasets.Value("float64")

    def params(self) -> dict[str, Any]:
        return {"measure": "Bhardwaj & Pankajakshan 2018", "block": BLOCK, "grayscale": "BGR2GRAY"}

    def compute(self, images: list[Image.Image]) -> list[float]:
        side = min_side()
        return [blockiness(im) if min(im.size) >= side else math.nan for im in images]

    def rows(self, images: Sequence[Image.Image | None], rank: int | None = None) -> RowResults:
        return annotate_rows(self.column, images, self.compute)
