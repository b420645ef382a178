"""Backend config resolution, presets, bad-output detection and derived seeds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gasr_hf.generate.backend import (
    BAD_OUTPUT_KEY,
    PRESETS,
    BackendConfig,
    bad_output_reason,
    create_backend,
    derive_seed,
)


def test_preset_fills_unset_fields_and_explicit_values_win() -> None:
    config = BackendConfig(backend="diffusers", preset="flux-dev", steps=4).resolved()
    assert config.model == "black-forest-labs/FLUX.1-dev"
    assert (config.width, config.height, config.guidance, config.dtype) == (
        1024,
        1024,
        3.5,
        "bfloat16",
    )
    assert config.steps == 4
    sd = BackendConfig(backend="diffusers", preset="sd21").resolved()
    assert (sd.width, sd.height) == (768, 768)
    assert sd.model == PRESETS["sd21"].values["model"]


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (BackendConfig(backend="diffusers"), "needs model"),
        (BackendConfig(backend="diffusers", preset="nope"), "unknown preset 'nope'"),
        (BackendConfig(preset="flux-dev"), "is for backend 'diffusers'"),
        (BackendConfig(width=100), "width must be a multiple of 8"),
        (BackendConfig(backend="diffusers", model="m", dtype="float8"), "dtype"),
        (BackendConfig(batch_size=0), "batch_size"),
    ],
)
def test_bad_configs_name_the_field(config: BackendConfig, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        config.resolved()


def test_pixel_settings_ignore_batch_size_and_device_only() -> None:
    base = BackendConfig(width=64, height=64).resolved()
    same = BackendConfig(width=64, height=64, batch_size=8, device="cpu").resolved()
    other = BackendConfig(width=64, height=72).resolved()
    assert base.pixel_settings() == same.pixel_settings() != other.pixel_settings()


def test_create_backend_returns_the_named_backend() -> None:
    backend = create_backend(BackendConfig(width=32, height=32))
    assert type(backend).__name__ == "ProceduralBackend"
    assert backend.provenance()["backend"] == "procedural"


def test_bad_output_reason() -> None:
    black = Image.new("RGB", (16, 16))
    grey = Image.new("RGB", (16, 16), (128, 128, 128))
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), np.uint8))
    flagged = noise.copy()
    flagged.info[BAD_OUTPUT_KEY] = "non-finite values in 3 of 768 outputs"
    assert bad_output_reason(black) == "all black"
    assert "near-constant" in bad_output_reason(grey)
    assert bad_output_reason(noise) is None
    assert bad_output_reason(flagged).startswith("non-finite")


def test_derived_seeds_keep_the_first_and_differ_after() -> None:
    assert derive_seed(1234, 1) == 1234
    retries = {derive_seed(1234, k) for k in range(2, 6)}
    assert len(retries) == 4 and 1234 not in retries
    assert derive_seed(1234, 2) == derive_seed(1234, 2) < 2**32
