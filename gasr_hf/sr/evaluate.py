"""Evaluate an SR model on benchmark sets and write the GASR paper's Table 2.

For every benchmark image: HR converted to RGB (a grayscale image is replicated to three channels,
as image readers in SR code do) and mod-cropped to the scale; LR made by the MATLAB-exact bicubic
resize; the model's output rounded to uint8, as a saved PNG would be; PSNR and SSIM on Y with a
border of ``scale`` pixels (:mod:`gasr_hf.sr.metrics`).

A model is the string ``bicubic`` (the baseline: MATLAB-exact bicubic upsampling) or a checkpoint
file that spandrel recognises (ESRGAN, SwinIR, HAT, RCAN, ..., and our MambaIR-light); its scale is
read from the checkpoint. A benchmark is a folder of images (or a folder with an ``HR`` subfolder)
under ``bench_root``, or a dataset with an ``image`` column that ``datasets.load_dataset`` loads,
written ``repo_or_path`` or ``repo_or_path:split``.

Per-image scores, keyed by image file name (the dataset's name column, or the row number), are
appended to ``out_dir/scores/<bench>.jsonl`` as they come. ``out_dir/run.json`` records the settings
and, per benchmark, its source (the absolute folder, or the dataset's absolute path or Hub id with
its split) and a sha256 of its images' names and bytes: a rerun with the same settings and the same
benchmark files resumes where the last one stopped; any other rerun into ``out_dir`` is refused.
``out_dir/report.{md,csv,json}`` hold the table.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import pickle
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from gasr_hf import __version__
from gasr_hf.files import sha256_file, write_text_atomic
from gasr_hf.placement import place
from gasr_hf.sr.metrics import calculate_psnr_ssim
from gasr_hf.sr.resize import imresize

if TYPE_CHECKING:
    import torch

__all__ = [
    "BenchScore",
    "ImageScore",
    "Report",
    "ReportRow",
    "Upscaler",
    "evaluate_model",
    "list_bench_images",
    "load_upscaler",
    "merge_reports",
    "upscale_image",
]

logger = logging.getLogger(__name__)

REPORT_FORMAT = "gasr_hf.sr.evaluate/1"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_IMAGE_MODES = ("1", "L", "LA", "P", "RGB", "RGBA")
_GRAY_MODES = ("1", "L", "LA")
GRAY_AS_RGB = "gray replicated to RGB, scored on Y"
GRAY_AS_GRAY = "one-channel images scored on their gray values (SR: mean of its channels)"
_NAME_COLUMNS = ("file_name", "filename", "name", "id")
NO_VALUE = "–"


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Upscaler:
    """A model ready to run: ``fn`` maps (1, 3, h, w) floats in [0, 1] to (1, 3, h*s, w*s)."""

    name: str
    scale: int
    fn: Callable[[torch.Tensor], torch.Tensor]
    device: str
    info: Mapping[str, Any] = field(default_factory=dict)
    dtype: str = "fp32"
    """The precision the model runs in (``fp32``, ``fp16`` or ``bf16``); inputs are cast to it."""


def _bicubic(scale: int) -> Callable[[torch.Tensor], torch.Tensor]:
    import torch

    from gasr_hf.sr.resize import imresize_torch

    def upsample(x: torch.Tensor) -> torch.Tensor:
        # Inputs are uint8 values / 255, so rounding recovers them exactly; with round_uint8 the
        # result equals imresize on the uint8 image, as the MATLAB baseline is computed.
        values = torch.round(x.double() * 255.0)
        return imresize_torch(values, float(scale), round_uint8=True) / 255.0

    return upsample


DTYPES = ("fp32", "fp16", "bf16")


def load_upscaler(
    model: str, scale: int | None = None, device: str = "auto", dtype: str = "fp32"
) -> Upscaler:
    """``bicubic`` (needs ``scale``) or a checkpoint file spandrel recognises (scale read from it;
    a ``scale`` given as well must match). ``dtype`` ``fp16``/``bf16`` runs the model in half
    precision, only where spandrel says the architecture supports it."""
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int) or scale < 1):
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    device = place(device, dtype).device
    if model == "bicubic":
        if scale is None:
            raise ValueError("model 'bicubic' needs a scale (e.g. scale=4)")
        if dtype != "fp32":
            raise ValueError("model 'bicubic' runs in fp32 only")
        return Upscaler("Bicubic", scale, _bicubic(scale), device, {"model": "bicubic"})

    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"model {model!r}: no such file (or use model='bicubic')")
    import spandrel
    from safetensors import SafetensorError

    # Importing our models registers MambaIR-light with spandrel's registry.
    import gasr_hf.sr.models  # noqa: F401

    try:
        descriptor = spandrel.ModelLoader(device=device).load_from_file(path)
    except spandrel.UnsupportedModelError as err:
        raise ValueError(f"model {path}: spandrel does not recognise this checkpoint") from err
    except ValueError as err:
        raise ValueError(f"model {path}: {err}") from err
    # torch.load and safetensors report a truncated or corrupt file with these.
    except (SafetensorError, pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise ValueError(
            f"model {path}: cannot read the checkpoint; the file is truncated, corrupt or not "
            f"a model checkpoint ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise ValueError(
            f"model {path}: {descriptor.architecture.name} is not an image-to-image model"
        )
    if (
        descriptor.purpose != "SR"
        or descriptor.input_channels != 3
        or descriptor.output_channels != 3
    ):
        raise ValueError(
            f"model {path}: need an RGB super-resolution model, got a {descriptor.purpose} model "
            f"with {descriptor.input_channels} -> {descriptor.output_channels} channels"
        )
    if scale is not None and scale != descriptor.scale:
        raise ValueError(
            f"model {path} is a x{descriptor.scale} model, but scale={scale} was asked"
        )
    supported = {
        "fp32": True,
        "fp16": descriptor.supports_half,
        "bf16": descriptor.supports_bfloat16,
    }
    if not supported[dtype]:
        raise ValueError(
            f"model {path}: spandrel marks {descriptor.architecture.name} as not supporting "
            f"{dtype}; use " + " or ".join(d for d, ok in supported.items() if ok)
        )
    descriptor.eval()
    if dtype != "fp32":
        import torch

        descriptor.to({"fp16": torch.float16, "bf16": torch.bfloat16}[dtype])
    info = {
        "model": str(path),
        "sha256": sha256_file(path),
        "architecture": descriptor.architecture.name,
        "tags": list(descriptor.tags),
    }
    if dtype != "fp32":
        info["dtype"] = dtype

    def run(x: torch.Tensor) -> torch.Tensor:
        # Some architectures (spandrel's RCAN) scale their input in place; tiles are views.
        return descriptor(x.clone())

    return Upscaler(path.stem, descriptor.scale, run, device, info, dtype)


# --------------------------------------------------------------------------- inference


def _run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, scale: int, tile: int, pad: int
) -> torch.Tensor:
    """Tiles of ``tile`` LR pixels, each run with ``pad`` pixels of context on every side (the
    overlap); only each tile's own part of the output is kept, so the result equals whole-image
    inference whenever the model's receptive field fits in ``pad``."""
    import torch

    h, w = x.shape[-2:]
    out = torch.zeros((x.shape[0], 3, h * scale, w * scale), dtype=torch.float64, device=x.device)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            py0, px0 = max(y0 - pad, 0), max(x0 - pad, 0)
            py1, px1 = min(y1 + pad, h), min(x1 + pad, w)
            sr = fn(x[..., py0:py1, px0:px1])
            oy, ox = (y0 - py0) * scale, (x0 - px0) * scale
            out[..., y0 * scale : y1 * scale, x0 * scale : x1 * scale] = sr[
                ..., oy : oy + (y1 - y0) * scale, ox : ox + (x1 - x0) * scale
            ]
    return out


def upscale_image(
    upscaler: Upscaler,
    lr: np.ndarray,
    *,
    tile: int | None = None,
    tile_pad: int = 32,
    self_ensemble: bool = False,
) -> np.ndarray:
    """Super-resolve a uint8 HxWx3 image; the output is uint8, rounded as a saved PNG would be.

    ``tile``: run tiles of this many LR pixels (``tile_pad`` pixels of overlapping context on each
    side) instead of the whole image. ``self_ensemble``: average the outputs of the 8 flips and
    rotations of the input (x8 geometric self-ensemble).
    """
    import torch

    if lr.dtype != np.uint8 or lr.ndim != 3 or lr.shape[2] != 3:
        raise ValueError(f"lr must be a uint8 HxWx3 array, got {lr.dtype} {lr.shape}")
    if tile is not None and tile < 1:
        raise ValueError(f"tile must be a positive number of pixels or None, got {tile}")
    if tile_pad < 0:
        raise ValueError(f"tile_pad must be >= 0, got {tile_pad}")

    def run(t: torch.Tensor) -> torch.Tensor:
        if tile is None:
            return upscaler.fn(t)
        return _run_tiled(upscaler.fn, t, upscaler.scale, tile, tile_pad)

    with torch.inference_mode():
        # A copy: arrays from PIL are read-only, which torch.from_numpy warns about.
        x = torch.from_numpy(np.array(lr, order="C")).permute(2, 0, 1)[None]
        x = x.to(upscaler.device, dtype=torch.float32) / 255.0
        if upscaler.dtype != "fp32":
            x = x.to({"fp16": torch.float16, "bf16": torch.bfloat16}[upscaler.dtype])
        if self_ensemble:
            total = None
            for k in range(4):
                for flip in (False, True):
                    t = torch.rot90(x, k, dims=(2, 3))
                    t = torch.flip(t, dims=(3,)) if flip else t
                    y = run(t).double()
                    y = torch.flip(y, dims=(3,)) if flip else y
                    y = torch.rot90(y, -k, dims=(2, 3))
                    total = y if total is None else total + y
            out = total / 8.0
        else:
            out = run(x)
        out = (out.double().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    sr = out[0].permute(1, 2, 0).cpu().numpy()
    expected = (lr.shape[0] * upscaler.scale, lr.shape[1] * upscaler.scale, 3)
    if sr.shape != expected:
        raise ValueError(f"model {upscaler.name} returned shape {sr.shape}, expected {expected}")
    return sr


# --------------------------------------------------------------------------- benchmarks


def _to_rgb(img: Image.Image, where: str) -> np.ndarray:
    if img.mode not in _IMAGE_MODES:
        raise ValueError(f"{where}: unsupported image mode {img.mode!r} (need 8-bit gray or RGB)")
    return np.asarray(img.convert("RGB"))


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


@dataclass(frozen=True)
class _Bench:
    """A benchmark resolved to its images: ``(name, load)`` pairs, where ``load()`` gives the HR
    as uint8 RGB; ``source`` is where they come from and ``contents()`` yields each image's name
    and encoded bytes (for the fingerprint that ties scores to these files)."""

    name: str
    source: str
    images: tuple[tuple[str, Callable[[], np.ndarray]], ...]
    contents: Callable[[], Iterator[tuple[str, bytes]]]
    is_gray: Callable[[str], bool] = lambda name: False
    """Whether image ``name`` is stored with one channel (1-bit or 8-bit gray, with or without
    alpha)."""

    def fingerprint(self) -> str:
        """sha256 over the images' names and the sha256 of their bytes, in order."""
        digest = hashlib.sha256()
        for name, data in self.contents():
            digest.update(json.dumps([name, hashlib.sha256(data).hexdigest()]).encode() + b"\n")
        return digest.hexdigest()


def _bench_folder(bench: str, bench_root: Path | None) -> Path | None:
    """The image folder of a benchmark, or None when it is not a folder of images."""
    candidates = [bench_root / bench] if bench_root is not None else []
    candidates.append(Path(bench))
    for folder in candidates:
        if folder.is_dir():
            if _image_files(folder):
                return folder
            if (folder / "HR").is_dir() and _image_files(folder / "HR"):
                return folder / "HR"
    return None


def _folder_bench(bench: str, folder: Path) -> _Bench:
    files = _image_files(folder)

    def from_file(path: Path) -> Callable[[], np.ndarray]:
        def load() -> np.ndarray:
            try:
                with Image.open(path) as img:
                    return _to_rgb(img, str(path))
            except (UnidentifiedImageError, OSError) as err:
                raise ValueError(f"bench {bench!r}: cannot read image {path}: {err}") from err

        return load

    def contents() -> Iterator[tuple[str, bytes]]:
        for path in files:
            try:
                yield path.name, path.read_bytes()
            except OSError as err:
                raise ValueError(f"bench {bench!r}: cannot read image {path}: {err}") from err

    def is_gray(name: str) -> bool:
        with Image.open(folder / name) as img:
            return img.mode in _GRAY_MODES

    images = tuple((p.name, from_file(p)) for p in files)
    return _Bench(bench, str(folder.resolve()), images, contents, is_gray)


def _dataset_bench(bench: str, bench_root: Path | None) -> _Bench:
    import datasets

    repo, _, split = bench.partition(":")
    if bench_root is not None and (bench_root / repo).is_dir():
        repo = str(bench_root / repo)
    try:
        ds = datasets.load_dataset(repo, split=split or None)
    except (FileNotFoundError, ConnectionError) as err:
        where = f"{bench_root / bench} nor {bench}" if bench_root is not None else bench
        raise FileNotFoundError(
            f"bench {bench!r}: neither a folder of images at {where} nor a loadable dataset ({err})"
        ) from err
    if isinstance(ds, datasets.DatasetDict):
        if "test" in ds:
            split = "test"
        elif len(ds) == 1:
            split = next(iter(ds))
        else:
            raise ValueError(
                f"bench {bench!r} has splits {sorted(ds)}; name one as '{bench}:SPLIT'"
            )
        ds = ds[split]
    if not isinstance(ds.features.get("image"), datasets.Image):
        raise ValueError(
            f"bench {bench!r} has no 'image' column of images (features: {ds.features})"
        )
    name_column = next((c for c in _NAME_COLUMNS if c in ds.column_names), None)
    names = (
        [str(n) for n in ds[name_column]] if name_column else [f"{i:05d}" for i in range(len(ds))]
    )
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ValueError(f"bench {bench!r} row {i}: {name_column} {name!r} appears twice")
        seen.add(name)

    def from_row(i: int) -> Callable[[], np.ndarray]:
        def load() -> np.ndarray:
            img = ds[i]["image"]
            if img is None:
                raise ValueError(f"bench {bench!r} row {i}: the 'image' cell is empty")
            return _to_rgb(img, f"bench {bench!r} row {i}")

        return load

    def contents() -> Iterator[tuple[str, bytes]]:
        raw = ds.select_columns(["image"]).cast_column("image", datasets.Image(decode=False))
        for i, (name, row) in enumerate(zip(names, raw, strict=True)):
            cell = row["image"]
            if cell is None:
                raise ValueError(f"bench {bench!r} row {i}: the 'image' cell is empty")
            if cell["bytes"] is not None:
                yield name, cell["bytes"]
                continue
            try:
                yield name, Path(cell["path"]).read_bytes()
            except (OSError, TypeError) as err:
                raise ValueError(
                    f"bench {bench!r} row {i}: cannot read image {cell['path']!r}: {err}"
                ) from err

    def is_gray(name: str) -> bool:
        img = ds[names.index(name)]["image"]
        return img is not None and img.mode in _GRAY_MODES

    local = Path(repo)
    source = str(local.resolve()) if local.is_dir() else repo
    images = tuple((name, from_row(i)) for i, name in enumerate(names))
    return _Bench(bench, f"{source}:{split}" if split else source, images, contents, is_gray)


def _resolve_bench(bench: str, bench_root: Path | None) -> _Bench:
    folder = _bench_folder(bench, bench_root)
    if folder is not None:
        return _folder_bench(bench, folder)
    return _dataset_bench(bench, bench_root)


def list_bench_images(
    bench: str, bench_root: Path | None
) -> list[tuple[str, Callable[[], np.ndarray]]]:
    """``(name, load)`` pairs of a benchmark, in order; ``load()`` gives the HR as uint8 RGB.
    ``name`` is the image's file name, or for a dataset its name column (``file_name``,
    ``filename``, ``name`` or ``id``) or row number."""
    return list(_resolve_bench(bench, bench_root).images)


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ImageScore:
    image: str
    psnr: float
    ssim: float


@dataclass(frozen=True)
class BenchScore:
    bench: str
    psnr: float
    ssim: float
    per_image: tuple[ImageScore, ...]

    @property
    def num_images(self) -> int:
        return len(self.per_image)

    @classmethod
    def from_images(cls, bench: str, per_image: Sequence[ImageScore]) -> BenchScore:
        if not per_image:
            raise ValueError(f"bench {bench!r} has no images")
        return cls(
            bench,
            float(np.mean([s.psnr for s in per_image])),
            float(np.mean([s.ssim for s in per_image])),
            tuple(per_image),
        )


@dataclass(frozen=True)
class ReportRow:
    """One model's line of Table 2, with the settings it was evaluated with."""

    model: str
    training_dataset: str
    num_train_images: int | None
    scores: tuple[BenchScore, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    def score(self, bench: str) -> BenchScore | None:
        return next((s for s in self.scores if s.bench == bench), None)


def _fmt(value: float, digits: int) -> str:
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


@dataclass(frozen=True)
class Report:
    """Table 2: Model, Training dataset, #Images, then PSNR / SSIM on Y per benchmark."""

    scale: int
    rows: tuple[ReportRow, ...]

    @property
    def benches(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            for s in row.scores:
                seen.setdefault(s.bench)
        return list(seen)

    def _label_cells(self, row: ReportRow) -> list[str]:
        images = NO_VALUE if row.num_train_images is None else str(row.num_train_images)
        return [row.model, row.training_dataset or NO_VALUE, images]

    def to_markdown(self) -> str:
        benches = self.benches
        lines = [
            f"x{self.scale} super-resolution, PSNR (dB) / SSIM on Y (BT.601), "
            f"{self.scale}-pixel border shaved",
            "",
            "| Model | Training dataset | #Images | "
            + " | ".join(f"{b} PSNR / SSIM" for b in benches)
            + " |",
            "|---|---|---:|" + "---:|" * len(benches),
        ]
        for row in self.rows:
            cells = self._label_cells(row)
            for bench in benches:
                s = row.score(bench)
                cells.append(NO_VALUE if s is None else f"{_fmt(s.psnr, 2)} / {_fmt(s.ssim, 4)}")
            lines.append("| " + " | ".join(cells) + " |")
        conventions = {
            (row.settings.get("lr"), row.settings.get("gray"))
            for row in self.rows
            if row.settings.get("gray")
        }
        for lr, gray in sorted(conventions):
            lines += ["", f"LR: {lr}; gray images: {gray}."]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        benches = self.benches
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        header = ["model", "training_dataset", "num_train_images", "scale"]
        for b in benches:
            header += [f"{b}_psnr", f"{b}_ssim", f"{b}_num_images"]
        writer.writerow(header)
        for row in self.rows:
            cells: list[Any] = [
                row.model,
                row.training_dataset,
                "" if row.num_train_images is None else row.num_train_images,
                self.scale,
            ]
            for bench in benches:
                s = row.score(bench)
                cells += (
                    ["", "", ""]
                    if s is None
                    else [
                        f"{s.psnr:.6f}",
                        f"{s.ssim:.6f}",
                        s.num_images,
                    ]
                )
            writer.writerow(cells)
        return buf.getvalue()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "scale": self.scale,
            "benches": self.benches,
            "rows": [
                {
                    "model": row.model,
                    "training_dataset": row.training_dataset,
                    "num_train_images": row.num_train_images,
                    "results": {
                        s.bench: {"psnr": s.psnr, "ssim": s.ssim, "num_images": s.num_images}
                        for s in row.scores
                    },
                    "per_image": {
                        s.bench: [
                            {"image": i.image, "psnr": i.psnr, "ssim": i.ssim} for i in s.per_image
                        ]
                        for s in row.scores
                    },
                    "settings": dict(row.settings),
                }
                for row in self.rows
            ],
        }

    @classmethod
    def from_json(cls, path: Path) -> Report:
        """Read a ``report.json`` (or a folder holding one) written by :meth:`write`."""
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        if not path.is_file():
            raise FileNotFoundError(f"report {path}: no such file")
        try:
            data = json.loads(path.read_text())
            if data.get("format") != REPORT_FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {REPORT_FORMAT!r}")
            rows = tuple(
                ReportRow(
                    model=r["model"],
                    training_dataset=r["training_dataset"],
                    num_train_images=r["num_train_images"],
                    scores=tuple(
                        BenchScore.from_images(
                            bench,
                            [ImageScore(i["image"], i["psnr"], i["ssim"]) for i in images],
                        )
                        for bench, images in r["per_image"].items()
                    ),
                    settings=r.get("settings", {}),
                )
                for r in data["rows"]
            )
            return cls(int(data["scale"]), rows)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"report {path} is not a gasr_hf evaluation report: {err}") from err

    def write(self, out_dir: Path) -> dict[str, Path]:
        """Write ``report.md``, ``report.csv`` and ``report.json``; returns their paths."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {ext: out_dir / f"report.{ext}" for ext in ("md", "csv", "json")}
        write_text_atomic(paths["md"], self.to_markdown())
        write_text_atomic(paths["csv"], self.to_csv())
        write_text_atomic(paths["json"], json.dumps(self.to_dict(), indent=2) + "\n")
        return paths


def merge_reports(paths: Sequence[Path], out_dir: Path) -> Report:
    """Put the rows of several runs' ``report.json`` into one table (benchmarks in first-seen
    order; a model without a benchmark gets '–') and write it to ``out_dir``."""
    if not paths:
        raise ValueError("merge_reports needs at least one report path")
    reports = [(Path(p), Report.from_json(Path(p))) for p in paths]
    first_path, first = reports[0]
    for path, report in reports[1:]:
        if report.scale != first.scale:
            raise ValueError(
                f"report {path} is x{report.scale}, but {first_path} is x{first.scale}; "
                "merge reports of one scale"
            )
    merged = Report(first.scale, tuple(row for _, r in reports for row in r.rows))
    merged.write(out_dir)
    return merged


# --------------------------------------------------------------------------- the run


def _read_scores(path: Path) -> dict[str, ImageScore]:
    """Scores already written by an earlier run; a last line cut short by a crash is dropped."""
    if not path.is_file():
        return {}
    scores: dict[str, ImageScore] = {}
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            if n == len(lines) - 1:
                logger.warning("%s: dropping an incomplete last line", path)
                write_text_atomic(path, "".join(f"{kept}\n" for kept in lines[:-1]))
                break
            raise ValueError(f"{path} line {n + 1} is not JSON: {err}") from err
        try:
            scores[item["image"]] = ImageScore(item["image"], item["psnr"], item["ssim"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path} line {n + 1} is not an image score: {line!r}") from err
    return scores


def _check_run(
    out_dir: Path, settings: Mapping[str, Any], benches: Mapping[str, Mapping[str, str]]
) -> None:
    """Refuse to mix scores of different settings, or of another copy of a benchmark, in one
    ``out_dir``. ``benches`` maps score-file keys to each benchmark's name, source and
    fingerprint; benchmarks new to ``out_dir`` are added to its ``run.json``."""
    path = out_dir / "run.json"
    known: dict[str, Any] = {}
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{path} is not JSON: {err}; use another out_dir or delete it"
            ) from err
        changes = [
            f"{k}: {previous.get(k)!r} -> {settings[k]!r}"
            for k in sorted(settings)
            if previous.get(k) != settings[k]
        ]
        if "benches" not in previous:
            changes.append("benches: not recorded (written by an older gasr_hf)")
        known = previous.get("benches") or {}
        for key, entry in benches.items():
            old = known.get(key)
            if old is not None and old != entry:
                changes.append(
                    f"bench {entry['bench']!r}: {old.get('source')!r} "
                    f"(images sha256 {str(old.get('images_sha256'))[:12]}) -> "
                    f"{entry['source']!r} (images sha256 {entry['images_sha256'][:12]})"
                )
        if changes:
            raise ValueError(
                f"out_dir {out_dir} holds scores from other settings or benchmark files "
                f"({'; '.join(changes)}); use another out_dir or delete it"
            )
        if all(key in known for key in benches):
            return
    out_dir.mkdir(parents=True, exist_ok=True)
    run = {**settings, "benches": {**known, **benches}}
    write_text_atomic(path, json.dumps(run, indent=2) + "\n")


def _file_key(name: str) -> str:
    """A file-name-safe form of a benchmark or image name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _output_name(image: str) -> str:
    """The PNG file name of an SR output; the input's suffix stays, so x.png and x.jpg differ."""
    key = _file_key(image)
    return key if key.lower().endswith(".png") else f"{key}.png"


_LR_TAG = re.compile(r"(?:_(?:HR|LR|SR)[A-Za-z]*(?:_?x\d+)?|x\d+)$", re.IGNORECASE)


def _base_stem(name: str) -> str:
    """``baby_LRBI_x2`` / ``baby_HR_x2`` / ``0801x4`` -> ``baby`` / ``baby`` / ``0801``."""
    return _LR_TAG.sub("", Path(name).stem)


def _lr_files(bench: _Bench, lr_root: Path, single: bool) -> tuple[Path, dict[str, Path]]:
    """The given LR file of each HR image: ``lr_root/<bench>/`` (or ``lr_root`` itself for a single
    benchmark), matched by file stem, else by the stem without tags such as ``_LRBI_x4``/``x4``."""
    folder = lr_root / bench.name
    if not folder.is_dir():
        if not single:
            raise FileNotFoundError(
                f"lr_root {lr_root}: no folder {bench.name}/ (with several benchmarks, each needs "
                "its own LR folder under lr_root)"
            )
        folder = lr_root
    files = _image_files(folder)
    mapping: dict[str, Path] = {}
    for name, _ in bench.images:
        found = [f for f in files if f.stem == Path(name).stem] or [
            f for f in files if _base_stem(f.name) == _base_stem(name)
        ]
        if len(found) != 1:
            what = (
                "no LR file"
                if not found
                else f"{len(found)} LR files ({', '.join(f.name for f in found)})"
            )
            raise ValueError(f"bench {bench.name!r} image {name}: {what} in {folder}")
        mapping[name] = found[0]
    return folder, mapping


def _read_lr(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return _to_rgb(img, str(path))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read LR image {path}: {err}") from err


def _pair(
    name: str, hr: np.ndarray, scale: int, bench: str, lr_file: Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR): the given LR file with the HR cropped to its size x scale, or HR mod-cropped to
    the scale and its MATLAB bicubic LR."""
    h, w = hr.shape[:2]
    if lr_file is None:
        hr = hr[: h - h % scale, : w - w % scale]
        if min(hr.shape[:2]) < scale * 4:
            raise ValueError(f"bench {bench!r} image {name}: {h}x{w} is too small for x{scale}")
        return imresize(hr, 1.0 / scale), hr
    lr = _read_lr(lr_file)
    lh, lw = lr.shape[:2]
    if not (0 <= h - lh * scale < scale and 0 <= w - lw * scale < scale):
        raise ValueError(
            f"bench {bench!r} image {name}: LR {lr_file.name} is {lh}x{lw}, which is not the "
            f"{h}x{w} HR divided by {scale}"
        )
    return lr, hr[: lh * scale, : lw * scale]


def _evaluate_bench(
    upscaler: Upscaler,
    bench: _Bench,
    out_dir: Path,
    *,
    tile: int | None,
    tile_pad: int,
    self_ensemble: bool,
    y_uint8: bool,
    save_images: bool,
    lr_files: Mapping[str, Path] | None = None,
    gray_as_gray: bool = False,
) -> BenchScore:
    from tqdm.auto import tqdm

    scale = upscaler.scale
    score_path = out_dir / "scores" / f"{_file_key(bench.name)}.jsonl"
    score_path.parent.mkdir(parents=True, exist_ok=True)
    done = _read_scores(score_path)
    image_dir = out_dir / "images" / _file_key(bench.name)
    if save_images:
        image_dir.mkdir(parents=True, exist_ok=True)
    scores: list[ImageScore] = []
    with score_path.open("a") as sink:
        for name, load in tqdm(bench.images, desc=f"{upscaler.name} {bench.name}", unit="img"):
            if name in done:
                scores.append(done[name])
                continue
            lr, hr = _pair(
                name, load(), scale, bench.name, None if lr_files is None else lr_files[name]
            )
            sr = upscale_image(
                upscaler, lr, tile=tile, tile_pad=tile_pad, self_ensemble=self_ensemble
            )
            if gray_as_gray and bench.is_gray(name):
                scored_sr, scored_hr = np.rint(sr.mean(axis=2)).astype(np.uint8), hr[..., 0]
            else:
                scored_sr, scored_hr = sr, hr
            psnr, ssim = calculate_psnr_ssim(
                scored_sr, scored_hr, scale, test_y_channel=True, y_uint8=y_uint8
            )
            if save_images:
                Image.fromarray(sr).save(image_dir / _output_name(name))
            score = ImageScore(name, psnr, ssim)
            sink.write(json.dumps({"image": name, "psnr": psnr, "ssim": ssim}) + "\n")
            sink.flush()
            scores.append(score)
    result = BenchScore.from_images(bench.name, scores)
    logger.info(
        "%s on %s (%d images): %.4f dB / %.5f",
        upscaler.name,
        bench.name,
        result.num_images,
        result.psnr,
        result.ssim,
    )
    return result


def evaluate_model(
    model: str,
    benches: Sequence[str],
    bench_root: Path | None,
    scale: int | None,
    out_dir: Path,
    *,
    tile: int | None = None,
    tile_pad: int = 32,
    self_ensemble: bool = False,
    y_uint8: bool = False,
    training_dataset: str = "",
    num_train_images: int | None = None,
    name: str | None = None,
    device: str = "auto",
    save_images: bool = False,
    lr_root: Path | None = None,
    gray_as_gray: bool = False,
) -> Report:
    """Evaluate ``model`` (``bicubic`` or a spandrel-loadable checkpoint) on ``benches`` and write
    ``out_dir/report.{md,csv,json}`` (one row); resumes from ``out_dir/scores`` when rerun.

    ``scale`` is required for ``bicubic`` and read from a checkpoint otherwise (if given, it must
    match). ``training_dataset`` and ``num_train_images`` fill the table's label columns; ``name``
    replaces the model's display name (default: ``Bicubic`` or the checkpoint's file stem).
    ``save_images`` also writes the SR outputs to ``out_dir/images/<bench>/<image>.png`` (``.png``
    appended to the image's file name unless it ends so). ``lr_root`` scores on given LR files
    (official LR sets, BD/DN degradations) instead of making LR from HR: ``lr_root/<bench>/``, or
    ``lr_root`` itself for one benchmark, matched to the HR images by name. ``gray_as_gray`` scores
    one-channel HR images on their gray values, as MATLAB scripts do, instead of on Y of the
    replicated RGB.
    """
    if not benches:
        raise ValueError("benches must name at least one benchmark")
    if len(set(benches)) != len(benches):
        raise ValueError(f"benches lists a benchmark twice: {list(benches)}")
    keys: dict[str, str] = {}
    for bench in benches:
        other = keys.setdefault(_file_key(bench), bench)
        if other != bench:
            raise ValueError(
                f"benches {other!r} and {bench!r} would share the score file "
                f"scores/{_file_key(bench)}.jsonl; evaluate them into different out_dirs"
            )
    if bench_root is not None and not Path(bench_root).is_dir():
        raise FileNotFoundError(f"bench_root {bench_root}: no such folder")
    if num_train_images is not None and num_train_images < 0:
        raise ValueError(f"num_train_images must be >= 0, got {num_train_images}")
    upscaler = load_upscaler(model, scale, device)
    out_dir = Path(out_dir)
    settings = {
        **upscaler.info,
        "scale": upscaler.scale,
        "tile": tile,
        "tile_pad": tile_pad if tile is not None else None,
        "self_ensemble": self_ensemble,
        "y_uint8": y_uint8,
        "crop_border": upscaler.scale,
        "gray": GRAY_AS_GRAY if gray_as_gray else GRAY_AS_RGB,
        "lr": "given LR files" if lr_root is not None else "MATLAB bicubic of the mod-cropped HR",
        "gasr_hf_version": __version__,
    }
    resolved = [
        _resolve_bench(b, None if bench_root is None else Path(bench_root)) for b in benches
    ]
    if lr_root is not None and not Path(lr_root).is_dir():
        raise FileNotFoundError(f"lr_root {lr_root}: no such folder")
    sources: dict[str, dict[str, str]] = {}
    lr_maps: dict[str, dict[str, Path]] = {}
    for bench in resolved:
        if not bench.images:
            raise ValueError(f"bench {bench.name!r} has no images")
        sources[bench.name] = {"source": bench.source, "images_sha256": bench.fingerprint()}
        if lr_root is not None:
            folder, lr_maps[bench.name] = _lr_files(bench, Path(lr_root), len(resolved) == 1)
            digest = hashlib.sha256()
            for name, path in lr_maps[bench.name].items():
                digest.update(json.dumps([name, sha256_file(path)]).encode() + b"\n")
            sources[bench.name] |= {
                "lr_source": str(folder.resolve()),
                "lr_sha256": digest.hexdigest(),
            }
    _check_run(
        out_dir, settings, {_file_key(b): {"bench": b, **entry} for b, entry in sources.items()}
    )
    scores = tuple(
        _evaluate_bench(
            upscaler,
            bench,
            out_dir,
            tile=tile,
            tile_pad=tile_pad,
            self_ensemble=self_ensemble,
            y_uint8=y_uint8,
            save_images=save_images,
            lr_files=lr_maps.get(bench.name),
            gray_as_gray=gray_as_gray,
        )
        for bench in resolved
    )
    row = ReportRow(
        model=name or upscaler.name,
        training_dataset=training_dataset,
        num_train_images=num_train_images,
        scores=scores,
        settings={**settings, "benches": sources, "device": upscaler.device},
    )
    report = Report(upscaler.scale, (row,))
    paths = report.write(out_dir)
    logger.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return report
