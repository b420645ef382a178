"""Offline complexity measures: they order flat, textured and noisy images as their content does,
annotate shards like any annotator, and reach Table 1."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from gasr_hf.analyze import table1
from gasr_hf.annotate import annotate, ingest_folder
from gasr_hf.annotate.complexity import (
    FZ_WIDTH,
    FzSegments,
    HfEnergy,
    PngBpp,
    fz_segments,
    hf_energy,
    png_bpp,
)

MEASURES = ("fz_segments", "png_bpp", "hf_energy")


def _flat() -> Image.Image:
    img = Image.new("RGB", (256, 192), (200, 40, 40))
    ImageDraw.Draw(img).rectangle((60, 50, 180, 140), fill=(20, 20, 160))
    return img


def _screentone() -> Image.Image:
    """Black dots on white every 6 pixels: flat to a segmenter at low resolution, dense in detail."""
    arr = np.full((192, 256), 255, np.uint8)
    y, x = np.mgrid[0:192, 0:256]
    arr[((y % 6) - 3) ** 2 + ((x % 6) - 3) ** 2 <= 3] = 0
    return Image.fromarray(arr).convert("RGB")


def _noise() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (192, 256, 3), dtype=np.uint8))


def test_measures_order_flat_texture_and_noise():
    flat, tone, noise = _flat(), _screentone(), _noise()
    assert png_bpp(flat) < png_bpp(tone) < png_bpp(noise)
    assert png_bpp(noise) > 20  # 24-bit noise does not compress
    assert hf_energy(flat) < hf_energy(tone)
    assert hf_energy(flat) < 5.0 and hf_energy(tone) > 4 * hf_energy(flat)
    assert 10 * fz_segments(flat) < fz_segments(noise)


def test_measures_do_not_depend_on_the_files_encoding():
    tone = _screentone()
    buffer = io.BytesIO()
    tone.save(buffer, format="PNG", compress_level=1)
    reread = Image.open(io.BytesIO(buffer.getvalue()))
    assert png_bpp(reread) == png_bpp(tone)
    assert hf_energy(reread.convert("L")) == pytest.approx(hf_energy(tone), rel=1e-6)


def test_segments_are_counted_at_a_fixed_width():
    small = _flat()
    large = small.resize((small.width * 3, small.height * 3), Image.Resampling.NEAREST)
    assert fz_segments(large) == pytest.approx(fz_segments(small), rel=0.2)
    assert FZ_WIDTH == 512


def test_too_small_images_have_no_hf_energy():
    assert np.isnan(hf_energy(Image.new("RGB", (12, 40))))


def test_annotators_fill_columns_and_table1(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for name, img in (("flat", _flat()), ("tone", _screentone()), ("noise", _noise())):
        img.save(folder / f"{name}.png")
    ingested = tmp_path / "ingested"
    ingest_folder(folder, "toy", ingested)
    out = tmp_path / "annotated"
    report = annotate(ingested, out, annotators=("num_pixels", *MEASURES), chunk_size=2)
    assert report.complete and report.failures == []
    import datasets

    ds = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    images = {n: Image.open(folder / n) for n in ds["file_name"]}
    assert ds["png_bpp"] == pytest.approx([png_bpp(images[n]) for n in ds["file_name"]])
    assert ds["fz_segments"] == [fz_segments(images[n]) for n in ds["file_name"]]
    assert ds.features["fz_segments"].dtype == "int64"
    rows = table1([out], tmp_path / "table")
    assert rows[0].mean_png_bpp == pytest.approx(np.mean(ds["png_bpp"]))
    assert rows[0].mean_hf_energy == pytest.approx(np.mean(ds["hf_energy"]))
    markdown = (tmp_path / "table" / "table1.md").read_text()
    assert "PNG bpp (mean)" in markdown and "HF energy (mean)" in markdown
    assert {a.column for a in (FzSegments(), PngBpp(), HfEnergy())} == set(MEASURES)


def test_table1_without_the_measures_keeps_its_columns(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    _flat().save(folder / "flat.png")
    ingest_folder(folder, "toy", tmp_path / "ingested")
    annotate(tmp_path / "ingested", tmp_path / "annotated", annotators=("num_pixels",))
    table1([tmp_path / "annotated"], tmp_path / "table")
    assert "PNG bpp" not in (tmp_path / "table" / "table1.md").read_text()
