"""SR training: every recipe trains (tiny) on a generated GASR shard, resumes exactly, and exports
EMA weights that spandrel loads."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import spandrel
import torch
from accelerate import Accelerator
from PIL import Image
from safetensors.torch import load_file

from gasr_hf.sr.models import build, tiny_config
from gasr_hf.sr.train import (
    LOG_FILE,
    SourceConfig,
    TrainConfig,
    _RunLog,
    apply_overrides,
    ema_decay_at,
    latest_checkpoint,
    load_train_config,
    train,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "train_sr.py"
RECIPES = {
    "rcan": REPO / "examples" / "configs" / "rcan_x4.yaml",
    "hat": REPO / "examples" / "configs" / "hat_x4.yaml",
    "mambair-light": REPO / "examples" / "configs" / "mambair_light_x4.yaml",
}


@pytest.fixture(autouse=True, scope="module")
def _quick_cpu():
    """Tiny models run fastest on one thread, and a streamed epoch of a few images should not end
    with datasets' 5 s pause for Arrow's reader threads."""
    threads = torch.get_num_threads()
    pause = datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN
    torch.set_num_threads(1)
    datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = 0
    yield
    torch.set_num_threads(threads)
    datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = pause


def _smooth_images(n: int, size: tuple[int, int], seed: int) -> list[np.ndarray]:
    """Smooth colour waves: a learnable x4 task, unlike noise."""
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w] / 12.0
    images = []
    for _ in range(n):
        freq, phase = rng.uniform(0.3, 1.2, 3), rng.uniform(0, 6, 3)
        planes = [np.sin(freq[c] * x + phase[c]) * np.cos(freq[(c + 1) % 3] * y) for c in range(3)]
        images.append(((np.stack(planes, -1) * 0.5 + 0.5) * 255).round().astype(np.uint8))
    return images


@pytest.fixture(scope="module")
def gasr_folder(tmp_path_factory) -> Path:
    """A dataset folder in the published layout, data/gasr/train-*.parquet, of PNG bytes."""
    root = tmp_path_factory.mktemp("gasr")
    rows = []
    for i, img in enumerate(_smooth_images(24, (48, 56), seed=0)):
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, format="PNG")
        rows.append({"bytes": buffer.getvalue(), "path": f"{i:03d}.png"})
    shard = root / "data" / "gasr" / "train-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True)
    datasets.Dataset.from_dict({"image": rows}).cast_column("image", datasets.Image()).to_parquet(
        str(shard)
    )
    return root


@pytest.fixture(scope="module")
def val_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    (root / "Tiny").mkdir()
    for i, img in enumerate(_smooth_images(2, (40, 36), seed=1)):
        Image.fromarray(img).save(root / "Tiny" / f"img{i}.png")
    return root


def _recipe(name: str, out: Path, gasr: Path, *extra: str, val: Path | None = None) -> TrainConfig:
    overrides = [
        f"sources=[{{path: {gasr}, config: gasr}}]",
        f"output_dir={out}",
        "hr_size=32",
        "report_to=none",
        "val_sets=[]",
        "val_root=null",
        *extra,
    ]
    if val is not None:
        overrides += ["val_sets=[Tiny]", f"val_root={val}"]
    return load_train_config(RECIPES[name], overrides, smoke=True)


def _losses(out: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if "loss" in r}


STEPS = 40


@pytest.fixture(scope="module")
def trained(tmp_path_factory, gasr_folder, val_root):
    """Each recipe, smoke settings, trained for STEPS steps with validation and TensorBoard."""
    runs = {}
    for name in RECIPES:
        out = tmp_path_factory.mktemp(name)
        config = _recipe(
            name,
            out,
            gasr_folder,
            "lr=1.0e-3",
            f"max_steps={STEPS}",
            f"checkpoint_every={STEPS // 2}",
            f"val_every={STEPS}",
            "report_to=tensorboard",
            val=val_root,
        )
        runs[name] = (config, train(config))
    return runs


def test_recipes_state_the_papers_settings():
    rcan = load_train_config(RECIPES["rcan"])
    hat = load_train_config(RECIPES["hat"])
    mambair = load_train_config(RECIPES["mambair-light"])
    assert (rcan.hr_size, rcan.batch_size, rcan.lr, rcan.max_steps) == (192, 16, 1e-4, 500_000)
    assert rcan.lr_milestones == (200_000, 400_000) and rcan.adam_betas == (0.9, 0.999)
    assert (hat.hr_size, hat.batch_size, hat.lr, hat.max_steps) == (256, 32, 2e-4, 500_000)
    assert (mambair.hr_size, mambair.batch_size, mambair.lr) == (192, 32, 2e-4)
    assert mambair.lr_milestones == (250_000, 400_000, 450_000, 475_000)
    assert mambair.max_steps == 500_000
    for config in (rcan, hat, mambair):
        assert config.scale == 4 and config.ema_decay == 0.999 and not config.tiny_model
        assert config.sources[0].config == "gasr"


def test_config_typos_fail_at_load_naming_the_key_and_file(tmp_path):
    with pytest.raises(ValueError, match=r"hat_x4.yaml.*unknown key 'learning_rate'"):
        load_train_config(RECIPES["hat"], ["learning_rate=0.1"])
    with pytest.raises(ValueError, match=r"rcan_x4.yaml.*unknown rcan argument\(s\) n_feat\b"):
        load_train_config(RECIPES["rcan"], ["model_args.n_feat=8"])
    with pytest.raises(ValueError, match="batch_size=30 is not divisible"):
        load_train_config(RECIPES["hat"], ["batch_size=30", "gradient_accumulation_steps=4"])
    with pytest.raises(ValueError, match="not KEY=VALUE"):
        load_train_config(RECIPES["hat"], ["lr"])


def test_overrides_parse_yaml_and_reach_into_mappings():
    data = apply_overrides(
        {"model_args": {"n_feats": 64}, "lr": 1.0},
        ["model_args.reduction=4", "lr=2.0e-4", "sources=[{path: x, weight: 2}]"],
    )
    assert data == {
        "model_args": {"n_feats": 64, "reduction": 4},
        "lr": 2e-4,
        "sources": [{"path": "x", "weight": 2}],
    }
    # YAML 1.1 would read `no` as false; the config wants the string.
    data = apply_overrides({}, ["mixed_precision=no", "ema_warmup=false", "report_to=none"])
    assert data == {"mixed_precision": "no", "ema_warmup": False, "report_to": "none"}
    config = load_train_config(RECIPES["hat"], ["mixed_precision=no"])
    assert config.mixed_precision == "no"


@pytest.mark.parametrize("name", list(RECIPES))
def test_tiny_models_learn_on_generated_gasr_data(trained, name):
    config, result = trained[name]
    losses = _losses(config.output_dir)
    assert sorted(losses) == list(range(1, STEPS + 1))
    first = np.mean([losses[s] for s in range(1, 9)])
    last = np.mean([losses[s] for s in range(STEPS - 7, STEPS + 1)])
    assert last < 0.7 * first, (name, first, last)
    assert result.steps == STEPS
    assert result.checkpoint == config.output_dir / f"checkpoint-{STEPS}"
    assert latest_checkpoint(config.output_dir) == result.checkpoint
    assert (config.output_dir / f"checkpoint-{STEPS // 2}" / "model.safetensors").is_file()
    assert set(result.validation) == {"Tiny/psnr", "Tiny/ssim"}
    assert 10 < result.validation["Tiny/psnr"] < 100
    assert list((config.output_dir / "logs").rglob("events.out.tfevents.*"))


@pytest.mark.parametrize("name", list(RECIPES))
def test_exported_ema_weights_reload_through_spandrel(trained, name):
    config, result = trained[name]
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    ema = result.ema_model.eval()
    with torch.no_grad():
        expected = ema(x.clone()).clamp(0, 1)
    for path in (result.ema_weights, result.checkpoint / config.export_name):
        descriptor = spandrel.ModelLoader().load_from_file(path)
        assert descriptor.scale == 4
        torch.testing.assert_close(descriptor(x.clone()), expected, rtol=0, atol=0)
    # the trained (non-EMA) weights of the checkpoint load through spandrel too
    weights = result.checkpoint / "model.safetensors"
    raw = build(name, 4, weights=weights, **config.model_overrides()).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            spandrel.ModelLoader().load_from_file(weights)(x.clone()),
            raw(x.clone()).clamp(0, 1),
            rtol=0,
            atol=0,
        )


RESUME_SETTINGS = ("gradient_accumulation_steps=2", "num_workers=1", "checkpoint_every=2")
"""HAT (random drop path), gradient accumulation and a DataLoader worker: what resuming must get
exactly right."""


@pytest.fixture(scope="module")
def straight_hat(tmp_path_factory, gasr_folder) -> TrainConfig:
    """HAT with :data:`RESUME_SETTINGS` trained for 4 steps in one go (checkpoints at 2 and 4)."""
    config = _recipe(
        "hat", tmp_path_factory.mktemp("straight"), gasr_folder, *RESUME_SETTINGS, "max_steps=4"
    )
    train(config)
    return config


def _assert_same_run(config: TrainConfig, reference: TrainConfig) -> None:
    """Bitwise the losses and exported EMA weights of ``reference``."""
    assert _losses(config.output_dir) == _losses(reference.output_dir)
    a = load_file(reference.output_dir / reference.export_name)
    b = load_file(config.output_dir / config.export_name)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_continues_exactly_as_the_uninterrupted_run(tmp_path, gasr_folder, straight_hat):
    """An interrupted and resumed run gives bitwise the losses and EMA weights of an uninterrupted
    one."""
    interrupted = _recipe("hat", tmp_path / "resumed", gasr_folder, *RESUME_SETTINGS, "max_steps=2")
    train(interrupted)
    resumed = _recipe("hat", tmp_path / "resumed", gasr_folder, *RESUME_SETTINGS, "max_steps=4")
    result = train(resumed, resume="latest")

    assert result.steps == 4
    _assert_same_run(resumed, straight_hat)


class _Killed(Exception):
    """Stands for the process being killed."""


def test_a_kill_during_a_save_keeps_the_previous_checkpoint(
    tmp_path, gasr_folder, straight_hat, monkeypatch
):
    """Killed while ``checkpoint-4`` is half written (and the log's last line torn), with
    ``checkpoints_total_limit=1``: ``checkpoint-2`` survives, is the latest, and resuming from it
    gives the uninterrupted run bitwise."""
    config = _recipe(
        "hat",
        tmp_path / "run",
        gasr_folder,
        *RESUME_SETTINGS,
        "max_steps=4",
        "checkpoints_total_limit=1",
    )
    out = config.output_dir
    real_save_state = Accelerator.save_state

    def killed_at_step_4(self, output_dir, **kwargs):
        if Path(output_dir).name.startswith("checkpoint-4"):
            weights = Path(output_dir) / "model.safetensors"
            real_save_state(self, output_dir, **kwargs)
            weights.write_bytes(weights.read_bytes()[:100])
            raise _Killed
        return real_save_state(self, output_dir, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Accelerator, "save_state", killed_at_step_4)
        with pytest.raises(_Killed):
            train(config)
    assert latest_checkpoint(out) == out / "checkpoint-2"
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4.tmp"]
    with (out / LOG_FILE).open("a") as log:
        log.write('{"step": 5, "lo')

    result = train(config, resume="latest")
    assert result.steps == 4 and result.checkpoint == out / "checkpoint-4"
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4"]
    _assert_same_run(config, straight_hat)


def test_resuming_an_earlier_checkpoint_replaces_the_later_one(tmp_path, straight_hat):
    out = tmp_path / "run"
    shutil.copytree(straight_hat.output_dir, out)
    (out / "checkpoint-4" / "from-the-first-run").touch()
    config = dataclasses.replace(straight_hat, output_dir=out)

    result = train(config, resume=out / "checkpoint-2")
    assert result.checkpoint == out / "checkpoint-4"
    assert not (out / "checkpoint-4" / "from-the-first-run").exists()
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    _assert_same_run(config, straight_hat)


def test_a_new_run_refuses_an_output_dir_holding_checkpoints(tmp_path, trained, gasr_folder):
    config, result = trained["rcan"]
    log = (config.output_dir / LOG_FILE).read_bytes()
    with pytest.raises(FileExistsError, match=r"holds a run \(checkpoint-40\).*--resume latest"):
        train(config)
    assert (config.output_dir / LOG_FILE).read_bytes() == log
    assert latest_checkpoint(config.output_dir) == result.checkpoint

    # the remains of a first save that was killed are no run to keep: a new run replaces them
    fresh = _recipe("rcan", tmp_path / "run", gasr_folder, "max_steps=1")
    (fresh.output_dir / "checkpoint-1.tmp").mkdir(parents=True)
    (fresh.output_dir / "checkpoint-1.tmp" / "model.safetensors").write_bytes(b"torn")
    train(fresh)
    assert sorted(p.name for p in fresh.output_dir.glob("checkpoint-*")) == ["checkpoint-1"]


def test_run_log_drops_a_torn_last_line_only(tmp_path):
    path = tmp_path / LOG_FILE
    records = "".join(json.dumps({"step": s, "loss": 0.5}) + "\n" for s in (1, 2, 3))
    path.write_text(records + '{"step": 4, "lo')
    _RunLog(path, start_step=2, enabled=True).write({"step": 3, "loss": 0.25})
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"step": 1, "loss": 0.5},
        {"step": 2, "loss": 0.5},
        {"step": 3, "loss": 0.25},
    ]
    path.write_text('{"step": 1}\n{"step": 2, "lo\n{"step": 3}\n')
    with pytest.raises(ValueError, match=rf"{LOG_FILE} line 2 is not a log record"):
        _RunLog(path, start_step=3, enabled=True)


def test_resume_refuses_another_data_setting(tmp_path, trained, gasr_folder):
    config, result = trained["rcan"]
    out = tmp_path / "other"
    shutil.copytree(result.checkpoint, out / result.checkpoint.name)
    changed = _recipe("rcan", out, gasr_folder, "batch_size=2", f"max_steps={STEPS + 1}")
    with pytest.raises(ValueError, match="batch_size"):
        train(changed, resume="latest")


def test_resume_errors_name_the_folder(tmp_path, gasr_folder):
    config = _recipe("rcan", tmp_path / "run", gasr_folder, "max_steps=1")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        train(config, resume=tmp_path / "nowhere")
    (tmp_path / "not-a-checkpoint").mkdir()
    with pytest.raises(ValueError, match="not a checkpoint-N folder"):
        train(config, resume=tmp_path / "not-a-checkpoint")


def test_example_script_runs_a_smoke_recipe(tmp_path, gasr_folder):
    spec = importlib.util.spec_from_file_location("train_sr", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "run"
    args = script.parse_args(
        [
            "--config",
            str(RECIPES["mambair-light"]),
            "--smoke",
            "--max-steps",
            "2",
            "--set",
            f"sources=[{{path: {gasr_folder}, config: gasr}}]",
            "--set",
            f"output_dir={out}",
            "--set",
            "hr_size=32",
            "--set",
            "val_sets=[]",
            "--set",
            "val_root=null",
        ]
    )
    script.main(args)
    assert (out / "mambair-light_x4_ema.safetensors").is_file()
    assert sorted(_losses(out)) == [1, 2]


def test_two_processes_resume_exactly(tmp_path, gasr_folder):
    """``examples/train_sr.py`` under torchrun with two CPU processes (DDP over gloo): each rank's
    data position is gathered into the checkpoint, and a resumed run matches the straight one."""
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}

    def launch(out: Path, *extra: str) -> None:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(SCRIPT),
            "--config",
            str(RECIPES["hat"]),
            "--smoke",
            "--max-steps=4",
            *("--set", f"sources=[{{path: {gasr_folder}, config: gasr}}]"),
            *("--set", f"output_dir={out}"),
            *("--set", "hr_size=32", "--set", "report_to=none", "--set", "val_sets=[]"),
            *("--set", "val_root=null", "--set", "checkpoint_every=2"),
            *("--set", "gradient_accumulation_steps=2"),
            *extra,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        # Same initial weights on both ranks, then each rank its own random numbers (drop path).
        for rank in (0, 1):
            assert f"rank {rank} draws its random numbers from seed {rank}" in done.stderr

    straight = tmp_path / "straight"
    launch(straight)
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(straight / "checkpoint-2", resumed / "checkpoint-2")
    launch(resumed, "--resume", "latest")

    assert sorted(_losses(straight)) == [1, 2, 3, 4]
    assert sorted(p.name for p in straight.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert {s: v for s, v in _losses(straight).items() if s > 2} == _losses(resumed)
    name = "hat_x4_ema.safetensors"
    assert (straight / name).read_bytes() == (resumed / name).read_bytes()


def test_missing_sources_are_named(tmp_path):
    def run(source: str) -> None:
        config = _recipe("rcan", tmp_path / "run", tmp_path, "max_steps=1")
        train(dataclasses.replace(config, sources=(SourceConfig(path=source, config="gasr"),)))

    with pytest.raises(FileNotFoundError, match=r"sources\[0\] \(nothere/gasr\): neither"):
        run("nothere/gasr")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        run(str(tmp_path / "missing"))
    (tmp_path / "data" / "gasr").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no train-\*.parquet"):
        run(str(tmp_path))


def _ema_gap(tmp_path: Path, gasr: Path, val: Path, warmup: bool) -> tuple[float, float]:
    """EMA and raw PSNR on the validation set after 300 steps of a tiny compact model."""
    out = tmp_path / f"warmup-{warmup}"
    config = load_train_config(
        REPO / "examples" / "configs" / "compact_x4.yaml",
        [
            f"sources=[{{path: {gasr}, config: gasr}}]",
            f"output_dir={out}",
            "tiny_model=true",
            "hr_size=32",
            "batch_size=4",
            "num_workers=0",
            "shuffle_buffer=8",
            "report_to=none",
            "mixed_precision=no",
            "lr=1.0e-3",
            "lr_milestones=[200]",
            "lr_gamma=0.1",
            "max_steps=300",
            "checkpoint_every=300",
            "val_every=300",
            "log_every=100",
            f"ema_warmup={str(warmup).lower()}",
            "val_sets=[Tiny]",
            f"val_root={val}",
        ],
    )
    result = train(config)
    return result.validation["Tiny/psnr"], result.validation_raw["Tiny/psnr"]


def test_the_ema_warm_up_keeps_a_short_runs_ema_beside_its_raw_weights(
    tmp_path, gasr_folder, val_root
):
    ema, raw = _ema_gap(tmp_path, gasr_folder, val_root, warmup=True)
    assert abs(ema - raw) <= 0.1
    # Without the warm-up a decay of 0.999 leaves 74% of the random start in the EMA after 300 steps.
    stale, raw_too = _ema_gap(tmp_path, gasr_folder, val_root, warmup=False)
    assert raw_too - stale > 1.0
    log = [
        json.loads(line) for line in (tmp_path / "warmup-True" / LOG_FILE).read_text().splitlines()
    ]
    last = next(r for r in reversed(log) if "val/Tiny/psnr" in r)
    assert last["val/Tiny/psnr"] == ema and last["val_raw/Tiny/psnr"] == raw


def test_ema_decay_warms_up_to_the_configured_decay():
    assert ema_decay_at(0.999, 1) == pytest.approx(2 / 11)
    assert ema_decay_at(0.999, 100) == pytest.approx(101 / 110)
    assert ema_decay_at(0.999, 100_000) == 0.999
    assert ema_decay_at(0.999, 1, warmup=False) == 0.999


def test_fine_tuning_x4_from_an_x2_checkpoint(tmp_path, gasr_folder):
    """init_weights loads an x2 model's body into an x4 model; the upsampler is excluded."""
    torch.manual_seed(1)
    x2 = build("rcan", 2, **tiny_config("rcan"))
    weights = tmp_path / "rcan_x2.pth"
    torch.save({"params_ema": x2.state_dict()}, weights)
    base = [f"init_weights={weights}", "max_steps=1", "lr=1.0e-12"]

    with pytest.raises(ValueError, match=r"does not fit rcan x4 \(missing: tail\.0\.2"):
        train(_recipe("rcan", tmp_path / "strict", gasr_folder, *base))
    result = train(
        _recipe("rcan", tmp_path / "ft", gasr_folder, *base, "init_exclude=['^tail\\.']")
    )
    tuned = result.ema_model.state_dict()
    for key, value in x2.state_dict().items():
        if not key.startswith("tail."):
            torch.testing.assert_close(tuned[key], value, rtol=0, atol=1e-6)
    # The loose mode loads what fits and leaves the rest random.
    loose = train(_recipe("rcan", tmp_path / "loose", gasr_folder, *base, "init_strict=false"))
    torch.testing.assert_close(
        loose.ema_model.state_dict()["head.0.weight"],
        x2.state_dict()["head.0.weight"],
        rtol=0,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="init_exclude is set but init_weights is not"):
        _recipe("rcan", tmp_path / "x", gasr_folder, "init_exclude=['^tail']")


def test_a_launch_that_is_not_what_it_says_is_refused(tmp_path, gasr_folder, monkeypatch):
    """`accelerate launch --multi_gpu --num_processes 2` without GPUs starts two processes that
    accelerate runs as two single-process runs: refused before any step."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    config = _recipe("rcan", tmp_path / "run", gasr_folder, "max_steps=1")
    with pytest.raises(
        ValueError, match=r"started 2 processes \(WORLD_SIZE=2\) but accelerate runs 1"
    ):
        train(config)
    assert not (tmp_path / "run").exists()


def test_the_logged_epoch_is_the_streams(tmp_path, gasr_folder):
    # 24 images, batch 4: six steps an epoch.
    config = _recipe("rcan", tmp_path / "run", gasr_folder, "max_steps=14", "log_every=1")
    train(config)
    records = [json.loads(line) for line in (tmp_path / "run" / LOG_FILE).read_text().splitlines()]
    epochs = {r["step"]: r["epoch"] for r in records if "loss" in r}
    assert epochs[1] == 0 and epochs[6] == 0 and epochs[7] == 1 and epochs[14] == 2
