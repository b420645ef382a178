"""MATLAB-exact bicubic resize (``imresize(img, scale, 'bicubic')``) for numpy and torch.

MATLAB's algorithm, which the SR literature's LR images (``LRBI``) are made with:

* cubic convolution kernel with ``a = -0.5``;
* when shrinking, antialiasing: the kernel is stretched by ``1 / scale`` and scaled by ``scale``;
* output size ``ceil(in * scale)``; source coordinate ``u = x / scale + 0.5 * (1 - 1 / scale)``;
* per output pixel the weights are normalised to sum to one, in double precision;
* source indices outside the image are clamped to the edge (replicate, not mirror);
* one pass per dimension, the dimension with the smallest scale first (rows first when equal);
* for uint8 images each pass is rounded back to uint8, half away from zero, and saturated.

OpenCV's and PIL's bicubic differ (``a = -0.75``, no antialias or another antialias), so they do not
reproduce MATLAB's LR images; this module is hand-written for that reason.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["contributions", "imresize", "imresize_torch", "output_size"]

_KERNEL_WIDTH = 4.0


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


def _check_scale(scale: float) -> float:
    value = float(scale)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    return value


def output_size(size: int, scale: float) -> int:
    """Length of one dimension after resizing by ``scale``, as MATLAB computes it: ceil(size * scale)."""
    return int(math.ceil(size * _check_scale(scale)))


@lru_cache(maxsize=256)
def contributions(in_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Source indices (0-based, clamped) and float64 weights, each of shape (out_length, taps).

    Row ``i`` says which input samples, with which weights, make output sample ``i``. Taps whose
    weight is zero for every output are dropped, as MATLAB does.
    """
    if in_length < 1:
        raise ValueError(f"in_length must be at least 1, got {in_length}")
    scale = _check_scale(scale)
    out_length = output_size(in_length, scale)
    width = _KERNEL_WIDTH / scale if scale < 1 else _KERNEL_WIDTH
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    distance = u[:, None] - indices
    if scale < 1:
        weights = scale * _cubic(scale * distance)
    else:
        weights = _cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    keep = np.any(weights != 0, axis=0)
    indices = np.clip(indices[:, keep], 1, in_length).astype(np.int64) - 1
    weights = np.ascontiguousarray(weights[:, keep])
    indices.setflags(write=False)
    weights.setflags(write=False)
    return indices, weights


def _scales(scale: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(scale, tuple):
        if len(scale) != 2:
            raise ValueError(f"scale must be a number or a (rows, cols) pair, got {scale!r}")
        return _check_scale(scale[0]), _check_scale(scale[1])
    value = _check_scale(scale)
    return value, value


def _pass_order(scales: tuple[float, float]) -> tuple[int, int]:
    """MATLAB resizes the dimension with the smallest scale first; a stable sort keeps rows first."""
    return (0, 1) if scales[0] <= scales[1] else (1, 0)


def _round_uint8(values: np.ndarray) -> np.ndarray:
    """Round half away from zero and saturate to uint8, as MATLAB converts double to uint8."""
    floor = np.floor(values)
    rounded = floor + (values - floor >= 0.5)
    return np.clip(rounded, 0, 255).astype(np.uint8)


_BLOCK_ELEMENTS = 1 << 19  # gathered taps held at once (4 MiB of float64; a 192px crop in one go)


def _resize_rows(img: np.ndarray, scale: float) -> np.ndarray:
    """One pass along axis 0 (uint8 or float64 in, float64 out), taps summed in MATLAB's order."""
    indices, weights = contributions(img.shape[0], scale)
    n_out, n_taps = indices.shape
    flat = img.reshape(img.shape[0], -1)
    out = np.empty((n_out, flat.shape[1]), dtype=np.float64)
    # Tap-major (tap, output row, column), so that each tap's products are one contiguous slab.
    tap_indices = np.ascontiguousarray(indices.T)
    tap_weights = np.ascontiguousarray(weights.T)[:, :, None]
    rows = max(1, _BLOCK_ELEMENTS // (n_taps * flat.shape[1]))
    for start in range(0, n_out, rows):
        stop = start + rows
        taps = flat[tap_indices[:, start:stop]] * tap_weights[:, start:stop]
        block = out[start:stop]
        block[:] = taps[0]
        # One tap at a time, in MATLAB's order, so that the double sums round as MATLAB's do.
        for k in range(1, n_taps):
            block += taps[k]
    return out.reshape((n_out,) + img.shape[1:])


def _resize_axis(img: np.ndarray, axis: int, scale: float) -> np.ndarray:
    if axis == 0:
        return _resize_rows(img, scale)
    # Columns: resize the transposed image so that every gathered tap is a contiguous block.
    transposed = np.ascontiguousarray(np.swapaxes(img, 0, 1))
    return np.swapaxes(_resize_rows(transposed, scale), 0, 1)


def imresize(img: np.ndarray, scale: float | tuple[float, float]) -> np.ndarray:
    """Resize a uint8 image (H x W or H x W x C) like MATLAB's ``imresize(img, scale, 'bicubic')``.

    ``scale`` below 1 shrinks (with antialiasing), above 1 enlarges; a ``(rows, cols)`` pair
    scales the two dimensions separately. The result is uint8 and bit-identical to MATLAB's.
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        described = (
            f"{img.dtype} array of shape {img.shape}"
            if isinstance(img, np.ndarray)
            else type(img).__name__
        )
        raise ValueError(f"img must be a uint8 array of shape HxW or HxWxC, got {described}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"img must not be empty, got shape {img.shape}")
    scales = _scales(scale)
    out = img
    for axis in _pass_order(scales):
        out = _round_uint8(_resize_axis(out, axis, scales[axis]))
    return out


@lru_cache(maxsize=64)
def _dense_weights(in_length: int, scale: float, device: str, dtype: str) -> torch.Tensor:
    """The (out_length, in_length) matrix of one pass; clamped taps add up on the edge."""
    import torch

    indices, weights = contributions(in_length, scale)
    matrix = np.zeros((indices.shape[0], in_length), dtype=np.float64)
    rows = np.repeat(np.arange(indices.shape[0]), indices.shape[1])
    np.add.at(matrix, (rows, indices.ravel()), weights.ravel())
    return torch.from_numpy(matrix).to(device=device, dtype=getattr(torch, dtype))


def imresize_torch(
    x: torch.Tensor, scale: float | tuple[float, float], round_uint8: bool = False
) -> torch.Tensor:
    """Batched MATLAB bicubic resize of a float tensor (B, C, H, W) on any device.

    Each pass is one matrix product with the precomputed weight matrix (float64 when ``x`` is
    float64, else float32). With ``round_uint8`` (values in 0..255) the computation runs in float64
    and each pass is rounded half away from zero and saturated like :func:`imresize`, so the result
    equals it; the returned tensor keeps ``x``'s dtype.
    """
    import torch

    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        described = (
            f"{x.dtype} tensor of shape {tuple(x.shape)}"
            if isinstance(x, torch.Tensor)
            else type(x).__name__
        )
        raise ValueError(f"x must be a floating tensor of shape (B, C, H, W), got {described}")
    scales = _scales(scale)
    compute = torch.float64 if round_uint8 or x.dtype == torch.float64 else torch.float32
    out = x.to(compute)
    for axis in _pass_order(scales):
        dim = 2 + axis
        matrix = _dense_weights(out.shape[dim], scales[axis], str(x.device), str(compute)[6:])
        if dim == 2:
            out = torch.einsum("oh,bchw->bcow", matrix, out)
        else:
            out = torch.einsum("ow,bchw->bcho", matrix, out)
        if round_uint8:
            floor = torch.floor(out)
            out = (floor + (out - floor >= 0.5).to(compute)).clamp_(0, 255)
    return out.to(x.dtype)
