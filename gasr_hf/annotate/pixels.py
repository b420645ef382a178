"""Image access and per-row error handling shared by the annotators, and the ``num_pixels`` annotator.

Every annotator computes its column through ``annotate_rows``, both when ``gasr annotate`` runs it and
when it is a ``datasets.map`` function: a row whose image cannot be decoded, or on which the annotator
raises, gets ``None`` and an error message; the other rows of the batch keep their values.
"""

from __future__ import annotations

import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

logger = logging.getLogger(__name__)

DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


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


@dataclass(frozen=True)
class RowResults:
    """One annotator's values for a batch of rows, and per row the error that nulled it (or None)."""

    values: list[Any]
    errors: list[str | None]


def decode_images(
    values: Sequence[Any], *, load_pixels: bool = True
) -> tuple[list[Image.Image | None], list[str | None]]:
    """Open every image of a batch; an undecodable one gives ``None`` and a ``decode:`` error.

    With ``load_pixels`` the pixel data is decoded too, so a truncated file fails here.
    """
    images: list[Image.Image | None] = []
    errors: list[str | None] = []
    for value in values:
        try:
            image = load_image(value)
            if load_pixels:
                image.load()
        except DECODE_ERRORS as err:
            images.append(None)
            errors.append(f"decode: {type(err).__name__}: {err}")
            continue
        images.append(image)
        errors.append(None)
    return images, errors


def _checked(column: str, values: Sequence[Any], expected: int) -> list[Any]:
    values = list(values)
    if len(values) != expected:
        raise ValueError(
            f"annotator {column!r} returned {len(values)} values for {expected} images"
        )
    return values


def annotate_rows(
    column: str,
    images: Sequence[Image.Image | None],
    compute: Callable[[list[Image.Image]], Sequence[Any]],
) -> RowResults:
    """``compute`` over the batch's images (``None``: not decodable, stays ``None``).

    The batch is computed at once; if that raises, each image is computed alone so that only the
    images that raise get ``None`` and an error. An annotator that returns a different number of
    values than it was given images raises ``ValueError``: its values could not be matched to rows.
    """
    present = [i for i, image in enumerate(images) if image is not None]
    values: list[Any] = [None] * len(images)
    errors: list[str | None] = [None] * len(images)
    if not present:
        return RowResults(values, errors)
    batch = [images[i] for i in present]
    # An annotator may raise anything on one image (a mode it cannot convert, a model error), so the
    # catch is broad; the batch is then retried image by image to tie each error to its row.
    try:
        computed = compute(batch)
    except Exception:
        logger.debug("%s: batch of %d raised; computing image by image", column, len(batch))
    else:
        for i, value in zip(present, _checked(column, computed, len(batch)), strict=True):
            values[i] = value
        return RowResults(values, errors)
    for i in present:
        try:
            single = compute([images[i]])
        except Exception as err:
            errors[i] = f"{column}: {type(err).__name__}: {err}"
            continue
        (values[i],) = _checked(column, single, 1)
    return RowResults(values, errors)


def _describe(value: Any, index: int) -> str:
    if isinstance(value, dict) and value.get("path"):
        return str(value["path"])
    if isinstance(value, (str, Path)):
        return str(value)
    return f"batch row {index}"


class MapAnnotator(ABC):
    """The ``datasets.map`` entry point shared by the annotators, which define ``rows``.

    Rows that fail get ``None`` in the column and a warning naming the image.
    """

    column: ClassVar[str]
    image_column: str
    load_pixels: ClassVar[bool] = True
    """Whether ``__call__`` decodes the pixels before ``rows`` (``num_pixels`` reads the header)."""

    @abstractmethod
    def rows(self, images: Sequence[Image.Image | None], rank: int | None = None) -> RowResults:
        """The column's values for a batch of opened images (``None``: not decodable)."""

    def __call__(self, batch: dict[str, list], rank: int | None = None) -> dict[str, list]:
        raw = batch[self.image_column]
        images, decode_errors = decode_images(raw, load_pixels=self.load_pixels)
        result = self.rows(images, rank)
        for index, (value, decode_error, error) in enumerate(
            zip(raw, decode_errors, result.errors, strict=True)
        ):
            if decode_error or error:
                logger.warning(
                    "%s: %s is null: %s",
                    self.column,
                    _describe(value, index),
                    decode_error or error,
                )
        return {self.column: result.values}


def num_pixels(image: Image.Image) -> int:
    """Width times height."""
    width, height = image.size
    return width * height


@dataclass(frozen=True)
class NumPixels(MapAnnotator):
    """``datasets.map`` annotator adding ``num_pixels`` (only the image header is read)."""

    image_column: str = "image"
    column: ClassVar[str] = "num_pixels"
    load_pixels: ClassVar[bool] = False

    def feature(self) -> Any:
        import datasets

        return datasets.Value("int64")

    def params(self) -> dict[str, Any]:
        return {}

    def compute(self, images: list[Image.Image]) -> list[int]:
        return [num_pixels(image) for image in images]

    def rows(self, images: Sequence[Image.Image | None], rank: int | None = None) -> RowResults:
        return annotate_rows(self.column, images, self.compute)
