"""blockiness matches the reference implementation's values on Set14, for every input form."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from PIL import Image

import gasr_hf.annotate
from gasr_hf.annotate import Blockiness, NumPixels
from gasr_hf.annotate.blockiness import blockiness, grayscale, min_side


def _reference(shared_benchmarks) -> dict[str, float]:
    path = shared_benchmarks / "Set14_blockiness_reference.tsv"
    with path.open(newline="") as handle:
        return {
            row["file"]: float(row["blockiness"]) for row in csv.DictReader(handle, delimiter="\t")
        }


def test_matches_reference_tsv(shared_benchmarks):
    reference = _reference(shared_benchmarks)
    assert len(reference) == 14
    for name, expected in reference.items():
        value = gasr_hf.annotate.blockiness(Image.open(shared_benchmarks / "Set14" / name))
        assert value == pytest.approx(expected, rel=1e-6), name


def test_array_inputs_give_the_same_value(shared_benchmarks):
    image = Image.open(shared_benchmarks / "Set14" / "zebra.png")
    rgb = np.asarray(image.convert("RGB"))
    expected = blockiness(image)
    assert blockiness(rgb) == expected
    assert blockiness(grayscale(rgb)) == expected
    rgba = image.convert("RGBA")
    assert blockiness(rgba) == expected, "alpha is dropped as cv2.imread does"


def test_grayscale_is_opencv_bgr2gray():
    import cv2

    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    bgr = rgb[:, :, ::-1].copy()
    assert np.array_equal(grayscale(rgb), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    gray = Image.fromarray(grayscale(rgb), "L")
    assert np.array_equal(grayscale(gray), grayscale(np.asarray(gray.convert("RGB"))))


def test_jpeg_compression_raises_blockiness(shared_benchmarks):
    image = Image.open(shared_benchmarks / "Set14" / "lenna.png")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=50)
    assert blockiness(Image.open(buffer)) > 20 * blockiness(image)


def test_too_small_and_bad_inputs_are_refused():
    assert min_side() == 36
    assert math.isfinite(blockiness(np.random.default_rng(0).integers(0, 256, (36, 36), np.uint8)))
    with pytest.raises(ValueError, match="too small"):
        blockiness(np.zeros((35, 100), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        blockiness(np.zeros((64, 64), np.float32))
    with pytest.raises(ValueError, match="not 8-bit"):
        blockiness(Image.fromarray(np.zeros((64, 64), np.uint16)))


def test_flat_image_is_nan_like_the_reference():
    assert math.isnan(blockiness(np.full((64, 64), 128, np.uint8)))


def test_annotators_with_datasets_map(shared_benchmarks):
    import datasets

    reference = _reference(shared_benchmarks)
    names = sorted(reference)[:4]
    tiny = Image.fromarray(np.zeros((20, 20, 3), np.uint8))
    images = [Image.open(shared_benchmarks / "Set14" / n) for n in names] + [tiny]
    ds = datasets.Dataset.from_dict(
        {"image": images}, features=datasets.Features({"image": datasets.Image()})
    )
    out = ds.map(Blockiness(), batched=True, batch_size=3, with_rank=True)
    out = out.map(NumPixels(), batched=True, with_rank=True)
    values = out["blockiness"]
    assert values[:4] == pytest.approx([reference[n] for n in names], rel=1e-6)
    assert math.isnan(values[4]), "images under 36 pixels a side get NaN"
    assert out["num_pixels"] == [im.width * im.height for im in images]
