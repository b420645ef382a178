"""Offline complexity measures: how much an image holds that x4 SR must restore, without model weights.

- ``fz_segments``: the number of Felzenszwalb-Huttenlocher segments (scikit-image) of the image area-resized
  to 512 pixels wide, at fixed settings (scale 100, sigma 0.8, min_size 50): a classical stand-in for
  the paper's SAM segment count, comparable across datasets of any resolution.
- ``png_bpp``: bits per pixel of the RGB image as a PNG at zlib level 6: how little of it is
  predictable from its neighbours (flat fills compress to almost nothing, grain and texture do not).
- ``hf_energy``: the root-mean-square difference, in gray levels of Y (BT.601), between the image and
  its x4 bicubic round trip (down, then up): the detail that x4 bicubic LR loses.

Each is a ``datasets.map`` annotator like ``blockiness`` (:class:`gasr_hf.annotate.pixels.MapAnnotator`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from gasr_hf.annotate.pixels import MapAnnotator, RowResults, annotate_rows, to_rgb

__all__ = [
    "FZ_SETTINGS",
    "FzSegments",
    "HfEnergy",
    "PngBpp",
    "fz_segments",
    "hf_energy",
    "png_bpp",
]

FZ_WIDTH = 512
FZ_SETTINGS = {"scale": 100.0, "sigma": 0.8, "min_size": 50}
PNG_LEVEL = 6
HF_SCALE = 4
_Y = np.array([65.481, 128.553, 24.966]) / 255.0


def fz_segments(image: Image.Image) -> int:
    """Felzenszwalb segments of ``image`` at :data:`FZ_WIDTH` pixels wide and :data:`FZ_SETTINGS`."""
    from skimage.segmentation import felzenszwalb

    rgb = to_rgb(image)
    width, height = rgb.size
    size = (FZ_WIDTH, max(1, round(height * FZ_WIDTH / width)))
    # Area averaging (no overshoot, which would add thin segments along every edge).
    resized = np.asarray(rgb.resize(size, Image.Resampling.BOX))
    labels = felzenszwalb(resized, **FZ_SETTINGS)
    return int(labels.max()) + 1


def png_bpp(image: Image.Image) -> float:
    """Bits per pixel of the 8-bit RGB image encoded as PNG at zlib level :data:`PNG_LEVEL`."""
    rgb = to_rgb(image)
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG", compress_level=PNG_LEVEL)
    width, height = rgb.size
    return 8.0 * buffer.tell() / (width * height)


def hf_energy(image: Image.Image) -> float:
    """RMS of Y minus its x4 bicubic round trip (gray levels), computed in float on the Y plane with
    Pillow's antialiased bicubic (the kernel of MATLAB's, a = -0.5); the image is cropped to a
    multiple of 4. NaN for images under 16 pixels a side."""
    rgb = np.asarray(to_rgb(image), dtype=np.float64)
    h, w = rgb.shape[:2]
    h, w = h - h % HF_SCALE, w - w % HF_SCALE
    if min(h, w) < 4 * HF_SCALE:
        return float("nan")
    y = Image.fromarray((rgb[:h, :w] @ _Y).astype(np.float32), mode="F")
    small = y.resize((w // HF_SCALE, h // HF_SCALE), Image.Resampling.BICUBIC)
    back = np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float64)
    return float(np.sqrt(np.mean((np.asarray(y, dtype=np.float64) - back) ** 2)))


@dataclass(frozen=True)
class _Measure(MapAnnotator):
    image_column: str = "image"
    dtype: ClassVar[str] = "float64"

    def feature(self) -> Any:
        import datasets

        return datasets.Value(self.dtype)

    def measure(self, image: Image.Image) -> Any:
        raise NotImplementedError

    def compute(self, images: list[Image.Image]) -> list[Any]:
        return [self.measure(image) for image in images]

    def rows(self, images: Sequence[Image.Image | None], rank: int | None = None) -> RowResults:
        return annotate_rows(self.column, images, self.compute)


@dataclass(frozen=True)
class FzSegments(_Measure):
    """``datasets.map`` annotator adding ``fz_segments``."""

    column: ClassVar[str] = "fz_segments"
    dtype: ClassVar[str] = "int64"

    def params(self) -> dict[str, Any]:
        return {"method": "skimage felzenszwalb", "width": FZ_WIDTH, **FZ_SETTINGS}

    def measure(self, image: Image.Image) -> int:
        return fz_segments(image)


@dataclass(frozen=True)
class PngBpp(_Measure):
    """``datasets.map`` annotator adding ``png_bpp``."""

    column: ClassVar[str] = "png_bpp"

    def params(self) -> dict[str, Any]:
        return {"format": "PNG RGB", "zlib_level": PNG_LEVEL}

    def measure(self, image: Image.Image) -> float:
        return png_bpp(image)


@dataclass(frozen=True)
class HfEnergy(_Measure):
    """``datasets.map`` annotator adding ``hf_energy``."""

    column: ClassVar[str] = "hf_energy"

    def params(self) -> dict[str, Any]:
        return {"measure": "RMS of Y - bicubic round trip", "scale": HF_SCALE}

    def measure(self, image: Image.Image) -> float:
        return hf_energy(image)
