"""Turn a folder of image files into a Parquet dataset (``image``, ``file_name``, ``width``, ``height``,
``source``, ``format``, ``conversion``), through the shared resumable shard runner.

Policy for every kind of input (``conversion`` names what was done; ``"none"`` means the stored
bytes are the file's own bytes):

===================================  ==============================================================
input                                policy
===================================  ==============================================================
8-bit RGB or grayscale PNG / JPEG    stored as the file's own bytes (a JPEG is never re-encoded;
                                     grayscale stays grayscale)
EXIF orientation 2-8                 pixels transposed upright, stored as RGB PNG
                                     (``exif_orientation_N``); width/height are the upright ones
16-bit (PNG, TIFF)                   scaled to 8 bits, ``round(v * 255 / 65535)``, RGB PNG
                                     (``16bit_to_8bit``)
palette                              expanded to RGB PNG (``palette_to_rgb``)
alpha (RGBA, LA, palette with        composited over ``alpha_background`` (white by default),
transparency)                        RGB PNG (``alpha_composited``)
CMYK                                 Pillow's CMYK->RGB conversion, no colour management
                                     (``cmyk_to_rgb``)
other 8-bit modes (1, YCbCr, ...)    converted to RGB PNG (``mode_X_to_rgb``)
other formats (BMP, TIFF, WebP, GIF)  decoded and stored losslessly as PNG (``reencoded_X``)
multi-frame files                    the first frame (``first_frame_of_N``)
zero-byte file                       skipped, reason ``empty``
not an image / unknown format        skipped, reason ``unreadable``
file that cannot be read (broken     skipped, reason ``unreadable``
symlink, no permission, not a
regular file)
truncated file                       skipped, reason ``truncated``
other decode failure                 skipped, reason ``corrupt``
more than ``max_pixels`` pixels      skipped before decoding, reason ``too_large`` (decompression
                                     bomb guard; Pillow itself refuses twice its own limit)
32-bit integer / float modes         skipped, reason ``unsupported_mode``
file without an image extension      skipped, reason ``not_an_image_extension``
===================================  ==============================================================

Every entry under the folder that is not itself a folder is listed, broken symlinks included; hidden
files and folders (names starting with ``.``) are not part of the dataset and are not listed.
Skipped files are rows of ``out_dir/.gasr/ingest-errors.jsonl`` (file and reason), counted in
``out_dir/.gasr/ingest-report.json``; one bad file never stops the run.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import stat
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gasr_hf.files import png_bytes, write_json_atomic

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"})
KEPT_FORMATS = frozenset({"PNG", "JPEG"})
ERRORS_FILE = "ingest-errors.jsonl"
REPORT_FILE = "ingest-report.json"
_ORIENTATION = 0x0112
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    zlib.error,
    Image.DecompressionBombError,
)


class SkippedImage(Exception):
    """A file the ingest policy skips; ``reason`` is a short code, the message says more."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class IngestedImage:
    data: bytes
    width: int
    height: int
    format: str
    conversion: str


@dataclass(frozen=True)
class IngestReport:
    out_dir: str
    files: int
    """Files found (hidden ones excluded), images or not."""
    written: int
    skipped: dict[str, int]
    """Skipped files by reason."""
    converted: dict[str, int]
    """Written images by ``conversion`` (``none``: the file's own bytes)."""
    complete: bool
    errors_path: str
    report_path: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _is_16bit(image: Image.Image, data: bytes) -> bool:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return True
    # Pillow opens 16-bit RGB(A) PNGs as 8-bit modes; the IHDR bit-depth byte tells the truth.
    if image.format == "PNG" and data[12:16] == b"IHDR":
        return data[24] == 16
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))
        return max(bits if isinstance(bits, tuple) else (bits,)) == 16
    return False


def _decode_16bit(data: bytes) -> Image.Image:
    """8-bit RGB or RGBA image from 16-bit PNG/TIFF bytes, ``round(v * 255 / 65535)``."""
    import cv2

    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise SkippedImage("corrupt", "16-bit image that OpenCV cannot decode as 16-bit")
    scaled = np.round(array.astype(np.float64) * (255 / 65535)).astype(np.uint8)
    if scaled.ndim == 2:
        return Image.fromarray(scaled, "L").convert("RGB")
    if scaled.shape[2] == 4:
        return Image.fromarray(cv2.cvtColor(scaled, cv2.COLOR_BGRA2RGBA), "RGBA")
    return Image.fromarray(cv2.cvtColor(scaled[:, :, :3], cv2.COLOR_BGR2RGB), "RGB")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> tuple[Image.Image, str | None]:
    """8-bit RGB (or grayscale ``L``, kept) and the conversion applied, if any."""
    if image.mode in ("RGB", "L"):
        return image, None
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB"), "alpha_composited"
    if image.mode == "P":
        return image.convert("RGB"), "palette_to_rgb"
    if image.mode == "CMYK":
        return image.convert("RGB"), "cmyk_to_rgb"
    if image.mode in ("I", "F"):
        raise SkippedImage("unsupported_mode", f"{image.mode!r} (32-bit) images are not supported")
    return image.convert("RGB"), f"mode_{image.mode}_to_rgb"


def read_image(
    data: bytes,
    *,
    max_pixels: int | None = Image.MAX_IMAGE_PIXELS,
    alpha_background: tuple[int, int, int] = (255, 255, 255),
) -> IngestedImage:
    """Apply the ingest policy (module docstring) to one file's bytes; raises ``SkippedImage``."""
    if not data:
        raise SkippedImage("empty", "zero-byte file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as err:
        raise SkippedImage("too_large", str(err)) from err
    except _DECODE_ERRORS as err:
        raise SkippedImage("unreadable", f"not a readable image: {err}") from err
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        raise SkippedImage(
            "too_large", f"{width}x{height} = {width * height} pixels > max_pixels={max_pixels}"
        )
    source_format = image.format or "unknown"
    try:
        return _convert(image, data, source_format, alpha_background)
    except SkippedImage:
        raise
    except _DECODE_ERRORS as err:
        reason = "truncated" if "truncated" in str(err) else "corrupt"
        raise SkippedImage(reason, f"{type(err).__name__}: {err}") from err


def _convert(
    image: Image.Image, data: bytes, source_format: str, background: tuple[int, int, int]
) -> IngestedImage:
    conversions: list[str] = []
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        image.seek(0)
        conversions.append(f"first_frame_of_{frames}")
    orientation = image.getexif().get(_ORIENTATION, 1)
    if _is_16bit(image, data):
        pixels = _decode_16bit(data)
        conversions.append("16bit_to_8bit")
    else:
        image.load()
        pixels = image
    pixels, converted = _to_rgb(pixels, background)
    if converted:
        conversions.append(converted)
    if orientation not in (1, None):
        if orientation not in range(2, 9):
            raise SkippedImage("corrupt", f"invalid EXIF orientation {orientation!r}")
        pixels = _orient(pixels, orientation)
        conversions.append(f"exif_orientation_{orientation}")
    if not conversions and source_format in KEPT_FORMATS:
        return IngestedImage(data, pixels.width, pixels.height, source_format, "none")
    if not conversions:
        conversions.append(f"reencoded_{source_format}")
    if pixels.mode != "RGB":
        pixels = pixels.convert("RGB")
    png = png_bytes(pixels)
    return IngestedImage(png, pixels.width, pixels.height, source_format, "+".join(conversions))


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    # Pillow's exif_transpose needs the EXIF on the image; converted pixels no longer carry it.
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }[orientation]
    return image.transpose(method)


@dataclass(frozen=True)
class _Listing:
    images: list[str]
    others: list[str]
    digest: str = field(repr=False)


def list_folder(folder: Path) -> _Listing:
    """Relative POSIX paths of the non-hidden entries under ``folder`` that are not folders, sorted,
    split by extension. Broken symlinks and unreadable files are listed (ingest skips them with
    reason ``unreadable``), so that nothing disappears without a row in the error report.
    """
    images, others = [], []
    sha = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or path.is_dir():
            continue
        name = rel.as_posix()
        try:
            size = str(path.stat().st_size)
        except OSError as err:
            size = f"unreadable:{type(err).__name__}"
        sha.update(f"{name}\t{size}\n".encode())
        (images if path.suffix.lower() in IMAGE_EXTENSIONS else others).append(name)
    return _Listing(images, others, sha.hexdigest())


def read_file(path: Path) -> bytes:
    """The bytes of ``path``; ``SkippedImage("unreadable")`` when it cannot be read."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise SkippedImage("unreadable", "not a regular file")
        return path.read_bytes()
    except OSError as err:
        raise SkippedImage("unreadable", f"cannot read the file: {err}") from err


def _features() -> Any:
    import datasets

    return datasets.Features(
        {
            "image": datasets.Image(),
            "file_name": datasets.Value("string"),
            "width": datasets.Value("int32"),
            "height": datasets.Value("int32"),
            "source": datasets.Value("string"),
            "format": datasets.Value("string"),
            "conversion": datasets.Value("string"),
        }
    )


def ingest_folder(
    folder: str | Path,
    name: str,
    out_dir: str | Path,
    *,
    chunk_size: int = 64,
    max_pixels: int | None = Image.MAX_IMAGE_PIXELS,
    alpha_background: tuple[int, int, int] = (255, 255, 255),
    rank: int = 0,
    world_size: int = 1,
) -> IngestReport:
    """Ingest the image files under ``folder`` as dataset ``name`` into Parquet shards in ``out_dir``.

    Resumable: a rerun skips finished shards (the folder listing must not have changed). Returns
    counts; skipped files with reasons are in ``out_dir/.gasr/ingest-errors.jsonl``.
    """
    import datasets

    from gasr_hf.shards import STATE_DIR, ChunkResult, run_chunks

    folder, out_dir = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: folder={str(folder)!r}")
    if not name:
        raise ValueError("name must be a non-empty dataset name")
    if out_dir.resolve() == folder.resolve() or folder.resolve() in out_dir.resolve().parents:
        raise ValueError(f"out_dir {out_dir} must not lie inside the image folder {folder}")
    listing = list_folder(folder)
    if not listing.images:
        raise ValueError(f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) under {folder}")
    meta = {
        "stage": "ingest",
        "name": name,
        "folder": str(folder.resolve()),
        "listing_sha256": listing.digest,
        "max_pixels": max_pixels,
        "alpha_background": list(alpha_background),
    }

    source = datasets.Dataset.from_dict(
        {"row": list(range(len(listing.images))), "file_name": listing.images}
    )
    features = _features()

    def process(chunk: datasets.Dataset) -> ChunkResult:
        rows: dict[str, list[Any]] = {key: [] for key in features}
        failures = []
        for row, file_name in zip(chunk["row"], chunk["file_name"], strict=True):
            try:
                item = read_image(
                    read_file(folder / file_name),
                    max_pixels=max_pixels,
                    alpha_background=alpha_background,
                )
            except SkippedImage as err:
                logger.warning("skipping %s: %s (%s)", file_name, err.reason, err)
                failures.append(
                    {"row": row, "id": file_name, "reason": err.reason, "error": str(err)}
                )
                continue
            rows["image"].append({"bytes": item.data, "path": file_name})
            rows["file_name"].append(file_name)
            rows["width"].append(item.width)
            rows["height"].append(item.height)
            rows["source"].append(name)
            rows["format"].append(item.format)
            rows["conversion"].append(item.conversion)
        return ChunkResult(datasets.Dataset.from_dict(rows, features=features), failures)

    shard_report = run_chunks(
        source,
        out_dir,
        process,
        chunk_size=chunk_size,
        rank=rank,
        world_size=world_size,
        desc=f"ingest {name}",
        meta=meta,
        id_column="file_name",
    )
    state = out_dir / STATE_DIR
    failures = shard_report.failures + [
        {"id": other, "reason": "not_an_image_extension", "error": "extension not an image type"}
        for other in listing.others
    ]
    errors_path = state / ERRORS_FILE
    errors_path.write_text(
        "".join(
            json.dumps({"file": f["id"], "reason": f["reason"], "error": f["error"]}) + "\n"
            for f in failures
        ),
        encoding="utf-8",
    )
    report = IngestReport(
        out_dir=str(out_dir),
        files=len(listing.images) + len(listing.others),
        written=shard_report.rows_out,
        skipped=dict(sorted(Counter(f["reason"] for f in failures).items())),
        converted=_conversion_counts(out_dir),
        complete=shard_report.complete,
        errors_path=str(errors_path),
        report_path=str(state / REPORT_FILE),
    )
    write_json_atomic(state / REPORT_FILE, report.to_dict(), tmp_tag=f"rank{rank}")
    logger.info(
        "ingested %d of %d files from %s; skipped %s; errors in %s",
        report.written,
        report.files,
        folder,
        report.skipped or "none",
        errors_path,
    )
    return report


def _conversion_counts(out_dir: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    counts: Counter[str] = Counter()
    for shard in sorted(out_dir.glob("*.parquet")):
        counts.update(pq.read_table(shard, columns=["conversion"]).column(0).to_pylist())
    return dict(sorted(counts.items()))
