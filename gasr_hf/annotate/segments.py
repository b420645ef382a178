"""``num_segments``: the number of masks segment-anything's ``SamAutomaticMaskGenerator`` finds.

The generator runs with segment-anything's own defaults unless overridden in ``SegmentConfig``; every
parameter, the architecture and the checkpoint's SHA-256 are recorded by ``NumSegments.params()``.
Masks are requested as uncompressed RLE, which leaves the count unchanged and avoids materialising
full-resolution masks.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from gasr_hf.annotate._models import file_sha256
from gasr_hf.annotate.pixels import MapAnnotator, RowResults, annotate_rows, to_rgb
from gasr_hf.placement import cached, place, single_thread_in_forked_worker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamArchitecture:
    """The shape of a SAM model; the presets are segment-anything's vit_h / vit_l / vit_b."""

    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: tuple[int, ...]
    image_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    prompt_embed_dim: int = 256
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_hidden_dim: int = 256


SAM_ARCHITECTURES: dict[str, SamArchitecture] = {
    "vit_h": SamArchitecture(1280, 32, 16, (7, 15, 23, 31)),
    "vit_l": SamArchitecture(1024, 24, 16, (5, 11, 17, 23)),
    "vit_b": SamArchitecture(768, 12, 12, (2, 5, 8, 11)),
}

TINY_SAM = SamArchitecture(
    encoder_embed_dim=16,
    encoder_depth=2,
    encoder_num_heads=2,
    encoder_global_attn_indexes=(1,),
    image_size=64,
    window_size=2,
    prompt_embed_dim=32,
    decoder_depth=1,
    decoder_mlp_dim=64,
    decoder_num_heads=2,
    iou_head_hidden_dim=16,
)
"""A tiny shape (random weights only) that runs the annotator's full code path in tests and CPU
benchmarks; pass it as ``SegmentConfig(architecture=TINY_SAM)``."""


@dataclass(frozen=True)
class SegmentConfig:
    """SAM checkpoint, architecture and ``SamAutomaticMaskGenerator`` parameters (its defaults).

    ``architecture`` overrides ``model_type`` for checkpoints of another shape (tests use a tiny one).
    """

    checkpoint: str
    model_type: str = "vit_h"
    architecture: SamArchitecture | None = None
    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    crop_nms_thresh: float = 0.7
    crop_overlap_ratio: float = 512 / 1500
    crop_n_points_downscale_factor: int = 1
    min_mask_region_area: int = 0

    def __post_init__(self) -> None:
        if self.architecture is None and self.model_type not in SAM_ARCHITECTURES:
            raise ValueError(
                f"model_type must be one of {', '.join(SAM_ARCHITECTURES)}, got {self.model_type!r}"
            )
        if self.points_per_side < 1:
            raise ValueError(f"points_per_side must be >= 1, got {self.points_per_side}")

    @property
    def resolved_architecture(self) -> SamArchitecture:
        return self.architecture or SAM_ARCHITECTURES[self.model_type]

    def generator_kwargs(self) -> dict[str, Any]:
        skip = {"checkpoint", "model_type", "architecture"}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip
        }


def segment_config(
    checkpoint: str, model_type: str = "vit_h", overrides: Sequence[str] = ()
) -> SegmentConfig:
    """A ``SegmentConfig`` from command-line ``KEY=VALUE`` overrides of the generator parameters."""
    base = SegmentConfig(checkpoint=checkpoint, model_type=model_type)
    defaults = base.generator_kwargs()
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or key not in defaults:
            raise ValueError(
                f"SAM override {item!r}: expected KEY=VALUE with KEY one of {', '.join(defaults)}"
            )
        kind = type(defaults[key])
        try:
            changes[key] = kind(text)
        except ValueError as err:
            raise ValueError(f"SAM override {item!r}: {key} takes a {kind.__name__}") from err
    return dataclasses.replace(base, **changes)


def build_sam(architecture: SamArchitecture) -> Any:
    """An untrained ``segment_anything.modeling.Sam`` of the given shape, in eval mode."""
    # segment-anything's own builder fixes image size and decoder width; this one takes them as fields.
    from functools import partial

    import torch
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    arch = architecture
    grid = arch.image_size // arch.patch_size
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=arch.encoder_depth,
            embed_dim=arch.encoder_embed_dim,
            img_size=arch.image_size,
            mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=arch.encoder_num_heads,
            patch_size=arch.patch_size,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=arch.encoder_global_attn_indexes,
            window_size=arch.window_size,
            out_chans=arch.prompt_embed_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=arch.prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(arch.image_size, arch.image_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=arch.decoder_depth,
                embedding_dim=arch.prompt_embed_dim,
                mlp_dim=arch.decoder_mlp_dim,
                num_heads=arch.decoder_num_heads,
            ),
            transformer_dim=arch.prompt_embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=arch.iou_head_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


def load_sam(checkpoint: str | Path, architecture: SamArchitecture, device: str = "cpu") -> Any:
    """A SAM model with the weights of ``checkpoint`` (a ``torch.save``'d state dict), on ``device``."""
    import torch

    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(
            f"SAM checkpoint not found: checkpoint={str(path)!r}; download it (for vit_h: "
            "sam_vit_h_4b8939.pth from the segment-anything release) and pass its path"
        )
    # A corrupt file makes torch.load raise almost anything (RuntimeError from the zip reader,
    # KeyError, IndexError, EOFError, UnpicklingError), hence the broad catch.
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        first = (str(err).splitlines() or [""])[0]
        raise ValueError(
            f"SAM checkpoint {path} is not a readable torch state dict (corrupt or truncated?): "
            f"{type(err).__name__}: {first}"
        ) from err
    if not isinstance(state, dict):
        raise ValueError(f"SAM checkpoint {path} holds a {type(state).__name__}, not a state dict")
    sam = build_sam(architecture)
    try:
        sam.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ValueError(
            f"SAM checkpoint {path} does not fit architecture {architecture}: {first}"
        ) from err
    return sam.to(device)


def _generator(config: SegmentConfig, device: str) -> Any:
    from segment_anything import SamAutomaticMaskGenerator

    sam = load_sam(config.checkpoint, config.resolved_architecture, device)
    return SamAutomaticMaskGenerator(
        sam, output_mode="uncompressed_rle", **config.generator_kwargs()
    )


def count_segments(generator: Any, image: Image.Image) -> int:
    """Number of masks ``generator`` (a ``SamAutomaticMaskGenerator``) returns for ``image``."""
    return len(generator.generate(np.asarray(to_rgb(image))))


@dataclass(frozen=True)
class NumSegments(MapAnnotator):
    """``datasets.map`` annotator adding ``num_segments``; the model loads once per process/device.

    Use with ``ds.map(NumSegments(cfg), batched=True, with_rank=True, num_proc=n_gpus)``: rank ``r``
    runs on ``cuda:{r % n_gpus}`` (or on ``device`` when given, or on the CPU without CUDA).
    """

    config: SegmentConfig
    device: str | None = None
    image_column: str = "image"
    column: ClassVar[str] = "num_segments"

    def feature(self) -> Any:
        import datasets

        return datasets.Value("int32")

    def params(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "checkpoint": Path(self.config.checkpoint).name,
            "checkpoint_sha256": file_sha256(self.config.checkpoint),
            "model_type": "custom" if self.config.architecture else self.config.model_type,
            "architecture": dataclasses.asdict(self.config.resolved_architecture),
            "generator": {**self.config.generator_kwargs(), "output_mode": "uncompressed_rle"},
            "segment_anything": version("segment-anything"),
        }

    def generator(self, rank: int | None = None) -> Any:
        device = place(self.device, rank=rank).device
        if device == "cpu":
            single_thread_in_forked_worker()
        return cached(("sam", self.config, device), lambda: _generator(self.config, device))

    def compute(self, images: list[Image.Image], rank: int | None = None) -> list[int]:
        generator = self.generator(rank)
        return [count_segments(generator, image) for image in images]

    def rows(self, images: Sequence[Image.Image | None], rank: int | None = None) -> RowResults:
        self.generator(rank)  # loaded first: a model that fails to load fails the run, not the rows
        return annotate_rows(self.column, images, lambda batch: self.compute(batch, rank))
