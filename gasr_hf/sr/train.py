"""Train RCAN, HAT or MambaIR-light on GASR data with one ``accelerate.Accelerator``.

The loop follows the papers' recipes (``examples/configs/*_x4.yaml``): L1 loss, Adam, MultiStepLR,
an exponential moving average (EMA) of the weights with a warm-up (decay
``min(d, (1 + t) / (10 + t))`` after step t, so that a short run's EMA is not still mostly its random
start), x4 bicubic pairs with dihedral augmentation streamed by :mod:`gasr_hf.sr.data`. Accelerate brings multi-GPU, mixed precision, gradient
accumulation, checkpoints and trackers; the same function runs single-process (``gasr train``) or
under ``accelerate launch examples/train_sr.py``.

Checkpoints are ``output_dir/checkpoint-N`` folders written by ``Accelerator.save_state`` (model
weights as safetensors) into ``checkpoint-N.tmp`` and renamed once complete, so a kill never leaves
a half-written ``checkpoint-N``; a new run refuses an ``output_dir`` that holds one. The EMA and
every rank's data-stream position are registered for checkpointing, so a resumed run continues with
the very batches, weights and random state of the uninterrupted one. Each checkpoint and the end of
training also export the EMA weights as
``<model>_x<scale>_ema.safetensors``, which ``spandrel.ModelLoader().load_from_file`` loads.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from gasr_hf.config import from_dict, load_yaml, save_yaml, to_dict

if TYPE_CHECKING:
    import datasets
    import torch
    from accelerate import Accelerator

    from gasr_hf.sr.data import SRPairLoader

logger = logging.getLogger(__name__)

__all__ = [
    "SMOKE_OVERRIDES",
    "SourceConfig",
    "TrainConfig",
    "TrainResult",
    "apply_overrides",
    "ema_decay_at",
    "export_weights",
    "latest_checkpoint",
    "load_train_config",
    "make_accelerator",
    "train",
]

CHECKPOINT_PREFIX = "checkpoint-"
TMP_SUFFIX = ".tmp"
"""A checkpoint being written: ``checkpoint-N.tmp``, renamed to ``checkpoint-N`` when complete."""
OLD_SUFFIX = ".old"
"""A checkpoint being replaced by a new save of the same step."""
LOG_FILE = "train_log.jsonl"
CONFIG_FILE = "train_config.yaml"
TRACKER_PROJECT = "train_sr"

SMOKE_OVERRIDES: Mapping[str, Any] = MappingProxyType(
    {
        "tiny_model": True,
        "batch_size": 4,
        "gradient_accumulation_steps": 1,
        "hr_size": 64,
        "max_steps": 20,
        "mixed_precision": "no",
        "num_workers": 0,
        "shuffle_buffer": 16,
        "checkpoint_every": 10,
        "val_every": 10,
        "log_every": 1,
    }
)
"""Settings ``--smoke`` applies before ``--set``: a tiny model on small crops, 20 steps; each recipe
runs in well under a minute on CPU."""


@dataclass(frozen=True)
class SourceConfig:
    """One training source: a local dataset folder, a Hub id, a Parquet file or a glob."""

    path: str
    """A folder (our layout ``data/<config>/<split>-*.parquet`` or anything ``datasets`` loads), a
    Hub dataset id, a ``.parquet`` file or a glob of them."""
    config: str | None = None
    """Dataset config (subset) name, e.g. ``gasr``; not used with Parquet files or globs."""
    split: str = "train"
    weight: float = 1.0
    """Relative sampling weight when several sources are mixed."""

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("sources: path must not be empty")
        if not self.weight > 0:
            raise ValueError(f"sources: weight of {self.path!r} must be > 0, got {self.weight}")


@dataclass(frozen=True)
class TrainConfig:
    """A training run. Loaded from YAML by :func:`load_train_config`; an unknown key fails there.

    ``batch_size`` is the number of pairs per optimizer step over all processes and accumulation
    steps (the papers' batch size), so a recipe means the same on one GPU or eight.
    """

    model: str
    """A key of ``gasr_hf.sr.models.MODEL_CONFIGS``: ``rcan``, ``hat``, ``mambair-light``, or the
    CPU-sized ``compact`` and ``rcan-small``."""
    sources: tuple[SourceConfig, ...]
    output_dir: Path
    scale: int = 4
    model_args: dict[str, Any] = field(default_factory=dict)
    """Init arguments replacing the published configuration's (see ``gasr_hf.sr.models``)."""
    tiny_model: bool = False
    """Start from the model's tiny test configuration (smoke runs); ``model_args`` apply on top."""
    init_weights: Path | None = None
    """Fine-tune: start from these weights instead of a random initialisation (ours, or an official
    ``.pth``/``.safetensors``; BasicSR's ``params_ema`` is unwrapped), e.g. x4 from an x2 model.
    Used by a fresh run only; a resumed run continues from its checkpoint."""
    init_strict: bool = True
    """With ``init_weights``: every model key not excluded must load, with its shape. False loads
    the keys whose names and shapes match and logs the rest."""
    init_exclude: tuple[str, ...] = ()
    """Regular expressions; checkpoint keys matching any are not loaded and the model's matching
    keys keep their random initialisation (e.g. ``^tail\\.`` for RCAN's upsampler, x2 -> x4)."""
    hr_size: int = 192
    """HR patch size; the LR patch is ``hr_size // scale``."""
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_steps: int = 500_000
    lr: float = 1e-4
    adam_betas: tuple[float, ...] = (0.9, 0.999)
    adam_eps: float = 1e-8
    weight_decay: float = 0.0
    lr_milestones: tuple[int, ...] = ()
    lr_gamma: float = 0.5
    ema_decay: float = 0.999
    ema_warmup: bool = True
    """Use ``min(ema_decay, (1 + t) / (10 + t))`` after step t (the TensorFlow/timm warm-up); off:
    the constant decay of BasicSR, which keeps runs of a few thousand steps near their random
    initialisation."""
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    seed: int = 0
    shuffle_buffer: int = 1000
    num_workers: int = 4
    """DataLoader workers per process (at most the number of shards; fewer are used, with a
    warning, when the data has fewer shards)."""
    checkpoint_every: int = 5000
    checkpoints_total_limit: int | None = None
    """Keep at most this many ``checkpoint-N`` folders (the oldest are deleted); None keeps all."""
    val_sets: tuple[str, ...] = ()
    """Validation benchmarks: image folders or datasets, as for ``gasr eval`` (e.g. Set5)."""
    val_root: Path | None = None
    """Folder holding the ``val_sets`` folders."""
    val_every: int = 5000
    log_every: int = 100
    report_to: Literal["tensorboard", "none"] = "tensorboard"

    def __post_init__(self) -> None:
        from gasr_hf.sr.models import model_spec

        spec = model_spec(self.model)
        spec.init_args(self.scale, **self.model_args)  # raises on an unknown argument
        if not self.sources:
            raise ValueError("sources must list at least one dataset")
        positive = {
            "scale": self.scale,
            "hr_size": self.hr_size,
            "batch_size": self.batch_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "max_steps": self.max_steps,
            "checkpoint_every": self.checkpoint_every,
            "val_every": self.val_every,
            "log_every": self.log_every,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.hr_size % self.scale:
            raise ValueError(
                f"hr_size must be a multiple of scale={self.scale}, got {self.hr_size}"
            )
        if self.batch_size % self.gradient_accumulation_steps:
            raise ValueError(
                f"batch_size={self.batch_size} is not divisible by "
                f"gradient_accumulation_steps={self.gradient_accumulation_steps}"
            )
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas):
            raise ValueError(f"adam_betas must be two numbers in [0, 1), got {self.adam_betas}")
        if any(m < 1 for m in self.lr_milestones) or list(self.lr_milestones) != sorted(
            set(self.lr_milestones)
        ):
            raise ValueError(
                f"lr_milestones must be increasing positive steps, got {self.lr_milestones}"
            )
        if not 0 < self.lr_gamma <= 1:
            raise ValueError(f"lr_gamma must be in (0, 1], got {self.lr_gamma}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.num_workers < 0 or self.shuffle_buffer < 0:
            raise ValueError("num_workers and shuffle_buffer must be >= 0")
        if self.checkpoints_total_limit is not None and self.checkpoints_total_limit < 1:
            raise ValueError(
                f"checkpoints_total_limit must be >= 1 or null, got {self.checkpoints_total_limit}"
            )
        if self.val_root is not None and not self.val_sets:
            raise ValueError("val_root is set but val_sets is empty")
        for pattern in self.init_exclude:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(
                    f"init_exclude: {pattern!r} is not a regular expression: {err}"
                ) from err
        if self.init_exclude and self.init_weights is None:
            raise ValueError("init_exclude is set but init_weights is not")

    def model_overrides(self) -> dict[str, Any]:
        """The init arguments given to ``build`` on top of the published configuration."""
        from gasr_hf.sr.models import tiny_config

        base = tiny_config(self.model) if self.tiny_model else {}
        return {**base, **self.model_args}

    @property
    def export_name(self) -> str:
        return f"{self.model}_x{self.scale}_ema.safetensors"


@dataclass
class TrainResult:
    """What :func:`train` leaves behind."""

    output_dir: Path
    steps: int
    """Optimizer steps done (``max_steps`` unless the run was already complete)."""
    checkpoint: Path
    """The last ``checkpoint-N`` folder."""
    ema_weights: Path
    """The exported EMA weights (spandrel-loadable safetensors)."""
    ema_model: torch.nn.Module
    """The EMA model itself, in eval mode."""
    validation: dict[str, float] = field(default_factory=dict)
    """The last validation scores of the EMA weights: ``{"<set>/psnr": ..., "<set>/ssim": ...}``."""
    validation_raw: dict[str, float] = field(default_factory=dict)
    """The same for the raw (optimised) weights."""


# --------------------------------------------------------------------------- configs

_YAML11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n"})


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` overrides to a config mapping; VALUE is parsed as YAML.

    Dotted keys reach into mappings: ``model_args.n_feats=32``. Only ``true`` and ``false`` are
    booleans (YAML 1.2), so ``mixed_precision=no`` stays the string ``"no"``. A malformed override
    raises ``ValueError`` naming it; unknown keys are caught later, by :func:`load_train_config`.
    """
    import yaml

    result = json.loads(json.dumps(dict(data), default=str))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not KEY=VALUE")
        try:
            # YAML 1.2 booleans only: PyYAML's 1.1 rules would read mixed_precision=no as false.
            value = raw if raw.strip().lower() in _YAML11_BOOLEANS else yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise ValueError(f"override {item!r}: value is not valid YAML ({err})") from err
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"override {item!r}: {part!r} is not a mapping")
            node = child
        node[leaf] = value
    return result


def load_train_config(
    path: str | Path,
    overrides: Sequence[str] = (),
    *,
    max_steps: int | None = None,
    smoke: bool = False,
) -> TrainConfig:
    """Read a recipe, then apply :data:`SMOKE_OVERRIDES` (``smoke``), ``overrides`` (``KEY=VALUE``)
    and ``max_steps``, in that order. Errors name the file and the key."""
    data = load_yaml(path)
    if smoke:
        data = {**data, **SMOKE_OVERRIDES}
    data = apply_overrides(data, overrides)
    if max_steps is not None:
        data["max_steps"] = max_steps
    try:
        return from_dict(TrainConfig, data, source=str(path))
    except ValueError as err:
        message = str(err)
        raise ValueError(
            message if message.startswith(str(path)) else f"{path}: {message}"
        ) from err


# --------------------------------------------------------------------------- data


def _open_source(source: SourceConfig, position: int) -> str | datasets.IterableDataset:
    """What :class:`gasr_hf.sr.data.SRPairStream` takes for ``source``."""
    import datasets

    where = f"sources[{position}] ({source.path})"
    path = Path(source.path)
    if source.path.endswith(".parquet") or any(ch in source.path for ch in "*?["):
        if source.config is not None:
            raise ValueError(f"{where}: config is only for dataset folders and Hub ids")
        return source.path
    if path.is_dir():
        ours = path / "data" / source.config if source.config else None
        if ours is not None and ours.is_dir():
            pattern = ours / f"{source.split}-*.parquet"
            if not list(ours.glob(pattern.name)):
                raise FileNotFoundError(f"{where}: no {pattern.name} in {ours}")
            return str(pattern)
        return datasets.load_dataset(
            str(path), name=source.config, split=source.split, streaming=True
        )
    if source.path.startswith((".", "/", "~")) or source.path.count("/") > 1:
        raise FileNotFoundError(f"{where}: no such folder")
    try:
        return datasets.load_dataset(
            source.path, name=source.config, split=source.split, streaming=True
        )
    except (ConnectionError, FileNotFoundError) as err:
        raise FileNotFoundError(
            f"{where}: neither a local folder nor a dataset loadable from the Hub ({err})"
        ) from err


def _pair_stream_config(config: TrainConfig) -> Any:
    from gasr_hf.sr.data import SRPairConfig

    weights = [s.weight for s in config.sources]
    return SRPairConfig(
        scale=config.scale,
        hr_size=config.hr_size,
        weights=tuple(weights) if len(set(weights)) > 1 else None,
        shuffle_buffer=config.shuffle_buffer,
        seed=config.seed,
    )


class _LoaderState:
    """Every rank's data position as one checkpointed object.

    ``save_state`` writes registered objects from the main process only, so ``state_dict`` gathers
    the positions of all ranks (it runs on all of them) and ``load_state_dict`` takes this rank's.
    """

    def __init__(self, loader: SRPairLoader, accelerator: Accelerator) -> None:
        self.loader = loader
        self.accelerator = accelerator

    def state_dict(self) -> dict[str, Any]:
        from accelerate.utils import gather_object

        mine = self.loader.state_dict()
        ranks = gather_object([mine]) if self.accelerator.num_processes > 1 else [mine]
        return {"ranks": ranks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ranks = state["ranks"]
        if len(ranks) != self.accelerator.num_processes:
            raise ValueError(
                f"checkpoint was saved by {len(ranks)} processes, resumed with "
                f"{self.accelerator.num_processes}; resume with the same number"
            )
        self.loader.load_state_dict(ranks[self.accelerator.process_index])


def _build_loader(config: TrainConfig, accelerator: Accelerator, micro_batch: int) -> SRPairLoader:
    from gasr_hf.sr.data import SRPairLoader, SRPairStream

    sources = [_open_source(s, i) for i, s in enumerate(config.sources)]
    stream = SRPairStream(
        sources,
        _pair_stream_config(config),
        rank=accelerator.process_index,
        world_size=accelerator.num_processes,
    )
    workers = config.num_workers
    if workers > stream.num_shards:
        logger.warning(
            "num_workers=%d but the data has %d shard(s) per process; using %d workers",
            workers,
            stream.num_shards,
            stream.num_shards,
        )
        workers = stream.num_shards
    return SRPairLoader(
        stream,
        micro_batch,
        num_workers=workers,
        pin_memory=accelerator.device.type == "cuda",
        prefetch_factor=4 if workers else None,
    )


def _batches(loader: SRPairLoader) -> Iterator[dict[str, Any]]:
    """The loader's batches. Starting a DataLoader draws a seed from torch's global generator; that
    draw is kept out of the training stream, so a resumed run draws the same random numbers
    (drop path) as the uninterrupted one."""
    import torch

    iterator = iter(loader)
    with torch.random.fork_rng(devices=[]):
        first = next(iterator)
    yield first
    yield from iterator


# --------------------------------------------------------------------------- validation


def _load_val_sets(config: TrainConfig) -> list[tuple[str, list[tuple[np.ndarray, np.ndarray]]]]:
    """(LR, HR) uint8 pairs of each validation set, made as ``gasr eval`` makes them."""
    from gasr_hf.sr.evaluate import list_bench_images
    from gasr_hf.sr.resize import imresize

    if config.val_root is not None and not config.val_root.is_dir():
        raise FileNotFoundError(f"val_root {config.val_root}: no such folder")
    scale = config.scale
    sets = []
    for bench in config.val_sets:
        pairs = []
        for name, load in list_bench_images(bench, config.val_root):
            hr = load()
            h, w = hr.shape[:2]
            hr = hr[: h - h % scale, : w - w % scale]
            if min(hr.shape[:2]) < 4 * scale:
                raise ValueError(f"val set {bench!r} image {name}: {w}x{h} is too small")
            pairs.append((imresize(hr, 1.0 / scale), hr))
        if not pairs:
            raise ValueError(f"val set {bench!r} has no images")
        sets.append((Path(bench).name, pairs))
    return sets


def _validate(
    model: torch.nn.Module,
    val_sets: list[tuple[str, list[tuple[np.ndarray, np.ndarray]]]],
    scale: int,
    device: torch.device,
) -> dict[str, float]:
    """Mean PSNR/SSIM on Y (border ``scale``) of the rounded outputs, as ``gasr eval`` scores."""
    from gasr_hf.sr.evaluate import Upscaler, upscale_image
    from gasr_hf.sr.metrics import calculate_psnr_ssim

    upscaler = Upscaler("ema", scale, model, str(device))
    scores: dict[str, float] = {}
    for name, pairs in val_sets:
        values = [
            calculate_psnr_ssim(upscale_image(upscaler, lr), hr, scale, test_y_channel=True)
            for lr, hr in pairs
        ]
        scores[f"{name}/psnr"] = float(np.mean([v[0] for v in values]))
        scores[f"{name}/ssim"] = float(np.mean([v[1] for v in values]))
    return scores


# --------------------------------------------------------------------------- fine-tuning


def _load_init_weights(model: torch.nn.Module, config: TrainConfig) -> None:
    """Load ``config.init_weights`` into ``model`` (see :class:`TrainConfig`)."""
    from gasr_hf.sr.models import load_state_dict

    path = config.init_weights
    state = load_state_dict(path)
    patterns = [re.compile(p) for p in config.init_exclude]
    excluded = lambda key: any(p.search(key) for p in patterns)  # noqa: E731
    ours = {k: v for k, v in model.state_dict().items() if not excluded(k)}
    given = {k: v for k, v in state.items() if not excluded(k)}
    mismatched = sorted(k for k in given.keys() & ours.keys() if given[k].shape != ours[k].shape)
    missing, unexpected = sorted(ours.keys() - given.keys()), sorted(given.keys() - ours.keys())
    problems = {"missing": missing, "unexpected": unexpected, "shape mismatch": mismatched}
    found = {name: keys for name, keys in problems.items() if keys}
    summary = "; ".join(
        f"{name}: {', '.join(keys[:4])}{' ...' if len(keys) > 4 else ''} ({len(keys)})"
        for name, keys in found.items()
    )
    if found and config.init_strict:
        raise ValueError(
            f"init_weights {path} does not fit {config.model} x{config.scale} ({summary}); "
            "exclude keys with init_exclude, or set init_strict: false"
        )
    loadable = {k: v for k, v in given.items() if k in ours and k not in mismatched}
    model.load_state_dict(loadable, strict=False)
    logger.info(
        "initialised %d of %d tensors from %s%s",
        len(loadable),
        len(model.state_dict()),
        path,
        f" (not loaded: {summary})" if found else "",
    )


# --------------------------------------------------------------------------- EMA


def ema_decay_at(decay: float, step: int, warmup: bool = True) -> float:
    """The EMA decay used for the update after optimizer step ``step`` (1-based)."""
    return min(decay, (1 + step) / (10 + step)) if warmup else decay


def _ema_update(decay: float, warmup: bool) -> Callable[..., None]:
    """A ``multi_avg_fn`` for ``AveragedModel``. Its ``num_averaged`` counts the initial copy too,
    so the update after step t sees t: the count is checkpointed with the EMA, and a resumed run
    continues the same decay schedule."""
    import torch

    @torch.no_grad()
    def update(
        ema_params: list[torch.Tensor], params: list[torch.Tensor], num_averaged: torch.Tensor
    ) -> None:
        weight = 1.0 - ema_decay_at(decay, int(num_averaged), warmup)
        torch._foreach_lerp_(ema_params, params, weight)

    return update


# --------------------------------------------------------------------------- checkpoints


def _checkpoint_step(path: Path) -> int | None:
    """N for a completed ``checkpoint-N`` folder; None for anything else (temporary folders too)."""
    match = re.fullmatch(rf"{CHECKPOINT_PREFIX}(\d+)", path.name)
    return int(match.group(1)) if match and path.is_dir() else None


def _checkpoints(output_dir: Path) -> list[Path]:
    if not output_dir.is_dir():
        return []
    found = [(s, p) for p in output_dir.iterdir() if (s := _checkpoint_step(p)) is not None]
    return [p for _, p in sorted(found)]


def _remove_unfinished_checkpoints(output_dir: Path) -> None:
    """Delete the ``checkpoint-N.tmp`` / ``.old`` folders of saves that were killed midway."""
    if not output_dir.is_dir():
        return
    suffixes = "|".join(re.escape(s) for s in (TMP_SUFFIX, OLD_SUFFIX))
    for path in sorted(output_dir.iterdir()):
        if re.fullmatch(rf"{CHECKPOINT_PREFIX}\d+(?:{suffixes})", path.name) and path.is_dir():
            logger.warning("removing %s, left by an interrupted checkpoint save", path)
            shutil.rmtree(path)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The completed ``checkpoint-N`` folder with the largest N under ``output_dir``, or None.

    A save in progress (or killed) writes ``checkpoint-N.tmp``, which is never returned.
    """
    found = _checkpoints(Path(output_dir))
    return found[-1] if found else None


def _resolve_resume(resume: str | Path | None, output_dir: Path) -> Path | None:
    if resume is None:
        found = latest_checkpoint(output_dir)
        if found is not None:
            raise FileExistsError(
                f"output_dir {output_dir} already holds a run ({found.name}); pass --resume latest "
                "(resume='latest') to continue it, or choose another output_dir"
            )
        return None
    if str(resume) == "latest":
        found = latest_checkpoint(output_dir)
        if found is None:
            logger.info("no checkpoint in %s to resume from; starting a new run", output_dir)
        return found
    path = Path(resume)
    if not path.is_dir():
        raise FileNotFoundError(f"resume: checkpoint folder {path} not found")
    if _checkpoint_step(path) is None:
        raise ValueError(f"resume: {path} is not a {CHECKPOINT_PREFIX}N folder")
    return path


def export_weights(model: torch.nn.Module, path: str | Path) -> Path:
    """Write ``model``'s state dict as safetensors (what spandrel and ``build(weights=)`` read)."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, tmp, metadata={"format": "pt"})
    tmp.replace(path)
    return path


def _save_checkpoint(
    accelerator: Accelerator, config: TrainConfig, ema_module: torch.nn.Module, step: int
) -> Path:
    """Write ``checkpoint-{step}`` so that a kill at any point leaves the completed checkpoints as
    they were: every process saves into ``checkpoint-{step}.tmp``, the main process renames it into
    place once all are done and only then prunes beyond ``checkpoints_total_limit``."""
    out = config.output_dir / f"{CHECKPOINT_PREFIX}{step}"
    tmp = out.with_name(out.name + TMP_SUFFIX)
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)  # left by a killed save of this step
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=True)
    if accelerator.is_main_process:
        export_weights(ema_module, tmp / config.export_name)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if out.exists():
            # A run resumed from an earlier checkpoint reaches this step again: move the old
            # folder aside in one rename, so no half-deleted checkpoint-N is ever visible.
            old = out.with_name(out.name + OLD_SUFFIX)
            if old.exists():
                shutil.rmtree(old)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
        limit = config.checkpoints_total_limit
        if limit is not None:
            older = [p for p in _checkpoints(config.output_dir) if p != out]
            for stale in older[: max(0, len(older) - (limit - 1))]:
                logger.info("removing old checkpoint %s", stale)
                shutil.rmtree(stale)
    accelerator.wait_for_everyone()
    return out


# --------------------------------------------------------------------------- logging


class _RunLog:
    """``train_log.jsonl`` in the output folder (main process): one JSON record per log event.

    On resume, records after the resumed step (left by the interrupted run) are dropped, and so is
    a last line cut short by a kill.
    """

    def __init__(self, path: Path, start_step: int, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled
        if enabled and path.is_file():
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            kept = []
            for n, line in enumerate(lines, 1):
                try:
                    step = json.loads(line)["step"]
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    if n == len(lines):
                        logger.warning("%s: dropping an incomplete last line", path)
                        break
                    raise ValueError(f"{path} line {n} is not a log record: {err}") from err
                if step <= start_step:
                    kept.append(line)
            tmp = path.with_name(path.name + TMP_SUFFIX)
            tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
            tmp.replace(path)

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps(record) + "\n")


def _tracker_config(config: TrainConfig) -> dict[str, Any]:
    """The config flattened to the scalar values TensorBoard's hparams accept."""
    flat = {}
    for key, value in to_dict(config).items():
        flat[key] = value if isinstance(value, (int, float, str, bool)) else json.dumps(value)
    return flat


# --------------------------------------------------------------------------- training


def _check_launch(accelerator: Accelerator) -> None:
    """Refuse a launch whose processes do not form the run they were started as: torchrun and
    ``accelerate launch --multi_gpu`` set WORLD_SIZE; on a machine without GPUs, accelerate then
    falls back to one process per launcher process, each a rank-0 run into the same output_dir."""
    import os

    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != accelerator.num_processes:
        raise ValueError(
            f"the launcher started {launched} processes (WORLD_SIZE={launched}) but accelerate "
            f"runs {accelerator.num_processes}: each would train alone into the same output_dir. "
            "Without GPUs set ACCELERATE_USE_CPU=1, e.g. ACCELERATE_USE_CPU=1 torchrun "
            f"--standalone --nproc_per_node {launched} examples/train_sr.py --config ..."
        )


def make_accelerator(config: TrainConfig) -> Accelerator:
    """The Accelerator a run of ``config`` uses: its precision, accumulation and trackers."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    return Accelerator(
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        log_with=None if config.report_to == "none" else config.report_to,
        project_config=ProjectConfiguration(
            project_dir=str(config.output_dir), logging_dir=str(config.output_dir / "logs")
        ),
        # The scheduler counts optimizer steps (the papers' iterations), stepped by hand below.
        step_scheduler_with_optimizer=False,
    )


def train(
    config: TrainConfig,
    *,
    resume: str | Path | None = None,
    accelerator: Accelerator | None = None,
) -> TrainResult:
    """Train ``config.model`` for ``config.max_steps`` optimizer steps; see the module docstring.

    ``resume`` is ``"latest"`` (the newest checkpoint in ``output_dir``, or a fresh start when there
    is none) or a ``checkpoint-N`` folder; with None, an ``output_dir`` already holding a checkpoint
    raises ``FileExistsError`` rather than mixing two runs. ``accelerator`` defaults to
    :func:`make_accelerator`; one passed in must match the config's precision and accumulation
    steps.
    """
    import torch
    import torch.nn.functional as F
    from accelerate.utils import set_seed
    from torch.optim.swa_utils import AveragedModel
    from tqdm.auto import tqdm

    from gasr_hf.sr.models import build

    if accelerator is None:
        accelerator = make_accelerator(config)
    elif (
        accelerator.gradient_accumulation_steps != config.gradient_accumulation_steps
        or accelerator.mixed_precision != config.mixed_precision
    ):
        raise ValueError(
            f"accelerator has gradient_accumulation_steps={accelerator.gradient_accumulation_steps}"
            f" and mixed_precision={accelerator.mixed_precision!r}; the config asks for "
            f"{config.gradient_accumulation_steps} and {config.mixed_precision!r}"
        )
    _check_launch(accelerator)
    per_step = accelerator.num_processes * config.gradient_accumulation_steps
    if config.batch_size % per_step:
        raise ValueError(
            f"batch_size={config.batch_size} is not divisible by {accelerator.num_processes} "
            f"processes x {config.gradient_accumulation_steps} accumulation steps"
        )
    micro_batch = config.batch_size // per_step
    resume_from = _resolve_resume(resume, config.output_dir)
    if accelerator.is_main_process:
        _remove_unfinished_checkpoints(config.output_dir)
    val_sets = _load_val_sets(config) if accelerator.is_main_process else []

    set_seed(config.seed)
    model = build(config.model, config.scale, **config.model_overrides())
    if config.init_weights is not None and resume_from is None:
        _load_init_weights(model, config)
    # BasicSR's EMA: starts at the initial weights, averages parameters only (buffers are fixed).
    ema = AveragedModel(model, multi_avg_fn=_ema_update(config.ema_decay, config.ema_warmup))
    ema.update_parameters(model)
    ema.requires_grad_(False).eval()
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=config.lr,
        betas=tuple(config.adam_betas),
        eps=config.adam_eps,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(config.lr_milestones), gamma=config.lr_gamma
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    # Same initial weights on every rank (above); from here each rank draws its own random numbers
    # (drop path), while the data order stays set by the stream's seed, rank and position.
    set_seed(config.seed + accelerator.process_index)
    if accelerator.num_processes > 1:
        logger.info(
            "rank %d draws its random numbers from seed %d",
            accelerator.process_index,
            config.seed + accelerator.process_index,
        )
    ema.to(accelerator.device)
    loader = _build_loader(config, accelerator, micro_batch)
    accelerator.register_for_checkpointing(ema, _LoaderState(loader, accelerator))

    step = 0
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        step = _checkpoint_step(resume_from) or 0
        if accelerator.is_main_process:
            logger.info("resumed from %s at step %d", resume_from, step)
    if accelerator.is_main_process:
        config.output_dir.mkdir(parents=True, exist_ok=True)
        save_yaml(config, config.output_dir / CONFIG_FILE)
    accelerator.init_trackers(TRACKER_PROJECT, config=_tracker_config(config))
    run_log = _RunLog(config.output_dir / LOG_FILE, step, accelerator.is_main_process)
    if accelerator.is_main_process:
        logger.info(
            "training %s x%d (%d parameters) for %d steps: batch %d = %d processes x %d accumulation "
            "x %d, patch %d",
            config.model,
            config.scale,
            sum(p.numel() for p in ema.module.parameters()),
            config.max_steps,
            config.batch_size,
            accelerator.num_processes,
            config.gradient_accumulation_steps,
            micro_batch,
            config.hr_size,
        )

    validation: dict[str, float] = {}
    validation_raw: dict[str, float] = {}
    epoch = loader.stream.epoch
    checkpoint = resume_from
    loss_sum = torch.zeros((), device=accelerator.device)
    loss_steps = 0
    batches = _batches(loader)
    progress = tqdm(
        total=config.max_steps,
        initial=step,
        desc=f"train {config.model}",
        unit="step",
        disable=not accelerator.is_local_main_process,
    )
    model.train()
    while step < config.max_steps:
        for _ in range(config.gradient_accumulation_steps):
            batch = next(batches)
            epoch = int(batch["epoch"].max())
            lr_patch = batch["lr"].to(accelerator.device, non_blocking=True)
            hr_patch = batch["hr"].to(accelerator.device, non_blocking=True)
            with accelerator.accumulate(model):
                loss = F.l1_loss(model(lr_patch).float(), hr_patch)
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.detach() / config.gradient_accumulation_steps
        if not accelerator.sync_gradients:
            raise RuntimeError("gradient accumulation is out of step with the optimizer steps")
        scheduler.step()
        ema.update_parameters(accelerator.unwrap_model(model))
        step += 1
        loss_steps += 1
        progress.update(1)

        last = step == config.max_steps
        if step % config.log_every == 0 or last:
            mean_loss = accelerator.reduce(loss_sum, reduction="mean").item() / loss_steps
            record = {
                "step": step,
                "loss": mean_loss,
                "lr": scheduler.get_last_lr()[0],
                "epoch": epoch,
                "skipped_images": loader.skipped,
            }
            accelerator.log({f"train/{k}": v for k, v in record.items() if k != "step"}, step)
            run_log.write(record)
            progress.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{record['lr']:.2e}")
            loss_sum.zero_()
            loss_steps = 0
        if val_sets and (step % config.val_every == 0 or last):
            raw = accelerator.unwrap_model(model)
            raw.eval()
            validation_raw = _validate(raw, val_sets, config.scale, accelerator.device)
            raw.train()
            validation = _validate(ema.module, val_sets, config.scale, accelerator.device)
            scores = {f"val/{k}": v for k, v in validation.items()}
            scores |= {f"val_raw/{k}": v for k, v in validation_raw.items()}
            accelerator.log(scores, step)
            run_log.write({"step": step, **scores})
            logger.info(
                "step %d validation (EMA | raw): %s",
                step,
                ", ".join(f"{k} {v:.4f} | {validation_raw[k]:.4f}" for k, v in validation.items()),
            )
        if step % config.checkpoint_every == 0 or last:
            checkpoint = _save_checkpoint(accelerator, config, ema.module, step)
    progress.close()

    if checkpoint is None:
        # Unreachable while max_steps >= 1: a fresh run saves at its last step.
        raise RuntimeError(f"no checkpoint after {step} steps in {config.output_dir}")
    exported = config.output_dir / config.export_name
    if accelerator.is_main_process:
        shutil.copyfile(checkpoint / config.export_name, exported)
        logger.info("EMA weights of step %d exported to %s", step, exported)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(
        output_dir=config.output_dir,
        steps=step,
        checkpoint=checkpoint,
        ema_weights=exported,
        ema_model=ema.module,
        validation=validation,
        validation_raw=validation_raw,
    )
