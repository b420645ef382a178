"""The SR models this project trains, their published configurations, and ``build()``.

RCAN and HAT are spandrel's architecture classes; MambaIR-light is :mod:`.mambair_light`. Two
compact models train in minutes on a CPU, for experiments that must run there: ``compact``
(spandrel's SRVGGNetCompact, the Real-ESRGAN "compact" network, at 32 features x 8 convolutions)
and ``rcan-small`` (RCAN with 2 groups of 4 blocks at 32 features). Each :class:`ModelSpec` records
the init arguments of the published (or, for the compact models, the chosen) x4 model, so a model
is rebuilt from its name, scale and overrides alone, and spandrel loads every exported state dict.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

STATE_DICT_SUFFIXES = (".safetensors", ".pth", ".pt")
_WRAPPER_KEYS = ("params_ema", "params")  # BasicSR checkpoints; the EMA weights win, as in spandrel


@dataclass(frozen=True)
class ModelSpec:
    """A model family: how to build it, its published x4 configuration and a tiny one for tests."""

    name: str
    architecture: str
    """The spandrel architecture id that loads its checkpoints."""
    scale_arg: str
    """Name of the init argument that takes the upscaling factor."""
    published: Mapping[str, Any]
    """Init arguments of the published model, scale excluded."""
    tiny: Mapping[str, Any]
    """Overrides giving a model small enough for CPU tests and smoke runs."""
    params_x4: int
    """Parameter count of the published x4 model."""
    reference: str

    def init_args(self, scale: int = 4, **overrides: Any) -> dict[str, Any]:
        """The complete init arguments: published values, then ``overrides``, then ``scale``."""
        if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale!r}")
        known = set(inspect.signature(_model_class(self.name)).parameters) - {self.scale_arg}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"unknown {self.name} argument(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return {**self.published, **overrides, self.scale_arg: scale}


MODEL_CONFIGS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        "rcan": ModelSpec(
            name="rcan",
            architecture="RCAN",
            scale_arg="scale",
            published=MappingProxyType(
                {
                    "n_resgroups": 10,
                    "n_resblocks": 20,
                    "n_feats": 64,
                    "reduction": 16,
                    "rgb_range": 255,
                    "norm": True,
                }
            ),
            tiny=MappingProxyType(
                {"n_resgroups": 2, "n_resblocks": 2, "n_feats": 16, "reduction": 4}
            ),
            params_x4=15_592_379,
            reference="Zhang et al., Image Super-Resolution Using Very Deep Residual Channel "
            "Attention Networks, ECCV 2018 (RCAN_BIX4)",
        ),
        "hat": ModelSpec(
            name="hat",
            architecture="HAT",
            scale_arg="upscale",
            published=MappingProxyType(
                {
                    "img_size": 64,
                    "in_chans": 3,
                    "embed_dim": 180,
                    "depths": (6, 6, 6, 6, 6, 6),
                    "num_heads": (6, 6, 6, 6, 6, 6),
                    "window_size": 16,
                    "compress_ratio": 3,
                    "squeeze_factor": 30,
                    "conv_scale": 0.01,
                    "overlap_ratio": 0.5,
                    "mlp_ratio": 2.0,
                    "img_range": 1.0,
                    "upsampler": "pixelshuffle",
                    "resi_connection": "1conv",
                }
            ),
            tiny=MappingProxyType(
                {
                    "embed_dim": 30,
                    "depths": (2,),
                    "num_heads": (2,),
                    "window_size": 4,
                    "num_feat": 16,
                }
            ),
            params_x4=20_772_507,
            reference="Chen et al., Activating More Pixels in Image Super-Resolution Transformer, "
            "CVPR 2023 (HAT_SRx4)",
        ),
        "mambair-light": ModelSpec(
            name="mambair-light",
            architecture="MambaIRLight",
            scale_arg="upscale",
            published=MappingProxyType(
                {
                    "in_chans": 3,
                    "embed_dim": 60,
                    "depths": (6, 6, 6, 6),
                    "d_state": 10,
                    "mlp_ratio": 1.2,
                    "img_range": 1.0,
                }
            ),
            tiny=MappingProxyType(
                {"embed_dim": 30, "depths": (1, 2), "d_state": 4, "mlp_ratio": 1.2}
            ),
            params_x4=924_492,
            reference="Guo et al., MambaIR: A Simple Baseline for Image Restoration with "
            "State-Space Model, ECCV 2024 (MambaIR-light, upsampler pixelshuffledirect)",
        ),
        "compact": ModelSpec(
            name="compact",
            architecture="Compact",
            scale_arg="upscale",
            # PReLU is the only activation spandrel's loader rebuilds.
            published=MappingProxyType(
                {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 32, "num_conv": 8}
            ),
            tiny=MappingProxyType({"num_feat": 8, "num_conv": 2}),
            params_x4=89_040,
            reference="Wang et al., Real-ESRGAN, ICCVW 2021 (SRVGGNetCompact); CPU-sized here: "
            "32 features, 8 body convolutions",
        ),
        "rcan-small": ModelSpec(
            name="rcan-small",
            architecture="RCAN",
            scale_arg="scale",
            published=MappingProxyType(
                {
                    "n_resgroups": 2,
                    "n_resblocks": 4,
                    "n_feats": 32,
                    "reduction": 8,
                    "rgb_range": 255,
                    "norm": True,
                }
            ),
            tiny=MappingProxyType(
                {"n_resgroups": 1, "n_resblocks": 1, "n_feats": 16, "reduction": 4}
            ),
            params_x4=253_819,
            reference="Zhang et al., RCAN, ECCV 2018; CPU-sized here: 2 residual groups of 4 "
            "blocks at 32 features",
        ),
    }
)


def model_spec(name: str) -> ModelSpec:
    """The spec of ``name``; ``ValueError`` naming the known models otherwise."""
    try:
        return MODEL_CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_CONFIGS)}") from None


def tiny_config(name: str) -> dict[str, Any]:
    """Overrides for a tiny ``name`` model: ``build(name, **tiny_config(name))``."""
    return dict(model_spec(name).tiny)


def build(
    name: str, scale: int = 4, weights: str | Path | None = None, **overrides: Any
) -> torch.nn.Module:
    """Build model ``name`` (a key of :data:`MODEL_CONFIGS`) at ``scale``.

    Init arguments are the published configuration updated with ``overrides``. ``weights`` is a
    ``.safetensors`` or ``.pth`` file (a plain state dict, or a BasicSR checkpoint holding
    ``params_ema`` or ``params``), loaded with ``strict=True``.
    """
    spec = model_spec(name)
    args = spec.init_args(scale, **overrides)
    model = _model_class(name)(**args)
    if weights is not None:
        state_dict = load_state_dict(weights)
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as err:
            raise ValueError(f"weights {weights} do not fit {name} x{scale}: {err}") from err
        logger.info("loaded %s x%d weights from %s", name, scale, weights)
    return model


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or ``.pth``/``.pt`` (``torch.load`` with
    ``weights_only=True``), unwrapping BasicSR's ``params_ema``/``params``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path, device="cpu")
    if suffix not in STATE_DICT_SUFFIXES:
        raise ValueError(
            f"weights {path}: unsupported suffix {suffix!r}; use one of "
            f"{', '.join(STATE_DICT_SUFFIXES)}"
        )
    import torch

    loaded = torch.load(path, map_location="cpu", weights_only=True)
    for key in _WRAPPER_KEYS:
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if not isinstance(loaded, dict) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise ValueError(f"weights {path}: not a state dict of tensors")
    return loaded


def _model_class(name: str) -> Callable[..., torch.nn.Module]:
    if name in ("rcan", "rcan-small"):
        from gasr_hf.sr.models.rcan import RCAN

        return RCAN
    if name == "hat":
        from spandrel.architectures.HAT import HAT

        return HAT
    if name == "mambair-light":
        from gasr_hf.sr.models.mambair_light import MambaIRLight

        return MambaIRLight
    if name == "compact":
        from spandrel.architectures.Compact import Compact

        return Compact
    raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_CONFIGS)}")
