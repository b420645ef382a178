"""The diffusers backend on tiny random FLUX and Stable Diffusion pipelines loaded by path."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from types import SimpleNamespace

import datasets
import numpy as np
import pytest

from gasr_hf.generate import BackendConfig, create_backend, generate
from gasr_hf.generate.diffusers_backend import _snapshot_commit
from gasr_hf.prompts import build_prompts

from .tiny_pipelines import save_tiny_flux, save_tiny_sd


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pipelines")
    return {"flux": save_tiny_flux(root), "sd": save_tiny_sd(root)}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return build_prompts("artwork", 3, 0).to_list()


def _config(path: Path, **kw) -> BackendConfig:
    return BackendConfig(
        backend="diffusers", model=str(path), width=32, height=32, steps=2, device="cpu", **kw
    )


@pytest.mark.parametrize(("kind", "scheduler"), [("flux", "FlowMatchEuler"), ("sd", "DDIM")])
def test_tiny_pipeline_by_path_renders_one_image_per_row_from_its_seed(
    pipelines: dict[str, Path], rows: list[dict], kind: str, scheduler: str
) -> None:
    backend = create_backend(_config(pipelines[kind], batch_size=2))
    images = backend.render(rows[:2])
    assert [im.size for im in images] == [(32, 32), (32, 32)]
    again = backend.render([rows[1]])[0]
    # A row alone and in a batch of two: float32 matrix products may round differently with the
    # row count (MKL on some CPUs), and classifier-free guidance doubles the batch, so allow what
    # batching allows, one level; at a fixed batch the output is bitwise repeatable.
    diff = np.abs(np.asarray(images[1], dtype=int) - np.asarray(again, dtype=int))
    assert diff.max() <= 1
    assert np.array_equal(np.asarray(backend.render([rows[1]])[0]), np.asarray(again))
    assert np.array_equal(np.asarray(backend.render(rows[:2])[1]), np.asarray(images[1]))
    other = backend.render([{**rows[1], "seed": rows[1]["seed"] + 1}])[0]
    assert not np.array_equal(np.asarray(again), np.asarray(other))
    provenance = backend.provenance()
    assert provenance["scheduler"].startswith(scheduler)
    assert provenance["model"] == str(pipelines[kind]) and provenance["steps"] == 2
    assert "diffusers==" in provenance["library_versions"]


def test_first_block_cache_is_applied(pipelines: dict[str, Path], rows: list[dict]) -> None:
    backend = create_backend(_config(pipelines["flux"], first_block_cache=0.05))
    assert backend.render(rows[:1])[0].size == (32, 32)
    assert backend.pipeline.transformer.is_cache_enabled


def test_generate_with_flux_writes_shards(
    pipelines: dict[str, Path], rows: list[dict], tmp_path: Path
) -> None:
    prompts = datasets.Dataset.from_list(rows)
    report = generate(prompts, tmp_path, _config(pipelines["flux"]), chunk_size=2)
    ds = datasets.load_dataset("parquet", data_dir=str(tmp_path), split="train")
    assert report["images"] + report["failures"] == 3
    assert set(ds["backend"]) == {"diffusers"} and set(ds["dtype"]) == {"float32"}
    assert set(ds["scheduler"]) == {"FlowMatchEulerDiscreteScheduler"}


def test_absent_weights_offline_name_the_model(rows: list[dict], tmp_path: Path) -> None:
    missing = create_backend(BackendConfig(backend="diffusers", model="nobody/no-such-model"))
    with pytest.raises(FileNotFoundError, match="'nobody/no-such-model'.*local path"):
        missing.render(rows[:1])
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        create_backend(BackendConfig(backend="diffusers", model=str(tmp_path / "x" / "y"))).render(
            rows[:1]
        )


def test_commit_hash_is_read_from_a_hub_cache_snapshot_path(tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "models--org--name" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    assert _snapshot_commit(snapshot) == commit
    assert _snapshot_commit(tmp_path) is None


COMMIT_A, COMMIT_B = "a" * 40, "b" * 40


@pytest.fixture
def hub_cache(pipelines: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Hugging Face cache holding ``org/tiny`` at two commits (the second with an Euler
    scheduler), ``main`` at the first."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--org--tiny"
    for commit in (COMMIT_A, COMMIT_B):
        shutil.copytree(pipelines["sd"], repo / "snapshots" / commit)
    for name in ("model_index.json", "scheduler/scheduler_config.json"):
        path = repo / "snapshots" / COMMIT_B / name
        path.write_text(path.read_text().replace("DDIMScheduler", "EulerDiscreteScheduler"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT_A)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return repo


def test_a_hub_model_is_pinned_to_one_commit_and_a_moved_main_is_refused(
    hub_cache: Path, rows: list[dict], tmp_path: Path
) -> None:
    config = _config(Path("org/tiny"))
    backend = create_backend(config)
    assert backend.model_identity() == {"model": "org/tiny", "model_revision": COMMIT_A}
    prompts = datasets.Dataset.from_list(rows[:1])
    out = tmp_path / "out"
    generate(prompts, out, backend, chunk_size=1)
    ds = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    assert ds["model_revision"] == [COMMIT_A]

    (hub_cache / "refs" / "main").write_text(COMMIT_B)
    with pytest.raises(ValueError, match=f"model_revision: was '{COMMIT_A}', now '{COMMIT_B}'"):
        generate(prompts, out, config, chunk_size=1)
    pinned = dataclasses.replace(config, revision=COMMIT_A)
    assert generate(prompts, out, pinned, chunk_size=1)["this_run"]["images"] == 0


def test_the_load_uses_the_commit_resolved_before_it(hub_cache: Path) -> None:
    backend = create_backend(_config(Path("org/tiny")))
    assert backend.model_identity()["model_revision"] == COMMIT_A
    (hub_cache / "refs" / "main").write_text(COMMIT_B)
    backend.prepare()
    assert backend.provenance()["scheduler"] == "DDIMScheduler"
    moved = create_backend(_config(Path("org/tiny")))
    moved.prepare()
    assert moved.provenance()["scheduler"] == "EulerDiscreteScheduler"


def test_online_the_commit_comes_from_the_hub_else_from_the_cache(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import HfApi, constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    asked = []

    def hub_main_moved(self, repo_id, revision=None, **kwargs):
        asked.append((repo_id, revision))
        return SimpleNamespace(sha=COMMIT_B)

    monkeypatch.setattr(HfApi, "model_info", hub_main_moved)
    backend = create_backend(_config(Path("org/tiny")))
    assert backend.model_identity()["model_revision"] == COMMIT_B and asked == [("org/tiny", None)]

    def unreachable(self, repo_id, revision=None, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(HfApi, "model_info", unreachable)
    backend = create_backend(_config(Path("org/tiny")))
    assert backend.model_identity()["model_revision"] == COMMIT_A
    missing = create_backend(BackendConfig(backend="diffusers", model="nobody/no-such-model"))
    with pytest.raises(FileNotFoundError, match="could not be reached"):
        missing.model_identity()
