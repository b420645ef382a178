"""Run an experiment: build its data, train and score every run, then write the report.

Each (recipe, set, seed) run lives in ``out/runs/<recipe>/<set>/seed-<s>/``: ``train/`` is an
ordinary ``gasr train`` output folder (resumed from its latest checkpoint), ``eval/`` an ordinary
``gasr eval`` folder (resumed image by image), and ``result.json``, written last, marks the run
finished. ``run.json`` ties the folder to its settings, so a changed config is refused rather than
mixed into old runs. Under ``accelerate launch`` each process takes every N-th run and trains it
alone, on its own GPU; whichever process finishes the last run writes the report.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gasr_hf.config import from_dict, save_yaml, to_dict
from gasr_hf.experiment.config import (
    ExperimentConfig,
    Run,
    TileSettings,
    check_inputs,
    data_settings,
    plan_runs,
)
from gasr_hf.files import json_digest, write_json_atomic

logger = logging.getLogger(__name__)

RESULT_FILE = "result.json"
RUN_FILE = "run.json"
STATE_DIR = ".experiment"
_DISTRIBUTED_ENV = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "ROLE_RANK",
    "ROLE_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
    "PMI_RANK",
    "PMI_SIZE",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_LOCAL_RANK",
)


@dataclass(frozen=True)
class ExperimentResult:
    out: Path
    runs: int
    finished: int
    report: Path | None
    """``out/report.json`` once every run has finished; None while other processes still train."""


def _launcher_rank() -> tuple[int, int, int]:
    """(rank, world size, local rank) set by ``accelerate launch`` / torchrun, or (0, 1, 0)."""
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", rank))
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is not below WORLD_SIZE={world}")
    return rank, world, local


def _train_alone(local_rank: int) -> None:
    """Make this launcher process a single-process run on its own GPU: the runs are independent,
    so no process group is formed. Called before torch initialises CUDA."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else None
    if devices is None:
        import torch

        count = torch.cuda.device_count()
        devices = [str(i) for i in range(count)]
    if devices:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[local_rank % len(devices)]
    for name in _DISTRIBUTED_ENV:
        os.environ.pop(name, None)


def _build_data(config: ExperimentConfig, rank: int) -> None:
    """``gasr build`` of the ``data`` section into ``out/data`` (rank 0; the others wait)."""
    from gasr_hf.build import BuildConfig, build

    settings = data_settings(config)
    if settings is None:
        return
    marker = Path(config.out) / STATE_DIR / "data.json"
    digest = json_digest({"data": settings, "tiles": to_dict(config)["tiles"]})
    if rank == 0:
        result = build(from_dict(BuildConfig, settings, source="experiment data"))
        if config.tiles is not None:
            _tile(config, config.tiles)
        write_json_atomic(marker, {"fingerprint": digest, "ran": list(result.ran)})
        return
    last_log = 0.0
    while not (marker.is_file() and json.loads(marker.read_text())["fingerprint"] == digest):
        if time.monotonic() - last_log > 60:
            logger.info("rank %d waits for the experiment's data build (%s)", rank, marker)
            last_log = time.monotonic()
        time.sleep(2)


def _tile(config: ExperimentConfig, tiles: TileSettings) -> None:
    """Each of ``tiles.configs`` as sub-images, registered as config ``<name>-tiles``."""
    from gasr_hf.sr.tile import tile_dataset

    for name in tiles.configs:
        report = tile_dataset(
            str(config.data_dir),
            config.data_dir / ".gasr" / "tiles" / name,
            tiles.size,
            tiles.step,
            src_config=name,
            repo_dir=config.data_dir,
            repo_config=f"{name}-tiles",
        )
        if not report.complete or report.failures:
            raise ValueError(
                f"tiles: config {name!r} of {config.data_dir}: {len(report.failures)} images "
                f"failed, {report.chunks_done} of {report.chunks_total} chunks done"
            )


def _claim(run: Run) -> None:
    """Tie ``run.folder`` to the run's settings; refuse a folder that holds another run."""
    path = run.folder / RUN_FILE
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not JSON ({err}); delete {run.folder} to rerun") from err
        if old.get("fingerprint") != run.fingerprint:
            raise ValueError(
                f"{run.folder} holds run {run.key} trained with other settings ({path}); use "
                f"another out folder, or delete {run.folder} to retrain it"
            )
        return
    write_json_atomic(
        path, {"key": run.key, "fingerprint": run.fingerprint, "train": to_dict(run.train)}
    )


def _training_done(run: Run) -> bool:
    from gasr_hf.sr.train import _checkpoint_step, latest_checkpoint

    checkpoint = latest_checkpoint(run.train.output_dir)
    export = run.train.output_dir / run.train.export_name
    return (
        checkpoint is not None
        and _checkpoint_step(checkpoint) == run.train.max_steps
        and export.is_file()
    )


def run_one(run: Run, config: ExperimentConfig) -> dict[str, Any]:
    """Train (or resume) and score one run; returns (and writes) its ``result.json``."""
    from gasr_hf.sr.evaluate import evaluate_model
    from gasr_hf.sr.train import train

    result_path = run.folder / RESULT_FILE
    if result_path.is_file():
        done = json.loads(result_path.read_text())
        if (
            done.get("fingerprint") == run.fingerprint
            and done.get("eval") == to_dict(config.eval)
            and set(config.benches) <= set(done.get("benches", {}))
        ):
            return done
    _claim(run)
    started = time.perf_counter()
    if not _training_done(run):
        logger.info("run %s: training %d steps", run.key, run.train.max_steps)
        train(run.train, resume="latest")
    trained = time.perf_counter()
    report = evaluate_model(
        str(run.train.output_dir / run.train.export_name),
        config.benches,
        config.bench_root,
        run.train.scale,
        run.folder / "eval",
        tile=config.eval.tile,
        tile_pad=config.eval.tile_pad,
        self_ensemble=config.eval.self_ensemble,
        training_dataset=run.set,
        name=f"{run.recipe} seed {run.seed}",
        device=config.eval.device,
    )
    row = report.rows[0]
    result = {
        "key": run.key,
        "recipe": run.recipe,
        "set": run.set,
        "seed": run.seed,
        "fingerprint": run.fingerprint,
        "model": run.train.model,
        "steps": run.train.max_steps,
        "weights": "EMA",
        "eval": to_dict(config.eval),
        "seconds": {
            "train": round(trained - started, 1),
            "eval": round(time.perf_counter() - trained, 1),
        },
        "benches": {
            score.bench: {
                "psnr": score.psnr,
                "ssim": score.ssim,
                "per_image": {s.image: [s.psnr, s.ssim] for s in score.per_image},
            }
            for score in row.scores
        },
    }
    write_json_atomic(result_path, result)
    return result


def _finished(runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
    results = {}
    for run in runs:
        path = run.folder / RESULT_FILE
        if path.is_file():
            done = json.loads(path.read_text())
            if done.get("fingerprint") == run.fingerprint:
                results[run.key] = done
    return results


def run_experiment(config: ExperimentConfig, *, source: str = "experiment") -> ExperimentResult:
    """Everything ``gasr experiment`` does; see the module docstring."""
    from tqdm.auto import tqdm

    from gasr_hf.experiment.report import write_report

    runs = plan_runs(config, source)
    problems = check_inputs(config, runs)
    if problems:
        raise ValueError(f"{source}: " + "; ".join(problems))
    rank, world, local_rank = _launcher_rank()
    if world > 1:
        _train_alone(local_rank)
    out = Path(config.out)
    if rank == 0:
        save_yaml(to_dict(config), out / STATE_DIR / "config.yaml")
    _build_data(config, rank)
    mine = runs[rank::world]
    logger.info(
        "experiment %s: %d runs (%d recipe(s) x %d sets x %d seeds); this process takes %d",
        config.name,
        len(runs),
        len({r.recipe for r in runs}),
        len(config.sets),
        len(config.seeds),
        len(mine),
    )
    for run in tqdm(mine, desc=f"experiment {config.name}", unit="run"):
        run_one(run, config)
    results = _finished(runs)
    if len(results) < len(runs):
        logger.info(
            "%d of %d runs finished; the last process to finish writes the report",
            len(results),
            len(runs),
        )
        return ExperimentResult(out, len(runs), len(results), None)
    paths = write_report(config, runs, results, tmp_tag=f"rank{rank}")
    return ExperimentResult(out, len(runs), len(results), paths["json"])
