"""``clip_embedding``: the L2-normalised CLIP image embedding (transformers ``CLIPModel``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from gasr_hf.annotate.pixels import MapAnnotator, RowResults, annotate_rows, to_rgb
from gasr_hf.placement import cached, place, single_thread_in_forked_worker

logger = logging.getLogger(__name__)

DEFAULT_CLIP = "openai/clip-vit-large-patch14"
DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class ClipConfig:
    """A CLIP model: a Hub id (from the local cache when offline) or a local folder."""

    model: str = DEFAULT_CLIP
    revision: str | None = None
    batch_size: int = 32
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")


@dataclass(frozen=True)
class LoadedClip:
    model: Any
    processor: Any
    device: str


def load_clip(config: ClipConfig, device: str = "cpu") -> LoadedClip:
    """``CLIPModel`` and ``CLIPImageProcessor`` of ``config.model`` on ``device``, in eval mode."""
    import torch
    from transformers import CLIPImageProcessor, CLIPModel

    local = Path(config.model)
    if local.is_dir() and not (local / "config.json").is_file():
        raise FileNotFoundError(f"CLIP model folder {local} has no config.json (argument model)")
    try:
        model = CLIPModel.from_pretrained(config.model, revision=config.revision)
        processor = CLIPImageProcessor.from_pretrained(config.model, revision=config.revision)
    except OSError as err:
        raise FileNotFoundError(
            f"CLIP weights {config.model!r} not found: not a local folder with config.json and "
            f"weights, and not in the Hugging Face cache (downloads are off when HF_HUB_OFFLINE=1). "
            f"Pass a local folder or download the model first. ({str(err).splitlines()[0]})"
        ) from err
    model = model.to(device=device, dtype=getattr(torch, config.dtype)).eval()
    return LoadedClip(model=model, processor=processor, device=device)


def embed_images(loaded: LoadedClip, images: list[Image.Image], batch_size: int) -> np.ndarray:
    """L2-normalised image embeddings, float32, shape ``(len(images), projection_dim)``."""
    import torch

    model = loaded.model
    out = np.zeros((len(images), model.config.projection_dim), dtype=np.float32)
    dtype = next(model.parameters()).dtype
    for start in range(0, len(images), batch_size):
        chunk = [to_rgb(im) for im in images[start : start + batch_size]]
        pixels = loaded.processor(images=chunk, return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            pooled = model.vision_model(pixel_values=pixels.to(loaded.device, dtype)).pooler_output
            features = model.visual_projection(pooled).float()
            features = torch.nn.functional.normalize(features, dim=-1)
        out[start : start + len(chunk)] = features.cpu().numpy()
    return out


@dataclass(frozen=True)
class ClipEmbedding(MapAnnotator):
    """``datasets.map`` annotator adding ``clip_embedding``; the model loads once per process/device.

    Use with ``ds.map(ClipEmbedding(cfg), batched=True, with_rank=True, num_proc=n_gpus)``.
    """

    config: ClipConfig = ClipConfig()
    device: str | None = None
    image_column: str = "image"
    column: ClassVar[str] = "clip_embedding"

    def loaded(self, rank: int | None = None) -> LoadedClip:
        device = place(self.device, self.config.dtype, rank=rank).device
        if device == "cpu":
            single_thread_in_forked_worker()
        return cached(("clip", self.config, device), lambda: load_clip(self.config, device))

    def feature(self) -> Any:
        import datasets

        dim = self.loaded().model.config.projection_dim
        return datasets.List(datasets.Value("float32"), length=dim)

    def params(self) -> dict[str, Any]:
        from importlib.metadata import version

        config = self.loaded().model.config
        return {
            "model": self.config.model,
            "revision": self.config.revision,
            "commit": getattr(config, "_commit_hash", None),
            "projection_dim": config.projection_dim,
            "dtype": self.config.dtype,
            "normalised": "L2",
            "transformers": version("transformers"),
        }

    def compute(self, images: list[Image.Image], rank: int | None = None) -> list[list[float]]:
        return embed_images(self.loaded(rank), images, self.config.batch_size).tolist()

    def rows(self, images: Sequence[Image.Image | None], rank: int | None = None) -> RowResults:
        self.loaded(rank)  # loaded first: a model that fails to load fails the run, not the rows
        return annotate_rows(self.column, images, lambda batch: self.compute(batch, rank))
