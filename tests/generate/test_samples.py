"""make_sample_grid on shards without the prompt columns, and its errors naming the file and row."""

from __future__ import annotations

import io
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from gasr_hf.generate import make_sample_grid
from gasr_hf.generate.samples import _caption


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _ingested(images: list[bytes]) -> datasets.Dataset:
    """Rows shaped like ``ingest_folder`` output: no style, no components."""
    return datasets.Dataset.from_dict(
        {
            "image": [{"bytes": b, "path": f"{k:04d}.png"} for k, b in enumerate(images)],
            "file_name": [f"{k:04d}.png" for k in range(len(images))],
            "source": ["DIV2K"] * len(images),
        },
        features=datasets.Features(
            {
                "image": datasets.Image(),
                "file_name": datasets.Value("string"),
                "source": datasets.Value("string"),
            }
        ),
    )


def test_grid_of_ingested_shards_captions_source_and_file(tmp_path: Path) -> None:
    ds = _ingested([_png(k) for k in range(3)])
    ds.to_parquet(str(tmp_path / "train-00000.parquet"))
    out = make_sample_grid(tmp_path, tmp_path / "grid.png", n=4, columns=2, tile=64)
    assert Image.open(out).size == (2 * (64 + 4) + 4, 2 * (64 + 34 + 4) + 4)
    assert make_sample_grid(ds, tmp_path / "from_dataset.png", n=2, tile=64).is_file()
    assert _caption({"source": "DIV2K", "file_name": "0001.png"}) == "DIV2K | 0001.png"
    generated = {"style": "ukiyo-e", "components": ["poster", "map"], "source": "GASR"}
    assert _caption(generated) == "ukiyo-e | poster + map"


def test_bad_images_and_shards_name_the_file_and_row(tmp_path: Path) -> None:
    _ingested([_png(0), b"not an image"]).to_parquet(str(tmp_path / "train-00000.parquet"))
    with pytest.raises(ValueError, match=r"train-00000.parquet row 1: undecodable image"):
        make_sample_grid(tmp_path, tmp_path / "grid.png", n=2, tile=64)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "train-00000.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(ValueError, match=r"train-00000.parquet: unreadable Parquet shard"):
        make_sample_grid(broken, tmp_path / "grid.png")
    no_image = tmp_path / "no_image"
    no_image.mkdir()
    datasets.Dataset.from_dict({"x": [1]}).to_parquet(str(no_image / "train-00000.parquet"))
    with pytest.raises(ValueError, match="no 'image' column"):
        make_sample_grid(no_image, tmp_path / "grid.png")
