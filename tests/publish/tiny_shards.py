"""Tiny Parquet shards shaped like the generate and ingest stages' output, and card inputs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from gasr_hf.publish.card import CardInfo


def png_bytes(width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def generated_shard(path: Path, start: int, n: int) -> Path:
    """Rows like the generate + annotate stages make: prompt columns, provenance, annotations."""
    import datasets

    features = datasets.Features(
        {
            "image": datasets.Image(),
            "width": datasets.Value("int32"),
            "height": datasets.Value("int32"),
            "prompt_id": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "style": datasets.Value("string"),
            "components": datasets.List(datasets.Value("string")),
            "seed": datasets.Value("int64"),
            "corpus": datasets.Value("string"),
            "model": datasets.Value("string"),
            "blockiness": datasets.Value("float64"),
            "clip_embedding": datasets.List(datasets.Value("float32"), length=4),
        }
    )
    rows = range(start, start + n)
    data = {
        "image": [{"bytes": png_bytes(16, 12, i), "path": None} for i in rows],
        "width": [16] * n,
        "height": [12] * n,
        "prompt_id": [f"p{i:04d}" for i in rows],
        "prompt": [f"prompt {i}" for i in rows],
        "style": ["ukiyo-e"] * n,
        "components": [["a fox", "a lantern"]] * n,
        "seed": [1000 + i for i in rows],
        "corpus": ["artwork@1.0.0"] * n,
        "model": ["procedural"] * n,
        "blockiness": [0.5 + i for i in rows],
        "clip_embedding": [[float(i)] * 4 for i in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(data, features=features).to_parquet(str(path))
    return path


def ingested_shard(path: Path, source: str, start: int, n: int) -> Path:
    """Rows like the ingest + annotate stages make: file_name, source, format, conversion."""
    import datasets

    features = datasets.Features(
        {
            "image": datasets.Image(),
            "file_name": datasets.Value("string"),
            "width": datasets.Value("int32"),
            "height": datasets.Value("int32"),
            "source": datasets.Value("string"),
            "format": datasets.Value("string"),
            "conversion": datasets.Value("string"),
            "blockiness": datasets.Value("float64"),
            "clip_embedding": datasets.List(datasets.Value("float32"), length=4),
        }
    )
    rows = range(start, start + n)
    data = {
        "image": [{"bytes": png_bytes(20, 10, 500 + i), "path": f"{i:04d}.png"} for i in rows],
        "file_name": [f"{i:04d}.png" for i in rows],
        "width": [20] * n,
        "height": [10] * n,
        "source": [source] * n,
        "format": ["PNG"] * n,
        "conversion": ["none"] * n,
        "blockiness": [0.1 * i for i in rows],
        "clip_embedding": [[-float(i)] * 4 for i in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(data, features=features).to_parquet(str(path))
    return path


def card_info(**overrides: object) -> CardInfo:
    values: dict[str, object] = {
        "version": "1.0.0",
        "corpus": "artwork@1.0.0",
        "prompt_template": "Featuring {component_1} and {component_2} in a {style} composition.",
        "base_description": "An ultra detailed, high-contrast image.",
        "model": "black-forest-labs/FLUX.1-dev",
        "model_revision": "0ef5fff789c832c5c7f4e127f94c8b54bbcced44",
        "sampler": {"steps": 50, "guidance": 3.5, "width": 1024, "height": 1024},
        "seeds": {"prompts": 0, "images": "the seed column of each row"},
        "table1_markdown": "| dataset | images |\n|---|---:|\n| GASR | 5 |\n| DF2K | 5 |",
    }
    values.update(overrides)
    return CardInfo(**values)  # type: ignore[arg-type]
