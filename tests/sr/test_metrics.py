"""PSNR / SSIM on Y: formulas, conventions, invariants, torch agreement, the `evaluate` module."""

from __future__ import annotations

import math

import evaluate
import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from gasr_hf.sr.metrics import (
    EVALUATE_METRIC_PATH,
    calculate_psnr,
    calculate_psnr_ssim,
    calculate_psnr_ssim_torch,
    calculate_psnr_torch,
    calculate_ssim,
    calculate_ssim_torch,
    gaussian_window_1d,
    rgb_to_y,
)

C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def _pair(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hr = rng.integers(0, 256, shape, dtype=np.uint8)
    noise = rng.integers(-25, 26, shape)
    sr = np.clip(hr.astype(np.int64) + noise, 0, 255).astype(np.uint8)
    return sr, hr


def _reference_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al.'s ssim_index.m written out: 2-D window, filter2(..., 'valid')."""
    g = gaussian_window_1d()
    window = np.outer(g, g)

    def f(z: np.ndarray) -> np.ndarray:
        return correlate2d(z, window, mode="valid")

    mu_x, mu_y = f(x), f(y)
    s_xx = f(x * x) - mu_x**2
    s_yy = f(y * y) - mu_y**2
    s_xy = f(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + C1) * (2 * s_xy + C2)) / (
        (mu_x**2 + mu_y**2 + C1) * (s_xx + s_yy + C2)
    )
    return float(ssim_map.mean())


def test_gaussian_window_is_matlab_fspecial() -> None:
    g = gaussian_window_1d()
    assert g.shape == (11,)
    assert g.sum() == pytest.approx(1.0, abs=1e-15)
    assert g[0] / g[5] == pytest.approx(math.exp(-25 / (2 * 1.5**2)), rel=1e-12)


def test_y_is_bt601_studio_range_unrounded_by_default() -> None:
    primaries = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]])
    y = rgb_to_y(primaries.astype(np.uint8))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y[0], [16.0, 235.0, 81.481, 144.553, 40.966], atol=1e-12)
    # MATLAB's rgb2ycbcr on uint8 rounds to the nearest integer.
    y_uint8 = rgb_to_y(primaries.astype(np.uint8), y_uint8=True)
    np.testing.assert_array_equal(y_uint8[0], [16, 235, 81, 145, 41])


def test_identical_images() -> None:
    _, hr = _pair((40, 33, 3))
    assert calculate_psnr(hr, hr, 4) == math.inf
    assert calculate_ssim(hr, hr, 4) == pytest.approx(1.0, abs=1e-12)


def test_symmetric() -> None:
    sr, hr = _pair((45, 38, 3))
    assert calculate_psnr(sr, hr, 3) == calculate_psnr(hr, sr, 3)
    assert calculate_ssim(sr, hr, 3) == pytest.approx(calculate_ssim(hr, sr, 3), abs=1e-15)


def test_constant_offset_gives_analytic_values() -> None:
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 200, (30, 27, 3), dtype=np.uint8)
    sr = hr + np.uint8(10)
    # Y moves by 10 * 219 / 255 for an offset of 10 on every channel.
    assert calculate_psnr(sr, hr, 2) == pytest.approx(20 * math.log10(255 * 255 / 2190), abs=1e-9)
    assert calculate_psnr(sr, hr, 2, test_y_channel=False) == pytest.approx(
        20 * math.log10(25.5), abs=1e-9
    )
    # Constant images: no variance, so SSIM is the luminance term alone.
    a = np.full((24, 24), 100, np.uint8)
    b = np.full((24, 24), 110, np.uint8)
    expected = (2 * 100 * 110 + C1) / (100**2 + 110**2 + C1)
    assert calculate_ssim(a, b, 0) == pytest.approx(expected, abs=1e-12)
    assert calculate_psnr(a, b, 0) == pytest.approx(20 * math.log10(25.5), abs=1e-9)


@pytest.mark.parametrize("shape", [(37, 29, 3), (40, 51)])
def test_ssim_matches_written_out_valid_mode_reference(shape: tuple[int, ...]) -> None:
    sr, hr = _pair(shape, seed=2)
    if len(shape) == 3:
        x, y = rgb_to_y(sr[3:-3, 3:-3]), rgb_to_y(hr[3:-3, 3:-3])
    else:
        x, y = sr[3:-3, 3:-3].astype(np.float64), hr[3:-3, 3:-3].astype(np.float64)
    assert calculate_ssim(sr, hr, 3) == pytest.approx(_reference_ssim(x, y), abs=1e-12)
    mse = np.mean((x - y) ** 2)
    assert calculate_psnr(sr, hr, 3) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-10)


def test_border_is_shaved_from_every_side_on_odd_sizes() -> None:
    sr, hr = _pair((33, 47, 3), seed=3)
    sr[:2], sr[-2:], sr[:, :2], sr[:, -2:] = 0, 255, 0, 255
    cropped = (slice(2, 31), slice(2, 45))
    assert calculate_psnr(sr, hr, 2) == calculate_psnr(sr[cropped], hr[cropped], 0)
    assert calculate_ssim(sr, hr, 2) == calculate_ssim(sr[cropped], hr[cropped], 0)
    assert calculate_psnr(sr, hr, 2) != calculate_psnr(sr, hr, 1)


def test_gray_images_are_scored_on_gray_values() -> None:
    sr, hr = _pair((36, 31), seed=4)
    psnr, ssim = calculate_psnr_ssim(sr, hr, 4)
    assert calculate_psnr_ssim(sr[..., None], hr[..., None], 4) == (psnr, ssim)
    assert calculate_psnr_ssim(sr, hr, 4, test_y_channel=False) == (psnr, ssim)
    d = sr[4:-4, 4:-4].astype(np.float64) - hr[4:-4, 4:-4]
    assert psnr == pytest.approx(10 * math.log10(255**2 / np.mean(d * d)), abs=1e-10)


def test_rgb_without_y_averages_channels() -> None:
    sr, hr = _pair((30, 30, 3), seed=5)
    per_channel = [calculate_ssim(sr[..., c], hr[..., c], 1) for c in range(3)]
    assert calculate_ssim(sr, hr, 1, test_y_channel=False) == pytest.approx(
        np.mean(per_channel), abs=1e-15
    )


def test_y_uint8_rounds_y_before_scoring() -> None:
    sr, hr = _pair((32, 30, 3), seed=6)
    x = np.floor(rgb_to_y(sr[2:-2, 2:-2]) + 0.5)
    y = np.floor(rgb_to_y(hr[2:-2, 2:-2]) + 0.5)
    assert calculate_ssim(sr, hr, 2, y_uint8=True) == pytest.approx(
        _reference_ssim(x, y), abs=1e-12
    )
    assert calculate_psnr(sr, hr, 2, y_uint8=True) != calculate_psnr(sr, hr, 2)


def test_combined_equals_separate() -> None:
    sr, hr = _pair((40, 44, 3), seed=7)
    assert calculate_psnr_ssim(sr, hr, 4, y_uint8=True) == (
        calculate_psnr(sr, hr, 4, y_uint8=True),
        calculate_ssim(sr, hr, 4, y_uint8=True),
    )


@pytest.mark.parametrize(
    ("sr", "hr", "border", "match"),
    [
        (np.zeros((20, 20, 3)), np.zeros((20, 20, 3), np.uint8), 0, "uint8"),
        (np.zeros((20, 20, 3), np.uint8), np.zeros((20, 21, 3), np.uint8), 0, "shapes differ"),
        (np.zeros((20, 20, 4), np.uint8), np.zeros((20, 20, 4), np.uint8), 0, "HxWx3"),
        (np.zeros((20, 20), np.uint8), np.zeros((20, 20), np.uint8), 10, "crop_border=10"),
        (np.zeros((20, 20), np.uint8), np.zeros((20, 20), np.uint8), -1, "crop_border=-1"),
        (np.zeros((20, 20), np.uint8), np.zeros((20, 20), np.uint8), 5, "11x11"),
    ],
)
def test_bad_input_is_named(sr: np.ndarray, hr: np.ndarray, border: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        calculate_psnr_ssim(sr, hr, border)


@pytest.mark.parametrize(
    ("channels", "test_y_channel", "y_uint8"),
    [(3, True, False), (3, True, True), (3, False, False), (1, True, False)],
)
def test_torch_batch_agrees_with_numpy(channels: int, test_y_channel: bool, y_uint8: bool) -> None:
    pairs = [_pair((41, 38, channels), seed=s) for s in range(3)]
    sr_t, hr_t = (
        torch.from_numpy(np.stack(side)).permute(0, 3, 1, 2).float() / 255
        for side in zip(*pairs, strict=True)
    )
    psnr_t, ssim_t = calculate_psnr_ssim_torch(sr_t, hr_t, 4, test_y_channel, y_uint8)
    assert torch.equal(psnr_t, calculate_psnr_torch(sr_t, hr_t, 4, test_y_channel, y_uint8))
    assert torch.equal(ssim_t, calculate_ssim_torch(sr_t, hr_t, 4, test_y_channel, y_uint8))
    for i, (sr, hr) in enumerate(pairs):
        psnr, ssim = calculate_psnr_ssim(sr, hr, 4, test_y_channel, y_uint8)
        assert abs(psnr_t[i].item() - psnr) < 1e-4
        assert abs(ssim_t[i].item() - ssim) < 1e-6


def test_torch_rejects_bad_batches() -> None:
    with pytest.raises(ValueError, match="shape"):
        calculate_psnr_torch(torch.zeros(1, 2, 20, 20), torch.zeros(1, 2, 20, 20), 0)
    with pytest.raises(ValueError, match="differ"):
        calculate_ssim_torch(torch.zeros(1, 3, 20, 20), torch.zeros(2, 3, 20, 20), 0)


def test_evaluate_module_loads_offline_and_agrees() -> None:
    pairs = [_pair((40, 36, 3), seed=9), _pair((33, 45), seed=10)]
    expected = [calculate_psnr_ssim(sr, hr, 2, y_uint8=True) for sr, hr in pairs]
    for path in (EVALUATE_METRIC_PATH, EVALUATE_METRIC_PATH / "sr_psnr_ssim.py"):
        metric = evaluate.load(str(path))
        result = metric.compute(
            predictions=[sr for sr, _ in pairs],
            references=[hr for _, hr in pairs],
            crop_border=2,
            y_uint8=True,
        )
        assert result["psnr_per_image"] == [p for p, _ in expected]
        assert result["ssim_per_image"] == [s for _, s in expected]
        assert result["psnr"] == pytest.approx(np.mean([p for p, _ in expected]), abs=1e-12)
        assert result["ssim"] == pytest.approx(np.mean([s for _, s in expected]), abs=1e-12)
