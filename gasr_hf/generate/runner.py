"""Prompt rows -> Parquet shards of images, through the shared chunk runner.

Why chunks for ``gasr generate`` rather than ``datasets.map(with_rank=True, num_proc=...)`` (which
:class:`gasr_hf.generate.mapped.GenerateImages` serves): ``map`` makes its output final only at the
very end, so a run killed after hours keeps nothing, and its fingerprinted cache is tied to one
machine's cache folder. The chunk runner keeps every finished chunk as a final shard with a done
marker, loads the pipeline once per accelerate process and holds only one chunk's PNG bytes in memory.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from gasr_hf.files import png_bytes, write_json_atomic
from gasr_hf.generate.backend import (
    PROVENANCE_COLUMNS,
    Backend,
    BackendConfig,
    bad_output_reason,
    create_backend,
    derive_seed,
)
from gasr_hf.shards import ChunkResult, merge_report, run_chunks

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

REPORT_NAME = "generation_report.json"
SOURCE = "GASR"
"""The ``source`` column of generated rows (ingested real images hold their dataset's name)."""
REQUIRED_COLUMNS = ("prompt_id", "prompt", "seed")


def output_features(prompt_features: datasets.Features) -> datasets.Features:
    """Image first, then size, the prompt columns and the provenance columns."""
    import datasets

    string = datasets.Value("string")
    return datasets.Features(
        {
            "image": datasets.Image(),
            "width": datasets.Value("int32"),
            "height": datasets.Value("int32"),
            "source": string,
            **prompt_features,
            "backend": string,
            "model": string,
            "model_revision": string,
            "scheduler": string,
            "steps": datasets.Value("int32"),
            "guidance": datasets.Value("float32"),
            "dtype": string,
            "library_versions": string,
            "seed_used": datasets.Value("int64"),
            "attempt": datasets.Value("int32"),
        }
    )


def _load_prompts(prompts: str | Path | datasets.Dataset) -> datasets.Dataset:
    import datasets

    if isinstance(prompts, datasets.Dataset):
        source = prompts
        name = "the prompt dataset"
    else:
        from gasr_hf.prompts import load_prompts

        source = load_prompts(prompts)
        name = str(prompts)
    missing = [c for c in REQUIRED_COLUMNS if c not in source.column_names]
    if missing:
        raise ValueError(f"{name}: column {missing[0]!r} is missing (need {REQUIRED_COLUMNS})")
    clash = [c for c in ("image", "width", "height", *PROVENANCE_COLUMNS) if c in source.features]
    if clash:
        raise ValueError(f"{name}: column {clash[0]!r} is reserved for the generated output")
    return source


class _Renderer:
    """Render prompt rows with the output checks and retries; one per process."""

    def __init__(
        self, backend: Backend, max_attempts: int, min_std: float, bar_position: int | None
    ) -> None:
        """``bar_position`` ``None``: no progress bar of its own (``datasets.map`` shows one)."""
        self.backend = backend
        self.max_attempts = max_attempts
        self.min_std = min_std
        self.bar_position = bar_position
        self.prepared = False
        self.images = 0
        self.retried = 0
        self.render_errors = 0

    def _render(self, rows: list[dict[str, Any]]) -> list[Image.Image | Exception]:
        """One image per row; a render that raises is retried row by row, and a row whose own
        render raises gets its exception instead of an image."""
        try:
            images = self.backend.render(rows)
        except Exception as err:  # any render error fails rows, never the run
            if len(rows) == 1:
                self.render_errors += 1
                logger.warning("render of prompt %r failed: %r", rows[0]["prompt_id"], err)
                return [err]
            logger.warning(
                "render of a batch of %d failed (%r); retrying row by row", len(rows), err
            )
            return [result for row in rows for result in self._render([row])]
        if len(images) != len(rows):
            raise RuntimeError(
                f"backend {type(self.backend).__name__} returned {len(images)} "
                f"images for {len(rows)} rows"
            )
        return images

    def rows(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any] | None], list[str]]:
        """For each row its output record (prompt columns, image, size and provenance), or
        ``None`` with the reason in the second list (``""`` for rows that rendered)."""
        from tqdm.auto import tqdm

        if not self.prepared:
            # Loading errors (absent weights, a bad option) stop the run, not fail every row.
            self.backend.prepare()
            self.prepared = True
        done: dict[int, tuple[bytes, int, int]] = {}
        errored: set[int] = set()
        reasons: dict[int, list[str]] = {i: [] for i in range(len(rows))}
        config = self.backend.config
        size = (config.width, config.height)
        with tqdm(
            total=len(rows),
            desc="images",
            unit="img",
            leave=False,
            position=self.bar_position,
            disable=self.bar_position is None,
        ) as bar:
            for attempt in range(1, self.max_attempts + 1):
                todo = [i for i in range(len(rows)) if i not in done and i not in errored]
                if not todo:
                    break
                if attempt > 1:
                    self.retried += len(todo)
                    logger.warning("retrying %d bad images (attempt %d)", len(todo), attempt)
                for start in range(0, len(todo), config.batch_size):
                    batch = todo[start : start + config.batch_size]
                    seeds = [derive_seed(rows[i]["seed"], attempt) for i in batch]
                    images = self._render(
                        [{**rows[i], "seed": s} for i, s in zip(batch, seeds, strict=True)]
                    )
                    for i, seed, image in zip(batch, seeds, images, strict=True):
                        if isinstance(image, Exception):
                            reasons[i].append(
                                f"attempt {attempt} (seed {seed}): {type(image).__name__}: {image}"
                            )
                            errored.add(i)
                            bar.update(1)
                            continue
                        if image.size != size:
                            raise RuntimeError(
                                f"backend returned a {image.size} image for "
                                f"prompt {rows[i]['prompt_id']!r}, expected {size}"
                            )
                        reason = bad_output_reason(image, self.min_std)
                        if reason is None:
                            done[i] = (png_bytes(image.convert("RGB")), seed, attempt)
                            bar.update(1)
                        else:
                            reasons[i].append(f"attempt {attempt} (seed {seed}): {reason}")
        provenance = self.backend.provenance()
        records: list[dict[str, Any] | None] = []
        errors: list[str] = []
        for i, row in enumerate(rows):
            if i not in done:
                what = (
                    "render error"
                    if i in errored
                    else f"bad output after {self.max_attempts} attempts"
                )
                records.append(None)
                errors.append(f"{what}: " + "; ".join(reasons[i]))
                continue
            png, seed, attempt_used = done[i]
            records.append(
                {
                    **row,
                    **provenance,
                    "image": {"bytes": png, "path": None},
                    "width": size[0],
                    "height": size[1],
                    "source": SOURCE,
                    "seed_used": seed,
                    "attempt": attempt_used,
                }
            )
            errors.append("")
        self.images += len(done)
        return records, errors


def _columns(records: list[dict[str, Any]], features: datasets.Features) -> datasets.Dataset:
    import datasets

    out = {name: [record[name] for record in records] for name in features}
    return datasets.Dataset.from_dict(out, features=features)


class _ChunkGenerator:
    """The ``process`` callable of :func:`run_chunks`: render, check, retry, encode one chunk."""

    def __init__(
        self, renderer: _Renderer, features: datasets.Features, row_of: Mapping[str, int]
    ) -> None:
        self.renderer = renderer
        self.features = features
        self.row_of = row_of

    def __call__(self, chunk: datasets.Dataset) -> ChunkResult:
        rows = chunk.to_list()
        records, errors = self.renderer.rows(rows)
        failures = [
            {"row": self.row_of[row["prompt_id"]], "id": row["prompt_id"], "error": error}
            for row, record, error in zip(rows, records, errors, strict=True)
            if record is None
        ]
        kept = [record for record in records if record is not None]
        return ChunkResult(_columns(kept, self.features), failures)


def read_provenance(out_dir: str | Path) -> dict[str, Any] | None:
    """The provenance columns (less ``seed_used`` and ``attempt``) of the first image row in the
    shards of ``out_dir``; ``None`` when they hold no image yet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [c for c in PROVENANCE_COLUMNS if c not in ("seed_used", "attempt")]
    for path in sorted(Path(out_dir).glob("train-*.parquet")):
        try:
            file = pq.ParquetFile(path)
            missing = [c for c in columns if c not in file.schema_arrow.names]
            if missing:
                raise ValueError(f"{path}: column {missing[0]!r} is missing; not a generate shard")
            for batch in file.iter_batches(batch_size=1, columns=columns):
                if batch.num_rows:
                    return batch.to_pylist()[0]
        except (OSError, pa.ArrowException) as err:
            raise ValueError(f"{path}: unreadable shard ({err})") from err
    return None


def generate(
    prompts: str | Path | datasets.Dataset,
    out_dir: str | Path,
    backend: BackendConfig | Backend,
    *,
    chunk_size: int = 256,
    max_attempts: int = 3,
    min_std: float = 2.0,
) -> dict[str, Any]:
    """Render every prompt row into ``out_dir/train-NNNNN.parquet`` shards; resumable.

    ``prompts`` is a prompt dataset or a folder written by ``gasr prompts``. ``backend`` is a
    config (the backend is built here, its weights loaded on the first chunk that needs them) or a
    ready :class:`Backend`. Under ``accelerate launch`` each process takes every
    ``world_size``-th chunk. A bad output (non-finite, all black, near-constant) is rendered again
    with a derived seed up to ``max_attempts`` times, then recorded as a failure; a render that
    raises (out of memory, a pipeline error) is retried row by row and a row that still raises is
    recorded as a failure with the error. A rerun with other prompt rows, other settings that
    change the pixels or another resolved model revision into the same ``out_dir`` is refused.
    Returns the run report, also written to ``out_dir/generation_report.json``; its
    ``provenance`` is read from the written rows.
    """
    from gasr_hf.placement import process_state

    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    source = _load_prompts(prompts)
    ids = source["prompt_id"]
    row_of = {pid: i for i, pid in enumerate(ids)}
    if len(row_of) != len(ids):
        seen: set[str] = set()
        dup = next(pid for pid in ids if pid in seen or seen.add(pid))
        raise ValueError(f"prompt_id {dup!r} occurs more than once in the prompt rows")
    if not isinstance(backend, Backend):
        backend = create_backend(backend)
    config = backend.config
    out_dir = Path(out_dir)

    state = process_state()
    rank, world_size = state.process_index, state.num_processes
    renderer = _Renderer(backend, max_attempts, min_std, world_size + rank)
    process = _ChunkGenerator(renderer, output_features(source.features), row_of)
    meta = {
        "stage": "generate",
        "backend_config": config.pixel_settings(),
        **backend.model_identity(),
    }
    began = time.perf_counter()
    shards = run_chunks(
        source,
        out_dir,
        process,
        chunk_size=chunk_size,
        rank=rank,
        world_size=world_size,
        desc=f"generate[{config.backend}]",
        meta=meta,
    )
    wall = time.perf_counter() - began
    this_run = {
        "rank": rank,
        "world_size": world_size,
        "images": renderer.images,
        "retried_rows": renderer.retried,
        "render_errors": renderer.render_errors,
        "wall_seconds": round(wall, 3),
        "images_per_second": round(renderer.images / wall, 4) if renderer.images else None,
    }
    runs = [this_run]
    if world_size > 1:
        from accelerate.utils import gather_object

        # Every rank's run, once all have finished; then the markers hold every rank's chunks.
        runs = gather_object([this_run])
        shards = merge_report(
            out_dir, num_rows=len(source), chunk_size=chunk_size, meta=meta, writer=f"rank{rank}"
        )
    images = shards.rows_out
    report = {
        "out_dir": str(out_dir),
        "backend_config": dataclasses.asdict(config),
        "provenance": read_provenance(out_dir),
        "prompts": len(source),
        "images": images,
        "failures": len(shards.failures),
        "chunks_done": shards.chunks_done,
        "chunks_total": shards.chunks_total,
        "complete": shards.complete,
        "images_per_second": round(images / shards.seconds, 4) if shards.seconds else None,
        "seconds_per_image": round(shards.seconds / images, 4) if images else None,
        "this_run": this_run,
        "ranks": runs,
        "failed_rows": shards.failures,
    }
    if rank == 0:
        write_json_atomic(out_dir / REPORT_NAME, report, tmp_tag=f"rank{rank}")
    logger.info(
        "generated %d/%d images (%d failures) into %s",
        images,
        len(source),
        len(shards.failures),
        out_dir,
    )
    return report
