"""The one chunked, resumable shard runner that the generate and annotate stages share.

Rows ``[i * chunk_size, (i + 1) * chunk_size)`` of the source form chunk ``i``. A chunk is
processed, written to a temporary Parquet file, atomically renamed to ``{split}-{i:05d}.parquet``
and only then marked done with ``.gasr/done/{split}-{i:05d}.json``. A rerun skips chunks whose
marker matches the chunk's row range, so a killed run loses at most the chunks in flight. The
hidden ``.gasr`` folder is invisible to ``datasets.load_dataset("parquet", data_dir=...)``.

Each marker is tied to its source: it holds the caller's ``meta`` and a sha256 of the chunk's
rows (or of their ids), and a rerun whose meta or rows differ, or whose source has fewer chunks
than ``out_dir`` holds, is refused instead of mixing two sources in one dataset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gasr_hf.files import json_digest, read_json_state, tmp_name, write_json_atomic

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

STATE_DIR = ".gasr"
MARKER_KEYS = (
    "index",
    "shard",
    "row_start",
    "row_stop",
    "chunk_size",
    "rows_in",
    "rows_out",
    "failures",
    "seconds",
)
"""What every done marker holds; one without them is reported as corrupt, naming its path."""


@dataclass(frozen=True)
class ChunkResult:
    """What ``process`` returns for one chunk."""

    dataset: datasets.Dataset
    """The processed rows of the chunk, with their features; written as the chunk's shard."""
    failures: list[dict[str, Any]] = field(default_factory=list)
    """One dict per failed row: ``{"row": int, "id": str, "error": str, ...}``."""


@dataclass(frozen=True)
class ShardReport:
    """Counts merged over every finished chunk in ``out_dir`` (all ranks, all runs)."""

    out_dir: str
    split: str
    chunk_size: int
    chunks_total: int
    """Chunks the source of this call divides into."""
    chunks_done: int
    """Of those, chunks with a shard and a matching done marker."""
    rows_in: int
    rows_out: int
    failures: list[dict[str, Any]]
    seconds: float
    """Processing seconds summed over the finished chunks (a sum over processes, not wall time)."""
    chunks_run: int
    """Chunks this call processed (this rank only)."""
    chunks_skipped: int
    """Chunks of this rank found already finished."""
    meta: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.chunks_done == self.chunks_total

    @property
    def rows_per_second(self) -> float:
        """Source rows processed per processing second (not rows written: see ``rows_out``)."""
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir,
            "split": self.split,
            "chunk_size": self.chunk_size,
            "chunks_total": self.chunks_total,
            "chunks_done": self.chunks_done,
            "complete": self.complete,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "num_failures": len(self.failures),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 4),
            "chunks_run": self.chunks_run,
            "chunks_skipped": self.chunks_skipped,
            "meta": self.meta,
            "failures": self.failures,
        }


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:05d}.parquet"


def marker_path(out_dir: str | Path, split: str, index: int) -> Path:
    return Path(out_dir) / STATE_DIR / "done" / f"{split}-{index:05d}.json"


def report_path(out_dir: str | Path, split: str = "train") -> Path:
    return Path(out_dir) / STATE_DIR / f"report-{split}.json"


def read_markers(out_dir: str | Path, split: str = "train") -> dict[int, dict[str, Any]]:
    """The done markers of ``split`` in ``out_dir``, by chunk index."""
    done_dir = Path(out_dir) / STATE_DIR / "done"
    markers: dict[int, dict[str, Any]] = {}
    for path in sorted(done_dir.glob(f"{split}-*.json")):
        marker = read_json_state(path, MARKER_KEYS, "done marker")
        if not isinstance(marker["index"], int):
            raise ValueError(f"{path}: corrupt done marker (index {marker['index']!r})")
        markers[marker["index"]] = marker
    return markers


def folder_digest(out_dir: str | Path, split: str = "train") -> str:
    """A digest of what the shards of ``out_dir`` hold, read from their done markers: each chunk's
    rows, the sha256 of its source rows, its settings and its shard's size. It changes when a chunk
    is added, redone from other rows or rewritten, without reading the shards themselves."""
    out_dir = Path(out_dir)
    content = []
    for index, marker in sorted(read_markers(out_dir, split).items()):
        shard = out_dir / marker["shard"]
        content.append(
            [
                index,
                marker["shard"],
                marker["row_start"],
                marker["row_stop"],
                marker["rows_out"],
                marker.get("source_sha256"),
                marker.get("meta"),
                shard.stat().st_size if shard.is_file() else None,
            ]
        )
    return json_digest(content)


def _chunk_range(index: int, chunk_size: int, num_rows: int) -> tuple[int, int]:
    start = index * chunk_size
    return start, min(start + chunk_size, num_rows)


def _is_done(out_dir: Path, marker: dict[str, Any] | None, rows: tuple[int, int]) -> bool:
    if marker is None:
        return False
    if (marker["row_start"], marker["row_stop"]) != rows:
        return False
    return (out_dir / marker["shard"]).is_file()


def _rows_digest(chunk: datasets.Dataset, id_column: str | None) -> tuple[str, str]:
    """``(what was hashed, sha256)`` of a chunk's ids, or else of its rows' Arrow data.

    ``take`` copies the rows into fresh zero-offset arrays, so the IPC bytes depend only on the
    content and the schema, not on how the source table happens to be sliced or chunked.
    """
    import pyarrow as pa

    if id_column is not None:
        ids = json.dumps([str(value) for value in chunk[id_column]])
        return f"id_column:{id_column}", hashlib.sha256(ids.encode()).hexdigest()
    table = chunk.with_format("arrow")[:].replace_schema_metadata(None)
    table = table.take(pa.array(range(table.num_rows), pa.int64()))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return "rows", hashlib.sha256(sink.getvalue()).hexdigest()


def _meta_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [
        f"{key}: was {old.get(key, '<absent>')!r}, now {new.get(key, '<absent>')!r}"
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


def _check_out_dir(
    out_dir: Path,
    split: str,
    markers: dict[int, dict[str, Any]],
    num_rows: int,
    chunk_size: int,
) -> None:
    """Refuse markers and shards that do not belong to a ``num_rows``-row source."""
    num_chunks = -(-num_rows // chunk_size)
    for index, marker in markers.items():
        where = marker_path(out_dir, split, index)
        if marker.get("chunk_size") != chunk_size:
            raise ValueError(
                f"out_dir {out_dir} holds chunk {index} made with "
                f"chunk_size={marker.get('chunk_size')} ({where}), "
                f"but chunk_size={chunk_size} was asked; use the same chunk size or a new out_dir"
            )
        if index >= num_chunks or marker["row_stop"] > num_rows:
            raise ValueError(
                f"out_dir {out_dir} holds chunk {index} of rows "
                f"[{marker['row_start']}, {marker['row_stop']}) ({where}), but the source has "
                f"only {num_rows} rows; it was made from another source: use a new out_dir"
            )
    pattern = re.compile(rf"{re.escape(split)}-(\d{{5}})\.parquet")
    for path in sorted(out_dir.glob(f"{split}-*.parquet")):
        match = pattern.fullmatch(path.name)
        if match and int(match.group(1)) >= num_chunks:
            raise ValueError(
                f"out_dir {out_dir} holds shard {path.name} beyond the {num_chunks} chunks of this "
                f"{num_rows}-row source; it was made from another source: use a new out_dir "
                "(datasets.load_dataset would read it with the others)"
            )


def _check_source(marker_file: Path, marker: dict[str, Any], digest: tuple[str, str]) -> None:
    """Refuse a done chunk made from other source rows than ``digest`` describes."""
    old = (marker.get("source_digest_of"), marker.get("source_sha256"))
    if old[1] is None:
        raise ValueError(
            f"{marker_file}: chunk {marker['index']} was written by an older gasr_hf that did not "
            "record its source rows; use a new out_dir"
        )
    if old != digest:
        raise ValueError(
            f"{marker_file}: chunk {marker['index']} (rows [{marker['row_start']}, "
            f"{marker['row_stop']})) was made from other source rows than this run's "
            f"({old[0]} sha256 {str(old[1])[:12]}, now {digest[0]} sha256 {digest[1][:12]}); "
            "use a new out_dir for a new source"
        )


def _to_parquet(dataset: datasets.Dataset, path: Path) -> None:
    """Write without datasets' own per-file progress bar, which would fight ours."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        dataset.to_parquet(str(path))
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def run_chunks(
    source: datasets.Dataset,
    out_dir: str | Path,
    process: Callable[[datasets.Dataset], ChunkResult],
    *,
    chunk_size: int = 256,
    split: str = "train",
    rank: int = 0,
    world_size: int = 1,
    desc: str = "chunks",
    meta: dict[str, Any] | None = None,
    id_column: str | None = None,
) -> ShardReport:
    """Process ``source`` chunk by chunk into Parquet shards in ``out_dir``, skipping done chunks.

    Chunk ``i`` is processed by rank ``i % world_size``. ``process`` is called once per chunk not
    yet done; an exception from it propagates and leaves that chunk unmarked, so a rerun redoes it.
    Returns the report merged over every finished chunk, also written to
    ``out_dir/.gasr/report-{split}.json``.

    ``meta`` must be the same on every rerun (no timestamps, no machine-specific paths): a done
    chunk whose marker holds other ``meta`` is refused with a ValueError naming the keys. Each
    marker also holds a sha256 of the chunk's ``id_column`` values, or of its rows when
    ``id_column`` is ``None``; a done chunk of this rank whose source rows changed is refused,
    and so is any marker or shard beyond the chunks of ``source``.
    """
    from tqdm.auto import tqdm

    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got rank={rank}")
    if not re.fullmatch(r"[A-Za-z0-9_]+", split):
        raise ValueError(f"split must be letters, digits or '_', got {split!r}")
    if id_column is not None and id_column not in source.column_names:
        raise ValueError(
            f"id_column {id_column!r} is not a column of the source ({source.column_names})"
        )
    out_dir = Path(out_dir)
    tmp_dir = out_dir / STATE_DIR / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    # Compared with what markers read back from JSON hold, so tuples and paths must match lists
    # and strings.
    meta = json.loads(json.dumps(meta or {}, default=str))

    num_rows = len(source)
    num_chunks = -(-num_rows // chunk_size)
    markers = read_markers(out_dir, split)
    _check_out_dir(out_dir, split, markers, num_rows, chunk_size)
    for index, marker in markers.items():
        differences = _meta_differences(marker.get("meta", {}), meta)
        if differences:
            raise ValueError(
                f"{marker_path(out_dir, split, index)}: chunk {index} was made with other "
                "settings (" + "; ".join(differences) + "); rerun with the same settings or use "
                "a new out_dir"
            )
    mine = [i for i in range(num_chunks) if i % world_size == rank]
    pending = []
    for i in mine:
        rows = _chunk_range(i, chunk_size, num_rows)
        if _is_done(out_dir, markers.get(i), rows):
            _check_source(
                marker_path(out_dir, split, i),
                markers[i],
                _rows_digest(source.select(range(*rows)), id_column),
            )
        else:
            pending.append(i)
    # Leftovers of chunks this rank was writing when killed; only this rank writes these names.
    for i in mine:
        for stale in tmp_dir.glob(f"{split}-{i:05d}.*"):
            stale.unlink()
    if world_size > 1:
        desc = f"{desc} [rank {rank}/{world_size}]"
    skipped = len(mine) - len(pending)
    if skipped:
        logger.info(
            "%s: %d of this rank's %d chunks already done, skipping them", desc, skipped, len(mine)
        )

    rows_pending = sum(
        stop - start for start, stop in (_chunk_range(i, chunk_size, num_rows) for i in pending)
    )
    with tqdm(total=rows_pending, desc=desc, unit="row", position=rank, dynamic_ncols=True) as bar:
        for index in pending:
            start, stop = _chunk_range(index, chunk_size, num_rows)
            marker_file = marker_path(out_dir, split, index)
            marker_file.unlink(missing_ok=True)
            began = time.perf_counter()
            chunk = source.select(range(start, stop))
            digest_of, digest = _rows_digest(chunk, id_column)
            result = process(chunk)
            shard = shard_name(split, index)
            tmp = tmp_dir / tmp_name(f"{split}-{index:05d}.parquet", f"rank{rank}").lstrip(".")
            _to_parquet(result.dataset, tmp)
            os.replace(tmp, out_dir / shard)
            seconds = time.perf_counter() - began
            marker = {
                "index": index,
                "split": split,
                "shard": shard,
                "row_start": start,
                "row_stop": stop,
                "chunk_size": chunk_size,
                "rows_in": stop - start,
                "rows_out": len(result.dataset),
                "failures": result.failures,
                "seconds": seconds,
                "rank": rank,
                "world_size": world_size,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "source_digest_of": digest_of,
                "source_sha256": digest,
                "meta": meta,
            }
            write_json_atomic(marker_file, marker, tmp_tag=f"rank{rank}")
            bar.update(stop - start)

    return merge_report(
        out_dir,
        num_rows=num_rows,
        chunk_size=chunk_size,
        split=split,
        meta=meta,
        chunks_run=len(pending),
        chunks_skipped=skipped,
        writer=f"rank{rank}",
    )


def merge_report(
    out_dir: str | Path,
    *,
    num_rows: int,
    chunk_size: int,
    split: str = "train",
    meta: dict[str, Any] | None = None,
    chunks_run: int = 0,
    chunks_skipped: int = 0,
    writer: str = "merge",
) -> ShardReport:
    """Merge the done markers of a ``num_rows``-row source into one report and write it.

    ``run_chunks`` calls this at its end; with several ranks, call it again on one process after all
    ranks have finished to get a report that includes every rank's last chunks.
    """
    out_dir = Path(out_dir)
    num_chunks = -(-num_rows // chunk_size)
    markers = read_markers(out_dir, split)
    _check_out_dir(out_dir, split, markers, num_rows, chunk_size)
    finished = [
        marker
        for index, marker in sorted(markers.items())
        if _is_done(out_dir, marker, _chunk_range(index, chunk_size, num_rows))
    ]
    report = ShardReport(
        out_dir=str(out_dir),
        split=split,
        chunk_size=chunk_size,
        chunks_total=num_chunks,
        chunks_done=len(finished),
        rows_in=sum(m["rows_in"] for m in finished),
        rows_out=sum(m["rows_out"] for m in finished),
        failures=[f for m in finished for f in m["failures"]],
        seconds=sum(m["seconds"] for m in finished),
        chunks_run=chunks_run,
        chunks_skipped=chunks_skipped,
        meta=meta or {},
    )
    write_json_atomic(report_path(out_dir, split), report.to_dict(), tmp_tag=writer)
    return report
