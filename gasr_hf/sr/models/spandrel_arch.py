"""MambaIR-light as a spandrel architecture, so ``spandrel.ModelLoader`` (and the tools built on it)
loads our checkpoints and the official release's.

spandrel 0.4 ships RCAN and HAT but no MambaIR. The detection keys below are those of the light
variant only: its convolutional block has six entries (``conv_blk.cab.5`` is the channel
attention) where classic MambaIR has four, and it upsamples in one step (no ``conv_last``).
"""

from __future__ import annotations

import math

from spandrel import (
    MAIN_REGISTRY,
    Architecture,
    ArchSupport,
    ImageModelDescriptor,
    StateDict,
)
from spandrel.util import KeyCondition, get_seq_len

from gasr_hf.sr.models.mambair_light import MambaIRLight

ARCH_ID = "MambaIRLight"
_BLOCK = "layers.0.residual_group.blocks.0"


class MambaIRLightArch(Architecture[MambaIRLight]):
    """Detects MambaIR-light state dicts and reads every init argument from their shapes."""

    def __init__(self) -> None:
        super().__init__(
            id=ARCH_ID,
            name="MambaIR-light",
            detect=KeyCondition.has_all(
                "conv_first.weight",
                "patch_embed.norm.weight",
                f"{_BLOCK}.skip_scale",
                f"{_BLOCK}.skip_scale2",
                f"{_BLOCK}.ln_1.weight",
                f"{_BLOCK}.self_attention.A_logs",
                f"{_BLOCK}.self_attention.x_proj_weight",
                f"{_BLOCK}.self_attention.in_proj.weight",
                f"{_BLOCK}.conv_blk.cab.4.weight",
                f"{_BLOCK}.conv_blk.cab.5.attention.1.weight",
                "layers.0.conv.weight",
                "norm.weight",
                "conv_after_body.weight",
                "upsample.0.weight",
            ),
        )

    def load(self, state_dict: StateDict) -> ImageModelDescriptor[MambaIRLight]:
        embed_dim, in_chans = state_dict["conv_first.weight"].shape[:2]
        depths = tuple(
            get_seq_len(state_dict, f"layers.{i}.residual_group.blocks")
            for i in range(get_seq_len(state_dict, "layers"))
        )
        d_state = state_dict[f"{_BLOCK}.self_attention.A_logs"].shape[1]
        d_inner = state_dict[f"{_BLOCK}.self_attention.in_proj.weight"].shape[0] // 2
        mlp_ratio = d_inner / embed_dim
        if int(embed_dim * mlp_ratio) != d_inner:  # the model takes int(embed_dim * mlp_ratio)
            mlp_ratio = (d_inner + 0.5) / embed_dim
        upscale = math.isqrt(state_dict["upsample.0.weight"].shape[0] // in_chans)
        model = MambaIRLight(
            upscale=upscale,
            in_chans=in_chans,
            embed_dim=embed_dim,
            depths=depths,
            d_state=d_state,
            mlp_ratio=mlp_ratio,
            img_range=1.0,  # not in the state dict; 1.0 in every released config
        )
        return ImageModelDescriptor(
            model,
            state_dict,
            architecture=self,
            purpose="SR" if upscale > 1 else "Restoration",
            tags=[f"{embed_dim}dim", f"{d_state}state", "x".join(map(str, depths))],
            supports_half=False,
            supports_bfloat16=True,
            scale=upscale,
            input_channels=in_chans,
            output_channels=in_chans,
        )


def register_spandrel() -> None:
    """Add MambaIR-light to spandrel's main registry; calling it again does nothing."""
    if ARCH_ID not in MAIN_REGISTRY:
        MAIN_REGISTRY.add(ArchSupport.from_architecture(MambaIRLightArch()), ignore_duplicates=True)
