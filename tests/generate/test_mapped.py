"""GenerateImages: generation as a datasets.map callable gives the rows gasr generate writes."""

from __future__ import annotations

import pickle
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from gasr_hf.generate import BackendConfig, GenerateImages, generate
from gasr_hf.prompts import build_prompts

from .tiny_pipelines import save_tiny_flux

SMALL = BackendConfig(width=64, height=48)


@pytest.fixture(scope="module")
def prompts() -> datasets.Dataset:
    return build_prompts("artwork", 7, 0)


def _generated(prompts: datasets.Dataset, out: Path, config: BackendConfig) -> datasets.Dataset:
    generate(prompts, out, config, chunk_size=3)
    return datasets.load_dataset("parquet", data_dir=str(out), split="train")


def _raw(ds: datasets.Dataset) -> list[dict]:
    return ds.cast_column("image", datasets.Image(decode=False)).to_list()


def test_map_over_two_processes_gives_the_rows_and_png_bytes_of_generate(
    prompts: datasets.Dataset, tmp_path: Path
) -> None:
    expected = _generated(prompts, tmp_path / "gen", SMALL)
    mapped = prompts.map(
        GenerateImages(SMALL), batched=True, batch_size=2, with_rank=True, num_proc=2
    )
    assert mapped.features == expected.features
    assert _raw(mapped) == _raw(expected)


def test_the_backend_loads_once_per_process_and_is_not_pickled(
    prompts: datasets.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gasr_hf.generate.mapped as mapped

    built = []
    real = mapped.create_backend
    monkeypatch.setattr(mapped, "create_backend", lambda c: built.append(c) or real(c))
    gen = GenerateImages(BackendConfig(width=32, height=24))
    batch = prompts[:2]
    first = gen(batch, rank=None)
    gen(prompts[2:4], rank=None)
    assert len(built) == 1 and first.num_rows == 2
    assert b"Procedural" not in pickle.dumps(gen)


def test_bad_outputs_are_retried_then_left_out_or_kept_with_the_reason(
    prompts: datasets.Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    impossible = 1e9  # no image reaches this channel standard deviation
    dropped = GenerateImages(SMALL, max_attempts=2, min_std=impossible)(prompts[:2])
    assert dropped.num_rows == 0
    assert "bad output after 2 attempts" in caplog.text and prompts[0]["prompt_id"] in caplog.text
    kept = datasets.Dataset(
        GenerateImages(SMALL, max_attempts=2, min_std=impossible, keep_failures=True)(prompts[:2])
    )
    assert kept["prompt_id"] == prompts["prompt_id"][:2]
    assert kept["image"] == [None, None]
    assert all(e.startswith("bad output after 2 attempts: attempt 1 (seed") for e in kept["error"])
    fine = GenerateImages(SMALL, keep_failures=True)(prompts[:2])
    assert fine.column("error").to_pylist() == ["", ""]


def test_prompt_rows_without_the_needed_columns_are_refused(prompts: datasets.Dataset) -> None:
    with pytest.raises(ValueError, match="lack column 'seed'"):
        GenerateImages(SMALL)({k: v for k, v in prompts[:2].items() if k != "seed"})
    with pytest.raises(ValueError, match="'width' of the prompt rows is reserved"):
        GenerateImages(SMALL)({**prompts[:2], "width": [1, 2]})
    with pytest.raises(ValueError, match="max_attempts must be >= 1"):
        GenerateImages(SMALL, max_attempts=0)


def test_tiny_flux_over_two_processes_matches_generate(
    prompts: datasets.Dataset, tmp_path: Path
) -> None:
    model = save_tiny_flux(tmp_path / "pipes")
    config = BackendConfig(backend="diffusers", model=str(model), width=32, height=32, steps=2)
    few = prompts.select(range(4))
    expected = _generated(few, tmp_path / "gen", config)
    mapped = few.map(GenerateImages(config), batched=True, batch_size=2, with_rank=True, num_proc=2)
    assert mapped.features == expected.features
    got, want = mapped.remove_columns("image"), expected.remove_columns("image")
    assert got.to_list() == want.to_list()
    for a, b in zip(mapped["image"], expected["image"], strict=True):
        assert isinstance(a, Image.Image)
        # One image per render call in both: equal up to what float32 across processes allows.
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 1
