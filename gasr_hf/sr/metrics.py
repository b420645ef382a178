"""PSNR and SSIM as the MATLAB evaluation code of SR papers computes them.

Both metrics shave ``crop_border`` pixels from every side and, by default, score the luma Y of
BT.601 studio range, ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` with R, G, B in [0, 1],
kept unrounded in float64. ``y_uint8=True`` rounds Y to an integer first, as MATLAB's
``rgb2ycbcr`` does on uint8 input (the convention of older papers' tables). Grayscale images
(HxW or HxWx1) are scored on their gray values, as the MATLAB scripts do for one-channel images.
SSIM is Wang et al.'s: an 11x11 Gaussian window (sigma 1.5) in 'valid' mode, K1 = 0.01,
K2 = 0.03, L = 255, averaged over the map (and over channels when ``test_y_channel=False``).

The numpy functions take uint8 arrays; the ``*_torch`` functions take batches of float tensors
in [0, 1] (a model's output during validation) and compute in float64. Round a model's output to
``round(255 x) / 255`` first to score it as a saved PNG would be scored.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "EVALUATE_METRIC_PATH",
    "calculate_psnr",
    "calculate_psnr_ssim",
    "calculate_psnr_ssim_torch",
    "calculate_psnr_torch",
    "calculate_ssim",
    "calculate_ssim_torch",
    "gaussian_window_1d",
    "rgb_to_y",
]

# The same metric as an `evaluate` module: ``evaluate.load(str(EVALUATE_METRIC_PATH))``.
EVALUATE_METRIC_PATH = Path(__file__).resolve().parent.parent / "metrics" / "sr_psnr_ssim"
PEAK = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
_C1 = (0.01 * PEAK) ** 2
_C2 = (0.03 * PEAK) ** 2
# BT.601 studio-range luma weights for R, G, B given in [0, 255].
_Y_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)
_Y_OFFSET = 16.0


def gaussian_window_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """The normalised 1-D Gaussian whose outer product is MATLAB's ``fspecial('gaussian')``."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def rgb_to_y(img: np.ndarray, y_uint8: bool = False) -> np.ndarray:
    """Y of BT.601 studio range, float64, from a uint8 HxWx3 RGB array."""
    f = img.astype(np.float64)
    y = f[..., 0] * _Y_WEIGHTS[0]
    y += f[..., 1] * _Y_WEIGHTS[1]
    y += f[..., 2] * _Y_WEIGHTS[2]
    y += _Y_OFFSET
    if y_uint8:
        # MATLAB rounds half away from zero; Y is positive, so floor(y + 0.5) is that rounding.
        np.floor(y + 0.5, out=y)
    return y


def _check_pair(sr: np.ndarray, hr: np.ndarray, crop_border: int) -> None:
    for name, arr in (("sr", sr), ("hr", hr)):
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"{name} must be a numpy array, got {type(arr).__name__}")
        if arr.dtype != np.uint8:
            raise ValueError(f"{name} must be uint8, got dtype {arr.dtype}")
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3)):
            raise ValueError(f"{name} must be HxW, HxWx1 or HxWx3, got shape {arr.shape}")
    if sr.shape != hr.shape:
        raise ValueError(f"sr and hr shapes differ: sr {sr.shape}, hr {hr.shape}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)):
        raise ValueError(f"crop_border must be an int, got {crop_border!r}")
    if crop_border < 0 or 2 * crop_border >= min(sr.shape[:2]):
        raise ValueError(
            f"crop_border={crop_border} leaves nothing of an image of shape {sr.shape}"
        )


def _planes(
    img: np.ndarray, crop_border: int, test_y_channel: bool, y_uint8: bool
) -> list[np.ndarray]:
    """The float64 planes that get scored: [Y], [gray] or [R, G, B], border already shaved."""
    h, w = img.shape[:2]
    img = img[crop_border : h - crop_border, crop_border : w - crop_border]
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        return [img.astype(np.float64)]
    if test_y_channel:
        return [rgb_to_y(img, y_uint8)]
    return [img[..., c].astype(np.float64) for c in range(3)]


def _psnr_planes(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    sq = 0.0
    for x, y in zip(a, b, strict=True):
        d = x - y
        d *= d
        # Not np.vdot: a BLAS call leaves OpenBLAS threads spinning, which slows what follows.
        sq += float(d.sum())
    mse = sq / (len(a) * a[0].size)
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(PEAK * PEAK / mse)


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    import cv2

    k = gaussian_window_1d()
    r = SSIM_WINDOW // 2
    h, w = x.shape
    if h < SSIM_WINDOW or w < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after the border crop, "
            f"got {h}x{w}"
        )

    # The Gaussian is separable: two 11-tap passes instead of one 121-tap filter; cropping the
    # full-size result by the window radius gives MATLAB's filter2(..., 'valid').
    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(z, cv2.CV_64F, k, k)[r : h - r, r : w - r]

    mu_x = blur(x)
    mu_y = blur(y)
    # The filter is linear, so E[x^2] + E[y^2], all SSIM needs of them, takes one blur.
    sq = x * x
    sq += y * y
    e_sq = blur(sq)
    e_xy = blur(x * y)
    mu_xy = mu_x * mu_y
    mu_sq = np.square(mu_x)
    mu_sq += np.square(mu_y, out=mu_y)
    num = 2.0 * mu_xy
    num += _C1
    e_xy -= mu_xy
    e_xy *= 2.0
    e_xy += _C2
    num *= e_xy
    e_sq -= mu_sq
    e_sq += _C2
    mu_sq += _C1
    mu_sq *= e_sq
    num /= mu_sq
    return float(num.mean())


def _ssim_planes(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([_ssim_plane(x, y) for x, y in zip(a, b, strict=True)]))


def calculate_psnr(
    sr: np.ndarray,
    hr: np.ndarray,
    crop_border: int,
    test_y_channel: bool = True,
    y_uint8: bool = False,
) -> float:
    """PSNR in dB (peak 255) of uint8 images; ``inf`` when they are identical."""
    _check_pair(sr, hr, crop_border)
    return _psnr_planes(
        _planes(sr, crop_border, test_y_channel, y_uint8),
        _planes(hr, crop_border, test_y_channel, y_uint8),
    )


def calculate_ssim(
    sr: np.ndarray,
    hr: np.ndarray,
    crop_border: int,
    test_y_channel: bool = True,
    y_uint8: bool = False,
) -> float:
    """SSIM of uint8 images, averaged over the valid map (and over channels on RGB)."""
    _check_pair(sr, hr, crop_border)
    return _ssim_planes(
        _planes(sr, crop_border, test_y_channel, y_uint8),
        _planes(hr, crop_border, test_y_channel, y_uint8),
    )


def calculate_psnr_ssim(
    sr: np.ndarray,
    hr: np.ndarray,
    crop_border: int,
    test_y_channel: bool = True,
    y_uint8: bool = False,
) -> tuple[float, float]:
    """Both metrics from one colour conversion: ``(psnr, ssim)``."""
    _check_pair(sr, hr, crop_border)
    a = _planes(sr, crop_border, test_y_channel, y_uint8)
    b = _planes(hr, crop_border, test_y_channel, y_uint8)
    return _psnr_planes(a, b), _ssim_planes(a, b)


def _torch_planes(
    x: torch.Tensor, crop_border: int, test_y_channel: bool, y_uint8: bool
) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> float64 (N, C', H', W') on the 0..255 scale, border shaved."""
    h, w = x.shape[-2:]
    x = x[..., crop_border : h - crop_border, crop_border : w - crop_border].double() * PEAK
    if x.shape[1] == 3 and test_y_channel:
        weights = x.new_tensor(_Y_WEIGHTS).view(1, 3, 1, 1)
        x = (x * weights).sum(dim=1, keepdim=True) + _Y_OFFSET
        if y_uint8:
            x = (x + 0.5).floor_()
    return x


def _check_pair_torch(sr: torch.Tensor, hr: torch.Tensor, crop_border: int) -> None:
    import torch

    for name, t in (("sr", sr), ("hr", hr)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got {type(t).__name__}")
        if t.ndim != 4 or t.shape[1] not in (1, 3):
            raise ValueError(f"{name} must have shape (N, 1 or 3, H, W), got {tuple(t.shape)}")
    if sr.shape != hr.shape:
        raise ValueError(f"sr and hr shapes differ: sr {tuple(sr.shape)}, hr {tuple(hr.shape)}")
    if crop_border < 0 or 2 * crop_border >= min(sr.shape[-2:]):
        raise ValueError(
            f"crop_border={crop_border} leaves nothing of a tensor of shape {tuple(sr.shape)}"
        )


def _psnr_torch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    import torch

    mse = (a - b).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(PEAK * PEAK / mse)


def _ssim_torch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    import torch
    import torch.nn.functional as F

    n, c, h, w = a.shape
    if h < SSIM_WINDOW or w < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after the border crop, "
            f"got {h}x{w}"
        )
    g = torch.from_numpy(gaussian_window_1d()).to(a)
    # Five maps per channel, blurred in one grouped separable convolution ('valid' mode).
    maps = torch.cat([a, b, a * a, b * b, a * b], dim=1)
    groups = maps.shape[1]
    maps = F.conv2d(maps, g.view(1, 1, -1, 1).expand(groups, 1, -1, 1), groups=groups)
    maps = F.conv2d(maps, g.view(1, 1, 1, -1).expand(groups, 1, 1, -1), groups=groups)
    mu_x, mu_y, e_xx, e_yy, e_xy = maps.split(c, dim=1)
    mu_xy = mu_x * mu_y
    mu_sq = mu_x * mu_x + mu_y * mu_y
    num = (2.0 * mu_xy + _C1) * (2.0 * (e_xy - mu_xy) + _C2)
    den = (mu_sq + _C1) * (e_xx + e_yy - mu_sq + _C2)
    return (num / den).mean(dim=(1, 2, 3))


def calculate_psnr_torch(
    sr: torch.Tensor,
    hr: torch.Tensor,
    crop_border: int,
    test_y_channel: bool = True,
    y_uint8: bool = False,
) -> torch.Tensor:
    """Per-image PSNR (float64 tensor of shape (N,)) of (N, C, H, W) batches in [0, 1]."""
    _check_pair_torch(sr, hr, crop_border)
    return _psnr_torch(
        _torch_planes(sr, crop_border, test_y_channel, y_uint8),
        _torch_planes(hr, crop_border, test_y_channel, y_uint8),
    )


def calculate_ssim_torch(
    sr: torch.Tensor,
    hr: torch.Tensor,
    crop_border: int,
    test_y_channel: bool = True,
    y_uint8: bool = False,
) -> torch.Tensor:
    """Per-image SSIM (float64 tensor of shape (N,)) of (N, C, H, W) batches in [0, 1]."""
    _check_pair_torch(sr, hr, crop_border)
    return _ssim_torch(
        _torch_planes(sr, crop_border, test_y_channel, y_uint8),
        _torch_planes(hr, crop_border, test_y_channel, y_uint8),
    )


def calculate_psnr_ssim_torch(
    sr: torch.Tensor,
    hr: torch.Tensor,
    crop_border: int,
    test_y_channel: bool = True,
    y_uint8: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both per-image metrics from one colour conversion: ``(psnr, ssim)``, each of shape (N,)."""
    _check_pair_torch(sr, hr, crop_border)
    a = _torch_planes(sr, crop_border, test_y_channel, y_uint8)
    b = _torch_planes(hr, crop_border, test_y_channel, y_uint8)
    return _psnr_torch(a, b), _ssim_torch(a, b)
