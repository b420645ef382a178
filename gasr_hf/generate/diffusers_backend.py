"""The diffusers backend: any text-to-image pipeline, by Hub id or local folder."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gasr_hf.generate.backend import BAD_OUTPUT_KEY, Backend, BackendConfig, library_versions
from gasr_hf.placement import place

logger = logging.getLogger(__name__)

_COMMIT = re.compile(r"snapshots[/\\]([0-9a-f]{40})(?:[/\\]|$)")


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def _snapshot_commit(path: str | Path) -> str | None:
    """The commit hash of a Hugging Face cache snapshot folder, from its path."""
    match = _COMMIT.search(str(Path(path).resolve()))
    return match.group(1) if match else None


class DiffusersBackend(Backend):
    """Renders with a diffusers text-to-image pipeline loaded once, on the first batch.

    A Hub model is pinned to one commit, resolved before any weights load: online the commit that
    ``revision`` (or ``main``) names on the Hub now, offline (or when the Hub cannot be reached) the
    one the local cache holds for it. Every image of a run, resumes included, comes from that
    commit: the runner stores it in each chunk marker and refuses a resume that resolves to another.
    """

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        self._pipe: Any = None
        self._location: tuple[str, str | None] | None = None

    @property
    def pipeline(self) -> Any:
        self.prepare()
        return self._pipe

    def prepare(self) -> None:
        if self._pipe is None:
            self._pipe = self._load()

    def model_identity(self) -> dict[str, str | None]:
        _, commit = self._resolved()
        return {"model": str(self.config.model), "model_revision": commit}

    def _resolved(self) -> tuple[str, str | None]:
        if self._location is None:
            self._location = self._resolve_location()
        return self._location

    def _resolve_location(self) -> tuple[str, str | None]:
        """``(what to pass to from_pretrained, commit hash if known)``; clear errors when absent."""
        model = str(self.config.model)
        local = Path(model).expanduser()
        if local.is_dir():
            if not (local / "model_index.json").is_file():
                raise FileNotFoundError(
                    f"model folder {local} has no model_index.json; "
                    "pass a folder written by DiffusionPipeline.save_pretrained"
                )
            return str(local), _snapshot_commit(local)
        if _looks_like_path(model):
            raise FileNotFoundError(f"model folder not found: {model}")
        from huggingface_hub import constants, try_to_load_from_cache

        revision = self.config.revision
        if not constants.HF_HUB_OFFLINE:
            commit = self._hub_commit(model)
            if commit is not None:
                return model, commit
        cached = try_to_load_from_cache(model, "model_index.json", revision=revision)
        if isinstance(cached, str):
            return model, _snapshot_commit(Path(cached).parent)
        if constants.HF_HUB_OFFLINE:
            raise FileNotFoundError(
                f"weights for model {model!r} are not in the Hugging Face cache and HF_HUB_OFFLINE "
                "is set; download them first (huggingface-cli download) or pass a local path with "
                "--model"
            )
        raise FileNotFoundError(
            f"model {model!r}: the Hub could not be reached and its weights are not in the "
            "Hugging Face cache; retry online or pass a local path with --model"
        )

    def _hub_commit(self, model: str) -> str | None:
        """The commit ``revision`` names on the Hub now; ``None`` when the Hub is unreachable."""
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

        try:
            return HfApi().model_info(model, revision=self.config.revision).sha
        except RevisionNotFoundError as err:
            raise ValueError(
                f"revision {self.config.revision!r} of model {model!r} is not on the Hub: {err}"
            ) from err
        except RepositoryNotFoundError as err:
            raise FileNotFoundError(
                f"model {model!r} is not on the Hub or needs a token and an accepted licence: {err}"
            ) from err
        except Exception as err:  # a network failure of any kind falls back to the local cache
            logger.warning("could not ask the Hub for %s (%r); using the local cache", model, err)
            return None

    def _load(self) -> Any:
        import torch
        from diffusers import AutoPipelineForText2Image, DiffusionPipeline

        location, commit = self._resolved()
        dtype = getattr(torch, str(self.config.dtype))
        kwargs: dict[str, Any] = {"dtype": dtype}
        if commit is not None and not Path(location).is_dir():
            kwargs["revision"] = commit
        logger.info(
            "loading %s (revision %s, %s) on %s",
            location,
            commit,
            self.config.dtype,
            self._device(),
        )
        try:
            try:
                pipe = AutoPipelineForText2Image.from_pretrained(location, **kwargs)
            except ValueError as err:
                # Pipelines outside AutoPipeline's text-to-image mapping still load generically.
                logger.info("AutoPipelineForText2Image: %s; using DiffusionPipeline", err)
                pipe = DiffusionPipeline.from_pretrained(location, **kwargs)
        except OSError as err:
            raise FileNotFoundError(
                f"could not load weights for model {location!r}: {err}. Offline, pass a local "
                "path (a folder written by save_pretrained) with --model"
            ) from err
        pipe = pipe.to(self._device())
        pipe.set_progress_bar_config(disable=True)
        denoiser_name = "transformer" if getattr(pipe, "transformer", None) is not None else "unet"
        denoiser = getattr(pipe, denoiser_name, None)
        if self.config.first_block_cache is not None:
            if denoiser is None or not hasattr(denoiser, "enable_cache"):
                raise ValueError(
                    f"first_block_cache: {type(pipe).__name__} has no denoiser with enable_cache"
                )
            from diffusers.hooks import FirstBlockCacheConfig

            denoiser.enable_cache(FirstBlockCacheConfig(threshold=self.config.first_block_cache))
        if self.config.compile:
            if denoiser is None:
                raise ValueError(f"compile: {type(pipe).__name__} has no transformer or unet")
            setattr(pipe, denoiser_name, torch.compile(denoiser))
        return pipe

    def _device(self) -> str:
        return place(self.config.device, self.config.dtype).device

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Image.Image]:
        import torch

        pipe = self.pipeline
        # CPU generators give the same initial noise on any accelerator.
        generators = [torch.Generator("cpu").manual_seed(int(row["seed"])) for row in rows]
        out = pipe(
            prompt=[str(row["prompt"]) for row in rows],
            height=self.config.height,
            width=self.config.width,
            num_inference_steps=self.config.steps,
            guidance_scale=self.config.guidance,
            generator=generators,
            output_type="np",
        )
        images = []
        for array in np.asarray(out.images, dtype=np.float32):
            finite = np.isfinite(array)
            pixels = (np.clip(np.where(finite, array, 0.0), 0, 1) * 255).round().astype(np.uint8)
            image = Image.fromarray(pixels, "RGB")
            if not finite.all():
                image.info[BAD_OUTPUT_KEY] = (
                    f"non-finite values in {int((~finite).sum())} of {array.size} outputs"
                )
            images.append(image)
        return images

    def provenance(self) -> dict[str, Any]:
        pipe = self.pipeline
        return {
            "backend": "diffusers",
            **self.model_identity(),
            "scheduler": type(pipe.scheduler).__name__,
            "steps": self.config.steps,
            "guidance": self.config.guidance,
            "dtype": self.config.dtype,
            "library_versions": library_versions("diffusers", "transformers", "torch"),
        }
