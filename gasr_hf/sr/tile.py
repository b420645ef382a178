"""``gasr tile``: cut HR images into overlapping sub-images, as SR toolboxes do for DIV2K.

Tile origins along a dimension of length ``n`` are ``0, step, 2*step, ...`` up to ``n - size``,
plus ``n - size`` itself when the last regular tile does not reach the border, so every pixel is
covered and the last tile is flush with the border (BasicSR's ``extract_subimages`` with a zero
threshold). A dimension shorter than ``size`` gives one tile as long as the image in that
dimension; the stream's ``small_images`` policy decides about such tiles later.

Tiles are stored losslessly as PNG bytes with their provenance (``source``, ``source_row``, ``x``,
``y``) in Parquet shards written by :func:`gasr_hf.shards.run_chunks`: resumable, one shard per
chunk of source images, readable by ``datasets.load_dataset("parquet", data_dir=out_dir)`` and by
:class:`gasr_hf.sr.data.SRPairStream`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gasr_hf.shards import ChunkResult, ShardReport, run_chunks

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

__all__ = ["tile_dataset", "tile_origins"]

_ROW = "__gasr_source_row"


def tile_origins(length: int, size: int, step: int) -> list[int]:
    """Start offsets of the tiles along one dimension (see the module docstring)."""
    if length < 1 or size < 1 or step < 1:
        raise ValueError(f"length, size and step must be >= 1, got {length}, {size}, {step}")
    if length <= size:
        return [0]
    origins = list(range(0, length - size + 1, step))
    if origins[-1] != length - size:
        origins.append(length - size)
    return origins


def _load(src: datasets.Dataset | str, split: str) -> datasets.Dataset:
    import datasets

    if isinstance(src, datasets.Dataset):
        return src
    if not isinstance(src, str):
        raise ValueError(f"src must be a datasets.Dataset, a path or a Hub id, got {src!r}")
    path = Path(src)
    if path.is_file() and path.suffix == ".parquet":
        return datasets.load_dataset("parquet", data_files=str(path), split="train")
    if not path.exists() and src.startswith((".", "/", "~")):
        raise FileNotFoundError(f"src not found: {src}")
    return datasets.load_dataset(src, split=split)


def _tile_chunk(
    chunk: datasets.Dataset,
    *,
    size: int,
    step: int,
    image_column: str,
    keep_columns: Sequence[str],
    features: datasets.Features,
    png_compression: int,
) -> ChunkResult:
    import cv2
    import datasets

    columns: dict[str, list[Any]] = {name: [] for name in features}
    failures: list[dict[str, Any]] = []
    for row in chunk:
        index = int(row[_ROW])
        cell = row[image_column] or {}
        source = cell.get("path") or ""
        data = cell.get("bytes")
        try:
            if data is None and source:
                data = Path(source).read_bytes()
            img = (
                None
                if data is None
                else cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
            )
            if img is None:
                raise ValueError("not a decodable image")
        except (OSError, ValueError) as err:
            failures.append({"row": index, "id": source, "error": str(err)})
            logger.warning("tile: row %d (%s) skipped: %s", index, source or "bytes", err)
            continue
        height, width = img.shape[:2]
        for y in tile_origins(height, size, step):
            for x in tile_origins(width, size, step):
                ok, encoded = cv2.imencode(
                    ".png",
                    img[y : y + size, x : x + size],
                    [cv2.IMWRITE_PNG_COMPRESSION, png_compression],
                )
                if not ok:
                    raise ValueError(f"tile: row {index} ({source}): PNG encoding failed")
                columns["image"].append({"bytes": encoded.tobytes(), "path": None})
                columns["source"].append(source)
                columns["source_row"].append(index)
                columns["x"].append(x)
                columns["y"].append(y)
                for name in keep_columns:
                    columns[name].append(row[name])
    return ChunkResult(datasets.Dataset.from_dict(columns, features=features), failures)


def tile_dataset(
    src: datasets.Dataset | str,
    out_dir: str | Path,
    size: int = 480,
    step: int = 240,
    *,
    image_column: str = "image",
    keep_columns: Sequence[str] = (),
    split: str = "train",
    chunk_size: int = 16,
    png_compression: int = 3,
    rank: int = 0,
    world_size: int = 1,
) -> ShardReport:
    """Tile every image of ``src`` into ``size`` x ``size`` sub-images ``step`` pixels apart.

    ``src`` is a map-style dataset, a local folder / Parquet file, or a Hub id (``split`` is
    loaded). Output rows: ``image`` (PNG), ``source`` (the image's file name, if it had one),
    ``source_row``, ``x``, ``y`` and the ``keep_columns`` copied from the source row. Shards hold the
    tiles of ``chunk_size`` source images each; a rerun skips finished shards. Undecodable images
    are reported as failures in the returned report, not dropped silently.
    """
    import datasets

    if size < 1 or step < 1:
        raise ValueError(f"size and step must be >= 1, got size={size}, step={step}")
    if not 0 <= png_compression <= 9:
        raise ValueError(f"png_compression must be in 0..9, got {png_compression}")
    source = _load(src, split)
    if image_column not in source.column_names:
        raise ValueError(f"src has no column {image_column!r} (columns: {source.column_names})")
    reserved = {"image", "source", "source_row", "x", "y"}
    for name in keep_columns:
        if name not in source.column_names:
            raise ValueError(f"keep_columns: src has no column {name!r}")
        if name in reserved:
            raise ValueError(f"keep_columns: {name!r} clashes with a tile column")
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "source": datasets.Value("string"),
            "source_row": datasets.Value("int64"),
            "x": datasets.Value("int32"),
            "y": datasets.Value("int32"),
            **{name: source.features[name] for name in keep_columns},
        }
    )
    source = source.select_columns([image_column, *keep_columns])
    source = source.cast_column(image_column, datasets.Image(decode=False))
    source = source.add_column(_ROW, np.arange(len(source), dtype=np.int64))

    def process(chunk: datasets.Dataset) -> ChunkResult:
        return _tile_chunk(
            chunk,
            size=size,
            step=step,
            image_column=image_column,
            keep_columns=keep_columns,
            features=features,
            png_compression=png_compression,
        )

    report = run_chunks(
        source,
        out_dir,
        process,
        chunk_size=chunk_size,
        split="train",
        rank=rank,
        world_size=world_size,
        desc="tile",
        meta={
            "stage": "tile",
            "source": src if isinstance(src, str) else getattr(src, "_fingerprint", ""),
            "size": size,
            "step": step,
            "png_compression": png_compression,
        },
    )
    logger.info(
        "tile: %d of %d chunks done, %d source rows -> %d tiles, %d failures, in %s",
        report.chunks_done,
        report.chunks_total,
        report.rows_in,
        report.rows_out,
        len(report.failures),
        out_dir,
    )
    return report
