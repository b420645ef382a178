"""The annotate stage: read a folder of Parquet shards, add annotation columns, write new shards.

Runs through the shared shard runner, so it resumes per shard and several processes (one per GPU,
``rank``/``world_size``) can share one output folder. The input is read straight from its Parquet
files, one chunk's row groups at a time, without an Arrow copy in the datasets cache. The
annotators' parameters and model ids go into every shard's done marker and the report
(``out_dir/.gasr/report-train.json``, key ``meta``). A row whose image cannot be decoded, or on which
an annotator raises, keeps its row with null annotations and is listed as a failure (its id, the
error and the columns left null).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gasr_hf.annotate.blockiness import Blockiness
from gasr_hf.annotate.clip import ClipConfig, ClipEmbedding
from gasr_hf.annotate.complexity import FzSegments, HfEnergy, PngBpp
from gasr_hf.annotate.pixels import NumPixels, decode_images
from gasr_hf.annotate.segments import NumSegments, SegmentConfig
from gasr_hf.files import parquet_files

if TYPE_CHECKING:
    import pyarrow as pa

    from gasr_hf.shards import ShardReport

logger = logging.getLogger(__name__)

ANNOTATORS = (
    "num_pixels",
    "blockiness",
    "fz_segments",
    "png_bpp",
    "hf_energy",
    "num_segments",
    "clip_embedding",
)
DEFAULT_ANNOTATORS = ("num_pixels", "blockiness")
MODEL_ANNOTATORS = frozenset({"num_segments", "clip_embedding"})
"""The annotators that run a torch model (and need a device)."""
ID_COLUMNS = ("file_name", "prompt_id")
_ROW = "__gasr_row"


class _ParquetRows:
    """Rows ``[start, stop)`` of a list of Parquet files read as one table, a row group at a time.

    Only the row groups that hold the requested rows are read; the last one read is kept, so
    consecutive chunks inside one large row group read it once.
    """

    def __init__(self, files: Sequence[Path]) -> None:
        import pyarrow.parquet as pq

        self.files = list(files)
        self.schema = pq.read_schema(self.files[0])
        self._groups: list[tuple[int, int, int, int]] = []
        offset = 0
        for file_index, path in enumerate(self.files):
            other = pq.read_schema(path)
            if not other.equals(self.schema, check_metadata=False):
                raise ValueError(
                    f"{path} has columns {other} but {self.files[0]} has {self.schema}; "
                    "all shards of a dataset must share one schema"
                )
            metadata = pq.read_metadata(path)
            for group in range(metadata.num_row_groups):
                rows = metadata.row_group(group).num_rows
                self._groups.append((offset, offset + rows, file_index, group))
                offset += rows
        self.num_rows = offset
        self._cached: tuple[tuple[int, int], pa.Table] | None = None

    def listing_sha256(self, folder: Path) -> str:
        """SHA-256 of the files' paths relative to ``folder`` and their sizes: a rewritten input
        changes it without reading any data."""
        sha = hashlib.sha256()
        for path in self.files:
            sha.update(f"{path.relative_to(folder).as_posix()}\t{path.stat().st_size}\n".encode())
        return sha.hexdigest()

    def column(self, name: str) -> list[Any]:
        """One column of every file, in row order."""
        import pyarrow.parquet as pq

        values: list[Any] = []
        for path in self.files:
            values.extend(pq.read_table(path, columns=[name]).column(0).to_pylist())
        return values

    def _group(self, file_index: int, group: int) -> pa.Table:
        import pyarrow.parquet as pq

        key = (file_index, group)
        if self._cached is None or self._cached[0] != key:
            table = pq.ParquetFile(self.files[file_index]).read_row_group(group)
            self._cached = (key, table.replace_schema_metadata(None))
        return self._cached[1]

    def read(self, start: int, stop: int) -> pa.Table:
        """Rows ``[start, stop)``, ``0 <= start < stop <= num_rows``."""
        import pyarrow as pa

        pieces = [
            self._group(file_index, group).slice(
                max(start, first) - first, min(stop, last) - max(start, first)
            )
            for first, last, file_index, group in self._groups
            if first < stop and last > start
        ]
        return pa.concat_tables(pieces)


_OFFLINE_MEASURES = {"fz_segments": FzSegments, "png_bpp": PngBpp, "hf_energy": HfEnergy}


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
        elif name in _OFFLINE_MEASURES:
            built.append(_OFFLINE_MEASURES[name](image_column))
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
) -> ShardReport:
    """Add the ``annotators``' columns to the dataset in ``in_dir`` and write it to ``out_dir``.

    ``device`` (for ``num_segments`` and ``clip_embedding`` only) defaults to ``cuda:{rank % n_gpus}``
    with CUDA, else the CPU; without those annotators torch is not imported. An input that already
    has an annotator's column is refused (stages add columns, they never rewrite them). Failures
    name rows by ``id_column``: by default ``file_name`` (ingested data) or ``prompt_id``
    (generated data), whichever the input has.
    """
    import datasets

    from gasr_hf.shards import ChunkResult, run_chunks

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if out_dir.resolve() == in_dir.resolve():
        raise ValueError(f"out_dir must differ from in_dir, both are {in_dir}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    reader = _ParquetRows(parquet_files(in_dir))
    names = reader.schema.names
    id_column = id_column or next((c for c in ID_COLUMNS if c in names), ID_COLUMNS[0])
    for column in (image_column, id_column):
        if column not in names:
            raise ValueError(f"{reader.files[0]} has no column {column!r}; columns: {names}")
    present = [name for name in annotators if name in names]
    if present:
        raise ValueError(f"{in_dir} already has column(s) {present}; annotate only new columns")

    if MODEL_ANNOTATORS.intersection(annotators):
        from gasr_hf.placement import accelerate_active, place

        # Under a launcher accelerate's device; a hand-sharded run (--rank) takes cuda:rank.
        device = place(device, rank=None if accelerate_active() else rank).device
    built = build_annotators(
        annotators, sam=sam, clip=clip, device=device, image_column=image_column
    )
    # The same on every identical rerun; run_chunks refuses to resume with other meta.
    meta = {
        "stage": "annotate",
        "input": str(in_dir.resolve()),
        "input_listing_sha256": reader.listing_sha256(in_dir),
        "annotators": {a.column: a.params() for a in built},
    }

    # The runner chunks this index of the input (row number and id); process reads the rows.
    source = datasets.Dataset.from_dict(
        {_ROW: list(range(reader.num_rows)), id_column: reader.column(id_column)}
    )
    input_features = datasets.Features.from_arrow_schema(reader.schema)

    def process(chunk: datasets.Dataset) -> ChunkResult:
        start, stop = chunk[0][_ROW], chunk[-1][_ROW] + 1
        table = reader.read(start, stop)
        values: dict[str, list[Any]] = {a.column: [] for a in built}
        failures: list[dict[str, Any]] = []
        for offset in range(0, table.num_rows, batch_size):
            batch = table.slice(offset, batch_size)
            images, decode_errors = decode_images(batch.column(image_column).to_pylist())
            results = {a.column: a.rows(images, rank) for a in built}
            for column, result in results.items():
                values[column].extend(result.values)
            for j, ident in enumerate(batch.column(id_column).to_pylist()):
                if decode_errors[j]:
                    errors, nulled = {"decode": decode_errors[j]}, list(results)
                else:
                    errors = {c: r.errors[j] for c, r in results.items() if r.errors[j]}
                    nulled = list(errors)
                if errors:
                    row = start + offset + j
                    failures.append(
                        {
                            "row": row,
                            "id": str(ident),
                            "error": "; ".join(errors.values()),
                            "columns": nulled,
                        }
                    )
                    logger.warning("row %d (%s): %s null: %s", row, ident, nulled, errors)
        dataset = datasets.Dataset(
            table,
            info=datasets.DatasetInfo(features=input_features),
            fingerprint=f"annotate-input-{start}-{stop}",  # spares hashing the image bytes
        )
        for annotator in built:
            dataset = dataset.add_column(
                annotator.column, values[annotator.column], feature=annotator.feature()
            )
        return ChunkResult(dataset, failures)

    return run_chunks(
        source,
        out_dir,
        process,
        chunk_size=chunk_size,
        rank=rank,
        world_size=world_size,
        desc=f"annotate {in_dir.name}",
        meta=meta,
        id_column=id_column,
    )
