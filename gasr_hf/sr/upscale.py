"""``gasr upscale``: apply an SR model to an image or a folder of images.

The model is any checkpoint spandrel loads (ours included: MambaIR-light is registered with it);
inference is the one ``gasr eval`` scores (:func:`gasr_hf.sr.evaluate.upscale_image`), optionally
tiled with overlapping context and in half precision where the architecture supports it. Each output
is a PNG named after its input (``page.jpg`` -> ``page.png``), written to a temporary name and renamed,
so a rerun skips the finished files and a kill leaves no half-written PNG. ``upscale.json`` ties the
output folder to the model and settings (a rerun with others is refused rather than mixed), and
``upscale_report.json`` lists what was written, skipped and what failed: an unreadable input is
named and skipped, never fatal to the others.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gasr_hf.files import write_json_atomic

logger = logging.getLogger(__name__)

__all__ = ["UpscaleReport", "list_inputs", "upscale"]

SETTINGS_FILE = "upscale.json"
REPORT_FILE = "upscale_report.json"


@dataclass
class UpscaleReport:
    out_dir: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Inputs whose output already existed (a resumed run)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Input -> why it could not be upscaled."""


def list_inputs(inputs: str | Path) -> list[Path]:
    """The image files of ``inputs`` (a file, or a folder's images sorted by name); two inputs
    that would write the same PNG (``a.jpg`` and ``a.png``) raise ``ValueError`` naming both."""
    from gasr_hf.sr.evaluate import IMAGE_SUFFIXES

    path = Path(inputs)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise FileNotFoundError(f"--in {path}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    else:
        raise FileNotFoundError(f"--in {path}: no such file or folder")
    seen: dict[str, Path] = {}
    for file in files:
        other = seen.setdefault(output_name(file), file)
        if other != file:
            raise ValueError(f"{other.name} and {file.name} would both write {output_name(file)}")
    return files


def output_name(path: Path) -> str:
    return f"{path.stem}.png"


def _read_rgb(path: Path) -> np.ndarray:
    from gasr_hf.sr.evaluate import _to_rgb

    with Image.open(path) as img:
        img.load()
        return _to_rgb(img, str(path))


def _claim(out_dir: Path, settings: dict) -> None:
    import json

    path = out_dir / SETTINGS_FILE
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not JSON ({err}); use another --out") from err
        if previous != settings:
            changed = sorted(k for k in settings if previous.get(k) != settings[k])
            raise ValueError(
                f"{out_dir} holds outputs of other settings ({', '.join(changed)} differ, see "
                f"{path}); use another --out or delete it"
            )
        return
    write_json_atomic(path, settings)


def upscale(
    model: str,
    inputs: str | Path,
    out_dir: str | Path,
    *,
    tile: int | None = None,
    tile_pad: int = 32,
    dtype: str = "fp32",
    device: str = "auto",
) -> UpscaleReport:
    """Upscale ``inputs`` (a file or folder) with ``model`` into ``out_dir``; see the module doc."""
    from tqdm.auto import tqdm

    from gasr_hf.sr.evaluate import load_upscaler, upscale_image

    files = list_inputs(inputs)
    if tile is not None and tile < 1:
        raise ValueError(f"--tile must be a positive number of LR pixels, got {tile}")
    if tile_pad < 0:
        raise ValueError(f"--tile-pad must be >= 0, got {tile_pad}")
    upscaler = load_upscaler(model, None, device, dtype)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _claim(
        out_dir,
        {
            "model": upscaler.info.get("model"),
            "sha256": upscaler.info.get("sha256"),
            "scale": upscaler.scale,
            "tile": tile,
            "tile_pad": tile_pad if tile is not None else None,
            "dtype": dtype,
        },
    )
    report = UpscaleReport(out_dir)
    for file in tqdm(files, desc=f"upscale x{upscaler.scale}", unit="img"):
        target = out_dir / output_name(file)
        if target.is_file():
            report.skipped.append(file.name)
            continue
        try:
            lr = _read_rgb(file)
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
            logger.warning("skipping %s: %s", file, err)
            report.failed[file.name] = f"{type(err).__name__}: {err}"
            continue
        sr = upscale_image(upscaler, lr, tile=tile, tile_pad=tile_pad)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        Image.fromarray(sr).save(tmp, format="PNG")
        os.replace(tmp, target)
        report.written.append(file.name)
    write_json_atomic(
        out_dir / REPORT_FILE,
        {"written": report.written, "skipped": report.skipped, "failed": report.failed},
    )
    logger.info(
        "upscale: %d written, %d already done, %d failed, into %s",
        len(report.written),
        len(report.skipped),
        len(report.failed),
        out_dir,
    )
    return report
