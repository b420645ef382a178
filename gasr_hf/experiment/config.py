"""The experiment config and its plan: every (recipe, training set, seed) run as a complete
:class:`gasr_hf.sr.train.TrainConfig`, checked before any work starts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gasr_hf.config import from_dict, load_yaml, to_dict
from gasr_hf.files import json_digest
from gasr_hf.sr.train import SourceConfig, TrainConfig

DATA_DIR = "data"
"""``out/data``: the dataset repository the experiment's ``data`` build config is built into."""
RUNS_DIR = "runs"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


@dataclass(frozen=True)
class TrainingSet:
    """A named training set: configs of the experiment's own data repository, or any sources."""

    name: str
    configs: dict[str, float] = field(default_factory=dict)
    """Configs of ``out/data`` (built from the ``data`` section) and their sampling weights."""
    sources: tuple[SourceConfig, ...] = ()
    """Anything ``gasr train`` reads: repository folders with a config, Hub ids, Parquet globs."""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"sets: name {self.name!r} must start with a letter or digit and hold only "
                "letters, digits and _ . + -"
            )
        if bool(self.configs) == bool(self.sources):
            raise ValueError(f"sets: {self.name!r} needs exactly one of configs and sources")
        for config, weight in self.configs.items():
            if not weight > 0:
                raise ValueError(f"sets: {self.name!r} weight of {config!r} must be > 0")

    def train_sources(self, data_dir: Path) -> tuple[SourceConfig, ...]:
        if self.sources:
            return self.sources
        return tuple(
            SourceConfig(path=str(data_dir), config=name, weight=weight)
            for name, weight in self.configs.items()
        )


@dataclass(frozen=True)
class TileSettings:
    """Cut configs of the experiment's data into sub-images (``gasr tile``), as SR toolboxes do for
    DIV2K: a training crop then decodes a small tile instead of a whole 1024x1024 image. Each
    config ``c`` gains a config ``c-tiles`` that sets can name."""

    configs: tuple[str, ...]
    size: int = 256
    step: int = 256


@dataclass(frozen=True)
class EvalSettings:
    """How every run is scored: as ``gasr eval`` scores (these are its options)."""

    self_ensemble: bool = False
    tile: int | None = None
    tile_pad: int = 32
    device: str = "auto"


@dataclass(frozen=True)
class ExperimentConfig:
    """``gasr experiment``: train each recipe on each set for each seed, score, compare."""

    name: str
    out: Path
    baseline: str
    """The set every other set is compared with."""
    sets: tuple[TrainingSet, ...]
    seeds: tuple[int, ...]
    benches: tuple[str, ...]
    bench_root: Path | None = None
    recipes: dict[str, Path] = field(default_factory=dict)
    """Label -> a ``gasr train`` recipe YAML (its sources, output_dir and seed are replaced). Empty:
    ``train`` alone is the recipe, labelled with its model."""
    train: dict[str, Any] = field(default_factory=dict)
    """Training settings applied on top of every recipe (the step budget, patch, batch, ...).
    Validation defaults to the benchmarks, at the recipe's ``val_every``."""
    data: dict[str, Any] | None = None
    """A ``gasr build`` config without ``out``: built into ``out/data`` before any training."""
    tiles: TileSettings | None = None
    eval: EvalSettings = field(default_factory=EvalSettings)
    bootstrap_samples: int = 10_000
    bootstrap_seed: int = 0

    def __post_init__(self) -> None:
        names = [s.name for s in self.sets]
        if len(names) < 2:
            raise ValueError("sets: an experiment compares at least two training sets")
        if len(set(names)) != len(names):
            raise ValueError(f"sets: names must be unique, got {names}")
        if self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not one of the sets {names}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and at least one, got {list(self.seeds)}")
        if not self.benches:
            raise ValueError("benches must name at least one benchmark")
        if self.bootstrap_samples < 100:
            raise ValueError(f"bootstrap_samples must be >= 100, got {self.bootstrap_samples}")
        for label in self.recipes:
            if not _NAME.fullmatch(label):
                raise ValueError(f"recipes: label {label!r} must hold only letters, digits, _.+-")
        uses_data = any(s.configs for s in self.sets)
        if uses_data and self.data is None:
            raise ValueError("sets name configs of the experiment's data, but data is not set")
        if self.tiles is not None and self.data is None:
            raise ValueError("tiles: cuts configs of the experiment's data, but data is not set")
        if self.data is not None and "out" in self.data:
            raise ValueError("data: leave out 'out'; the experiment builds into <out>/data")

    @property
    def data_dir(self) -> Path:
        return Path(self.out) / DATA_DIR


def load_experiment_config(
    path: str | Path,
    *,
    out: str | Path | None = None,
    bench_root: str | Path | None = None,
    benches: Sequence[str] = (),
) -> ExperimentConfig:
    """Read an experiment YAML; ``out``, ``bench_root`` and ``benches`` replace the file's."""
    data = load_yaml(path)
    if out is not None:
        data["out"] = str(out)
    if bench_root is not None:
        data["bench_root"] = str(bench_root)
    if benches:
        data["benches"] = list(benches)
    return from_dict(ExperimentConfig, data, source=str(path))


@dataclass(frozen=True)
class Run:
    """One training run of the plan and where it lives."""

    recipe: str
    set: str
    seed: int
    train: TrainConfig
    folder: Path

    @property
    def key(self) -> str:
        return f"{self.recipe}/{self.set}/seed-{self.seed}"

    @property
    def fingerprint(self) -> str:
        settings = to_dict(self.train)
        settings.pop("output_dir")
        return json_digest(settings)


def _recipe_settings(config: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Label -> the recipe's settings with the experiment's ``train`` on top."""
    if not config.recipes:
        model = config.train.get("model")
        if not model:
            raise ValueError("train: set 'model' (or list recipes)")
        return {str(model): dict(config.train)}
    return {label: {**load_yaml(path), **config.train} for label, path in config.recipes.items()}


def plan_runs(config: ExperimentConfig, source: str = "experiment") -> list[Run]:
    """Every run, recipe by recipe, set by set, seed by seed; any invalid setting raises here."""
    runs = []
    for label, settings in _recipe_settings(config).items():
        if "val_sets" not in settings:
            settings = {**settings, "val_sets": list(config.benches)}
            if config.bench_root is not None:
                settings["val_root"] = str(config.bench_root)
        for training_set in config.sets:
            for seed in config.seeds:
                folder = Path(config.out) / RUNS_DIR / label / training_set.name / f"seed-{seed}"
                data = {
                    **settings,
                    "sources": [to_dict(s) for s in training_set.train_sources(config.data_dir)],
                    "output_dir": str(folder / "train"),
                    "seed": seed,
                }
                where = f"{source} (recipe {label}, set {training_set.name}, seed {seed})"
                runs.append(
                    Run(
                        label,
                        training_set.name,
                        seed,
                        from_dict(TrainConfig, data, source=where),
                        folder,
                    )
                )
    return runs


def check_inputs(config: ExperimentConfig, runs: Sequence[Run]) -> list[str]:
    """Problems found before any work: missing benchmark folders, recipe files, source folders."""
    problems = []
    for label, path in config.recipes.items():
        if not Path(path).is_file():
            problems.append(f"recipes: {label}: no such file {path}")
    if config.bench_root is not None and not Path(config.bench_root).is_dir():
        problems.append(f"bench_root {config.bench_root}: no such folder")
    elif config.bench_root is not None:
        for bench in config.benches:
            # Names with '/' or ':' may be datasets (Hub ids, 'repo:split'): gasr eval resolves them.
            folder_like = "/" not in bench and ":" not in bench
            here = (Path(config.bench_root) / bench).exists() or Path(bench).exists()
            if folder_like and not here:
                problems.append(f"benches: {bench!r} not found under {config.bench_root}")
    for real in (config.data or {}).get("real") or ():
        folder = real.get("folder") if isinstance(real, Mapping) else None
        if folder and not Path(folder).is_dir():
            problems.append(f"data.real: {real.get('name')}: no such folder {folder}")
    seen: set[str] = set()
    for path in sorted({str(r.train.init_weights) for r in runs if r.train.init_weights}):
        if not Path(path).is_file():
            problems.append(f"train: init_weights {path}: no such file")
    for run in runs:
        for src in run.train.sources:
            # gasr train's rule: a glob is matched when read; a path is local when it looks like one.
            glob = any(c in src.path for c in "*?[")
            local = src.path.startswith((".", "/", "~")) or src.path.count("/") > 1
            if local and not glob and src.path not in seen and Path(src.path) != config.data_dir:
                seen.add(src.path)
                if not Path(src.path).exists():
                    problems.append(f"sets: source {src.path}: no such file or folder")
    return problems


def data_settings(config: ExperimentConfig) -> Mapping[str, Any] | None:
    """The build config of the experiment's data, with its ``out`` filled in."""
    if config.data is None:
        return None
    return {**config.data, "out": str(config.data_dir)}
