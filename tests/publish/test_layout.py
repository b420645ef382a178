"""assemble_repo: one schema for every shard, untouched image bytes, resumable, plain load_dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gasr_hf.publish.layout import assemble_repo, union_features

from .tiny_shards import generated_shard


def _image_bytes(files: list[Path]) -> list[bytes]:
    return [
        row["bytes"]
        for path in files
        for row in pq.read_table(path, columns=["image"]).column("image").to_pylist()
    ]


def test_assemble_writes_configs_with_one_schema(tmp_path, stage_outputs):
    repo = tmp_path / "repo"
    layout = assemble_repo(repo, stage_outputs)

    assert layout.configs == {
        "gasr": ("data/gasr/train-*.parquet",),
        "df2k": ("data/df2k/train-*.parquet",),
        "gasr-df2k": ("data/gasr/train-*.parquet", "data/df2k/train-*.parquet"),
    }
    assert layout.rows == {"gasr": 5, "df2k": 5, "gasr-df2k": 10}
    assert layout.shards["df2k"] == (
        "data/df2k/train-00000.parquet",
        "data/df2k/train-00001.parquet",
    )
    shards = sorted(repo.glob("data/*/*.parquet"))
    assert len(shards) == 4  # the half-written shard under .gasr/tmp is not published
    schemas = {pq.read_schema(p) for p in shards}
    assert len(schemas) == 1
    schema = schemas.pop()
    assert {"prompt", "components", "seed", "file_name", "source", "conversion"} <= set(
        schema.names
    )
    assert json.loads(schema.metadata[b"huggingface"])["info"]["features"]["image"] == {
        "_type": "Image"
    }

    source_files = [p for p in sorted(stage_outputs["gasr"][0].glob("*.parquet"))]
    source_files += [stage_outputs["df2k"][0] / "train-00000.parquet"]
    source_files += [stage_outputs["df2k"][1] / "train-00000.parquet"]
    assert _image_bytes(shards[2:] + shards[:2]) == _image_bytes(source_files)

    gasr_rows = pq.read_table(repo / "data/gasr/train-00000.parquet").to_pylist()
    assert gasr_rows[0]["source"] is None and gasr_rows[0]["prompt"] == "prompt 0"
    df2k_rows = pq.read_table(repo / "data/df2k/train-00001.parquet").to_pylist()
    assert df2k_rows[0]["prompt"] is None and df2k_rows[0]["source"] == "flickr2k"


def test_rerun_skips_finished_shards_and_follows_changes(tmp_path, stage_outputs):
    repo = tmp_path / "repo"
    assemble_repo(repo, stage_outputs)
    shard = repo / "data/gasr/train-00001.parquet"
    before = shard.stat().st_mtime_ns

    again = assemble_repo(repo, stage_outputs)
    assert (again.shards_written, again.shards_skipped) == (0, 4)
    assert shard.stat().st_mtime_ns == before

    gen = stage_outputs["gasr"][0]
    generated_shard(gen / "train-00001.parquet", 3, 4)  # the stage grew its last shard
    grown = assemble_repo(repo, stage_outputs)
    assert (grown.shards_written, grown.shards_skipped) == (1, 3)
    assert grown.rows["gasr"] == 7

    only_div2k = {"gasr": stage_outputs["gasr"], "df2k": stage_outputs["df2k"][:1]}
    fewer = assemble_repo(repo, only_div2k)
    assert not (repo / "data/df2k/train-00001.parquet").exists()
    assert fewer.rows["df2k"] == 3


def test_dropping_a_source_drops_its_configs(tmp_path, stage_outputs):
    repo = tmp_path / "repo"
    assemble_repo(repo, stage_outputs)
    layout = assemble_repo(repo, {"gasr": stage_outputs["gasr"]})
    assert set(layout.configs) == {"gasr"}
    assert "config_name: df2k" not in (repo / "README.md").read_text()
    assert not list(repo.glob("data/df2k/*.parquet"))


def test_union_widens_plain_values_and_refuses_other_conflicts(tmp_path):
    import datasets

    def shard(name: str, features: dict, data: dict) -> Path:
        path = tmp_path / f"{name}.parquet"
        datasets.Dataset.from_dict(data, features=datasets.Features(features)).to_parquet(str(path))
        return path

    narrow = shard("narrow", {"n": datasets.Value("int32")}, {"n": [1]})
    wide = shard(
        "wide",
        {"n": datasets.Value("int64"), "x": datasets.Value("string")},
        {"n": [2], "x": ["a"]},
    )
    union = union_features([narrow, wide])
    assert union == datasets.Features({"n": datasets.Value("int64"), "x": datasets.Value("string")})

    listed = shard("listed", {"n": datasets.List(datasets.Value("int32"))}, {"n": [[1]]})
    with pytest.raises(
        ValueError, match=r"column 'n' is .* in .*narrow.parquet but .*listed.parquet"
    ):
        union_features([narrow, listed])


def test_bad_arguments_are_named(tmp_path, stage_outputs):
    gen = stage_outputs["gasr"][0]
    with pytest.raises(ValueError, match="must not lie inside source gasr"):
        assemble_repo(gen / "repo", stage_outputs)
    with pytest.raises(ValueError, match="combined config 'both' lists 'lsdir'"):
        assemble_repo(tmp_path / "r1", stage_outputs, combined={"both": ["gasr", "lsdir"]})
    with pytest.raises(ValueError, match="default_config 'df2k'"):
        assemble_repo(tmp_path / "r2", {"gasr": [gen]}, default_config="df2k")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no Parquet files under .*empty"):
        assemble_repo(tmp_path / "r3", {"gasr": [gen], "x": [empty]})
    with pytest.raises(ValueError, match="source config name 'bad name'"):
        assemble_repo(tmp_path / "r4", {"bad name": [gen]})
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="was not made by assemble_repo"):
        assemble_repo(foreign, stage_outputs)


def test_truncated_source_shard_is_named(tmp_path, stage_outputs):
    broken = stage_outputs["gasr"][0] / "train-00001.parquet"
    broken.write_bytes(broken.read_bytes()[:100])
    with pytest.raises(ValueError, match="train-00001.parquet: not a readable Parquet file"):
        assemble_repo(tmp_path / "repo", stage_outputs)


_LOAD_SCRIPT = """
import json, sys
import datasets
combined = datasets.load_dataset(sys.argv[1], "gasr-df2k", split="train")
streamed = list(datasets.load_dataset(sys.argv[1], "gasr-df2k", split="train", streaming=True))
default = datasets.load_dataset("gasr", split="train")
print(json.dumps({
    "gasr_hf_imported": "gasr_hf" in sys.modules,
    "rows": len(combined),
    "prompts": list(combined["prompt"]),
    "sources": list(combined["source"]),
    "image_sizes": [list(image.size) for image in combined["image"]],
    "streamed_rows": len(streamed),
    "streamed_sources": [row["source"] for row in streamed],
    "default_rows": len(default),
    "default_columns": default.column_names,
}))
"""


def test_plain_load_dataset_in_a_fresh_python(tmp_path, stage_outputs):
    repo = tmp_path / "gasr"
    assemble_repo(repo, stage_outputs)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf_home"),
        "PYTHONPATH": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT, str(repo)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["gasr_hf_imported"] is False
    assert result["rows"] == 10 and result["streamed_rows"] == 10
    assert result["prompts"] == [f"prompt {i}" for i in range(5)] + [None] * 5
    expected_sources = [None] * 5 + ["div2k"] * 3 + ["flickr2k"] * 2
    assert result["sources"] == expected_sources
    assert result["streamed_sources"] == expected_sources
    assert result["image_sizes"] == [[16, 12]] * 5 + [[20, 10]] * 5
    assert result["default_rows"] == 5
    assert result["default_columns"][0] == "image"
