"""The annotate driver: all four annotators over ingested shards, resumable, with provenance."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gasr_hf.analyze import table1
from gasr_hf.annotate import (
    ClipConfig,
    NumSegments,
    annotate,
    blockiness,
    ingest_folder,
)
from gasr_hf.shards import report_path

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
