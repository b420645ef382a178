"""Annotator throughput: vectorised blockiness against a per-block loop, and images/s per annotator.

1. Blockiness at about 1 MP (1152x864): ``gasr_hf.annotate.blockiness`` against two straightforward
   implementations of the same measure written below, both looping over blocks in Python (the DCT
   one 8x8 block at a time): the first computes V per coefficient and block in Python scalars, as the
   implementation behind the paper's numbers is structured; the second handles all 64 coefficients
   of a block in one numpy step. All run in this process on the same images; the table shows
   images/s, the speed-up of gasr_hf and the largest relative difference in values.
2. CPU images/s for every annotator through its ``datasets.map`` callable, on 512x384 images:
   num_pixels, blockiness, num_segments with a tiny random SAM (test-sized encoder, segment-anything's
   default 32x32 prompt points) and clip_embedding with a tiny random CLIP and a random CLIP of
   ViT-B/32 shape. Random weights only: no download.
3. On a GPU: seconds per 1 MP image for SAM of vit_h shape with random weights (random weights pass
   fewer masks through the IoU filter than trained ones, so this is a lower bound) and images/s for
   CLIP of ViT-L/14 shape with random weights. Without CUDA it prints "not measured: no GPU".

    python benchmarks/annotate.py [--bench-root ../shared/data/benchmarks] [--repeats 3]

Images are Set14 resized (bicubic) and JPEG-compressed at quality 75, so blockiness is non-trivial;
without the shared data, random images stand in.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from gasr_hf.annotate import (
    Blockiness,
    ClipConfig,
    ClipEmbedding,
    NumPixels,
    NumSegments,
    SegmentConfig,
)
from gasr_hf.annotate.blockiness import blockiness as blockiness_fast
from gasr_hf.annotate.segments import SAM_ARCHITECTURES, TINY_SAM, build_sam


def _dct_matrix() -> np.ndarray:
    k, n = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    matrix = np.sqrt(2 / 8) * np.cos(np.pi * (2 * n + 1) * k / 16)
    matrix[0] /= np.sqrt(2)
    return matrix


def _blocks(length: int) -> int:
    margin = length % 8
    return (length - margin - (0 if margin >= 4 else 8)) // 8


def _gray(image: Image.Image) -> np.ndarray:
    import cv2

    bgr = np.asarray(image.convert("RGB"))[:, :, ::-1].copy()
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float64)


def _loop_dct(gray: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    dct = _dct_matrix()
    out = np.empty((n_rows, n_cols, 8, 8))
    for r in range(n_rows):
        for c in range(n_cols):
            out[r, c] = dct @ gray[r * 8 : r * 8 + 8, c * 8 : c * 8 + 8] @ dct.T
    return out


def blockiness_scalar_loop(image: Image.Image) -> float:
    """Baseline 1: a loop over blocks for the DCT and over coefficients x blocks, in Python
    scalars, for V (the structure of the implementation behind the paper's numbers)."""
    gray = _gray(image)
    n_rows, n_cols = _blocks(gray.shape[0]), _blocks(gray.shape[1])

    def mean_variation(coef: np.ndarray) -> np.ndarray:
        out = np.zeros((8, 8))
        for u in range(8):
            for v in range(8):
                total, count = 0.0, 0
                for r in range(2, n_rows - 1):
                    for c in range(2, n_cols - 1):
                        a = coef[r, c, u, v]
                        horizontal = coef[r, c - 1, u, v] + coef[r, c + 1, u, v] - 2 * a
                        vertical = coef[r - 1, c, u, v] + coef[r + 1, c, u, v] - 2 * a
                        total += (horizontal * horizontal + vertical * vertical) ** 0.5
                        count += 1
                out[u, v] = total / count
        return out

    aligned = mean_variation(_loop_dct(gray, n_rows, n_cols))
    shifted = mean_variation(_loop_dct(gray[4:, 4:], n_rows, n_cols))
    return float(np.sum(np.abs(shifted - aligned) / aligned))


def blockiness_block_loop(image: Image.Image) -> float:
    """Baseline 2: a loop over blocks, each step an 8x8 numpy operation over all coefficients."""
    gray = _gray(image)
    n_rows, n_cols = _blocks(gray.shape[0]), _blocks(gray.shape[1])

    def mean_variation(coef: np.ndarray) -> np.ndarray:
        total, count = np.zeros((8, 8)), 0
        for r in range(2, n_rows - 1):
            for c in range(2, n_cols - 1):
                a = coef[r, c]
                horizontal = coef[r, c - 1] + coef[r, c + 1] - 2 * a
                vertical = coef[r - 1, c] + coef[r + 1, c] - 2 * a
                total += np.sqrt(horizontal**2 + vertical**2)
                count += 1
        return total / count

    aligned = mean_variation(_loop_dct(gray, n_rows, n_cols))
    shifted = mean_variation(_loop_dct(gray[4:, 4:], n_rows, n_cols))
    return float(np.sum(np.abs(shifted - aligned) / aligned))


def load_images(
    bench_root: Path, size: tuple[int, int], count: int
) -> tuple[list[Image.Image], str]:
    paths = sorted((bench_root / "Set14").glob("*.png"))[:count]
    if paths:
        sources = [Image.open(p).convert("RGB") for p in paths]
        label = f"Set14 resized to {size[0]}x{size[1]}, JPEG q75"
    else:
        rng = np.random.default_rng(0)
        sources = [
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
            for _ in range(count)
        ]
        label = f"random {size[0]}x{size[1]}, JPEG q75"
    images = []
    for source in sources:
        buffer = io.BytesIO()
        source.resize(size, Image.Resampling.BICUBIC).save(buffer, format="JPEG", quality=75)
        decoded = Image.open(buffer)
        decoded.load()
        images.append(decoded)
    return images, label


def rate(run: Callable[[], object], images: int, repeats: int) -> float:
    """Images per second: the best of ``repeats`` timed runs."""
    best = min(_timed(run) for _ in range(repeats))
    return images / best


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bench_blockiness(images: list[Image.Image], repeats: int) -> None:
    fast_values = [blockiness_fast(im) for im in images]
    fast = rate(lambda: [blockiness_fast(im) for im in images], len(images), repeats)
    print(f"\n## Blockiness, {len(images)} images of {images[0].width}x{images[0].height}\n")
    print("| implementation | images/s | gasr_hf speed-up | max relative difference |")
    print("|---|---:|---:|---:|")
    for label, baseline in (
        ("per-block, per-coefficient scalar loop", blockiness_scalar_loop),
        ("per-block loop of 8x8 numpy operations", blockiness_block_loop),
    ):
        start = time.perf_counter()
        values = [baseline(im) for im in images]
        per_second = len(images) / (time.perf_counter() - start)
        diff = max(abs(a - b) / abs(b) for a, b in zip(fast_values, values, strict=True))
        print(f"| baseline: {label} | {per_second:.2f} | {fast / per_second:.0f}x | {diff:.1e} |")
    print(f"| gasr_hf (vectorised, scipy.fft.dctn) | {fast:.2f} | 1x | |")


def _tiny_clip(folder: Path, vision: dict, projection_dim: int) -> str:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    text = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
    text.update({"num_attention_heads": 2, "bos_token_id": 0, "eos_token_id": 1})
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)
    CLIPModel(config).save_pretrained(folder)
    side = vision["image_size"]
    CLIPImageProcessor(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    ).save_pretrained(folder)
    return str(folder)


VIT_B32 = {"image_size": 224, "patch_size": 32, "hidden_size": 768, "intermediate_size": 3072}
VIT_B32 |= {"num_hidden_layers": 12, "num_attention_heads": 12}
VIT_L14 = {"image_size": 224, "patch_size": 14, "hidden_size": 1024, "intermediate_size": 4096}
VIT_L14 |= {"num_hidden_layers": 24, "num_attention_heads": 16}


def bench_cpu(images: list[Image.Image], repeats: int, work: Path) -> None:
    import torch

    encoded = []
    for im in images:
        buffer = io.BytesIO()
        im.save(buffer, format="PNG")
        encoded.append({"bytes": buffer.getvalue(), "path": None})

    sam_path = work / "tiny_sam.pth"
    torch.save(build_sam(TINY_SAM).state_dict(), sam_path)
    tiny_clip = _tiny_clip(
        work / "tiny-clip",
        {"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 64}
        | {"num_hidden_layers": 2, "num_attention_heads": 2},
        16,
    )
    b32_clip = _tiny_clip(work / "b32-clip", VIT_B32, 512)
    sam = NumSegments(SegmentConfig(str(sam_path), architecture=TINY_SAM), device="cpu")
    rows = [  # annotator, model, annotator object, images timed, repeats
        ("num_pixels", "-", NumPixels(), len(images), repeats),
        ("blockiness", "-", Blockiness(), len(images), repeats),
        ("num_segments", "tiny random SAM (16-d encoder), 32x32 points", sam, 1, 1),
        (
            "clip_embedding",
            "tiny random CLIP (32 px)",
            ClipEmbedding(ClipConfig(tiny_clip), device="cpu"),
            len(images),
            repeats,
        ),
        (
            "clip_embedding",
            "random CLIP, ViT-B/32 shape, fp32",
            ClipEmbedding(ClipConfig(b32_clip), device="cpu"),
            len(images),
            repeats,
        ),
    ]
    size = f"{images[0].width}x{images[0].height}"
    print(f"\n## CPU ({torch.get_num_threads()} threads), PNG images of {size}\n")
    print("| annotator | model | images timed | images/s |")
    print("|---|---|---:|---:|")
    for name, model, annotator, count, reps in rows:
        annotator({"image": encoded[-1:]})  # loads the model once, warms up
        batch = {"image": encoded[:count]}  # what datasets.map passes for Image(decode=False)
        per_second = rate(lambda a=annotator, b=batch: a(b), count, reps)
        print(f"| {name} | {model} | {count} | {per_second:.3f} |")


def _gpu_sam_seconds(images_1mp: list[Image.Image]) -> float:
    import torch
    from segment_anything import SamAutomaticMaskGenerator

    from gasr_hf.annotate.segments import count_segments

    torch.manual_seed(0)
    sam = build_sam(SAM_ARCHITECTURES["vit_h"]).to("cuda")
    generator = SamAutomaticMaskGenerator(sam, output_mode="uncompressed_rle")

    def run_sam() -> None:
        for im in images_1mp:
            count_segments(generator, im)
        torch.cuda.synchronize()

    count_segments(generator, images_1mp[0])  # CUDA initialisation and kernel selection
    return 1 / rate(run_sam, len(images_1mp), 1)


def bench_gpu(images_1mp: list[Image.Image], repeats: int, work: Path) -> None:
    import torch

    print("\n## GPU\n")
    if not torch.cuda.is_available():
        print("not measured: no GPU")
        return
    from gasr_hf.annotate.clip import embed_images, load_clip

    name = torch.cuda.get_device_name(0)
    sam_seconds = _gpu_sam_seconds(images_1mp)
    torch.cuda.empty_cache()

    clip_dir = _tiny_clip(work / "l14-clip", VIT_L14, 768)
    loaded = load_clip(ClipConfig(clip_dir), "cuda")
    clip_images = images_1mp * max(1, 64 // len(images_1mp))

    def run_clip() -> None:
        embed_images(loaded, clip_images, 32)
        torch.cuda.synchronize()

    embed_images(loaded, clip_images[:32], 32)  # warm-up
    clip_rate = rate(run_clip, len(clip_images), repeats)
    print(f"device: {name}\n")
    print("| annotator | model | figure |")
    print("|---|---|---:|")
    print(
        f"| num_segments | random SAM, vit_h shape, defaults | {sam_seconds:.2f} s per 1 MP image |"
    )
    print(
        f"| clip_embedding | random CLIP, ViT-L/14 shape, fp32, batch 32 | {clip_rate:.1f} images/s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_root = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "benchmarks"
    parser.add_argument("--bench-root", type=Path, default=default_root)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=4, help="images per measurement")
    args = parser.parse_args()

    images_1mp, label = load_images(args.bench_root, (1152, 864), args.images)
    small, _ = load_images(args.bench_root, (512, 384), args.images)
    print(f"images: {label}")
    bench_blockiness(images_1mp, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        bench_cpu(small, args.repeats, Path(tmp))
        bench_gpu(images_1mp, args.repeats, Path(tmp))


if __name__ == "__main__":
    main()
