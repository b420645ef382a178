"""The annotate driver: all four annotators over ingested shards, resumable, with provenance."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gasr_hf.analyze import table1
from gasr_hf.annotate import (
    Blockiness,
    ClipConfig,
    NumPixels,
    NumSegments,
    annotate,
    blockiness,
    ingest_folder,
)
from gasr_hf.annotate.pixels import annotate_rows
from gasr_hf.annotate.run import _ParquetRows
from gasr_hf.shards import read_markers, report_path

ALL = ("num_pixels", "blockiness", "num_segments", "clip_embedding")


@pytest.fixture(scope="module")
def set5_ingested(shared_benchmarks, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("set5") / "ingested"
    ingest_folder(shared_benchmarks / "Set5", "Set5", out, chunk_size=2)
    return out


@pytest.mark.slow
def test_annotate_all_columns_resume_and_table1(
    set5_ingested, shared_benchmarks, tiny_sam_config, tiny_clip_dir, tmp_path
):
    import datasets

    out = tmp_path / "annotated"
    clip = ClipConfig(model=str(tiny_clip_dir), batch_size=2)
    kwargs = dict(annotators=ALL, sam=tiny_sam_config, clip=clip, chunk_size=2, batch_size=2)
    report = annotate(set5_ingested, out, device="cpu", **kwargs)
    assert report.complete and report.rows_out == 5 and report.failures == []

    ds = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    assert ds.column_names[-4:] == list(ALL)
    names = ds["file_name"]
    images = [Image.open(shared_benchmarks / "Set5" / n) for n in names]
    assert ds["num_pixels"] == [im.width * im.height for im in images]
    assert ds["blockiness"] == pytest.approx([blockiness(im) for im in images], rel=1e-12)
    expected_segments = NumSegments(tiny_sam_config, device="cpu").compute(images)
    assert ds["num_segments"] == expected_segments
    embeddings = np.asarray(ds["clip_embedding"])
    assert embeddings.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, rtol=1e-5)

    meta = json.loads(report_path(out).read_text())["meta"]
    assert meta["annotators"]["num_segments"]["generator"]["points_per_side"] == 4
    assert meta["annotators"]["clip_embedding"]["model"] == str(tiny_clip_dir)

    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
    again = annotate(set5_ingested, out, device="cpu", **kwargs)
    assert again.chunks_skipped == 3 and again.chunks_run == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")} == stamps

    other = {**kwargs, "clip": ClipConfig(model=str(tiny_clip_dir), batch_size=2, dtype="bfloat16")}
    with pytest.raises(ValueError, match="use a new out_dir"):
        annotate(set5_ingested, out, device="cpu", **other)

    rows = table1([out], tmp_path / "table")
    assert rows[0].dataset == "Set5" and rows[0].images == 5
    assert rows[0].mean_segments == pytest.approx(np.mean(expected_segments))


def test_existing_columns_and_missing_sam_are_refused(set5_ingested, tmp_path):
    first = tmp_path / "pixels"
    annotate(set5_ingested, first, annotators=("num_pixels",))
    with pytest.raises(ValueError, match="already has column"):
        annotate(first, tmp_path / "again", annotators=("num_pixels", "blockiness"))
    second = annotate(first, tmp_path / "blocks", annotators=("blockiness",))
    assert second.rows_out == 5
    with pytest.raises(ValueError, match="SegmentConfig"):
        annotate(set5_ingested, tmp_path / "sam", annotators=("num_segments",))
    with pytest.raises(ValueError, match="unknown annotator"):
        annotate(set5_ingested, tmp_path / "x", annotators=("colourfulness",))
    with pytest.raises(ValueError, match="differ"):
        annotate(set5_ingested, set5_ingested)


def test_undecodable_image_keeps_its_row_with_nulls(tmp_path):
    """Generated data (rows named by prompt_id) with one image that cannot be decoded."""
    import datasets

    good = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8))
    features = datasets.Features({"image": datasets.Image(), "prompt_id": datasets.Value("string")})
    ds = datasets.Dataset.from_dict(
        {"image": [good, {"bytes": b"junk", "path": "bad.png"}], "prompt_id": ["good", "bad"]},
        features=features,
    )
    (tmp_path / "in").mkdir()
    ds.to_parquet(str(tmp_path / "in" / "train-00000.parquet"))
    report = annotate(tmp_path / "in", tmp_path / "out", annotators=("num_pixels", "blockiness"))
    assert [(f["row"], f["id"]) for f in report.failures] == [(1, "bad")]
    assert report.rows_out == 2
    out = datasets.load_dataset("parquet", data_dir=str(tmp_path / "out"), split="train")
    assert out["num_pixels"] == [64 * 64, None]
    assert math.isfinite(out["blockiness"][0]) and out["blockiness"][1] is None


def _noise_image(seed: int, size: int = 64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), np.uint8))


def _png16() -> bytes:
    """A 16-bit grayscale PNG: Pillow opens it as I;16, which the annotators refuse to clip."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.full((48, 40), 40000, np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


def _write_shards(folder: Path, images: list, ids: list[str], sizes: list[int]) -> None:
    """``images`` as consecutive shards of ``sizes`` rows, in row groups of 2 rows."""
    import datasets

    features = datasets.Features({"image": datasets.Image(), "prompt_id": datasets.Value("string")})
    folder.mkdir(parents=True)
    start = 0
    for index, size in enumerate(sizes):
        part = datasets.Dataset.from_dict(
            {"image": images[start : start + size], "prompt_id": ids[start : start + size]},
            features=features,
        )
        part.to_parquet(str(folder / f"train-{index:05d}.parquet"), batch_size=2)
        start += size


def test_annotator_raising_on_one_image_is_a_row_failure(tmp_path):
    """A non-ingested dataset with a 16-bit image: blockiness raises on it, num_pixels does not."""
    import datasets

    images = [_noise_image(0), {"bytes": _png16(), "path": "deep.png"}, _noise_image(1)]
    _write_shards(tmp_path / "in", images, ["a", "deep", "c"], [3])
    report = annotate(tmp_path / "in", tmp_path / "out", batch_size=3)
    assert report.complete and report.rows_out == 3
    (failure,) = report.failures
    assert (failure["row"], failure["id"], failure["columns"]) == (1, "deep", ["blockiness"])
    assert "not 8-bit" in failure["error"]
    out = datasets.load_dataset("parquet", data_dir=str(tmp_path / "out"), split="train")
    assert out["num_pixels"] == [64 * 64, 48 * 40, 64 * 64]
    assert out["blockiness"][1] is None
    assert [out["blockiness"][i] for i in (0, 2)] == [
        blockiness(_noise_image(0)),
        blockiness(_noise_image(1)),
    ]


def test_annotator_returning_too_few_values_is_refused(tmp_path, monkeypatch):
    images = [_noise_image(0), _noise_image(1)]
    with pytest.raises(ValueError, match="returned 1 values for 2 images"):
        annotate_rows("x", images, lambda batch: [0] * (len(batch) - 1))
    _write_shards(tmp_path / "in", images, ["a", "b"], [2])
    monkeypatch.setattr(NumPixels, "compute", lambda self, batch: [1])
    with pytest.raises(ValueError, match="'num_pixels' returned 1 values for 2 images"):
        annotate(tmp_path / "in", tmp_path / "out")
    assert read_markers(tmp_path / "out") == {}


def test_datasets_map_shares_the_row_error_handling(caplog):
    import datasets

    features = datasets.Features({"image": datasets.Image()})
    ds = datasets.Dataset.from_dict(
        {
            "image": [
                _noise_image(0),
                {"bytes": b"junk", "path": "junk.png"},
                {"bytes": _png16(), "path": "deep.png"},
            ]
        },
        features=features,
    )
    raw = ds.cast_column("image", datasets.Image(decode=False))
    with caplog.at_level("WARNING", logger="gasr_hf.annotate.pixels"):
        out = raw.map(Blockiness(), batched=True, with_rank=True)
        out = out.map(NumPixels(), batched=True, with_rank=True)
    assert out["blockiness"][0] == blockiness(_noise_image(0))
    assert out["blockiness"][1:] == [None, None]
    assert out["num_pixels"] == [64 * 64, None, 48 * 40]
    messages = [r.getMessage() for r in caplog.records]
    assert any("junk.png" in m and "decode" in m for m in messages)
    assert any("deep.png" in m and "not 8-bit" in m for m in messages)
    decoded = datasets.Dataset.from_dict(
        {"image": [_noise_image(0), {"bytes": _png16(), "path": "deep.png"}]}, features=features
    )
    assert decoded.map(Blockiness(), batched=True)["blockiness"][1] is None


def test_chunks_are_read_from_the_shards_not_copied_to_the_cache(tmp_path, monkeypatch):
    """Chunks of 4 rows over shards of 3, 4 and 2 rows in row groups of 2; no datasets cache."""
    import datasets
    import pyarrow.parquet as pq

    cache = tmp_path / "hf_cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    images = [_noise_image(seed, 40 + seed) for seed in range(9)]
    ids = [f"p{i}" for i in range(9)]
    _write_shards(tmp_path / "in", images, ids, [3, 4, 2])
    report = annotate(tmp_path / "in", tmp_path / "out", chunk_size=4, batch_size=3)
    assert report.complete and report.chunks_total == 3 and report.failures == []
    assert not cache.exists() or not any(cache.rglob("*.arrow"))
    out = datasets.load_dataset("parquet", data_dir=str(tmp_path / "out"), split="train")
    assert out["prompt_id"] == ids
    assert out["num_pixels"] == [(40 + s) ** 2 for s in range(9)]
    assert out.features["image"] == datasets.Image()
    assert out[5]["image"].tobytes() == images[5].tobytes()

    reader = _ParquetRows(sorted((tmp_path / "in").glob("*.parquet")))
    whole = datasets.load_dataset("parquet", data_dir=str(tmp_path / "in"), split="train")
    whole = whole.data.table
    for start, stop in ((0, 9), (1, 6), (3, 7), (8, 9), (2, 3)):
        assert reader.read(start, stop).equals(whole.slice(start, stop - start))

    again = annotate(tmp_path / "in", tmp_path / "out", chunk_size=4, batch_size=3)
    assert again.chunks_skipped == 3 and again.chunks_run == 0
    # Same ids, other pixels: the input's listing (file sizes) no longer matches the markers.
    shutil.rmtree(tmp_path / "in")
    _write_shards(tmp_path / "in", [_noise_image(s, 50) for s in range(9)], ids, [3, 4, 2])
    with pytest.raises(ValueError, match="input_listing_sha256"):
        annotate(tmp_path / "in", tmp_path / "out", chunk_size=4, batch_size=3)

    pq.write_table(
        pq.read_table(tmp_path / "in" / "train-00000.parquet").drop(["prompt_id"]),
        tmp_path / "in" / "train-00003.parquet",
    )
    with pytest.raises(ValueError, match="train-00003.parquet"):
        annotate(tmp_path / "in", tmp_path / "other")


def test_pixel_annotators_do_not_import_torch(tmp_path):
    import subprocess
    import sys

    _write_shards(tmp_path / "in", [_noise_image(0), _noise_image(1)], ["a", "b"], [2])
    script = (
        "import sys\n"
        "from gasr_hf.annotate import annotate\n"
        f"report = annotate({str(tmp_path / 'in')!r}, {str(tmp_path / 'out')!r})\n"
        "assert report.complete and report.rows_out == 2, report\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
