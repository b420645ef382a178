"""build(): published configurations, tiny models, weights loading, MambaIR-light's key layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from gasr_hf.sr.models import MODEL_CONFIGS, build, load_state_dict, tiny_config

NAMES = ["rcan", "hat", "mambair-light", "compact", "rcan-small"]
KEYS_FILE = Path(__file__).with_name("mambair_light_keys.txt")


def tiny(name: str, scale: int = 4, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build(name, scale=scale, **tiny_config(name)).eval()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rcan", 15_592_379),
        ("hat", 20_772_507),
        ("mambair-light", 924_492),
        ("compact", 89_040),
        ("rcan-small", 253_819),
    ],
)
def test_published_x4_parameter_counts(name, expected):
    model = build(name, scale=4)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert MODEL_CONFIGS[name].params_x4 == expected


def test_mambair_light_keys_and_shapes_match_the_official_release():
    recorded = {}
    for line in KEYS_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, shape = line.split()
            recorded[key] = tuple(int(n) for n in shape.split("x"))
    state = build("mambair-light").state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == recorded


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", [2, 4])
def test_tiny_models_forward_and_backward(name, scale):
    model = tiny(name, scale).train()
    x = torch.rand(2, 3, 12, 10)
    y = model(x)
    assert y.shape == (2, 3, 12 * scale, 10 * scale)
    y.abs().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_rcan_leaves_the_callers_tensor_untouched():
    model = tiny("rcan")
    x = torch.rand(1, 3, 8, 8)
    before = x.clone()
    with torch.no_grad():
        model(x)
    torch.testing.assert_close(x, before, rtol=0, atol=0)


def test_mambair_light_runs_under_bf16_autocast():
    model = tiny("mambair-light")
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        reference = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = model(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.float(), reference, rtol=0.1, atol=0.1)


def test_mambair_light_drops_paths_in_training_only():
    model = build("mambair-light", drop_path_rate=0.9, **tiny_config("mambair-light")).eval()
    x = torch.rand(4, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
        model.train()
        torch.manual_seed(1)
        first = model(x)
        torch.manual_seed(2)
        assert not torch.equal(first, model(x))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_build_loads_weights_strictly(tmp_path, name, suffix):
    source = tiny(name, seed=1)
    state = source.state_dict()
    path = tmp_path / f"weights{suffix}"
    if suffix == ".pth":
        # a BasicSR checkpoint: the EMA weights are the ones to load
        decoy = tiny(name, seed=2).state_dict()
        torch.save({"params": decoy, "params_ema": state}, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    loaded = build(name, weights=path, **tiny_config(name)).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), source(x), rtol=0, atol=0)


def test_build_rejects_weights_of_another_shape(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"params": tiny("mambair-light").state_dict()}, path)
    with pytest.raises(ValueError, match=r"other\.pth do not fit mambair-light x4"):
        build("mambair-light", weights=path)


def test_load_state_dict_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_state_dict(tmp_path / "missing.pth")
    bad_suffix = tmp_path / "weights.bin"
    bad_suffix.write_bytes(b"")
    with pytest.raises(ValueError, match=r"unsupported suffix '\.bin'"):
        load_state_dict(bad_suffix)
    not_tensors = tmp_path / "config.pth"
    torch.save({"lr": 1e-4}, not_tensors)
    with pytest.raises(ValueError, match="not a state dict of tensors"):
        load_state_dict(not_tensors)


def test_build_validates_its_arguments():
    with pytest.raises(ValueError, match="unknown model 'swinir'; known: rcan, hat, mambair-light"):
        build("swinir")
    with pytest.raises(ValueError, match="scale must be a positive integer, got 0"):
        build("rcan", scale=0)
    with pytest.raises(ValueError, match="unknown mambair-light argument.*embed_dims"):
        build("mambair-light", embed_dims=30)
    with pytest.raises(ValueError, match="embed_dim must be at least 30"):
        build("mambair-light", embed_dim=16)


def test_init_args_record_published_config_overrides_and_scale():
    args = MODEL_CONFIGS["hat"].init_args(3, window_size=8)
    assert args["upscale"] == 3
    assert args["window_size"] == 8
    assert args["embed_dim"] == 180
    tiny_args = MODEL_CONFIGS["mambair-light"].init_args(2, **tiny_config("mambair-light"))
    model = build("mambair-light", scale=2, **tiny_config("mambair-light"))
    assert tiny_args.items() <= model.hyperparameters.items()
