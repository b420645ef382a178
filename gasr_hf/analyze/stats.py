"""The paper's Table 1 for annotated datasets: #Images, #Pixels (mean, millions), Blockiness
(median), #Segments (mean), plus the DiverSeg estimate of JPEG quality, and, where annotated, the
offline complexity measures (Felzenszwalb segments, PNG bits per pixel, high-frequency energy; see
:mod:`gasr_hf.annotate.complexity`), each a mean.

Only the needed columns are read from the Parquet shards, never the images. Blockiness values that
are not finite (flat images, images under 36 pixels a side) are left out of the median and counted.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gasr_hf.analyze.jpeg_quality import (
    THRESHOLD,
    BlockinessBasis,
    estimate_jpeg_quality,
    load_basis,
)

logger = logging.getLogger(__name__)

TABLE_NAME = "table1"
HEADERS = (
    "Dataset",
    "#Images",
    "#Pixels (M, mean)",
    "Blockiness (median)",
    "#Segments (mean)",
    "JPEG quality (est.)",
)
COMPLEXITY_HEADERS = ("FZ segments (mean)", "PNG bpp (mean)", "HF energy (mean)")
"""Shown when some dataset of the table has the column."""
COMPLEXITY_COLUMNS = ("fz_segments", "png_bpp", "hf_energy")


@dataclass(frozen=True)
class DatasetStats:
    dataset: str
    path: str
    images: int
    mean_megapixels: float | None
    median_blockiness: float | None
    mean_segments: float | None
    jpeg_quality: float | None
    blockiness_not_finite: int
    """Rows whose blockiness is NaN/inf or null (left out of the median and the estimate)."""
    mean_fz_segments: float | None = None
    mean_png_bpp: float | None = None
    mean_hf_energy: float | None = None

    def complexity(self) -> tuple[float | None, ...]:
        return (self.mean_fz_segments, self.mean_png_bpp, self.mean_hf_energy)

    def cells(self, complexity: bool = False) -> list[str]:
        def show(value: float | None, digits: int) -> str:
            return "n/a" if value is None else f"{value:.{digits}f}"

        cells = [
            self.dataset,
            str(self.images),
            show(self.mean_megapixels, 2),
            show(self.median_blockiness, 2),
            show(self.mean_segments, 1),
            show(self.jpeg_quality, 1),
        ]
        if complexity:
            cells += [show(v, d) for v, d in zip(self.complexity(), (1, 2, 2), strict=True)]
        return cells


def read_columns(folder: str | Path, wanted: Sequence[str]) -> tuple[int, dict[str, list[Any]]]:
    """Row count, and the columns of ``wanted`` that the dataset in ``folder`` has (all shards)."""
    import pyarrow.parquet as pq

    from gasr_hf.files import parquet_files

    files = parquet_files(folder)
    available = set(pq.read_schema(files[0]).names)
    columns = [c for c in wanted if c in available]
    out: dict[str, list[Any]] = {c: [] for c in columns}
    rows = 0
    for path in files:
        rows += pq.ParquetFile(path).metadata.num_rows
        table = pq.read_table(path, columns=columns)
        for column in columns:
            out[column].extend(table.column(column).to_pylist())
    return rows, out


def _name_from(folder: Path, sources: list[Any]) -> str:
    distinct = set(sources)
    return str(distinct.pop()) if len(distinct) == 1 else folder.name


def dataset_name(folder: str | Path) -> str:
    """The single value of the dataset's ``source`` column, else the folder's name."""
    _, columns = read_columns(folder, ("source",))
    return _name_from(Path(folder), columns.get("source", []))


def _mean(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def _finite_mean(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(present)) if present else None


def dataset_stats(
    folder: str | Path,
    *,
    name: str | None = None,
    basis: BlockinessBasis | None = None,
    threshold: float = THRESHOLD,
) -> DatasetStats:
    """One Table 1 row for the annotated dataset in ``folder``.

    The name is ``name``, else the single value of the ``source`` column, else the folder's name.
    Columns a dataset lacks give ``None`` (``n/a`` in the table).
    """
    folder = Path(folder)
    wanted = (
        "source",
        "num_pixels",
        "width",
        "height",
        "blockiness",
        "num_segments",
        *COMPLEXITY_COLUMNS,
    )
    images, columns = read_columns(folder, wanted)
    if name is None:
        name = _name_from(folder, columns.get("source", []))
    if "num_pixels" in columns:
        pixels = columns["num_pixels"]
    elif "width" in columns and "height" in columns:
        pixels = [w * h for w, h in zip(columns["width"], columns["height"], strict=True)]
    else:
        pixels = []
    mean_pixels = _mean(pixels)

    median_blockiness = quality = None
    not_finite = 0
    if "blockiness" in columns:
        raw = np.array([math.nan if v is None else v for v in columns["blockiness"]], np.float64)
        finite = raw[np.isfinite(raw)]
        not_finite = int(raw.size - finite.size)
        if finite.size:
            median_blockiness = float(np.median(finite))
        if basis is not None:
            try:
                quality = estimate_jpeg_quality(finite, basis, threshold=threshold).quality
            except ValueError as err:
                logger.warning("%s: no JPEG-quality estimate: %s", name, err)
    segments = _mean(columns["num_segments"]) if "num_segments" in columns else None
    complexity = {
        column: _finite_mean(columns[column]) if column in columns else None
        for column in COMPLEXITY_COLUMNS
    }
    return DatasetStats(
        dataset=name,
        path=str(folder),
        images=images,
        mean_megapixels=None if mean_pixels is None else mean_pixels / 1e6,
        median_blockiness=median_blockiness,
        mean_segments=segments,
        jpeg_quality=quality,
        blockiness_not_finite=not_finite,
        mean_fz_segments=complexity["fz_segments"],
        mean_png_bpp=complexity["png_bpp"],
        mean_hf_energy=complexity["hf_energy"],
    )


def _has_complexity(rows: Sequence[DatasetStats]) -> bool:
    return any(v is not None for row in rows for v in row.complexity())


def headers(rows: Sequence[DatasetStats]) -> tuple[str, ...]:
    """Table 1's columns for ``rows``: the complexity measures only where some row has them."""
    return HEADERS + COMPLEXITY_HEADERS if _has_complexity(rows) else HEADERS


def format_markdown(rows: Sequence[DatasetStats]) -> str:
    names = headers(rows)
    extra = _has_complexity(rows)
    lines = [
        "| " + " | ".join(names) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(names) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row.cells(extra)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def table1(
    folders: Sequence[str | Path],
    out_dir: str | Path,
    *,
    names: Sequence[str] | None = None,
    basis: str | Path | BlockinessBasis | None = None,
    threshold: float = THRESHOLD,
) -> list[DatasetStats]:
    """Table 1 over ``folders``, written to ``out_dir/table1.{md,csv,json}``.

    ``basis`` is a basis folder (see ``gasr_hf.analyze.jpeg_quality``) or a loaded basis; without it
    the JPEG-quality column is ``n/a``.
    """
    if not folders:
        raise ValueError("folders must name at least one dataset folder")
    if names is not None and len(names) != len(folders):
        raise ValueError(f"names has {len(names)} entries for {len(folders)} folders")
    if basis is not None and not isinstance(basis, BlockinessBasis):
        basis = load_basis(basis)
    rows = [
        dataset_stats(
            folder, name=None if names is None else names[i], basis=basis, threshold=threshold
        )
        for i, folder in enumerate(folders)
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{TABLE_NAME}.md").write_text(format_markdown(rows), encoding="utf-8")
    with (out_dir / f"{TABLE_NAME}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers(rows))
        writer.writerows(row.cells(_has_complexity(rows)) for row in rows)
    record = {
        "basis": None if basis is None else basis.source,
        "threshold": threshold,
        "rows": [asdict(row) for row in rows],
    }
    (out_dir / f"{TABLE_NAME}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    logger.info("Table 1 written to %s/%s.{md,csv,json}", out_dir, TABLE_NAME)
    return rows
