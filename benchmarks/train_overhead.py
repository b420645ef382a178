"""What ``gasr train`` costs over a bare PyTorch loop, on the compact model an experiment trains.

Both read the same patch stream (:class:`gasr_hf.sr.data.SRPairLoader` over the same Parquet tiles,
the same crop, batch and workers) and train the same model (``compact``, 89k parameters) with Adam and
an L1 loss. The baseline is the loop one would write by hand: no accelerate, no EMA, no logging, no
checkpoint. ``gasr train`` (:func:`gasr_hf.sr.train.train`) adds the Accelerator, the EMA update, the
logged loss, the progress bar and one checkpoint with its EMA export at the end. Each timing covers
the whole run, from building the loader to the last step, and the runs alternate, ``--repeats``
times each; the table gives the median steps/s.

    python benchmarks/train_overhead.py [--steps 300] [--repeats 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import datasets
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sr_train import smooth_noise_image  # noqa: E402

from gasr_hf.files import png_bytes  # noqa: E402
from gasr_hf.sr.data import SRPairConfig, SRPairLoader, SRPairStream  # noqa: E402
from gasr_hf.sr.models import build  # noqa: E402
from gasr_hf.sr.train import SourceConfig, TrainConfig, train  # noqa: E402

MODEL, SCALE, HR, BATCH = "compact", 4, 128, 16


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers (default 1)")
    parser.add_argument("--tiles", type=int, default=256, help="256 px training tiles")
    return parser.parse_args()


def make_tiles(folder: Path, n: int, shards: int) -> Path:
    """A repository folder with config ``tiles``: ``n`` 256 px RGB tiles of smooth colour and noise."""
    rng = np.random.default_rng(0)
    rows = [
        {"bytes": png_bytes(smooth_noise_image(rng, 256, 20.0)), "path": None} for _ in range(n)
    ]
    data = folder / "data" / "tiles"
    data.mkdir(parents=True)
    per = -(-n // shards)
    for i in range(shards):
        part = datasets.Dataset.from_dict({"image": rows[i * per : (i + 1) * per]})
        part.cast_column("image", datasets.Image()).to_parquet(
            str(data / f"train-{i:05d}-of-{shards:05d}.parquet")
        )
    return folder


def bare_loop(repo: Path, steps: int, workers: int, seed: int) -> float:
    """Seconds for ``steps`` optimizer steps of the hand-written loop."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    stream = SRPairStream(
        str(repo / "data" / "tiles" / "train-*.parquet"),
        SRPairConfig(scale=SCALE, hr_size=HR, shuffle_buffer=256, seed=seed),
    )
    loader = SRPairLoader(
        stream, BATCH, num_workers=workers, prefetch_factor=4 if workers else None
    )
    model = build(MODEL, SCALE)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.99))
    model.train()
    batches = iter(loader)
    for _ in range(steps):
        batch = next(batches)
        loss = F.l1_loss(model(batch["lr"]), batch["hr"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def gasr_train(repo: Path, out: Path, steps: int, workers: int, seed: int) -> float:
    """Seconds for ``train()`` of the same model and stream, one checkpoint at the end."""
    config = TrainConfig(
        model=MODEL,
        sources=(SourceConfig(path=str(repo), config="tiles"),),
        output_dir=out,
        scale=SCALE,
        hr_size=HR,
        batch_size=BATCH,
        max_steps=steps,
        lr=5e-4,
        adam_betas=(0.9, 0.99),
        shuffle_buffer=256,
        num_workers=workers,
        checkpoint_every=steps,
        log_every=100,
        report_to="none",
        seed=seed,
    )
    start = time.perf_counter()
    train(config)
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = 0
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_tiles(Path(tmp) / "repo", args.tiles, shards=max(1, args.workers))
        times: dict[str, list[float]] = {"bare PyTorch loop (baseline)": [], "gasr train": []}
        for rep in range(args.repeats):
            times["bare PyTorch loop (baseline)"].append(
                bare_loop(repo, args.steps, args.workers, seed=rep)
            )
            times["gasr train"].append(
                gasr_train(repo, Path(tmp) / f"run{rep}", args.steps, args.workers, seed=rep)
            )
    base = args.steps / statistics.median(times["bare PyTorch loop (baseline)"])
    print(
        f"\n{MODEL} x{SCALE}, batch {BATCH} of {HR} px HR patches, {args.steps} steps per run, "
        f"{args.workers} worker(s), {torch.get_num_threads()} torch threads, median of "
        f"{args.repeats}\n"
    )
    print("| loop | steps/s | vs baseline | runs (s) |")
    print("|---|---:|---:|---|")
    for name, values in times.items():
        rate = args.steps / statistics.median(values)
        runs = ", ".join(f"{v:.1f}" for v in values)
        print(f"| {name} | {rate:.2f} | {rate / base:.2f}x | {runs} |")


if __name__ == "__main__":
    main()
