"""One UMAP over the CLIP embeddings of several datasets (the paper's Figure 4), and the Frechet
distance of each dataset's embeddings to a target dataset.

Frechet distance between Gaussians fitted to two embedding sets:
``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 sqrtm(S_a S_b))``. With fewer images than embedding dimensions
the covariances are singular, so both are regularised as ``S + eps * I`` (``eps = 1e-6`` by default,
recorded in the output) before the matrix square root; its imaginary part, numerical noise, is dropped.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gasr_hf.analyze.stats import dataset_name, read_columns
from gasr_hf.annotate.run import ID_COLUMNS

logger = logging.getLogger(__name__)

EMBEDDING_COLUMN = "clip_embedding"


@dataclass(frozen=True)
class UmapResult:
    png_path: str
    coordinates_path: str
    distances_path: str
    distances: dict[str, float]
    """Frechet distance of each dataset to the target (empty without a target)."""
    counts: dict[str, int]


def load_embeddings(
    folder: str | Path, column: str = EMBEDDING_COLUMN
) -> tuple[np.ndarray, list[str]]:
    """The non-null embeddings of a dataset as float64 ``(n, d)``, with their row ids (``file_name``,
    else ``prompt_id``, else the row number)."""
    _, columns = read_columns(folder, (column, *ID_COLUMNS))
    if column not in columns:
        raise ValueError(f"dataset {folder} has no {column!r} column; annotate it first")
    ids = next((columns[c] for c in ID_COLUMNS if c in columns), None)
    ids = [str(i) for i in ids] if ids else [str(i) for i in range(len(columns[column]))]
    kept = [
        (ident, vec) for ident, vec in zip(ids, columns[column], strict=True) if vec is not None
    ]
    if len(kept) < len(ids):
        logger.warning("%s: %d rows without %s left out", folder, len(ids) - len(kept), column)
    if not kept:
        raise ValueError(f"dataset {folder} has no non-null {column!r} values")
    return np.asarray([v for _, v in kept], dtype=np.float64), [i for i, _ in kept]


def frechet_distance(a: np.ndarray, b: np.ndarray, *, eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians fitted to the rows of ``a`` and of ``b`` (module docstring)."""
    from scipy.linalg import sqrtm

    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"embeddings must be (n, d) with equal d, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"need at least 2 embeddings per set, got {len(a)} and {len(b)}")
    eye = eps * np.eye(a.shape[1])
    cov_a = np.cov(a, rowvar=False) + eye
    cov_b = np.cov(b, rowvar=False) + eye
    root = sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(root):
        root = root.real
    diff = a.mean(axis=0) - b.mean(axis=0)
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def _scatter(path: Path, coords: np.ndarray, labels: list[str], names: list[str]) -> None:
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 6), dpi=150)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = colormaps["tab10" if len(names) <= 10 else "tab20"]
    label_array = np.asarray(labels)
    for index, name in enumerate(names):
        mask = label_array == name
        axes.scatter(
            coords[mask, 0], coords[mask, 1], s=4, alpha=0.6, color=colours(index), label=name
        )
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title("UMAP of CLIP image embeddings")
    axes.legend(markerscale=4, frameon=False)
    figure.tight_layout()
    figure.savefig(path)


def umap_figure(
    folders: Sequence[str | Path],
    out_dir: str | Path,
    *,
    names: Sequence[str] | None = None,
    target: str | None = None,
    random_state: int = 0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    max_per_dataset: int | None = None,
    eps: float = 1e-6,
    column: str = EMBEDDING_COLUMN,
) -> UmapResult:
    """Fit one UMAP on the embeddings of all ``folders`` and write, in ``out_dir``: ``umap.png``,
    ``umap_coordinates.csv`` (dataset, id, x, y) and ``frechet.json``.

    ``names`` default to each dataset's ``source`` (else its folder name); ``target`` (one of the names) gets the Frechet distance of
    every dataset to it, on the full embeddings (not the UMAP coordinates). ``max_per_dataset``
    subsamples each dataset (seeded by ``random_state``) for the UMAP only.
    """
    import umap

    if not folders:
        raise ValueError("folders must name at least one dataset folder")
    names = [dataset_name(f) for f in folders] if names is None else list(names)
    if len(names) != len(folders) or len(set(names)) != len(names):
        raise ValueError(f"names must be {len(folders)} distinct names, got {names}")
    if target is not None and target not in names:
        raise ValueError(f"target {target!r} is not one of the dataset names {names}")
    embeddings = {
        name: load_embeddings(folder, column) for name, folder in zip(names, folders, strict=True)
    }

    rng = np.random.default_rng(random_state)
    points, labels, ids = [], [], []
    for name, (vectors, idents) in embeddings.items():
        keep = np.arange(len(vectors))
        if max_per_dataset is not None and len(vectors) > max_per_dataset:
            keep = np.sort(rng.choice(len(vectors), max_per_dataset, replace=False))
        points.append(vectors[keep])
        labels += [name] * len(keep)
        ids += [idents[i] for i in keep]
    data = np.concatenate(points)
    neighbours = min(n_neighbors, len(data) - 1)
    if neighbours < 2:
        raise ValueError(f"UMAP needs at least 3 embeddings in all, got {len(data)}")
    if neighbours < n_neighbors:
        logger.warning("only %d embeddings: n_neighbors lowered to %d", len(data), neighbours)
    reducer = umap.UMAP(
        n_neighbors=neighbours,
        min_dist=min_dist,
        metric=metric,
        random_state=random_state,
        n_jobs=1,
    )
    coords = reducer.fit_transform(data)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "umap.png"
    _scatter(png, coords, labels, names)
    coordinates = out_dir / "umap_coordinates.csv"
    with coordinates.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "id", "x", "y"])
        writer.writerows(
            [lab, ident, f"{x:.6f}", f"{y:.6f}"]
            for lab, ident, (x, y) in zip(labels, ids, coords, strict=True)
        )

    distances: dict[str, float] = {}
    if target is not None:
        reference = embeddings[target][0]
        distances = {
            name: frechet_distance(vectors, reference, eps=eps)
            for name, (vectors, _) in embeddings.items()
        }
    counts = {name: len(vectors) for name, (vectors, _) in embeddings.items()}
    distances_path = out_dir / "frechet.json"
    record = {
        "target": target,
        "eps": eps,
        "distances": distances,
        "counts": counts,
        "umap": {
            "random_state": random_state,
            "n_neighbors": neighbours,
            "min_dist": min_dist,
            "metric": metric,
            "max_per_dataset": max_per_dataset,
        },
        "folders": {name: str(folder) for name, folder in zip(names, folders, strict=True)},
    }
    distances_path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return UmapResult(str(png), str(coordinates), str(distances_path), distances, counts)
