"""``gasr tile``: sub-images flush with the border, lossless, with provenance, readable by the stream."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from gasr_hf.shards import read_markers, report_path
from gasr_hf.sr.data import SRPairConfig, SRPairStream
from gasr_hf.sr.tile import tile_dataset, tile_origins


def test_origins_end_flush_with_the_border() -> None:
    assert tile_origins(1356, 480, 240) == [0, 240, 480, 720, 876]
    assert tile_origins(960, 480, 240) == [0, 240, 480]
    assert tile_origins(300, 480, 240) == [0]
    with pytest.raises(ValueError, match="step"):
        tile_origins(100, 10, 0)


def _source(tmp_path: Path) -> tuple[datasets.Dataset, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 256, (50, 70, 3), dtype=np.uint8),
        rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        rng.integers(0, 256, (20, 45), dtype=np.uint8),  # grey, shorter than a tile
    ]
    paths = []
    for i, img in enumerate(images):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(img).save(path)
        paths.append(str(path))
    data = {"image": paths, "style": ["ink", "oil", "pastel"]}
    dataset = datasets.Dataset.from_dict(data).cast_column("image", datasets.Image())
    return dataset, images


@pytest.mark.parametrize(("image_format", "level"), [("png", 0), ("png", 3), ("bmp", 0)])
def test_tiles_are_lossless_with_provenance(tmp_path: Path, image_format: str, level: int) -> None:
    source, images = _source(tmp_path)
    out = tmp_path / "tiles"
    report = tile_dataset(
        source,
        out,
        size=32,
        step=16,
        keep_columns=["style"],
        chunk_size=2,
        image_format=image_format,
        png_compression=level,
    )
    assert report.complete and report.rows_in == 3 and not report.failures
    assert sorted(p.name for p in out.glob("*.parquet")) == [
        "train-00000.parquet",
        "train-00001.parquet",
    ]

    tiles = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    expected = (
        {(0, y, x) for y in tile_origins(50, 32, 16) for x in tile_origins(70, 32, 16)}
        | {(1, 0, 0)}
        | {(2, 0, x) for x in tile_origins(45, 32, 16)}
    )
    got = {(row["source_row"], row["y"], row["x"]) for row in tiles}
    assert got == expected and len(tiles) == len(expected) == report.rows_out
    assert (0, 18, 38) in got  # the last tile is flush with the bottom-right corner
    for row in tiles:
        src = images[row["source_row"]]
        y, x = row["y"], row["x"]
        expected = src if src.ndim == 3 else np.repeat(src[:, :, None], 3, axis=2)
        assert np.array_equal(np.asarray(row["image"]), expected[y : y + 32, x : x + 32])
        assert row["source_file"] == str(tmp_path / f"img{row['source_row']}.png")
        assert row["style"] == ["ink", "oil", "pastel"][row["source_row"]]
    assert json.loads(report_path(out).read_text())["meta"]["size"] == 32


def test_rerun_from_a_moved_copy_resumes_and_other_settings_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _ = _source(tmp_path)
    source.to_parquet(str(tmp_path / "src.parquet"))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "tiles"
    first = tile_dataset("src.parquet", out, size=32, step=16, chunk_size=2)
    (tmp_path / "moved").mkdir()
    (tmp_path / "src.parquet").rename(tmp_path / "moved" / "src.parquet")
    again = tile_dataset(
        str(tmp_path / "moved" / "src.parquet"), out, size=32, step=16, chunk_size=2
    )
    assert again.chunks_skipped == 2 and again.meta == first.meta
    assert [m["meta"] for m in read_markers(out).values()] == [first.meta, first.meta]
    with pytest.raises(ValueError, match="size: was 32, now 16"):
        tile_dataset(source, out, size=16, step=16, chunk_size=2)
    # The same number of rows, in another order: chunk 0 now holds other images.
    with pytest.raises(ValueError, match="other source rows"):
        tile_dataset(source.select([1, 0, 2]), out, size=32, step=16, chunk_size=2)


def test_undecodable_images_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    source = datasets.Dataset.from_dict({"image": [{"bytes": bad.read_bytes(), "path": str(bad)}]})
    source = source.cast_column("image", datasets.Image())
    report = tile_dataset(source, tmp_path / "tiles", size=8, step=8)
    assert report.rows_out == 0
    assert report.failures == [
        {"row": 0, "id": str(bad), "error": f"row 0 ({bad}): not a decodable image"}
    ]


def test_stream_reads_the_tile_shards(tmp_path: Path) -> None:
    source, _ = _source(tmp_path)
    out = tmp_path / "tiles"
    tile_dataset(source, out, size=32, step=16, chunk_size=2)
    # One input shard at a time: datasets pauses 5 s when a multi-shard Parquet buffer closes.
    config = SRPairConfig(
        scale=2, hr_size=32, shuffle_buffer=4, shuffle_input_shards=1, repeat=False
    )
    for src in (str(out), str(out / "*.parquet")):
        stream = SRPairStream(src, config)
        items = list(itertools.islice(stream, 100))
        # 12 + 1 tiles of 32x32; the grey 20-pixel-high tiles are skipped and counted.
        assert len(items) == 13 and stream.skipped == 2
        assert items[0]["hr"].shape == (3, 32, 32)


def test_bad_arguments(tmp_path: Path) -> None:
    source, _ = _source(tmp_path)
    with pytest.raises(ValueError, match="keep_columns"):
        tile_dataset(source, tmp_path / "t", keep_columns=["missing"])
    with pytest.raises(FileNotFoundError, match="src not found"):
        tile_dataset(str(tmp_path / "nowhere"), tmp_path / "t")


def test_tiles_become_a_config_of_an_assembled_repository(tmp_path: Path) -> None:
    from gasr_hf.publish import assemble_repo
    from gasr_hf.publish.card import card_configs, read_card

    source, images = _source(tmp_path)
    shards = tmp_path / "work" / "ingested"
    shards.mkdir(parents=True)
    source.to_parquet(str(shards / "train-00000.parquet"))
    repo = tmp_path / "repo"
    assemble_repo(repo, {"df2k": [shards]}, default_config="df2k")

    work = tmp_path / "work" / "tiles"
    kwargs = {"size": 32, "step": 16, "keep_columns": ["style"], "chunk_size": 2}
    report = tile_dataset(str(shards), work, **kwargs, repo_dir=repo, repo_config="df2k-tiles")
    assert report.complete
    tiles = datasets.load_dataset(str(repo), "df2k-tiles", split="train")
    assert len(tiles) == report.rows_out == 15
    assert {"source_row", "x", "y", "style"} <= set(tiles.column_names)
    assert np.array_equal(np.asarray(tiles[0]["image"]), images[0][:32, :32])
    assert len(datasets.load_dataset(str(repo), "df2k", split="train")) == len(images)
    configs = card_configs(read_card(repo).data)
    assert configs["df2k-tiles"]["data_files"][0]["path"] == "data/df2k-tiles/train-*.parquet"
    assert configs["df2k"].get("default")

    # A rerun changes nothing; a config name that holds other data is refused.
    again = tile_dataset(str(shards), work, **kwargs, repo_dir=repo, repo_config="df2k-tiles")
    assert again.chunks_skipped == 2
    with pytest.raises(ValueError, match="already a config"):
        tile_dataset(str(shards), work, **kwargs, repo_dir=repo, repo_config="df2k")
    with pytest.raises(ValueError, match="world_size=1"):
        tile_dataset(str(shards), work, **kwargs, repo_dir=repo, repo_config="t", world_size=2)
    with pytest.raises(FileNotFoundError, match="not a repository made by assemble_repo"):
        tile_dataset(str(shards), work, **kwargs, repo_dir=tmp_path / "x", repo_config="t")
