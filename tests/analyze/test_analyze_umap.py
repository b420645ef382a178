"""UMAP figure and coordinates from CLIP-embedding columns; Frechet distances to a target."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gasr_hf.analyze import frechet_distance, umap_figure


def _embedding_dataset(folder: Path, name: str, centre: float, n: int, seed: int) -> Path:
    import datasets

    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 8)) + centre
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = {
        "file_name": [f"{name}_{i}.png" for i in range(n)],
        "source": [name] * n,
        "clip_embedding": vectors.astype(np.float32).tolist(),
    }
    features = datasets.Features(
        {
            "file_name": datasets.Value("string"),
            "source": datasets.Value("string"),
            "clip_embedding": datasets.List(datasets.Value("float32"), length=8),
        }
    )
    folder.mkdir(parents=True)
    datasets.Dataset.from_dict(rows, features=features).to_parquet(
        str(folder / "train-00000.parquet")
    )
    return folder


def test_frechet_distance_of_a_shift_is_its_squared_length():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 5))
    delta = np.array([1.0, 2.0, 0.0, 0.0, -1.0])
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + delta) == pytest.approx(6.0, rel=1e-6)
    few = rng.normal(size=(4, 16))  # fewer samples than dimensions: singular covariance
    assert np.isfinite(frechet_distance(few, few + 1.0))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(a[:1], a)


@pytest.mark.slow
def test_umap_figure_writes_png_coordinates_and_distances(tmp_path):
    folders = [
        _embedding_dataset(tmp_path / "gasr", "GASR", 0.6, 30, 1),
        _embedding_dataset(tmp_path / "df2k", "DF2K", -0.6, 30, 2),
        _embedding_dataset(tmp_path / "manga", "Manga109", 0.5, 30, 3),
    ]
    result = umap_figure(folders, tmp_path / "out", target="Manga109", max_per_dataset=25)

    image = Image.open(result.png_path)
    assert image.format == "PNG" and image.width > 500
    with open(result.coordinates_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 75
    assert {r["dataset"] for r in rows} == {"GASR", "DF2K", "Manga109"}
    assert all(np.isfinite(float(r["x"])) and np.isfinite(float(r["y"])) for r in rows)

    distances = result.distances
    assert distances["Manga109"] == pytest.approx(0.0, abs=1e-4)
    assert distances["GASR"] < distances["DF2K"]
    record = json.loads(Path(result.distances_path).read_text())
    assert record["target"] == "Manga109" and record["umap"]["random_state"] == 0
    assert record["counts"] == {"GASR": 30, "DF2K": 30, "Manga109": 30}

    again = umap_figure(folders, tmp_path / "again", target="Manga109", max_per_dataset=25)
    assert Path(again.coordinates_path).read_text() == Path(result.coordinates_path).read_text()


def test_umap_boundary_errors(tmp_path):
    folder = _embedding_dataset(tmp_path / "a", "A", 0.0, 5, 0)
    with pytest.raises(ValueError, match="target"):
        umap_figure([folder], tmp_path / "out", target="Manga109")
    with pytest.raises(ValueError, match="distinct"):
        umap_figure([folder, folder], tmp_path / "out")
