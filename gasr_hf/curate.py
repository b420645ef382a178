"""``gasr curate``: select a subset of a repository config by its annotation columns and write it
as a new config; it never edits a shard.

A rule applies, in order: a blockiness gate (drop rows whose ``blockiness`` is above a maximum), a
complexity threshold per annotation column (drop rows below a minimum, for example ``png_bpp``),
near-duplicate removal by perceptual hash (a row whose 64-bit DCT hash lies within ``dedupe_bits``
of an earlier kept row's is dropped), and then keeps ``keep`` rows: the ones closest to a target
folder's distribution of offline features (:func:`domain_features`), or a seeded random sample
(``random``, the comparison a curated set must beat), or all of them. The selected rows are copied
(same schema) to ``<repo>/.gasr/curate/<name>/`` and registered as config ``name``; the rule and the
count each step removed are written to ``rule.json`` there and returned for the card.
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gasr_hf.config import to_dict
from gasr_hf.files import parquet_files, write_json_atomic

logger = logging.getLogger(__name__)

CURATE_DIR = Path(".gasr") / "curate"
RULE_FILE = "rule.json"
ROWS_PER_SHARD = 50
FEATURE_WIDTH = 512
FEATURES = (
    "png_bpp",
    "hf_energy",
    "saturation",
    "luma_std",
    "near_white",
    "near_black",
)
"""What :func:`domain_features` measures, each at :data:`FEATURE_WIDTH` pixels wide."""


@dataclass(frozen=True)
class CurateRule:
    """One curated config: ``name`` made from config ``source`` of the same repository."""

    name: str
    source: str = "gasr"
    max_blockiness: float | None = None
    min_columns: dict[str, float] = field(default_factory=dict)
    """Annotation column -> the least value kept (a complexity threshold)."""
    dedupe_bits: int = 0
    """Drop a row whose perceptual hash is within this many of 64 bits of a kept row's (0: off)."""
    target: Path | None = None
    """A folder of images: keep the ``keep`` rows nearest its feature distribution."""
    target_neighbours: int = 5
    random: bool = False
    """Keep a seeded random ``keep`` rows instead (after the gates): the baseline to beat."""
    keep: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name == self.source:
            raise ValueError(f"curate: name {self.name!r} must differ from its source config")
        if self.random and self.target is not None:
            raise ValueError(f"curate {self.name!r}: give target or random, not both")
        if (self.random or self.target is not None) and self.keep is None:
            raise ValueError(f"curate {self.name!r}: target and random need keep (a row count)")
        if self.keep is not None and self.keep < 1:
            raise ValueError(f"curate {self.name!r}: keep must be >= 1, got {self.keep}")
        if not 0 <= self.dedupe_bits < 64:
            raise ValueError(
                f"curate {self.name!r}: dedupe_bits must be in 0..63, got {self.dedupe_bits}"
            )
        if self.target_neighbours < 1:
            raise ValueError(
                f"curate {self.name!r}: target_neighbours must be >= 1, got {self.target_neighbours}"
            )

    def describe(self) -> str:
        """The rule in one line, for the dataset card."""
        steps = []
        if self.max_blockiness is not None:
            steps.append(f"blockiness <= {self.max_blockiness:g}")
        steps += [f"{column} >= {value:g}" for column, value in sorted(self.min_columns.items())]
        if self.dedupe_bits:
            steps.append(f"perceptual-hash near-duplicates (<= {self.dedupe_bits} bits) removed")
        if self.target is not None:
            steps.append(
                f"the {self.keep} rows nearest to {self.target.name}'s offline features "
                f"({', '.join(FEATURES)}; mean distance to {self.target_neighbours} nearest)"
            )
        elif self.random:
            steps.append(f"a random {self.keep} rows (seed {self.seed})")
        elif self.keep is not None:
            steps.append(f"the first {self.keep} rows")
        return f"rows of `{self.source}` selected by gasr curate: " + (
            "; ".join(steps) or "all rows"
        )


@dataclass(frozen=True)
class CurateReport:
    name: str
    folder: Path
    rule: str
    rows_in: int
    rows_out: int
    removed: dict[str, int]
    """Step -> rows it removed, in the order applied."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": str(self.folder),
            "rule": self.rule,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "removed": self.removed,
        }


def perceptual_hash(image: Image.Image) -> int:
    """64-bit DCT hash: the signs of the 8x8 lowest frequencies of the 32x32 grey image against
    their median (the DC term left out)."""
    from scipy.fft import dctn

    grey = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.BOX), np.float64)
    low = dctn(grey, norm="ortho")[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2)


def domain_features(image: Image.Image) -> np.ndarray:
    """:data:`FEATURES` of ``image`` box-resized to :data:`FEATURE_WIDTH` pixels wide, so images
    of any size compare: PNG bits per pixel, x4 high-frequency energy, mean HSV saturation, the
    spread of luma, and the shares of near-white and near-black pixels."""
    from gasr_hf.annotate.complexity import hf_energy, png_bpp

    rgb = image.convert("RGB")
    width, height = rgb.size
    small = rgb.resize(
        (FEATURE_WIDTH, max(16, round(height * FEATURE_WIDTH / width))), Image.Resampling.BOX
    )
    pixels = np.asarray(small, np.float64)
    luma = pixels @ np.array([0.299, 0.587, 0.114])
    top, bottom = pixels.max(axis=2), pixels.min(axis=2)
    saturation = np.where(top > 0, (top - bottom) / np.maximum(top, 1), 0.0)
    return np.array(
        [
            png_bpp(small),
            hf_energy(small),
            saturation.mean(),
            luma.std(),
            (luma > 235).mean(),
            (luma < 30).mean(),
        ]
    )


def _folder_features(folder: Path) -> np.ndarray:
    from gasr_hf.annotate.ingest import IMAGE_EXTENSIONS

    if not folder.is_dir():
        raise FileNotFoundError(f"curate: target folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"curate: target folder {folder} holds no images")
    rows = []
    for path in files:
        with Image.open(path) as image:
            rows.append(domain_features(image))
    return np.stack(rows)


def _nearest_to_target(
    pool: np.ndarray, target: np.ndarray, keep: int, neighbours: int
) -> list[int]:
    """Indices of the ``keep`` pool rows with the smallest mean distance to their nearest target
    rows, in features standardised by the pool's spread."""
    scale = pool.std(axis=0)
    scale[scale == 0] = 1.0
    a, b = pool / scale, target / scale
    dist = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    k = min(neighbours, len(target))
    score = np.sort(dist, axis=1)[:, :k].mean(axis=1)
    return sorted(np.argsort(score, kind="stable")[:keep].tolist())


def _load(repo_dir: Path, config: str) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = repo_dir / "data" / config
    if not folder.is_dir():
        raise FileNotFoundError(f"curate: config {config!r} not found in {repo_dir} ({folder})")
    return pa.concat_tables([pq.read_table(path) for path in parquet_files(folder)])


def row_features(images: Sequence[bytes], rows: Sequence[int]) -> np.ndarray:
    """:func:`domain_features` of the encoded ``images`` at ``rows`` (len(rows) x features)."""
    features = []
    for i in rows:
        with Image.open(io.BytesIO(images[i])) as image:
            features.append(domain_features(image))
    return np.stack(features)


def _images(table: Any) -> list[bytes]:
    return [cell["bytes"] for cell in table.column("image").to_pylist()]


def select_rows(table: Any, rule: CurateRule) -> tuple[list[int], dict[str, int]]:
    """Row indices of ``table`` (a pyarrow table of a config) kept by ``rule``, and what each
    step removed."""
    kept = list(range(table.num_rows))
    removed: dict[str, int] = {}

    def gate(step: str, keep: Sequence[int]) -> None:
        removed[step] = len(kept) - len(keep)
        kept[:] = keep

    columns = set(table.column_names)
    if rule.max_blockiness is not None:
        if "blockiness" not in columns:
            raise ValueError(
                f"curate {rule.name!r}: config {rule.source!r} has no blockiness column"
            )
        values = table.column("blockiness").to_pylist()
        gate(
            "blockiness",
            [i for i in kept if values[i] is not None and values[i] <= rule.max_blockiness],
        )
    for column, least in sorted(rule.min_columns.items()):
        if column not in columns:
            raise ValueError(
                f"curate {rule.name!r}: config {rule.source!r} has no column {column!r} "
                f"(annotate it first); columns: {', '.join(sorted(columns))}"
            )
        values = table.column(column).to_pylist()
        gate(
            f"{column} >= {least:g}",
            [i for i in kept if values[i] is not None and values[i] >= least],
        )
    images = _images(table) if rule.dedupe_bits or rule.target is not None else []
    if rule.dedupe_bits:
        hashes: list[int] = []
        unique = []
        for i in kept:
            with Image.open(io.BytesIO(images[i])) as image:
                h = perceptual_hash(image)
            if all(bin(h ^ other).count("1") > rule.dedupe_bits for other in hashes):
                hashes.append(h)
                unique.append(i)
        gate("near-duplicates", unique)
    if rule.keep is not None and rule.keep > len(kept):
        raise ValueError(
            f"curate {rule.name!r}: keep={rule.keep} but only {len(kept)} rows of "
            f"{rule.source!r} pass the gates"
        )
    if rule.target is not None:
        chosen = _nearest_to_target(
            row_features(images, kept),
            _folder_features(rule.target),
            rule.keep,
            rule.target_neighbours,
        )
        gate("target", [kept[j] for j in chosen])
    elif rule.random:
        gate("random", sorted(random.Random(rule.seed).sample(kept, rule.keep)))
    elif rule.keep is not None:
        gate("keep", kept[: rule.keep])
    return kept, removed


def curate(repo_dir: str | Path, rule: CurateRule) -> CurateReport:
    """Write config ``rule.name`` of ``repo_dir``: the rows of ``rule.source`` that ``rule``
    keeps; rerun ``gasr card`` / ``gasr manifest`` afterwards (``gasr build`` does)."""
    import pyarrow.parquet as pq

    from gasr_hf.publish.layout import add_source

    repo_dir = Path(repo_dir)
    table = _load(repo_dir, rule.source)
    kept, removed = select_rows(table, rule)
    if not kept:
        raise ValueError(
            f"curate {rule.name!r}: no row of {rule.source!r} passes {rule.describe()}"
        )
    folder = repo_dir / CURATE_DIR / rule.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    selected = table.take(kept)
    shards = range(0, len(kept), ROWS_PER_SHARD)
    for n, start in enumerate(shards):
        part = selected.slice(start, ROWS_PER_SHARD)
        pq.write_table(part, folder / f"train-{n:05d}-of-{len(shards):05d}.parquet")
    report = CurateReport(rule.name, folder, rule.describe(), table.num_rows, len(kept), removed)
    write_json_atomic(folder / RULE_FILE, {"settings": to_dict(rule), **report.to_dict()})
    add_source(repo_dir, rule.name, folder)
    logger.info(
        "curate %s: %d of %d rows of %s (%s)",
        rule.name,
        len(kept),
        table.num_rows,
        rule.source,
        ", ".join(f"{k}: -{v}" for k, v in removed.items()) or "nothing removed",
    )
    return report


def config_descriptions(reports: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Card descriptions of curated configs from :meth:`CurateReport.to_dict` records: the rule
    and what each step removed."""
    return {
        r["name"]: f"{r['rows_out']} of {r['rows_in']} {r['rule']} (removed: "
        + (", ".join(f"{k} {v}" for k, v in r["removed"].items()) or "none")
        + ")"
        for r in reports
    }
