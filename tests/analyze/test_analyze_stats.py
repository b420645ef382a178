"""Table 1 and the DiverSeg JPEG-quality estimate, against values computed by hand."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gasr_hf.analyze import build_basis, estimate_jpeg_quality, load_basis, table1
from gasr_hf.analyze.jpeg_quality import read_blockiness_txt
from gasr_hf.annotate import annotate, blockiness, ingest_folder

DF2K_MEDIANS = {95: 10.33, 85: 46.98, 75: 83.20, 50: 165.34}


@pytest.fixture(scope="module")
def annotated(shared_benchmarks, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("table1")
    out = {}
    for name in ("Set5", "Set14"):
        ingest_folder(shared_benchmarks / name, name, root / f"{name}_raw")
        out[name] = root / name
        annotate(root / f"{name}_raw", out[name], annotators=("num_pixels", "blockiness"))
    return out


def test_table1_on_set5_set14(annotated, shared_benchmarks, shared_blockiness_basis, tmp_path):
    rows = table1([annotated["Set5"], annotated["Set14"]], tmp_path, basis=shared_blockiness_basis)
    by_hand = {}
    for name in ("Set5", "Set14"):
        files = sorted((shared_benchmarks / name).glob("*.png"))
        sizes = [Image.open(f).size for f in files]
        by_hand[name] = (len(files), float(np.mean([w * h for w, h in sizes])) / 1e6)
    with (shared_benchmarks / "Set14_blockiness_reference.tsv").open() as handle:
        set14_block = [float(r["blockiness"]) for r in csv.DictReader(handle, delimiter="\t")]
    set5_block = [blockiness(Image.open(f)) for f in sorted((shared_benchmarks / "Set5").glob("*"))]

    set5, set14 = rows
    assert (set5.dataset, set14.dataset) == ("Set5", "Set14")
    assert (set5.images, set14.images) == (by_hand["Set5"][0], by_hand["Set14"][0]) == (5, 14)
    assert set5.mean_megapixels == pytest.approx(by_hand["Set5"][1], rel=1e-12)
    assert set14.mean_megapixels == pytest.approx(by_hand["Set14"][1], rel=1e-12)
    assert set14.median_blockiness == pytest.approx(float(np.median(set14_block)), rel=1e-6)
    assert set5.median_blockiness == pytest.approx(float(np.median(set5_block)), rel=1e-12)
    assert set5.mean_segments is None and set14.mean_segments is None
    for row in rows:
        assert 50 <= row.jpeg_quality <= 100

    markdown = (tmp_path / "table1.md").read_text()
    assert "| Set14 | 14 |" in markdown and "n/a" in markdown
    with (tmp_path / "table1.csv").open() as handle:
        table = list(csv.reader(handle))
    assert table[0][0] == "Dataset" and [r[0] for r in table[1:]] == ["Set5", "Set14"]
    record = json.loads((tmp_path / "table1.json").read_text())
    assert record["rows"][1]["median_blockiness"] == set14.median_blockiness
    assert record["basis"] == str(shared_blockiness_basis)


def test_table1_without_basis_and_with_names(annotated, tmp_path):
    rows = table1([annotated["Set5"]], tmp_path, names=["five"])
    assert rows[0].dataset == "five" and rows[0].jpeg_quality is None
    with pytest.raises(ValueError, match="names"):
        table1([annotated["Set5"]], tmp_path, names=["a", "b"])
    with pytest.raises(FileNotFoundError):
        table1([tmp_path / "absent"], tmp_path)


def test_segments_mean_and_non_finite_blockiness(tmp_path):
    import datasets

    ds = datasets.Dataset.from_dict(
        {
            "source": ["synthetic"] * 4,
            "width": [10, 20, 30, 40],
            "height": [10, 10, 10, 10],
            "blockiness": [1.0, float("nan"), 3.0, None],
            "num_segments": [3, 4, None, 8],
        }
    )
    (tmp_path / "data").mkdir()
    ds.to_parquet(str(tmp_path / "data" / "train-00000.parquet"))
    (row,) = table1([tmp_path / "data"], tmp_path / "out")
    assert row.dataset == "synthetic" and row.images == 4
    assert row.mean_megapixels == pytest.approx(250 / 1e6)
    assert row.median_blockiness == 2.0
    assert row.blockiness_not_finite == 2
    assert row.mean_segments == pytest.approx(5.0)


@pytest.mark.slow
def test_estimator_recovers_df2k_qualities(shared_blockiness_basis):
    basis = load_basis(shared_blockiness_basis)
    assert sorted(basis.values) == [50, 75, 85, 95, 100]
    for quality in (50, 75, 85, 95):
        target = read_blockiness_txt(shared_blockiness_basis / f"DF2K_q{quality}.txt")[::3]
        estimate = estimate_jpeg_quality(target, basis)
        assert estimate.quality == pytest.approx(quality, abs=1.0), quality
        assert min(estimate.kl, key=estimate.kl.get) == quality
    lossless = read_blockiness_txt(shared_blockiness_basis / "DF2K.txt")[::3]
    assert estimate_jpeg_quality(lossless, basis).quality == pytest.approx(100, abs=1.0)
    with pytest.raises(ValueError, match="two distinct"):
        estimate_jpeg_quality([1.0, 500.0], basis)


def test_jpeg_reencodings_land_in_df2k_ranges(shared_benchmarks):
    files = sorted((shared_benchmarks / "Set14").glob("*.png")) + sorted(
        (shared_benchmarks / "Set5").glob("*.png")
    )
    images = [Image.open(f).convert("RGB") for f in files]
    medians = {}
    for quality, df2k in DF2K_MEDIANS.items():
        values = []
        for image in images:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality)
            values.append(blockiness(Image.open(buffer)))
        medians[quality] = float(np.median(values))
        assert df2k / 2 <= medians[quality] <= df2k * 2, (quality, medians[quality], df2k)
    assert medians[95] < medians[85] < medians[75] < medians[50]


def test_build_basis_from_a_reference_folder(shared_benchmarks, tmp_path):
    basis = build_basis(
        shared_benchmarks / "Set5", tmp_path / "basis", qualities=(100, 75), name="s5"
    )
    assert sorted(p.name for p in (tmp_path / "basis").glob("*.txt")) == [
        "s5_q100.txt",
        "s5_q75.txt",
    ]
    reloaded = load_basis(tmp_path / "basis")
    for quality in (100, 75):
        np.testing.assert_array_equal(reloaded.values[quality], basis.values[quality])
        assert len(basis.values[quality]) == 5
    baby = Image.open(shared_benchmarks / "Set5" / "baby.png").convert("RGB")
    buffer = io.BytesIO()
    baby.save(buffer, format="JPEG", quality=75)
    lines = (tmp_path / "basis" / "s5_q75.txt").read_text().splitlines()
    name, value = lines[0].split("\t")
    assert name == "baby.png" and float(value) == blockiness(Image.open(buffer))
    assert np.median(basis.values[75]) > 10 * np.median(basis.values[100])


def test_build_basis_drops_flat_images_and_skips_unreadable_files(tmp_path, caplog):
    """A flat reference image has no blockiness (V == 0); it must not poison the basis."""
    from gasr_hf.analyze import BlockinessBasis

    folder = tmp_path / "reference"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for seed in range(3):
        noise = rng.integers(0, 256, (48 + 8 * seed, 64, 3), np.uint8)
        Image.fromarray(noise).save(folder / f"noise{seed}.png")
    Image.new("RGB", (64, 64), (120, 130, 140)).save(folder / "flat.png")
    (folder / "gone.png").symlink_to(folder / "absent.png")

    with caplog.at_level("WARNING", logger="gasr_hf.analyze.jpeg_quality"):
        basis = build_basis(folder, tmp_path / "basis", qualities=(100, 75), name="ref")
    messages = [r.getMessage() for r in caplog.records]
    assert any("gone.png" in m and "unreadable" in m for m in messages)
    assert any("quality 75: dropped 1 non-finite" in m and "flat.png" in m for m in messages)
    for quality in (100, 75):
        assert len(basis.values[quality]) == 3 and np.isfinite(basis.values[quality]).all()
        lines = (tmp_path / "basis" / f"ref_q{quality}.txt").read_text().splitlines()
        assert [line.split("\t")[0] for line in lines] == ["noise0.png", "noise1.png", "noise2.png"]
    assert 0 <= estimate_jpeg_quality(basis.values[75], basis).quality <= 100

    with pytest.raises(ValueError, match="non-finite"):
        BlockinessBasis({100: np.array([1.0, np.nan, 2.0])}, "direct")


def test_load_basis_drops_non_finite_values(tmp_path, caplog):
    """Basis files written before non-finite values were filtered still load."""
    folder = tmp_path / "basis"
    folder.mkdir()
    (folder / "old_q100.txt").write_text("a\t1.0\nb\tnan\nc\t1.5\nd\tinf\ne\t2.0\n")
    (folder / "old_q50.txt").write_text("a\t150.0\nb\t-inf\nc\t170.0\n")
    with caplog.at_level("WARNING", logger="gasr_hf.analyze.jpeg_quality"):
        basis = load_basis(folder)
    np.testing.assert_array_equal(basis.values[100], [1.0, 1.5, 2.0])
    np.testing.assert_array_equal(basis.values[50], [150.0, 170.0])
    messages = [r.getMessage() for r in caplog.records]
    assert any("old_q100.txt" in m and "dropped 2" in m for m in messages)
    assert any("old_q50.txt" in m and "dropped 1" in m for m in messages)
    assert estimate_jpeg_quality([1.1, 1.3, 1.7, 1.9], basis).quality == pytest.approx(100, abs=1)
