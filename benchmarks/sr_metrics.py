"""PSNR + SSIM on Y: gasr_hf.sr.metrics against a straightforward numpy/OpenCV implementation.

The baseline below is written the way SR code bases usually write the same formulas: each metric
converts both images to Y on its own, and SSIM blurs five maps with a full 11x11 ``cv2.filter2D``.
Both run in this process on the same image pairs; the table shows images per second and the
largest difference in values.

    python benchmarks/sr_metrics.py [--bench-root ../shared/data/benchmarks] [--repeats 3]

Image pairs are the Set5 + Set14 HR images against an x4 OpenCV-bicubic round trip of themselves
(SR-like outputs); without the shared data, 19 random 512x384 pairs stand in.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from gasr_hf.sr.metrics import calculate_psnr_ssim

CROP_BORDER = 4


def baseline_y(img: np.ndarray) -> np.ndarray:
    return np.dot(img.astype(np.float64), [65.481, 128.553, 24.966]) / 255.0 + 16.0


def baseline_psnr(sr: np.ndarray, hr: np.ndarray, crop: int) -> float:
    a = baseline_y(sr)[crop:-crop, crop:-crop]
    b = baseline_y(hr)[crop:-crop, crop:-crop]
    mse = np.mean((a - b) ** 2)
    return float(10.0 * np.log10(255.0**2 / mse))


def baseline_ssim(sr: np.ndarray, hr: np.ndarray, crop: int) -> float:
    a = baseline_y(sr)[crop:-crop, crop:-crop]
    b = baseline_y(hr)[crop:-crop, crop:-crop]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(g, g.transpose())
    mu1 = cv2.filter2D(a, -1, window)[5:-5, 5:-5]
    mu2 = cv2.filter2D(b, -1, window)[5:-5, 5:-5]
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    sigma1_sq = cv2.filter2D(a**2, -1, window)[5:-5, 5:-5] - mu1_sq
    sigma2_sq = cv2.filter2D(b**2, -1, window)[5:-5, 5:-5] - mu2_sq
    sigma12 = cv2.filter2D(a * b, -1, window)[5:-5, 5:-5] - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / (
        (mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2)
    )
    return float(ssim_map.mean())


def baseline(sr: np.ndarray, hr: np.ndarray, crop: int) -> tuple[float, float]:
    return baseline_psnr(sr, hr, crop), baseline_ssim(sr, hr, crop)


def load_pairs(bench_root: Path) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    paths = sorted((bench_root / "Set5").glob("*.png")) + sorted(
        (bench_root / "Set14").glob("*.png")
    )
    if paths:
        hrs = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
        source = f"Set5 + Set14 from {bench_root}"
    else:
        rng = np.random.default_rng(0)
        hrs = [rng.integers(0, 256, (384, 512, 3), dtype=np.uint8) for _ in range(19)]
        source = "19 random 512x384 images"
    pairs = []
    for hr in hrs:
        h, w = hr.shape[:2]
        small = cv2.resize(hr, (w // 4, h // 4), interpolation=cv2.INTER_CUBIC)
        pairs.append((cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), hr))
    return pairs, source


def time_both(pairs, repeats: int) -> tuple[list[float], list[list[tuple[float, float]]]]:
    """Best-of-``repeats`` images/s of the baseline and of ours, the two passes interleaved so a
    change in machine load hits both alike."""
    best = [float("inf"), float("inf")]
    values: list[list[tuple[float, float]]] = [[], []]
    for _ in range(repeats):
        for i, fn in enumerate((baseline, calculate_psnr_ssim)):
            start = time.perf_counter()
            values[i] = [fn(sr, hr, CROP_BORDER) for sr, hr in pairs]
            best[i] = min(best[i], time.perf_counter() - start)
    return [len(pairs) / b for b in best], values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "benchmarks"
    parser.add_argument("--bench-root", type=Path, default=default_root)
    parser.add_argument("--repeats", type=int, default=5, help="best of N passes")
    parser.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads for both")
    args = parser.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)

    pairs, source = load_pairs(args.bench_root)
    (base_ips, ours_ips), (base_values, ours_values) = time_both(pairs, args.repeats)
    dpsnr = max(abs(a[0] - b[0]) for a, b in zip(base_values, ours_values, strict=True))
    dssim = max(abs(a[1] - b[1]) for a, b in zip(base_values, ours_values, strict=True))

    print(
        f"PSNR + SSIM on Y, border {CROP_BORDER}, {len(pairs)} pairs ({source}), "
        f"best of {args.repeats}, cv2 threads {cv2.getNumThreads()}"
    )
    print()
    print("| implementation | images/s | speed-up | max abs dPSNR (dB) | max abs dSSIM |")
    print("|---|---:|---:|---:|---:|")
    print(f"| baseline: numpy + cv2.filter2D 11x11 | {base_ips:.1f} | 1.00x | - | - |")
    print(
        f"| gasr_hf.sr.metrics.calculate_psnr_ssim | {ours_ips:.1f} | {ours_ips / base_ips:.2f}x "
        f"| {dpsnr:.1e} | {dssim:.1e} |"
    )
    if dpsnr > 1e-6 or dssim > 1e-9:
        raise SystemExit(f"values differ: dPSNR {dpsnr:.3e} dB, dSSIM {dssim:.3e}")


if __name__ == "__main__":
    main()
