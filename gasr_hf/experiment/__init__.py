"""``gasr experiment``: does a training set help? Train one recipe on several training sets, for
several seeds each, score every run as ``gasr eval`` does, and compare each set with a baseline by
paired per-image PSNR differences, with a bootstrap interval and a verdict."""

from gasr_hf.experiment.config import (
    EvalSettings,
    ExperimentConfig,
    Run,
    TrainingSet,
    load_experiment_config,
    plan_runs,
)
from gasr_hf.experiment.report import build_report, write_report
from gasr_hf.experiment.run import ExperimentResult, run_experiment, run_one
from gasr_hf.experiment.stats import PairedDelta, paired_delta, verdict

__all__ = [
    "EvalSettings",
    "ExperimentConfig",
    "ExperimentResult",
    "PairedDelta",
    "Run",
    "TrainingSet",
    "build_report",
    "load_experiment_config",
    "paired_delta",
    "plan_runs",
    "run_experiment",
    "run_one",
    "verdict",
    "write_report",
]
