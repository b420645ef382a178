"""Fixtures of the publish tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .tiny_shards import generated_shard, ingested_shard


@pytest.fixture
def stage_outputs(tmp_path: Path) -> dict[str, list[Path]]:
    """Stage folders: generated (2 shards, 5 rows), DIV2K (3 rows) and Flickr2K (2 rows)."""
    gen, div2k, flickr = (
        tmp_path / "stages/gen",
        tmp_path / "stages/div2k",
        tmp_path / "stages/flickr2k",
    )
    generated_shard(gen / "train-00000.parquet", 0, 3)
    generated_shard(gen / "train-00001.parquet", 3, 2)
    # A half-written shard of a running stage lives in the hidden state folder: never published.
    generated_shard(gen / ".gasr/tmp/train-00002.rank0.parquet", 5, 1)
    ingested_shard(div2k / "train-00000.parquet", "div2k", 0, 3)
    ingested_shard(flickr / "train-00000.parquet", "flickr2k", 3, 2)
    return {"gasr": [gen], "df2k": [div2k, flickr]}
