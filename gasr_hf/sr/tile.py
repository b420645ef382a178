"""``gasr tile``: cut HR images into overlapping sub-images, as SR toolboxes do for DIV2K.

Tile origins along a dimension of length ``n`` are ``0, step, 2*step, ...`` up to ``n - size``,
plus ``n - size`` itself when the last regular tile does not reach the border, so every pixel is
covered and the last tile is flush with the border (BasicSR's ``extract_subimages`` with a zero
threshold). A dimension shorter than ``size`` gives one tile as long as the image in that
dimension; the stream's ``small_images`` policy decides about such tiles later.

Images are decoded by :func:`gasr_hf.sr.data.decode_image`, the pair stream's own decoder (16-bit
to 8-bit, alpha over white, grey to RGB, EXIF orientation upright), so a tile holds exactly the
pixels the stream would crop from the untiled image. Tiles are stored losslessly as RGB PNG (or
BMP) bytes with their provenance (``source_file``, ``source_row``, ``x``, ``y``) in Parquet shards
written by :func:`gasr_hf.shards.run_chunks`: resumable, one shard per chunk of source images,
readable by ``datasets.load_dataset("parquet", data_dir=out_dir)`` and by
:class:`gasr_hf.sr.data.SRPairStream`.

By default the PNGs are stored without compression (zlib level 0, no row filters): decoding one
then costs a copy and the PNG checksums instead of an inflate and an unfilter pass, about 10x
less, at the price of shards about 1.7-1.9x the size of level-3 PNGs (raw RGB: 691 KB per
480x480 tile). ``image_format="bmp"`` stores the same raw pixels without checksums, which
decode faster still; integrity then rests on the Parquet files (``gasr verify``) alone.

With ``repo_dir`` and ``repo_config`` the finished tiles also become config ``repo_config`` of a
dataset repository made by :func:`gasr_hf.publish.assemble_repo` (see :func:`add_to_repo`), which
training reads by that name (``SourceConfig(path=repo_dir, config=repo_config)``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from gasr_hf.shards import ChunkResult, ShardReport, run_chunks

if TYPE_CHECKING:
    import datasets

    from gasr_hf.publish.layout import RepoLayout

logger = logging.getLogger(__name__)

__all__ = ["add_to_repo", "tile_dataset", "tile_origins"]

_ROW = "__gasr_source_row"
PIXELS = "rgb8"
"""What a tile holds: 8-bit RGB as :func:`gasr_hf.sr.data.decode_image` returns (in the meta)."""
TILE_COLUMNS = ("image", "source_file", "source_row", "x", "y")


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


def _load(src: datasets.Dataset | str, split: str, src_config: str | None) -> datasets.Dataset:
    import datasets

    if isinstance(src, datasets.Dataset):
        return src
    if not isinstance(src, str):
        raise ValueError(f"src must be a datasets.Dataset, a path or a Hub id, got {src!r}")
    path = Path(src).expanduser()
    if path.is_file() and path.suffix == ".parquet":
        return datasets.load_dataset("parquet", data_files=str(path), split="train")
    if path.exists():
        return datasets.load_dataset(str(path), name=src_config, split=split)
    if src.startswith((".", "/", "~")):
        raise FileNotFoundError(f"src not found: {src}")
    return datasets.load_dataset(src, name=src_config, split=split)


def _encoding(image_format: str, png_compression: int) -> tuple[str, list[int]]:
    """The extension and OpenCV parameters of the tile encoding."""
    import cv2

    if image_format == "bmp":
        return ".bmp", []
    params = [cv2.IMWRITE_PNG_COMPRESSION, png_compression]
    if png_compression == 0:
        # Row filters only help a compressor; unfiltered rows make decoding a plain copy.
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    return ".png", params


def _tile_chunk(
    chunk: datasets.Dataset,
    *,
    size: int,
    step: int,
    image_column: str,
    keep_columns: Sequence[str],
    features: datasets.Features,
    image_format: str,
    png_compression: int,
) -> ChunkResult:
    import cv2
    import datasets

    from gasr_hf.sr.data import cell_bytes, decode_image

    extension, params = _encoding(image_format, png_compression)
    columns: dict[str, list[Any]] = {name: [] for name in features}
    failures: list[dict[str, Any]] = []
    for row in chunk:
        index = int(row[_ROW])
        cell = row[image_column] or {}
        source = cell.get("path") or ""
        where = f"row {index} ({source or 'bytes'})"
        try:
            rgb = decode_image(cell_bytes(cell, where), where)
        except (OSError, ValueError) as err:
            failures.append({"row": index, "id": source, "error": str(err)})
            logger.warning("tile: %s skipped: %s", where, err)
            continue
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        height, width = bgr.shape[:2]
        for y in tile_origins(height, size, step):
            for x in tile_origins(width, size, step):
                ok, encoded = cv2.imencode(extension, bgr[y : y + size, x : x + size], params)
                if not ok:
                    raise ValueError(f"tile: {where}: {image_format} encoding failed")
                columns["image"].append({"bytes": encoded.tobytes(), "path": None})
                columns["source_file"].append(source)
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
    src_config: str | None = None,
    chunk_size: int = 16,
    image_format: Literal["png", "bmp"] = "png",
    png_compression: int = 0,
    rank: int = 0,
    world_size: int = 1,
    repo_dir: str | Path | None = None,
    repo_config: str | None = None,
) -> ShardReport:
    """Tile every image of ``src`` into ``size`` x ``size`` sub-images ``step`` pixels apart.

    ``src`` is a map-style dataset, a local folder / Parquet file, or a Hub id (``split`` of config
    ``src_config`` is loaded). Output rows: ``image`` (RGB PNG at zlib level ``png_compression``,
    or BMP), ``source_file`` (the image's file name, if it had one), ``source_row``, ``x``, ``y``
    and the ``keep_columns`` copied from the source row. Shards hold the tiles of ``chunk_size``
    source images each; a rerun skips finished shards (and refuses an ``out_dir`` tiled with other
    settings). Undecodable images are reported as failures in the returned report, not dropped
    silently. With ``repo_dir`` and ``repo_config``, a complete run also registers the tiles as
    that config of the repository (:func:`add_to_repo`); this needs ``world_size=1``: tile with
    several ranks first, then rerun once with ``world_size=1``, which skips the finished shards.
    """
    import datasets

    if size < 1 or step < 1:
        raise ValueError(f"size and step must be >= 1, got size={size}, step={step}")
    if image_format not in ("png", "bmp"):
        raise ValueError(f"image_format must be 'png' or 'bmp', got {image_format!r}")
    if not 0 <= png_compression <= 9:
        raise ValueError(f"png_compression must be in 0..9, got {png_compression}")
    if (repo_dir is None) != (repo_config is None):
        raise ValueError("repo_dir and repo_config go together: give both or neither")
    if repo_dir is not None and world_size != 1:
        raise ValueError(
            f"repo_dir needs world_size=1 (got {world_size}): tile with several ranks without it, "
            "then rerun once with world_size=1 to register the finished tiles"
        )
    source = _load(src, split, src_config)
    if image_column not in source.column_names:
        raise ValueError(f"src has no column {image_column!r} (columns: {source.column_names})")
    for name in keep_columns:
        if name not in source.column_names:
            raise ValueError(f"keep_columns: src has no column {name!r}")
        if name in TILE_COLUMNS:
            raise ValueError(f"keep_columns: {name!r} clashes with a tile column")
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "source_file": datasets.Value("string"),
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
            image_format=image_format,
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
        # Only settings: the runner ties each shard to its source rows by a digest of their
        # content, so a moved or re-created copy of the same source resumes.
        meta={
            "stage": "tile",
            "image_column": image_column,
            "keep_columns": list(keep_columns),
            "size": size,
            "step": step,
            "image_format": image_format,
            "png_compression": png_compression if image_format == "png" else None,
            "pixels": PIXELS,
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
    if repo_dir is not None and repo_config is not None:
        if report.complete:
            add_to_repo(repo_dir, repo_config, out_dir)
        else:
            logger.warning(
                "tile: %s is not complete; config %r not registered in %s",
                out_dir,
                repo_config,
                repo_dir,
            )
    return report


def add_to_repo(repo_dir: str | Path, config: str, tiles_dir: str | Path) -> RepoLayout:
    """Make the tile shards of ``tiles_dir`` config ``config`` of the repository ``repo_dir``
    (:func:`gasr_hf.publish.layout.add_source`); rerun ``gasr card`` / ``gasr manifest`` afterwards."""
    from gasr_hf.publish.layout import add_source

    return add_source(repo_dir, config, tiles_dir)
