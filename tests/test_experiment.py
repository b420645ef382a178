"""gasr experiment: paired statistics, the plan's checks, a resumable run of tiny models that writes
the report, runs spread over launcher processes, and the shipped smoke experiment."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml
from PIL import Image

import gasr_hf.sr.train as train_module
from gasr_hf.experiment import (
    load_experiment_config,
    paired_delta,
    plan_runs,
    run_experiment,
    verdict,
)
from gasr_hf.sr.train import train

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "examples" / "experiments"


@pytest.fixture(autouse=True, scope="module")
def _quick_cpu():
    import torch

    threads = torch.get_num_threads()
    pause = datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN
    torch.set_num_threads(1)
    datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = 0
    yield
    torch.set_num_threads(threads)
    datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = pause


# --------------------------------------------------------------------------- statistics


def test_paired_delta_of_a_consistent_gain_is_better():
    rng = np.random.default_rng(0)
    deltas = 0.3 + rng.normal(0, 0.05, size=(3, 40))
    result = paired_delta(deltas, samples=2000, seed=1)
    assert result.delta == pytest.approx(deltas.mean())
    assert result.per_seed == pytest.approx(tuple(deltas.mean(axis=1)))
    assert result.ci95[0] < result.delta < result.ci95[1]
    assert result.ci95[0] > 0.25
    assert result.seeds_positive == 3
    assert result.verdict == "better"


def test_paired_delta_of_noise_is_within_noise_and_a_loss_is_worse():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.3, size=(3, 30))
    assert paired_delta(noise, samples=2000).verdict == "within noise"
    assert paired_delta(noise - 1.0, samples=2000).verdict == "worse"


def test_one_seed_against_the_others_keeps_the_verdict_within_noise():
    deltas = np.array([[0.5] * 20, [0.4] * 20, [-0.1] * 20])
    result = paired_delta(deltas, samples=2000)
    assert result.seeds_positive == 2
    assert result.verdict == "within noise"


def test_the_bootstrap_interval_widens_with_seed_noise():
    rng = np.random.default_rng(3)
    images = rng.normal(0, 0.2, size=40)
    tight = np.stack([0.2 + images] * 3)
    loose = np.stack([s + images for s in (0.0, 0.2, 0.4)])
    width = lambda d: np.subtract(*paired_delta(d, samples=3000).ci95[::-1])  # noqa: E731
    assert width(loose) > 2 * width(tight)


def test_verdict_rules():
    assert verdict((0.1, 0.3), [0.2, 0.1]) == "better"
    assert verdict((0.1, 0.3), [0.2, -0.1]) == "within noise"
    assert verdict((-0.3, -0.1), [-0.2, -0.1]) == "worse"
    assert verdict((-0.1, 0.3), [0.2, 0.1]) == "within noise"


def test_paired_delta_rejects_bad_input():
    with pytest.raises(ValueError, match="seeds, images"):
        paired_delta(np.zeros(5))
    with pytest.raises(ValueError, match="non-finite"):
        paired_delta(np.array([[np.inf, 0.0]]))


# --------------------------------------------------------------------------- tiny data


def _smooth_images(n: int, size: tuple[int, int], seed: int, freq: float) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w] / freq
    images = []
    for _ in range(n):
        f, phase = rng.uniform(0.3, 1.2, 3), rng.uniform(0, 6, 3)
        planes = [np.sin(f[c] * x + phase[c]) * np.cos(f[(c + 1) % 3] * y) for c in range(3)]
        images.append(((np.stack(planes, -1) * 0.5 + 0.5) * 255).round().astype(np.uint8))
    return images


def _repo(root: Path, config: str, images: list[np.ndarray]) -> Path:
    rows = []
    for i, img in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, format="PNG")
        rows.append({"bytes": buffer.getvalue(), "path": f"{i:03d}.png"})
    shard = root / "data" / config / "train-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True)
    datasets.Dataset.from_dict({"image": rows}).cast_column("image", datasets.Image()).to_parquet(
        str(shard)
    )
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Two training sets (smooth and busier colour waves) and a three-image benchmark."""
    root = tmp_path_factory.mktemp("world")
    _repo(root / "repo", "smooth", _smooth_images(12, (40, 48), seed=0, freq=12.0))
    _repo(root / "repo", "busy", _smooth_images(12, (40, 48), seed=1, freq=4.0))
    bench = root / "bench" / "Tiny"
    bench.mkdir(parents=True)
    for i, img in enumerate(_smooth_images(3, (36, 40), seed=2, freq=8.0)):
        Image.fromarray(img).save(bench / f"img{i}.png")
    return root


def _experiment_yaml(world: Path, out: Path, yaml_path: Path | None = None, **changes) -> Path:
    repo = str(world / "repo")
    data = {
        "name": "tiny",
        "out": str(out),
        "baseline": "smooth",
        "seeds": [0, 1],
        "bench_root": str(world / "bench"),
        "benches": ["Tiny"],
        "sets": [
            {"name": "smooth", "sources": [{"path": repo, "config": "smooth"}]},
            {
                "name": "smooth+busy",
                "sources": [
                    {"path": repo, "config": "smooth", "weight": 0.5},
                    {"path": repo, "config": "busy", "weight": 0.5},
                ],
            },
        ],
        "train": {
            "model": "compact",
            "tiny_model": True,
            "hr_size": 32,
            "batch_size": 4,
            "max_steps": 6,
            "lr": 1.0e-3,
            "shuffle_buffer": 8,
            "num_workers": 0,
            "checkpoint_every": 3,
            "val_every": 3,
            "log_every": 3,
            "report_to": "none",
        },
        "bootstrap_samples": 500,
        **changes,
    }
    path = yaml_path or out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def finished(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "tiny"
    path = _experiment_yaml(world, out)
    result = run_experiment(load_experiment_config(path), source=str(path))
    return path, out, result


def test_the_report_has_every_set_seed_and_benchmark(finished):
    _, out, result = finished
    assert result.report == out / "report.json"
    assert (result.runs, result.finished) == (4, 4)
    report = json.loads((out / "report.json").read_text())
    assert report["baseline"] == "smooth"
    assert [s["name"] for s in report["sets"]] == ["smooth", "smooth+busy"]
    base, mix = report["sets"]
    assert base["num_images"] == 12 and mix["num_images"] == 24
    assert base["seeds"] == [0, 1]
    tiny = mix["benchmarks"]["Tiny"]
    for key in ("psnr_mean", "psnr_std", "ssim_mean", "ssim_std", "per_seed"):
        assert key in tiny
    assert tiny["verdict"] in ("better", "worse", "within noise")
    assert tiny["ci95"][0] <= tiny["delta_psnr"] <= tiny["ci95"][1]
    assert 0 <= tiny["seeds_positive"] <= 2
    assert "delta_psnr" not in base["benchmarks"]["Tiny"]
    # The delta is the paired difference of what gasr eval wrote for each run.
    runs = {
        (s, seed): json.loads(
            (out / "runs" / "compact" / s / f"seed-{seed}" / "result.json").read_text()
        )
        for s in ("smooth", "smooth+busy")
        for seed in (0, 1)
    }
    expected = np.mean(
        [
            runs[("smooth+busy", seed)]["benches"]["Tiny"]["psnr"]
            - runs[("smooth", seed)]["benches"]["Tiny"]["psnr"]
            for seed in (0, 1)
        ]
    )
    assert tiny["delta_psnr"] == pytest.approx(expected)
    eval_report = json.loads(
        (out / "runs" / "compact" / "smooth" / "seed-0" / "eval" / "report.json").read_text()
    )
    assert eval_report["rows"][0]["results"]["Tiny"]["psnr"] == pytest.approx(
        base["benchmarks"]["Tiny"]["per_seed"][0]["psnr"]
    )
    csv_lines = (out / "report.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and "verdict" in csv_lines[0]
    markdown = (out / "report.md").read_text()
    assert "smooth+busy" in markdown and "EMA" in markdown
    assert (out / "psnr_vs_step.png").is_file() and (out / "per_image_gain.png").is_file()


def test_a_finished_experiment_neither_retrains_nor_rescores(finished, monkeypatch):
    path, out, _ = finished

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained or scored again")

    monkeypatch.setattr("gasr_hf.sr.train.train", refuse)
    monkeypatch.setattr("gasr_hf.sr.evaluate.evaluate_model", refuse)
    before = (out / "report.json").read_text()
    run_experiment(load_experiment_config(path), source=str(path))
    assert (out / "report.json").read_text() == before


def test_an_interrupted_run_resumes_from_its_checkpoint(world, tmp_path, monkeypatch):
    out = tmp_path / "tiny"
    path = _experiment_yaml(world, out, seeds=[0])
    config = load_experiment_config(path)
    runs = plan_runs(config)
    # Train the first run halfway, as a kill after checkpoint-3 would leave it.
    train(dataclasses.replace(runs[0].train, max_steps=3))
    resumed_from = []
    original = train_module.train

    def spy(cfg, resume=None, **kwargs):
        resumed_from.append((cfg.output_dir, resume))
        return original(cfg, resume=resume, **kwargs)

    monkeypatch.setattr(train_module, "train", spy)
    result = run_experiment(config, source=str(path))
    assert result.finished == 2
    assert resumed_from[0] == (runs[0].train.output_dir, "latest")
    log = (runs[0].train.output_dir / "train_log.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in log if "loss" in json.loads(line)]
    assert steps == [3, 6]


def test_changed_settings_are_refused_naming_the_run_folder(finished, world, tmp_path):
    _, out, _ = finished
    changed = _experiment_yaml(world, out, tmp_path / "changed.yaml")
    data = yaml.safe_load(changed.read_text())
    data["train"]["lr"] = 5.0e-4
    changed.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=r"seed-0 holds run .* other settings"):
        run_experiment(load_experiment_config(changed), source=str(changed))


def test_config_errors_name_the_problem(world, tmp_path):
    path = _experiment_yaml(world, tmp_path / "x", baseline="nope")
    with pytest.raises(ValueError, match="baseline 'nope' is not one of the sets"):
        load_experiment_config(path)
    path = _experiment_yaml(world, tmp_path / "y", seeds=[1, 1])
    with pytest.raises(ValueError, match="seeds must be distinct"):
        load_experiment_config(path)
    path = _experiment_yaml(world, tmp_path / "z", typo=1)
    with pytest.raises(ValueError, match="unknown key 'typo'"):
        load_experiment_config(path)
    path = _experiment_yaml(world, tmp_path / "w")
    data = yaml.safe_load(path.read_text())
    data["train"]["hr_size"] = 30
    data["sets"][0]["sources"][0]["path"] = str(tmp_path / "missing")
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="hr_size must be a multiple"):
        plan_runs(load_experiment_config(path))
    data["train"]["hr_size"] = 32
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="missing: no such file or folder"):
        run_experiment(load_experiment_config(path), source=str(path))
    assert not (tmp_path / "w").exists()


def test_command_line_benchmarks_replace_the_configs(world, tmp_path):
    path = _experiment_yaml(world, tmp_path / "x", benches=["Set5"])
    config = load_experiment_config(path, benches=["Tiny"], out=tmp_path / "elsewhere")
    assert config.benches == ("Tiny",)
    assert plan_runs(config)[0].folder.is_relative_to(tmp_path / "elsewhere")


def test_runs_spread_over_launcher_processes(world, tmp_path):
    """Two processes as ``accelerate launch --num_processes 2`` starts them: each trains every
    other run alone, and the report counts all four once."""
    out = tmp_path / "tiny"
    path = _experiment_yaml(world, out)
    procs = []
    for rank in range(2):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "29511",
            "OMP_NUM_THREADS": "1",
            "CUDA_VISIBLE_DEVICES": "",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "gasr_hf.cli", "experiment", "--config", str(path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [p.communicate() for p in procs]
    for p, (_, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr[-2000:]
    assert all("this process takes 2" in stderr for _, stderr in outputs)
    report = json.loads((out / "report.json").read_text())
    assert [len(s["benchmarks"]["Tiny"]["per_seed"]) for s in report["sets"]] == [2, 2]
    keys = sorted(json.loads(p.read_text())["key"] for p in (out / "runs").rglob("result.json"))
    assert keys == sorted(
        f"compact/{s}/seed-{k}" for s in ("smooth", "smooth+busy") for k in (0, 1)
    )


# --------------------------------------------------------------------------- shipped configs


def test_shipped_experiment_configs_plan(tmp_path):
    for name in (
        "smoke.yaml",
        "cpu_table3.yaml",
        "cpu_table3_half.yaml",
        "cpu_curation.yaml",
        "cpu_curation_w25.yaml",
        "cpu_curation_gates_w25.yaml",
        "cpu_table3_mix25_v1.yaml",
        "cpu_table3_mix25.yaml",
        "cpu_table3_soft_wash_grain.yaml",
        "cpu_table3_manga_corpus.yaml",
        "table2_gpu.yaml",
    ):
        config = load_experiment_config(EXPERIMENTS / name, out=tmp_path / name)
        runs = plan_runs(config, name)
        assert len(runs) >= 4 and len(config.seeds) >= 2, name
    table2 = plan_runs(load_experiment_config(EXPERIMENTS / "table2_gpu.yaml"))
    assert {r.train.model for r in table2} == {"rcan", "hat", "mambair-light"}
    assert len(table2) == 27 and all(r.train.max_steps == 500_000 for r in table2)
    table3 = load_experiment_config(EXPERIMENTS / "cpu_table3.yaml")
    assert {s.name for s in table3.sets} == {"natural", "gasr", "natural+gasr"}
    assert len(table3.seeds) >= 3
    assert set(table3.benches) == {"Manga109_dev", "Urban100_dev", "BSD100", "Set14"}
    curation = load_experiment_config(EXPERIMENTS / "cpu_curation.yaml")
    assert {s.name for s in curation.sets} == {
        "natural",
        "gasr",
        "natural+gasr",
        "natural+gasr-curated",
    }
    assert curation.train == table3.train and curation.seeds == table3.seeds
    quarter = load_experiment_config(EXPERIMENTS / "cpu_curation_w25.yaml")
    assert quarter.train == table3.train and quarter.data == curation.data
    weights = {s.name: s.configs for s in quarter.sets}
    assert weights["natural+gasr-w25"] == {"natural-tiles": 0.75, "gasr-random-tiles": 0.25}
    assert weights["natural+gasr-curated-w25"] == {
        "natural-tiles": 0.75,
        "gasr-curated-tiles": 0.25,
    }
    # cpu_table3 is the curated quarter share of the same data, and gasr is that curated set alone.
    assert table3.data == quarter.data
    table3_weights = {s.name: s.configs for s in table3.sets}
    assert table3_weights["natural+gasr"] == weights["natural+gasr-curated-w25"]
    assert table3_weights["gasr"] == {"gasr-curated-tiles": 1.0}
    # The gates-only ablation: cpu_table3's data and gasr-curated's rule less its targeting step.
    gates = load_experiment_config(EXPERIMENTS / "cpu_curation_gates_w25.yaml")
    rules = {r["name"]: r for r in gates.data["curate"]}
    assert gates.train == table3.train
    assert {k: v for k, v in rules.items() if k != "gasr-gated"} == {
        r["name"]: r for r in table3.data["curate"]
    }
    curated = {k: v for k, v in rules["gasr-curated"].items() if k not in ("name", "target")}
    assert {
        k: v for k, v in rules["gasr-gated"].items() if k not in ("name", "random", "seed")
    } == curated
    half = load_experiment_config(EXPERIMENTS / "cpu_table3_half.yaml")
    assert half.train == table3.train and half.seeds == table3.seeds


def test_the_smoke_experiment_runs(shared_benchmarks, shared_train, tmp_path):
    config = EXPERIMENTS / "smoke.yaml"
    out = tmp_path / "smoke"
    # Paths in the config are relative to the repository root, as for gasr build.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gasr_hf.cli",
            "experiment",
            "--config",
            str(config),
            "--out",
            str(out),
            "--bench-root",
            str(shared_benchmarks),
        ],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in report["sets"]] == ["natural", "natural+gasr"]
    assert report["sets"][1]["benchmarks"]["Set5"]["verdict"] in ("better", "worse", "within noise")
    assert "natural+gasr" in result.stdout
