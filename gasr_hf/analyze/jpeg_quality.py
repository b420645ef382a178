"""Estimated JPEG quality of a dataset from its blockiness distribution (the DiverSeg method).

A basis is the blockiness distribution of one reference image set re-encoded at JPEG quality 100,
95, 85, 75 and 50. A dataset's blockiness values below ``threshold`` (300) and each basis
distribution get a Gaussian KDE (``scipy.stats.gaussian_kde``); both are evaluated on a common grid
of 3450 points spanning the two samples, 1e-10 is added, and the KL divergence is
``sum(scipy.special.kl_div(p_target, p_basis))`` over the grid, as DiverSeg's script computes it
(densities summed over grid points, not integrated). The estimate is
``sum(q * exp(-KL_q)) / sum(exp(-KL_q))``. As in DiverSeg, only the dataset's values are
thresholded; the basis is used whole.

Basis folders hold DiverSeg-format text files, one ``path<TAB>value`` line per image:
``<name>_q<Q>.txt`` for quality ``Q``; a lone ``<name>.txt`` is the never-compressed set and stands
for quality 100 when there is no ``_q100`` file (that is how DiverSeg's DF2K basis is published).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

QUALITIES = (100, 95, 85, 75, 50)
THRESHOLD = 300.0
GRID_POINTS = 3450
EPSILON = 1e-10
_QUALITY_FILE = re.compile(r"^(?P<name>.+)_q(?P<quality>\d+)\.txt$")


@dataclass(frozen=True)
class BlockinessBasis:
    """Blockiness values of one reference set at several JPEG qualities."""

    values: dict[int, np.ndarray]
    source: str

    def __post_init__(self) -> None:
        for quality, values in self.values.items():
            if len(values) < 2:
                raise ValueError(f"basis {self.source}: quality {quality} has fewer than 2 values")
            if not np.isfinite(values).all():
                raise ValueError(f"basis {self.source}: quality {quality} has non-finite values")


@dataclass(frozen=True)
class QualityEstimate:
    quality: float
    kl: dict[int, float]
    """KL divergence from the dataset's distribution to each basis quality."""
    values_used: int
    """Finite blockiness values below the threshold that entered the KDE."""


def read_blockiness_txt(path: str | Path) -> np.ndarray:
    """Values of a DiverSeg-format file (``path<TAB>value`` per line)."""
    path = Path(path)
    values = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rsplit("\t", 1)
        try:
            values.append(float(parts[-1]))
        except ValueError as err:
            raise ValueError(f"{path}:{number}: expected 'name<TAB>value', got {line!r}") from err
    return np.asarray(values, dtype=np.float64)


def write_blockiness_txt(path: str | Path, names: Sequence[str], values: Sequence[float]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}\t{value!r}\n" for name, value in zip(names, values, strict=True)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _finite(values: np.ndarray, where: str) -> np.ndarray:
    """``values`` without NaN and infinities (flat images), logging how many were dropped."""
    keep = np.isfinite(values)
    if not keep.all():
        logger.warning(
            "%s: dropped %d non-finite blockiness value(s) of %d (flat images have no blockiness)",
            where,
            int(keep.size - keep.sum()),
            keep.size,
        )
    return values[keep]


def load_basis(folder: str | Path) -> BlockinessBasis:
    """Read a basis folder (see the module docstring for the file names).

    Non-finite values (written by older basis builds for flat images) are dropped with a warning.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"blockiness basis folder not found: {folder}")
    values: dict[int, np.ndarray] = {}
    plain = []
    for path in sorted(folder.glob("*.txt")):
        match = _QUALITY_FILE.match(path.name)
        if match:
            quality = int(match["quality"])
            if quality in values:
                raise ValueError(f"{folder}: two basis files for quality {quality}")
            values[quality] = _finite(read_blockiness_txt(path), str(path))
        else:
            plain.append(path)
    if 100 not in values and len(plain) == 1:
        values[100] = _finite(read_blockiness_txt(plain[0]), str(plain[0]))
    if len(values) < 2:
        raise ValueError(
            f"{folder}: expected basis files <name>_q<Q>.txt for at least two qualities, "
            f"found {sorted(values)}"
        )
    return BlockinessBasis(dict(sorted(values.items(), reverse=True)), str(folder))


def build_basis(
    reference_folder: str | Path,
    out_dir: str | Path,
    *,
    qualities: Sequence[int] = QUALITIES,
    name: str = "basis",
) -> BlockinessBasis:
    """Re-encode every image under ``reference_folder`` with Pillow's JPEG encoder at each quality
    (its default 4:2:0 chroma subsampling), compute blockiness, and write ``<name>_q<Q>.txt`` files.

    Images are read with the ingest policy (files it would skip, or that cannot be read, are skipped
    here, with a warning). A non-finite blockiness (a flat image, ``V == 0``) is left out of that
    quality's file, with a warning that counts them.
    """
    import io

    from PIL import Image
    from tqdm.auto import tqdm

    from gasr_hf.annotate.blockiness import blockiness, min_side
    from gasr_hf.annotate.ingest import SkippedImage, list_folder, read_file, read_image

    reference_folder = Path(reference_folder)
    if not reference_folder.is_dir():
        raise FileNotFoundError(f"reference folder not found: {reference_folder}")
    if not qualities or any(not 1 <= q <= 100 for q in qualities):
        raise ValueError(f"qualities must be JPEG qualities in 1..100, got {list(qualities)}")
    per_quality: dict[int, dict[str, float]] = {q: {} for q in qualities}
    for file_name in tqdm(list_folder(reference_folder).images, desc="blockiness basis"):
        try:
            item = read_image(read_file(reference_folder / file_name))
        except SkippedImage as err:
            logger.warning("basis: skipping %s: %s (%s)", file_name, err.reason, err)
            continue
        image = Image.open(io.BytesIO(item.data)).convert("RGB")
        if min(image.size) < min_side():
            logger.warning("basis: skipping %s: smaller than %d pixels", file_name, min_side())
            continue
        for quality in qualities:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality)
            per_quality[quality][file_name] = blockiness(Image.open(buffer))
    finite: dict[int, dict[str, float]] = {}
    for quality in sorted(per_quality, reverse=True):
        finite[quality] = {n: v for n, v in per_quality[quality].items() if math.isfinite(v)}
        dropped = sorted(set(per_quality[quality]) - set(finite[quality]))
        if dropped:
            logger.warning(
                "basis: quality %d: dropped %d non-finite blockiness value(s) (flat images): %s",
                quality,
                len(dropped),
                ", ".join(dropped),
            )
    out_dir = Path(out_dir)
    basis = BlockinessBasis(
        {q: np.asarray(list(v.values()), dtype=np.float64) for q, v in finite.items()}, str(out_dir)
    )
    for quality, kept in finite.items():
        write_blockiness_txt(out_dir / f"{name}_q{quality}.txt", list(kept), list(kept.values()))
    return basis


def kl_divergence(
    target: np.ndarray,
    basis: np.ndarray,
    *,
    grid_points: int = GRID_POINTS,
    epsilon: float = EPSILON,
) -> float:
    """DiverSeg's KL divergence between the Gaussian KDEs of two samples (module docstring)."""
    from scipy.special import kl_div
    from scipy.stats import gaussian_kde

    grid = np.linspace(min(target.min(), basis.min()), max(target.max(), basis.max()), grid_points)
    p = gaussian_kde(target)(grid) + epsilon
    q = gaussian_kde(basis)(grid) + epsilon
    return float(np.sum(kl_div(p, q)))


def estimate_jpeg_quality(
    values: Sequence[float] | np.ndarray,
    basis: BlockinessBasis,
    *,
    threshold: float = THRESHOLD,
) -> QualityEstimate:
    """The DiverSeg JPEG-quality estimate (0-100) of a dataset from its blockiness values.

    Raises ``ValueError`` when fewer than two distinct finite values lie below ``threshold``.
    """
    array = np.asarray(values, dtype=np.float64)
    used = array[np.isfinite(array) & (array < threshold)]
    if used.size < 2 or np.ptp(used) == 0:
        raise ValueError(
            f"need at least two distinct finite blockiness values below {threshold} "
            f"for a JPEG-quality estimate, got {used.size}"
        )
    kl = {quality: kl_divergence(used, sample) for quality, sample in basis.values.items()}
    # Shifting every KL by the smallest leaves the ratio unchanged and keeps exp() from underflowing.
    smallest = min(kl.values())
    weights = {quality: math.exp(smallest - value) for quality, value in kl.items()}
    quality = sum(q * w for q, w in weights.items()) / sum(weights.values())
    return QualityEstimate(quality=quality, kl=kl, values_used=int(used.size))
