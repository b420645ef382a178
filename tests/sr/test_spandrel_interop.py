"""Checkpoints of our models load through spandrel, MambaIR-light by our registration."""

from __future__ import annotations

import pytest
import spandrel
import torch
from safetensors.torch import save_file

from gasr_hf.sr.models import MODEL_CONFIGS, build, register_spandrel, tiny_config
from gasr_hf.sr.models.spandrel_arch import ARCH_ID

ARCH_IDS = {
    "rcan": "RCAN",
    "hat": "HAT",
    "mambair-light": ARCH_ID,
    "compact": "Compact",
    "rcan-small": "RCAN",
}


def save(state: dict[str, torch.Tensor], path, wrap: str | None = None) -> None:
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    else:
        torch.save({wrap: state} if wrap else state, path)


def test_register_spandrel_is_idempotent():
    register_spandrel()
    size = len(spandrel.MAIN_REGISTRY)
    register_spandrel()
    assert len(spandrel.MAIN_REGISTRY) == size
    assert ARCH_ID in spandrel.MAIN_REGISTRY


@pytest.mark.parametrize("name", list(ARCH_IDS))
@pytest.mark.parametrize(
    ("filename", "wrap"),
    [("model.safetensors", None), ("model.pth", None), ("net_g.pth", "params_ema")],
)
def test_tiny_checkpoints_reload_through_spandrel(tmp_path, name, filename, wrap):
    assert set(ARCH_IDS) == set(MODEL_CONFIGS)
    torch.manual_seed(0)
    model = build(name, **tiny_config(name)).eval()
    path = tmp_path / filename
    save(model.state_dict(), path, wrap)

    descriptor = spandrel.ModelLoader().load_from_file(path)
    assert descriptor.architecture.id == ARCH_IDS[name] == MODEL_CONFIGS[name].architecture
    assert descriptor.scale == 4
    x = torch.rand(1, 3, 16, 16)  # spandrel pads HAT inputs smaller than 16
    with torch.no_grad():
        expected = model(x).clamp(0, 1)
    # the descriptor call is what spandrel's users run: eval mode, output clamped to [0, 1]
    torch.testing.assert_close(descriptor(x.clone()), expected, rtol=0, atol=0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"upscale": 2, "embed_dim": 30, "depths": (2,), "d_state": 3, "mlp_ratio": 1.5},
        {"upscale": 3, "embed_dim": 36, "depths": (1, 1, 1), "d_state": 5, "mlp_ratio": 2.0},
        {
            "upscale": 4,
            "in_chans": 1,
            "embed_dim": 40,
            "depths": (1,),
            "d_state": 2,
            "mlp_ratio": 1.1,
        },
    ],
)
def test_mambair_light_hyperparameters_are_read_from_the_state_dict(overrides):
    scale = overrides.pop("upscale")
    model = build("mambair-light", scale=scale, **overrides).eval()
    descriptor = spandrel.ModelLoader().load_from_state_dict(model.state_dict())
    assert descriptor.scale == scale
    assert descriptor.input_channels == descriptor.output_channels == overrides.get("in_chans", 3)
    assert descriptor.model.hyperparameters["depths"] == overrides["depths"]
    assert descriptor.model.hyperparameters["d_state"] == overrides["d_state"]
    x = torch.rand(1, overrides.get("in_chans", 3), 6, 7)
    with torch.no_grad():
        expected = model(x).clamp(0, 1)
    torch.testing.assert_close(descriptor(x), expected, rtol=0, atol=0)


def test_full_size_mambair_light_checkpoint_is_detected_with_published_config():
    state = build("mambair-light").state_dict()
    detected = [a.architecture.id for a in spandrel.MAIN_REGISTRY if a.detect(state)]
    assert detected == [ARCH_ID]
    descriptor = spandrel.ModelLoader().load_from_state_dict({"params_ema": state})
    params = descriptor.model.hyperparameters
    assert (params["embed_dim"], params["depths"], params["d_state"]) == (60, (6, 6, 6, 6), 10)
    assert int(params["embed_dim"] * params["mlp_ratio"]) == 72
    assert descriptor.scale == 4


@pytest.mark.parametrize("name", ["compact", "rcan-small"])
def test_cpu_sized_models_reload_through_spandrel_at_their_full_size(tmp_path, name):
    torch.manual_seed(0)
    model = build(name).eval()
    save(model.state_dict(), tmp_path / "model.safetensors")
    descriptor = spandrel.ModelLoader().load_from_file(tmp_path / "model.safetensors")
    assert descriptor.architecture.id == MODEL_CONFIGS[name].architecture
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        expected = model(x).clamp(0, 1)
    torch.testing.assert_close(descriptor(x.clone()), expected, rtol=0, atol=0)
