"""MATLAB-exact bicubic: the shared Set5 fixtures made by MATLAB, and the torch version agreeing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gasr_hf.sr.resize import contributions, imresize, imresize_torch, output_size


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _matlab_pairs(root: Path, scale: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    pairs = []
    for hr_path in sorted((root / "Set5_MATLAB" / f"HR_x{scale}").glob("*.png")):
        lr_path = root / "Set5_MATLAB" / f"LRBI_x{scale}" / hr_path.name.replace("_HR_", "_LRBI_")
        pairs.append((hr_path.name, _read(hr_path), _read(lr_path)))
    assert len(pairs) == 5, f"expected the 5 Set5 images for x{scale}, found {len(pairs)}"
    return pairs


@pytest.mark.parametrize("scale", [2, 3])
def test_reproduces_matlab_lr_bit_exactly(shared_benchmarks: Path, scale: int) -> None:
    for name, hr, lr in _matlab_pairs(shared_benchmarks, scale):
        out = imresize(hr, 1 / scale)
        assert out.dtype == np.uint8
        assert out.shape == lr.shape, name
        mismatched = int((out != lr).sum())
        assert mismatched == 0, f"{name}: {mismatched} pixels differ from MATLAB"


@pytest.mark.parametrize("scale", [2, 3])
def test_torch_matches_matlab_fixtures(shared_benchmarks: Path, scale: int) -> None:
    for name, hr, lr in _matlab_pairs(shared_benchmarks, scale):
        x = torch.from_numpy(hr.copy()).permute(2, 0, 1)[None].float()
        out = imresize_torch(x, 1 / scale, round_uint8=True)
        assert out.dtype == torch.float32
        got = out[0].permute(1, 2, 0).numpy().astype(np.uint8)
        assert np.array_equal(got, lr), name


def test_rounding_is_half_away_from_zero_per_pass() -> None:
    # x2 upscaling weights are multiples of 1/128, so two outputs of this row are exactly 162.5
    # and 56.5: numpy's round-half-even would give 162 and 56; MATLAB (and imresize) 163 and 57.
    values = np.array([45, 251, 124, 12, 16, 214], dtype=np.uint8)
    img = values[None, :].repeat(3, axis=0)
    indices, weights = contributions(6, 2.0)
    exact = (weights * values[indices]).sum(axis=1)
    halves = np.flatnonzero(exact - np.floor(exact) == 0.5)
    assert exact[halves].tolist() == [162.5, 56.5]
    row = imresize(img, 2.0)[0]
    assert row[halves].tolist() == [163, 57]


def test_shapes_grey_and_upscaling() -> None:
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (37, 23), dtype=np.uint8)
    assert imresize(grey, 1 / 3).shape == (13, 8)
    assert imresize(grey, 4).shape == (148, 92)
    assert output_size(255, 1 / 3) == 85
    flat = np.full((20, 30, 3), 77, dtype=np.uint8)
    assert np.array_equal(imresize(flat, 0.5), np.full((10, 15, 3), 77, dtype=np.uint8))
    assert np.array_equal(imresize(flat, 3), np.full((60, 90, 3), 77, dtype=np.uint8))


def test_edge_indices_are_clamped_not_mirrored() -> None:
    indices, _ = contributions(10, 0.25)
    assert indices.min() == 0 and indices.max() == 9
    # The first output reaches left of the image; those taps all point at column 0.
    assert (indices[0] == 0).sum() > 1


def test_order_shrinks_the_smaller_scale_first() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    out = imresize(img, (0.75, 0.5))
    assert out.shape == (30, 25, 3)
    cols_first = imresize(imresize(img, (1.0, 0.5)), (0.75, 1.0))
    rows_first = imresize(imresize(img, (0.75, 1.0)), (1.0, 0.5))
    assert np.array_equal(out, cols_first)
    assert not np.array_equal(out, rows_first)


@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 1 / 2, 0.7, 1.5, 2, 3, 4])
def test_torch_batch_agrees_with_numpy(scale: float) -> None:
    rng = np.random.default_rng(2)
    batch = rng.integers(0, 256, (3, 41, 36, 3), dtype=np.uint8)
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).float()
    rounded = imresize_torch(x, scale, round_uint8=True)
    for i in range(batch.shape[0]):
        expected = imresize(batch[i], scale)
        got = rounded[i].permute(1, 2, 0).numpy().astype(np.uint8)
        assert np.array_equal(got, expected)
    # Without rounding the two passes are plain weighted sums (no clamping, as MATLAB on doubles).
    rows, cols = _dense(41, scale), _dense(36, scale)
    expected = np.einsum("oh,bhwc,pw->bcop", rows, batch.astype(np.float64) / 255.0, cols)
    unrounded = imresize_torch(x / 255.0, scale)
    assert unrounded.dtype == torch.float32
    assert np.abs(unrounded.numpy() - expected).max() < 1e-5


def _dense(length: int, scale: float) -> np.ndarray:
    indices, weights = contributions(length, scale)
    matrix = np.zeros((indices.shape[0], length))
    for out in range(indices.shape[0]):
        for index, weight in zip(indices[out], weights[out], strict=True):
            matrix[out, index] += weight
    return matrix


def test_invalid_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="uint8"):
        imresize(np.zeros((4, 4), dtype=np.float32), 0.5)
    with pytest.raises(ValueError, match="scale"):
        imresize(np.zeros((4, 4), dtype=np.uint8), 0)
    with pytest.raises(ValueError, match="B, C, H, W"):
        imresize_torch(torch.zeros(4, 4), 0.5)
