"""Image access shared by the annotators, and the ``num_pixels`` annotator."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image


def load_image(value: Any) -> Image.Image:
    """A PIL image from what a dataset's image column holds.

    Accepts a decoded ``PIL.Image.Image``, an undecoded ``{"bytes": ..., "path": ...}`` dict (an
    ``Image(decode=False)`` column), raw bytes, or a file path. The pixels are decoded lazily.
    """
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            return Image.open(io.BytesIO(value["bytes"]))
        if value.get("path"):
            return Image.open(value["path"])
        raise ValueError(f"image value has neither bytes nor path: keys {sorted(value)}")
    if isinstance(value, (bytes, bytearray)):
        return Image.open(io.BytesIO(value))
    if isinstance(value, (str, Path)):
        return Image.open(value)
    raise ValueError(f"cannot read an image from a value of type {type(value).__name__}")


def to_rgb(image: Image.Image) -> Image.Image:
    """The image as 8-bit RGB; high-bit-depth modes are refused rather than clipped."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        raise ValueError(
            f"image mode {image.mode!r} is not 8-bit; ingest converts 16-bit images to 8-bit RGB"
        )
    return image.convert("RGB")


def num_pixels(image: Image.Image) -> int:
    """Width times height."""
    width, height = image.size
    return width * height


@dataclass(frozen=True)
class NumPixels:
    """``datasets.map`` annotator adding ``num_pixels`` (only the image header is read)."""

    image_column: str = "image"
    column: ClassVar[str] = "num_pixels"

    def feature(self) -> Any:
        import datasets

        return datasets.Value("int64")

    def params(self) -> dict[str, Any]:
        return {}

    def compute(self, images: list[Image.Image]) -> list[int]:
        return [num_pixels(image) for image in images]

    def __call__(self, batch: dict[str, list], rank: int | None = None) -> dict[str, list]:
        return {self.column: self.compute([load_image(v) for v in batch[self.image_column]])}
