"""Training speed of RCAN, HAT and MambaIR-light, and whether the data pipeline keeps up.

Three tables, each against a baseline measured in the same run:

1. GPU (only where CUDA is available): iterations/s of each full-size model (random weights) at its
   recipe's batch and patch size, bf16 autocast, L1 loss and an Adam step, on tensors already on
   the GPU; beside it the pairs/s that :class:`gasr_hf.sr.data.SRPairLoader` delivers with the
   recipe's crop and ``--workers`` worker processes. The pipeline keeps up when it delivers at
   least the pairs/s the model consumes (iterations/s x batch).
2. CPU: forward + backward seconds per step of each full-size model on a small batch
   (``--cpu-batch`` x 3 x ``--cpu-lr``^2), fp32, with RCAN as the reference row.
3. CPU (and GPU where available): our pure-PyTorch selective scan
   (:mod:`gasr_hf.sr.models.selective_scan`, a chunked parallel scan) against the naive
   step-by-step recurrence written below, at the size of one MambaIR-light x4 layer on a 48x48
   LR patch (4 directions x 72 channels, 2304 steps, 10 states).

Training images are ``--data`` (a GASR dataset folder's Parquet glob) or, by default, generated
PNGs of GASR's size (1024x1024, smooth colour with noise) written to Parquet shards in a temporary
folder.

    python benchmarks/sr_train.py [--data 'out/gasr/data/gasr/train-*.parquet'] [--workers 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import datasets
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gasr_hf.files import png_bytes
from gasr_hf.sr.data import SRPairConfig, SRPairLoader, SRPairStream
from gasr_hf.sr.models import build
from gasr_hf.sr.models.selective_scan import selective_scan

# model -> (batch, HR patch) of examples/configs/<model>_x4.yaml
RECIPES = {"rcan": (16, 192), "hat": (32, 256), "mambair-light": (32, 192)}
SCALE = 4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="Parquet file or glob of GASR images")
    parser.add_argument("--images", type=int, default=48, help="generated images (default 48)")
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers (default 8)")
    parser.add_argument("--gpu-steps", type=int, default=20, help="timed GPU steps per model")
    parser.add_argument("--pipeline-batches", type=int, default=20)
    parser.add_argument("--cpu-batch", type=int, default=2)
    parser.add_argument("--cpu-lr", type=int, default=32, help="LR patch side on CPU")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--skip-cpu-models", action="store_true")
    return parser.parse_args()


# --------------------------------------------------------------------------- data


def smooth_noise_image(rng: np.random.Generator, side: int, period: float) -> Image.Image:
    """A ``side`` px RGB image of smooth colour waves (about ``period`` px) plus noise, so it
    compresses like a photo or a render rather than like flat colour."""
    y, x = np.mgrid[0:side, 0:side] / period
    freq, phase = rng.uniform(0.2, 1.5, 3), rng.uniform(0, 6, 3)
    planes = [np.sin(freq[c] * x + phase[c]) * np.cos(freq[c - 1] * y) for c in range(3)]
    img = (np.stack(planes, -1) * 100 + 128 + rng.normal(0, 6, (side, side, 3))).clip(0, 255)
    return Image.fromarray(img.astype(np.uint8))


def make_shards(folder: Path, n: int, shards: int, seed: int = 0) -> str:
    """``n`` 1024x1024 PNGs of :func:`smooth_noise_image` in ``shards`` Parquet files; returns
    their glob."""
    rng = np.random.default_rng(seed)
    rows = [
        {"bytes": png_bytes(smooth_noise_image(rng, 1024, 80.0)), "path": None} for _ in range(n)
    ]
    table = datasets.Dataset.from_dict({"image": rows}).cast_column("image", datasets.Image())
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(shards):
        table.shard(shards, i, contiguous=True).to_parquet(
            str(folder / f"train-{i:05d}-of-{shards:05d}.parquet")
        )
    return str(folder / "train-*.parquet")


def pipeline_pairs_per_second(
    source: str, hr_size: int, batch: int, workers: int, batches: int
) -> float:
    """Pairs/s the loader delivers after its first batch (worker start-up excluded)."""
    stream = SRPairStream(source, SRPairConfig(scale=SCALE, hr_size=hr_size, shuffle_buffer=64))
    loader = SRPairLoader(stream, batch, num_workers=min(workers, stream.num_shards))
    iterator = iter(loader)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch / (time.perf_counter() - start)


# --------------------------------------------------------------------------- models


def train_step_fn(
    name: str, batch: int, lr_size: int, device: str, bf16: bool
) -> Callable[[], None]:
    model = build(name, SCALE).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    lr = torch.rand(batch, 3, lr_size, lr_size, device=device)
    hr = torch.rand(batch, 3, lr_size * SCALE, lr_size * SCALE, device=device)

    def step() -> None:
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = F.l1_loss(model(lr).float(), hr)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def pipeline_table(
    args: argparse.Namespace, source: str, workers: int
) -> tuple[dict[str, float], list[tuple[str, ...]]]:
    """Pairs/s the loader delivers at each recipe's batch and crop."""
    rates, rows = {}, []
    for name, (batch, hr_size) in RECIPES.items():
        rates[name] = pipeline_pairs_per_second(
            source, hr_size, batch, workers, args.pipeline_batches
        )
        rows.append((name, f"{batch} x {hr_size}", f"{rates[name]:.0f}"))
    return rates, rows


def gpu_table(args: argparse.Namespace, delivered: dict[str, float]) -> list[tuple[str, ...]]:
    rows = []
    for name, (batch, hr_size) in RECIPES.items():
        step = train_step_fn(name, batch, hr_size // SCALE, "cuda", bf16=True)
        for _ in range(3):
            step()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(args.gpu_steps):
            step()
        torch.cuda.synchronize()
        its = args.gpu_steps / (time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated() / 2**30
        need, have = its * batch, delivered[name]
        rows.append(
            (
                name,
                f"{batch} x {hr_size}",
                f"{its:.2f}",
                f"{need:.0f}",
                f"{have:.0f}",
                "yes" if have >= need else f"no ({have / need:.0%})",
                f"{peak:.1f}",
            )
        )
        del step
        torch.cuda.empty_cache()
    return rows


def seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_model_table(args: argparse.Namespace) -> list[tuple[str, ...]]:
    rows = []
    reference = None
    for name in RECIPES:
        step = train_step_fn(name, args.cpu_batch, args.cpu_lr, "cpu", bf16=False)
        t = seconds(step, args.repeats)
        reference = reference or t
        rows.append((name, f"{t:.2f}", f"{t / reference:.2f}x"))
    return rows


# --------------------------------------------------------------------------- selective scan


def naive_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor,
    delta_bias: torch.Tensor,
) -> torch.Tensor:
    """The recurrence one time step at a time (the baseline): softplus(delta + bias) steps.

    Inputs are split along time once (``unbind``): indexing ``B[..., t]`` in the loop instead would
    make autograd allocate a full-size gradient per step and time that, not the recurrence.
    """
    batch, dim, length = u.shape
    groups = B.shape[1]
    delta = F.softplus(delta + delta_bias[:, None])
    steps = delta.unsqueeze(-1).unbind(2)
    inputs = u.unsqueeze(-1).unbind(2)
    Bs = B.repeat_interleave(dim // groups, dim=1).unbind(-1)
    Cs = C.repeat_interleave(dim // groups, dim=1).unbind(-1)
    h = u.new_zeros(batch, dim, A.shape[1])
    ys = []
    for step, x, b, c in zip(steps, inputs, Bs, Cs, strict=True):
        h = torch.exp(step * A) * h + step * b * x
        ys.append((h * c).sum(-1))
    return torch.stack(ys, dim=-1) + D[:, None] * u


def scan_inputs(requires_grad: bool, device: str, length: int = 48 * 48) -> dict[str, torch.Tensor]:
    """One MambaIR-light x4 layer's scan inputs: 4 directions x 72 channels, 10 states."""
    gen = torch.Generator().manual_seed(0)
    batch, groups, channels, state = 1, 4, 72, 10
    dim = groups * channels
    inputs = {
        "u": torch.randn(batch, dim, length, generator=gen),
        "delta": torch.randn(batch, dim, length, generator=gen) - 2,
        "A": -torch.rand(dim, state, generator=gen) * 4,
        "B": torch.randn(batch, groups, state, length, generator=gen),
        "C": torch.randn(batch, groups, state, length, generator=gen),
        "D": torch.randn(dim, generator=gen),
        "delta_bias": torch.randn(dim, generator=gen) * 0.1,
    }
    return {k: v.to(device).requires_grad_(requires_grad) for k, v in inputs.items()}


def scan_table(repeats: int, device: str) -> list[tuple[str, ...]]:
    """Naive recurrence vs our pure-PyTorch scan on ``device`` (the CUDA kernel is not used)."""

    def timed(fn: Callable[[], object]) -> float:
        def run() -> None:
            fn()
            if device == "cuda":
                torch.cuda.synchronize()

        return seconds(run, repeats)

    def ours(x: dict[str, torch.Tensor]) -> torch.Tensor:
        return selective_scan(**x, delta_softplus=True, use_kernel=False)

    rows = []
    with torch.no_grad():
        x = scan_inputs(False, device)
        diff = (ours(x) - naive_scan(**x)).abs().max().item()
        t_naive = timed(lambda: naive_scan(**x))
        t_ours = timed(lambda: ours(x))
    rows.append(
        ("forward", f"{t_naive * 1e3:.1f}", f"{t_ours * 1e3:.1f}", f"{t_naive / t_ours:.1f}x")
    )

    x = scan_inputs(True, device)
    t_naive = timed(lambda: naive_scan(**x).square().mean().backward())
    t_ours = timed(lambda: ours(x).square().mean().backward())
    rows.append(
        (
            "forward + backward",
            f"{t_naive * 1e3:.1f}",
            f"{t_ours * 1e3:.1f}",
            f"{t_naive / t_ours:.1f}x",
        )
    )
    rows.append(("max abs difference, fp32", f"{diff:.1e}", "", ""))
    return rows


# --------------------------------------------------------------------------- output


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"{os.cpu_count()} CPUs (load average {load})"
    )
    workers = min(args.workers, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        source = args.data
        if source is None:
            source = make_shards(Path(tmp), args.images, max(1, workers))
            # An epoch of these few images ends every few batches, and datasets pauses 5 s at the
            # end of each streamed Parquet epoch; a GASR dataset's epochs are thousands of images.
            datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = 0
        print(f"training images: {source}")
        delivered, rows = pipeline_table(args, source, workers)
    print_table(
        f"Data pipeline: SRPairLoader pairs/s with {workers} workers on this machine's CPUs",
        ("recipe", "batch x patch", "pairs/s"),
        rows,
    )
    if torch.cuda.is_available():
        print_table(
            f"GPU ({torch.cuda.get_device_name()}): full-size models at their recipes' batch x HR "
            "patch, bf16, random weights",
            (
                "model",
                "batch x patch",
                "it/s",
                "pairs/s needed",
                f"pipeline pairs/s ({workers} workers)",
                "keeps up",
                "peak GiB",
            ),
            gpu_table(args, delivered),
        )
    else:
        print("\nGPU: not measured: no GPU")
    if not args.skip_cpu_models:
        print_table(
            f"CPU: forward + backward of full-size models, batch {args.cpu_batch} x 3 x "
            f"{args.cpu_lr}x{args.cpu_lr} LR, fp32, median of {args.repeats}",
            ("model", "s/step", "vs rcan"),
            cpu_model_table(args),
        )
    scan_title = (
        "selective scan, 1 x 288 channels x 2304 steps x 10 states (one MambaIR-light x4 layer "
        f"on a 48x48 LR patch), median of {args.repeats}"
    )
    scan_header = ("pass", "naive loop ms (baseline)", "ours ms", "speed-up")
    if torch.cuda.is_available():
        print_table(f"GPU: {scan_title}", scan_header, scan_table(args.repeats, "cuda"))
    print_table(f"CPU: {scan_title}", scan_header, scan_table(args.repeats, "cpu"))


if __name__ == "__main__":
    main()
