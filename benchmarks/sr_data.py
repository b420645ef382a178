"""SR training pairs per second per process: our stream vs the SR-toolbox way, plus our resize.

Images: Set14 pictures resized to DIV2K's size (2040x1356) with a little noise, so that PNG sizes and
decode times are like DIV2K's. All pipelines cut 192x192 HR / 48x48 LR (x4) pairs with one of the
8 dihedral transforms, as float CHW tensors, in this one process (1 thread):

* toolbox baseline (written here, the way BasicSR's PairedImageDataset works): HR and LR PNG files
  on disk read with OpenCV, LR made beforehand, numpy crop and flips; on the full images and on
  480x480 sub-images (made beforehand, BasicSR's DIV2K recipe, PNG level 3 as its
  ``extract_subimages`` writes them). The goal is measured against the sub-images. For reference
  only, the same toolbox reading sub-images stored like our tiles (PNG level 0, unfiltered);
* ours: :class:`gasr_hf.sr.data.SRPairStream` over Parquet shards of the full images and of the
  tiles made by :func:`gasr_hf.sr.tile.tile_dataset` (its default PNG level 0, level 3 as before,
  and BMP), LR made on the fly by MATLAB bicubic.

The pipelines take turns in ``--rounds`` rounds (the full-image ones among themselves, the
sub-image ones among themselves), so that load from other processes on a shared machine falls on
all of them alike; each rate is the median over the rounds.

Then our vectorised :func:`imresize` against a plain numpy transcription of the same algorithm
(a loop over output pixels), speed and agreement, and the patches/s that one H200 training HAT
(batch 32 of 256x256 HR) consumes, estimated from HAT's FLOPs counted here.

Rates are per CPU second of this process (``time.process_time``), so that other work on a shared
machine does not distort them; with one thread that is the rate per core.

Run: ``.venv/bin/python benchmarks/sr_data.py`` (a few minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import datasets
import numpy as np
import torch

from gasr_hf.sr.data import SRPairConfig, SRPairStream
from gasr_hf.sr.resize import imresize, imresize_torch
from gasr_hf.sr.tile import tile_dataset

SCALE = 4
HR = 192
REPO = Path(__file__).resolve().parent.parent
LEVEL3 = [cv2.IMWRITE_PNG_COMPRESSION, 3]
LEVEL0 = [cv2.IMWRITE_PNG_COMPRESSION, 0, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
H200_BF16_FLOPS = 790e12  # dense bf16 matmul rate measured on this project's H200 (device notes)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=6, help="DIV2K-sized images to make")
    parser.add_argument("--patches", type=int, default=300, help="pairs timed per pipeline")
    parser.add_argument("--rounds", type=int, default=5, help="turns the pipelines take")
    parser.add_argument(
        "--set14", type=Path, default=REPO.parent / "shared" / "data" / "benchmarks" / "Set14"
    )
    parser.add_argument("--mfu", type=float, default=0.4, help="assumed H200 utilisation for HAT")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


# --- test images -------------------------------------------------------------------------------


def make_images(set14: Path, n: int, out: Path, seed: int) -> list[Path]:
    rng = np.random.default_rng(seed)
    sources = sorted(set14.glob("*.png"))
    if not sources:
        raise FileNotFoundError(f"no Set14 PNGs in {set14}")
    paths = []
    for i, src in enumerate(itertools.islice(itertools.cycle(sources), n)):
        img = cv2.imread(str(src), cv2.IMREAD_COLOR)
        img = cv2.resize(img, (2040, 1356), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        img = np.clip(img + rng.normal(0, 2.0, img.shape), 0, 255).astype(np.uint8)
        path = out / f"{i:04d}.png"
        cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        paths.append(path)
    return paths


def write_lr(hr_paths: list[Path], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    lr_paths = []
    for path in hr_paths:
        lr = imresize(cv2.imread(str(path), cv2.IMREAD_COLOR), 1 / SCALE)
        lr_path = out / path.name
        cv2.imwrite(str(lr_path), lr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        lr_paths.append(lr_path)
    return lr_paths


def write_tile_files(hr_dir: Path, out: Path, params: list[int]) -> list[Path]:
    """HR sub-images as PNG files (BasicSR's extract_subimages), from our tile shards' logic."""
    from gasr_hf.sr.tile import tile_origins

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for path in sorted(hr_dir.glob("*.png")):
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        for y in tile_origins(img.shape[0], 480, 240):
            for x in tile_origins(img.shape[1], 480, 240):
                tile = out / f"{path.stem}_y{y}_x{x}.png"
                cv2.imwrite(str(tile), img[y : y + 480, x : x + 480], params)
                paths.append(tile)
    return paths


# --- the toolbox baseline ------------------------------------------------------------------------


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float().div_(255.0)


def toolbox_pairs(hr_paths: list[Path], lr_paths: list[Path], seed: int) -> Iterator[object]:
    """Pairs the BasicSR way: read both PNGs, paired random crop, random flips and transpose."""
    rng = np.random.default_rng(seed)
    lr_size = HR // SCALE
    while True:
        k = int(rng.integers(len(hr_paths)))
        hr = cv2.imread(str(hr_paths[k]), cv2.IMREAD_COLOR)
        lr = cv2.imread(str(lr_paths[k]), cv2.IMREAD_COLOR)
        y = int(rng.integers(0, lr.shape[0] - lr_size + 1))
        x = int(rng.integers(0, lr.shape[1] - lr_size + 1))
        lr = lr[y : y + lr_size, x : x + lr_size]
        hr = hr[SCALE * y : SCALE * y + HR, SCALE * x : SCALE * x + HR]
        hflip, vflip, transpose = rng.random(3) < 0.5
        if hflip:
            hr, lr = hr[:, ::-1], lr[:, ::-1]
        if vflip:
            hr, lr = hr[::-1], lr[::-1]
        if transpose:
            hr, lr = hr.transpose(1, 0, 2), lr.transpose(1, 0, 2)
        pair = (_to_tensor(hr), _to_tensor(lr))
        assert pair[0].shape == (3, HR, HR) and pair[1].shape == (3, lr_size, lr_size)
        yield pair


# --- ours ----------------------------------------------------------------------------------------


def parquet_of_images(paths: list[Path], out: Path, shards: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    data = datasets.Dataset.from_dict({"image": [str(p) for p in paths]})
    data = data.cast_column("image", datasets.Image())
    for i in range(shards):
        data.shard(shards, i, contiguous=True).to_parquet(str(out / f"train-{i:05d}.parquet"))
    return out


def stream_pairs(source: str, seed: int, hr_size: int = HR) -> Iterator[object]:
    # One input shard at a time: with more, datasets pauses 5 s at every end of these tiny epochs.
    config = SRPairConfig(
        scale=SCALE, hr_size=hr_size, shuffle_buffer=64, shuffle_input_shards=1, seed=seed
    )
    for item in SRPairStream(source, config):
        assert item["hr"].shape == (3, hr_size, hr_size)
        yield item


def take_turns(pipelines: dict[str, Iterator[object]], n: int, rounds: int) -> dict[str, float]:
    """Pairs per CPU second of each pipeline: the median over ``rounds`` turns of n/rounds pairs."""
    per_round = max(1, n // rounds)
    rates: dict[str, list[float]] = {name: [] for name in pipelines}
    for pairs in pipelines.values():
        next(pairs)  # opening files and shards is not per-pair work
    for _ in range(rounds):
        for name, pairs in pipelines.items():
            began = time.process_time()
            for _ in itertools.islice(pairs, per_round):
                pass
            rates[name].append(per_round / (time.process_time() - began))
    return {name: float(np.median(r)) for name, r in rates.items()}


def shard_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.parquet"))


def png_level_cost(set14: Path) -> str:
    """Bytes of unfiltered level-0 PNGs over level-3 PNGs, on the plain Set14 pictures."""
    raw = level3 = 0
    for path in sorted(set14.glob("*.png")):
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        raw += cv2.imencode(".png", img, LEVEL0)[1].size
        level3 += cv2.imencode(".png", img, LEVEL3)[1].size
    return f"{raw / level3:.2f}x"


# --- resize --------------------------------------------------------------------------------------


def reference_imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB bicubic transcribed plainly: weights per output pixel, a loop over output pixels."""

    def cubic(x: np.ndarray) -> np.ndarray:
        ax = np.abs(x)
        return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (
            -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
        ) * ((ax > 1) & (ax <= 2))

    def resize_rows(a: np.ndarray) -> np.ndarray:
        n_in = a.shape[0]
        n_out = math.ceil(n_in * scale)
        width = 4.0 / scale if scale < 1 else 4.0
        out = np.empty((n_out,) + a.shape[1:])
        for i in range(n_out):
            u = (i + 1) / scale + 0.5 * (1 - 1 / scale)
            idx = np.floor(u - width / 2) + np.arange(math.ceil(width) + 2)
            w = scale * cubic(scale * (u - idx)) if scale < 1 else cubic(u - idx)
            w = w / w.sum()
            rows = np.clip(idx, 1, n_in).astype(int) - 1
            out[i] = np.tensordot(w, a[rows], axes=1)
        return np.clip(np.floor(out + 0.5), 0, 255)

    rows_done = resize_rows(img.astype(np.float64))
    return resize_rows(rows_done.transpose(1, 0, 2)).transpose(1, 0, 2).astype(np.uint8)


def time_call(fn, repeat: int) -> float:
    began = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - began) / repeat


def resize_table(hr_paths: list[Path], seed: int) -> list[tuple[str, str, str, str]]:
    rng = np.random.default_rng(seed)
    full = cv2.imread(str(hr_paths[0]), cv2.IMREAD_COLOR)
    crops = [
        full[y : y + HR, x : x + HR]
        for y, x in zip(rng.integers(0, 1356 - HR, 32), rng.integers(0, 2040 - HR, 32), strict=True)
    ]
    rows = []
    for label, img, repeat in (("192x192 crop", crops[0], 20), ("2040x1356 image", full, 1)):
        ours = time_call(lambda img=img: imresize(img, 1 / SCALE), repeat)
        ref = time_call(lambda img=img: reference_imresize(img, 1 / SCALE), repeat)
        a, b = imresize(img, 1 / SCALE), reference_imresize(img, 1 / SCALE)
        agree = (
            f"{np.mean(a == b) * 100:.3f}% equal, max diff {int(np.abs(a.astype(int) - b).max())}"
        )
        rows.append(
            (label, f"{ref * 1e3:.2f} ms", f"{ours * 1e3:.2f} ms ({ref / ours:.1f}x)", agree)
        )
    batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
    per_image = time_call(lambda: imresize_torch(batch, 1 / SCALE, round_uint8=True), 3) / 32
    got = imresize_torch(batch, 1 / SCALE, round_uint8=True).permute(0, 2, 3, 1).numpy()
    same = np.mean(got.astype(np.uint8) == np.stack([imresize(c, 1 / SCALE) for c in crops]))
    ref_crop = time_call(lambda: reference_imresize(crops[0], 1 / SCALE), 5)
    rows.append(
        (
            "32 crops, imresize_torch CPU",
            f"{ref_crop * 1e3:.2f} ms",
            f"{per_image * 1e3:.2f} ms per crop ({ref_crop / per_image:.1f}x)",
            f"{same * 100:.3f}% equal",
        )
    )
    return rows


def matlab_fixture_mismatches(root: Path) -> str:
    results = []
    for scale in (2, 3):
        total = 0
        for hr_path in sorted((root / "Set5_MATLAB" / f"HR_x{scale}").glob("*.png")):
            lr_path = (
                root / "Set5_MATLAB" / f"LRBI_x{scale}" / hr_path.name.replace("_HR_", "_LRBI_")
            )
            hr, lr = cv2.imread(str(hr_path)), cv2.imread(str(lr_path))
            total += int((imresize(hr, 1 / scale) != lr).sum())
        results.append(f"x{scale}: {total}")
    return ", ".join(results)


# --- what an H200 training HAT eats --------------------------------------------------------------


def hat_patches_per_second(mfu: float) -> tuple[float, float]:
    """Forward GFLOPs of HAT x4 on one 64x64 LR patch, and the patches/s an H200 would train on."""
    from torch.utils.flop_counter import FlopCounterMode

    from gasr_hf.sr.models import build

    model = build("hat", SCALE).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.rand(1, 3, 256 // SCALE, 256 // SCALE))
    forward = counter.get_total_flops()
    # A training step costs about three forward passes (forward, and backward for inputs and weights).
    return forward / 1e9, mfu * H200_BF16_FLOPS / (3 * forward)


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    return "\n".join(
        [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    )


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        hr_dir = tmp / "hr"
        hr_dir.mkdir()
        hr_paths = make_images(args.set14, args.images, hr_dir, args.seed)
        lr_paths = write_lr(hr_paths, tmp / "lr")
        tile_paths = write_tile_files(hr_dir, tmp / "hr_tiles", LEVEL3)
        tile_lr_paths = write_lr(tile_paths, tmp / "lr_tiles")
        raw_tile_paths = write_tile_files(hr_dir, tmp / "hr_tiles_level0", LEVEL0)
        full_parquet = parquet_of_images(hr_paths, tmp / "full", shards=2)
        report = tile_dataset(str(full_parquet), tmp / "tiles", size=480, step=240, chunk_size=3)
        tile_dataset(
            str(full_parquet), tmp / "tiles3", size=480, step=240, chunk_size=3, png_compression=3
        )
        tile_dataset(
            str(full_parquet),
            tmp / "tiles_bmp",
            size=480,
            step=240,
            chunk_size=3,
            image_format="bmp",
        )

        baseline = "toolbox: PNG files + LR files, 480px sub-images"
        tiled = f"ours: Parquet shards, tiled ({report.rows_out} tiles, PNG level 0, default)"
        # Two groups that take turns among themselves: the full images' 8 MB decodes would
        # otherwise evict the sub-image pipelines' working sets at every turn.
        rates = take_turns(
            {
                "toolbox: PNG files + LR files, full images": toolbox_pairs(
                    hr_paths, lr_paths, args.seed
                ),
                "ours: Parquet shards, full images": stream_pairs(str(full_parquet), args.seed),
            },
            args.patches,
            args.rounds,
        )
        rates |= take_turns(
            {
                baseline: toolbox_pairs(tile_paths, tile_lr_paths, args.seed),
                "toolbox: sub-images at PNG level 0 (a reference, not the baseline)": (
                    toolbox_pairs(raw_tile_paths, tile_lr_paths, args.seed)
                ),
                "ours: Parquet shards, tiled, PNG level 3 (the old default)": stream_pairs(
                    str(tmp / "tiles3"), args.seed
                ),
                tiled: stream_pairs(str(tmp / "tiles"), args.seed),
                "ours: Parquet shards, tiled, BMP (image_format='bmp')": stream_pairs(
                    str(tmp / "tiles_bmp"), args.seed
                ),
            },
            args.patches,
            args.rounds,
        )
        tiled_256 = take_turns(
            {"256": stream_pairs(str(tmp / "tiles"), args.seed, hr_size=256)},
            args.patches,
            args.rounds,
        )["256"]
        base = rates[baseline]
        print(
            f"\nx{SCALE} pairs of {HR}x{HR} HR, {args.images} images of 2040x1356, "
            f"{args.rounds} rounds of {args.patches // args.rounds} pairs per pipeline, "
            "one process, 1 thread, per CPU second (median of the rounds)\n"
        )
        print(
            table(
                ("pipeline", "pairs/s", "vs toolbox sub-images"),
                [(name, f"{rate:.1f}", f"{rate / base:.2f}x") for name, rate in rates.items()],
            )
        )
        level0, level3 = shard_bytes(tmp / "tiles"), shard_bytes(tmp / "tiles3")
        print(
            f"\nTile shards: {level0 / 1e6:.0f} MB at PNG level 0, {level3 / 1e6:.0f} MB at level 3 "
            f"({level0 / level3:.2f}x); on the plain Set14 pictures level 0 costs "
            f"{png_level_cost(args.set14)} the bytes of level 3."
        )
        print("\nMATLAB bicubic, x4 down: plain numpy transcription vs gasr_hf.sr.resize\n")
        print(
            table(("input", "plain numpy", "ours", "agreement"), resize_table(hr_paths, args.seed))
        )
        shared = args.set14.parent
        if (shared / "Set5_MATLAB").is_dir():
            print(
                f"\nSet5 pixels differing from MATLAB's LRBI: {matlab_fixture_mismatches(shared)}"
            )

        gflops, needed = hat_patches_per_second(args.mfu)
        print(
            f"\nHAT x4 forward on a 64x64 LR patch: {gflops:.1f} GFLOP; a training step ~3x that.\n"
            f"One H200 at {args.mfu:.0%} of {H200_BF16_FLOPS / 1e12:.0f} TFLOP/s bf16 trains on about "
            f"{needed:.0f} pairs of 256x256 HR per second ({needed / 32:.1f} batches of 32).\n"
            f"Ours, tiled, 256x256 HR pairs: {tiled_256:.1f} pairs/s per process, so "
            f"{math.ceil(needed / tiled_256)} loader processes keep it busy (the H200 host has 16 cores)."
        )


if __name__ == "__main__":
    main()
