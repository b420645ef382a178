"""generate(): shards with images and provenance, resume, retries of bad outputs, failures."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import pytest
from PIL import Image

from gasr_hf.generate import REPORT_NAME, BackendConfig, derive_seed, generate, make_sample_grid
from gasr_hf.generate.procedural import ProceduralBackend
from gasr_hf.generate.runner import read_provenance
from gasr_hf.prompts import build_prompts
from gasr_hf.shards import read_markers

SMALL = BackendConfig(width=64, height=48)


@pytest.fixture(scope="module")
def prompts() -> datasets.Dataset:
    return build_prompts("artwork", 7, 0)


def _load(out: Path) -> datasets.Dataset:
    return datasets.load_dataset("parquet", data_dir=str(out), split="train")


def assert_rates(report: dict, out: Path, images: int, rows: int | None = None) -> None:
    """images/s and s/image count images written (not prompt rows) over the processing seconds,
    which the shard report rounds to 1 ms."""
    seconds = json.loads((out / ".gasr" / "report-train.json").read_text())["seconds"]
    tolerance = images / seconds**2 * 0.0005 + 1e-3
    assert report["images_per_second"] == pytest.approx(images / seconds, abs=tolerance)
    assert report["seconds_per_image"] == pytest.approx(
        seconds / images, abs=0.0005 / images + 1e-4
    )
    if rows is not None:
        assert abs(report["images_per_second"] - rows / seconds) > tolerance


def test_generate_writes_png_rows_with_prompts_and_provenance(
    prompts: datasets.Dataset, tmp_path: Path
) -> None:
    report = generate(prompts, tmp_path, SMALL, chunk_size=3)
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == [
        "train-00000.parquet",
        "train-00001.parquet",
        "train-00002.parquet",
    ]
    ds = _load(tmp_path)
    assert sorted(ds["prompt_id"]) == sorted(prompts["prompt_id"])
    assert isinstance(ds.features["image"], datasets.Image)
    raw = pq.read_table(tmp_path / "train-00000.parquet", columns=["image"]).to_pylist()
    assert all(r["image"]["bytes"].startswith(b"\x89PNG") for r in raw)
    row = ds[0]
    assert row["image"].size == (64, 48) and (row["width"], row["height"]) == (64, 48)
    for column in prompts.column_names:
        assert row[column] == prompts[0][column]
    assert row["backend"] == "procedural" and row["model"].startswith("gasr_hf.procedural@")
    assert row["seed_used"] == row["seed"] and row["attempt"] == 1
    assert "pillow==" in row["library_versions"]
    saved = json.loads((tmp_path / REPORT_NAME).read_text())
    assert saved == report
    assert report["images"] == 7 and report["failures"] == 0 and report["complete"]
    assert_rates(report, tmp_path, images=7)
    assert report["provenance"] == {
        k: row[k] for k in ("backend", "model", "model_revision", "scheduler", "steps")
    } | {k: row[k] for k in ("guidance", "dtype", "library_versions")}


def test_rerun_skips_finished_chunks_and_refuses_another_config(
    prompts: datasets.Dataset, tmp_path: Path
) -> None:
    generate(prompts, tmp_path, SMALL, chunk_size=4)
    report = generate(prompts, tmp_path, SMALL, chunk_size=4)
    assert report["this_run"]["images"] == 0 and report["images"] == 7
    assert report["provenance"]["model"].startswith("gasr_hf.procedural@")
    faster = BackendConfig(width=64, height=48, batch_size=4, device="cpu")
    assert generate(prompts, tmp_path, faster, chunk_size=4)["this_run"]["images"] == 0
    with pytest.raises(ValueError, match=r"train-00000.json.*backend_config: was .*'height': 48"):
        generate(prompts, tmp_path, BackendConfig(width=64, height=64), chunk_size=4)


def test_other_prompts_with_the_same_count_are_refused(
    prompts: datasets.Dataset, tmp_path: Path
) -> None:
    generate(prompts, tmp_path, SMALL, chunk_size=4)
    other_seed = build_prompts("artwork", len(prompts), 1)
    with pytest.raises(ValueError, match="other source rows"):
        generate(other_seed, tmp_path, SMALL, chunk_size=4)
    reworded = prompts.map(
        lambda r, i: {"prompt": r["prompt"] + ("!" if i == 5 else "")}, with_indices=True
    )
    with pytest.raises(ValueError, match=r"chunk 1 \(rows \[4, 7\)\).*other source rows"):
        generate(reworded, tmp_path, SMALL, chunk_size=4)


class NewRenderer(ProceduralBackend):
    def model_identity(self) -> dict[str, str | None]:
        return {"model": "gasr_hf.procedural@next", "model_revision": None}


def test_another_model_revision_is_refused(prompts: datasets.Dataset, tmp_path: Path) -> None:
    generate(prompts.select(range(2)), tmp_path, SMALL, chunk_size=4)
    with pytest.raises(
        ValueError, match="model: was 'gasr_hf.procedural@.*now 'gasr_hf.procedural@next'"
    ):
        generate(prompts.select(range(2)), tmp_path, NewRenderer(SMALL), chunk_size=4)


class BlackFirst(ProceduralBackend):
    """Returns an all-black image on a row's first ``bad_attempts`` attempts."""

    def __init__(self, config: BackendConfig, bad_attempts: int) -> None:
        super().__init__(config)
        self.bad_attempts = bad_attempts
        self.seen: dict[str, int] = {}

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Image.Image]:
        images = []
        for row, image in zip(rows, super().render(rows), strict=True):
            self.seen[row["prompt_id"]] = self.seen.get(row["prompt_id"], 0) + 1
            bad = self.seen[row["prompt_id"]] <= self.bad_attempts
            images.append(Image.new("RGB", image.size) if bad else image)
        return images


def test_black_image_is_retried_with_a_derived_seed(
    prompts: datasets.Dataset, tmp_path: Path
) -> None:
    backend = BlackFirst(SMALL, bad_attempts=1)
    report = generate(prompts, tmp_path, backend, chunk_size=4, max_attempts=3)
    ds = _load(tmp_path)
    assert report["failures"] == 0 and report["this_run"]["retried_rows"] == 7
    assert set(ds["attempt"]) == {2}
    for row in ds:
        assert row["seed_used"] == derive_seed(row["seed"], 2) != row["seed"]
        assert max(row["image"].convert("L").getextrema()) > 0


def test_rows_that_stay_bad_are_reported_and_the_run_goes_on(
    prompts: datasets.Dataset, tmp_path: Path
) -> None:
    backend = BlackFirst(SMALL, bad_attempts=5)
    report = generate(prompts.select(range(3)), tmp_path, backend, chunk_size=2, max_attempts=2)
    assert report["failures"] == 3 and report["images"] == 0 and report["complete"]
    failure = report["failed_rows"][0]
    assert failure["id"] == prompts[0]["prompt_id"] and failure["row"] == 0
    assert "all black" in failure["error"] and "attempt 2" in failure["error"]
    assert sum(pq.read_metadata(p).num_rows for p in tmp_path.glob("*.parquet")) == 0


class Failing(ProceduralBackend):
    """Raises on any batch of more than one row (out of memory) and on the ``poison`` prompts."""

    def __init__(self, config: BackendConfig, poison: set[str]) -> None:
        super().__init__(config)
        self.poison = poison
        self.batches: list[int] = []

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Image.Image]:
        self.batches.append(len(rows))
        if len(rows) > 1:
            raise RuntimeError("CUDA out of memory")
        if rows[0]["prompt_id"] in self.poison:
            raise ValueError("pipeline error")
        return super().render(rows)


def test_a_render_error_is_retried_row_by_row_and_a_failing_row_is_recorded(
    prompts: datasets.Dataset, tmp_path: Path
) -> None:
    poison = prompts[2]["prompt_id"]
    backend = Failing(BackendConfig(width=64, height=48, batch_size=4), {poison})
    report = generate(prompts, tmp_path, backend, chunk_size=7, max_attempts=2)
    assert backend.batches == [4, 1, 1, 1, 1, 3, 1, 1, 1]
    assert report["images"] == 6 and report["failures"] == 1 and report["complete"]
    assert report["this_run"]["render_errors"] == 1
    failure = report["failed_rows"][0]
    assert failure["id"] == poison and failure["row"] == 2
    assert failure["error"] == (
        f"render error: attempt 1 (seed {prompts[2]['seed']}): ValueError: pipeline error"
    )
    assert sorted(_load(tmp_path)["prompt_id"]) == sorted(set(prompts["prompt_id"]) - {poison})
    assert_rates(report, tmp_path, images=6, rows=7)


class NoWeights(ProceduralBackend):
    def prepare(self) -> None:
        raise FileNotFoundError("weights for model 'x' are not in the Hugging Face cache")


def test_a_load_error_stops_the_run_instead_of_failing_rows(
    prompts: datasets.Dataset, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="weights for model 'x'"):
        generate(prompts, tmp_path, NoWeights(SMALL), chunk_size=4)
    assert not list(tmp_path.glob("*.parquet"))
    assert not read_markers(tmp_path)


def test_bad_prompt_rows_are_refused(prompts: datasets.Dataset, tmp_path: Path) -> None:
    doubled = datasets.concatenate_datasets([prompts.select([0]), prompts.select([0])])
    with pytest.raises(ValueError, match="occurs more than once"):
        generate(doubled, tmp_path, SMALL)
    with pytest.raises(ValueError, match="'seed' is missing"):
        generate(prompts.remove_columns("seed"), tmp_path, SMALL)
    with pytest.raises(FileNotFoundError):
        generate(tmp_path / "nowhere", tmp_path / "out", SMALL)


def test_sample_grid_from_shards(prompts: datasets.Dataset, tmp_path: Path) -> None:
    generate(prompts, tmp_path / "shards", SMALL, chunk_size=4)
    out = make_sample_grid(tmp_path / "shards", tmp_path / "grid.png", n=6, columns=3, tile=64)
    grid = Image.open(out)
    assert grid.width == 3 * (64 + 4) + 4 and grid.height == 2 * (64 + 34 + 4) + 4


def test_read_provenance_from_the_rows(prompts: datasets.Dataset, tmp_path: Path) -> None:
    assert read_provenance(tmp_path) is None
    generate(prompts.select(range(2)), tmp_path, SMALL, chunk_size=1)
    provenance = read_provenance(tmp_path)
    assert provenance == {k: v for k, v in _load(tmp_path)[0].items() if k in provenance}
    assert provenance["backend"] == "procedural" and "seed_used" not in provenance
    (tmp_path / "train-00000.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match=r"train-00000.parquet: unreadable shard"):
        read_provenance(tmp_path)
