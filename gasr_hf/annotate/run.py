"""The annotate stage: read a folder of Parquet shards, add annotation columns, write new shards.

Runs through the shared shard runner, so it resumes per shard and several processes (one per GPU,
``rank``/``world_size``) can share one output folder. The annotators' parameters and model ids go
into every shard's done marker and the report (``out_dir/.gasr/report-train.json``, key ``meta``).
Rows whose image cannot be decoded keep their row with null annotations and are listed as failures.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from gasr_hf.annotate.blockiness import Blockiness
from gasr_hf.annotate.clip import ClipConfig, ClipEmbedding
from gasr_hf.annotate.pixels import NumPixels, load_image
from gasr_hf.annotate.segments import NumSegments, SegmentConfig

if TYPE_CHECKING:
    from gasr_hf.shards import ShardReport

logger = logging.getLogger(__name__)

ANNOTATORS = ("num_pixels", "blockiness", "num_segments", "clip_embedding")
DEFAULT_ANNOTATORS = ("num_pixels", "blockiness")
ID_COLUMNS = ("file_name", "prompt_id")
_ROW = "__gasr_row"
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def parquet_files(folder: str | Path) -> list[Path]:
    """The Parquet files under ``folder`` (recursively), sorted, skipping hidden files and folders."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {folder}")
    files = [
        path
        for path in sorted(folder.rglob("*.parquet"))
        if not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    if not files:
        raise FileNotFoundError(f"no Parquet files under {folder}")
    return files


def build_annotators(
    names: Sequence[str],
    *,
    sam: SegmentConfig | None = None,
    clip: ClipConfig | None = None,
    device: str | None = None,
    image_column: str = "image",
) -> list[Any]:
    """Annotator objects for ``names`` (each one of ``ANNOTATORS``)."""
    unknown = [n for n in names if n not in ANNOTATORS]
    if unknown:
        raise ValueError(
            f"unknown annotator {unknown[0]!r}; expected some of {', '.join(ANNOTATORS)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"annotators listed twice: {list(names)}")
    built: list[Any] = []
    for name in names:
        if name == "num_pixels":
            built.append(NumPixels(image_column))
        elif name == "blockiness":
            built.append(Blockiness(image_column))
        elif name == "num_segments":
            if sam is None:
                raise ValueError(
                    "num_segments needs a SAM checkpoint: sam=SegmentConfig(checkpoint=...)"
                )
            built.append(NumSegments(sam, device, image_column))
        else:
            built.append(ClipEmbedding(clip or ClipConfig(), device, image_column))
    return built


def annotate(
    in_dir: str | Path,
    out_dir: str | Path,
    *,
    annotators: Sequence[str] = DEFAULT_ANNOTATORS,
    sam: SegmentConfig | None = None,
    clip: ClipConfig | None = None,
    chunk_size: int = 64,
    batch_size: int = 16,
    rank: int = 0,
    world_size: int = 1,
    device: str | None = None,
    image_column: str = "image",
    id_column: str | None = None,
    cache_dir: str | None = None,
) -> ShardReport:
    """Add the ``annotators``' columns to the dataset in ``in_dir`` and write it to ``out_dir``.

    ``device`` defaults to ``cuda:{rank % n_gpus}`` with CUDA, else the CPU. An input that already
    has an annotator's column is refused (stages add columns, they never rewrite them). Failures
    name rows by ``id_column``: by default ``file_name`` (ingested data) or ``prompt_id``
    (generated data), whichever the input has.
    """
    import datasets
    import pyarrow.parquet as pq

    from gasr_hf.annotate._models import resolve_device
    from gasr_hf.shards import ChunkResult, run_chunks

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if out_dir.resolve() == in_dir.resolve():
        raise ValueError(f"out_dir must differ from in_dir, both are {in_dir}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    files = parquet_files(in_dir)
    schema = pq.read_schema(files[0])
    id_column = id_column or next((c for c in ID_COLUMNS if c in schema.names), ID_COLUMNS[0])
    for column in (image_column, id_column):
        if column not in schema.names:
            raise ValueError(f"{files[0]} has no column {column!r}; columns: {schema.names}")
    present = [name for name in annotators if name in schema.names]
    if present:
        raise ValueError(f"{in_dir} already has column(s) {present}; annotate only new columns")

    device = resolve_device(device, rank)
    built = build_annotators(
        annotators, sam=sam, clip=clip, device=device, image_column=image_column
    )
    # Round-tripped through JSON so that it compares equal to the meta read back from done markers.
    meta = json.loads(
        json.dumps(
            {
                "stage": "annotate",
                "input": str(in_dir.resolve()),
                "annotators": {a.column: a.params() for a in built},
            }
        )
    )
    _check_same_params(out_dir, meta)

    source = datasets.load_dataset(
        "parquet", data_files=[str(f) for f in files], split="train", cache_dir=cache_dir
    )
    source = source.add_column(_ROW, list(range(len(source))))
    features = {a.column: a.feature() for a in built}

    def process(chunk: datasets.Dataset) -> ChunkResult:
        raw = chunk.cast_column(image_column, datasets.Image(decode=False))
        values: dict[str, list[Any]] = {column: [] for column in features}
        failures: list[dict[str, Any]] = []
        for start in range(0, len(raw), batch_size):
            batch = raw[start : start + batch_size]
            images, ok = [], []
            for row, ident, value in zip(
                batch[_ROW], batch[id_column], batch[image_column], strict=True
            ):
                try:
                    image = load_image(value)
                    image.load()
                except _DECODE_ERRORS as err:
                    failures.append({"row": row, "id": str(ident), "error": f"decode: {err}"})
                    ok.append(False)
                    continue
                images.append(image)
                ok.append(True)
            for annotator in built:
                computed = iter(annotator.compute(images) if images else [])
                values[annotator.column].extend(next(computed) if good else None for good in ok)
        out = chunk.remove_columns(_ROW)
        for column, feature in features.items():
            out = out.add_column(column, values[column], feature=feature)
        return ChunkResult(out, failures)

    return run_chunks(
        source,
        out_dir,
        process,
        chunk_size=chunk_size,
        rank=rank,
        world_size=world_size,
        desc=f"annotate {in_dir.name}",
        meta=meta,
    )


def _check_same_params(out_dir: Path, meta: dict[str, Any]) -> None:
    from gasr_hf.shards import read_markers

    for index, marker in read_markers(out_dir).items():
        old = marker.get("meta", {})
        if old.get("annotators") != meta["annotators"] or old.get("input") != meta["input"]:
            raise ValueError(
                f"out_dir {out_dir} holds chunk {index} annotated from {old.get('input')!r} with "
                f"{old.get('annotators')!r}; this run asks for {meta['annotators']!r} from "
                f"{meta['input']!r}; use a new out_dir"
            )
