import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from gasr_hf.build import BuildConfig, build, load_build_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "configs"


def tiny_config(tmp_path: Path, **changes) -> BuildConfig:
    real = tmp_path / "div2k"
    real.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(real / f"{i:04d}.png")
    data = {
        "version": "0.0.1",
        "out": str(tmp_path / "gasr"),
        "prompts": {"corpus": "artwork", "n": 6, "seed": 0},
        "generate": {
            "backend": {"backend": "procedural", "width": 64, "height": 64},
            "chunk_size": 3,
        },
        "real": [{"name": "DIV2K", "folder": str(real), "config": "df2k"}],
        "annotate": {"annotators": ["num_pixels", "blockiness"], "chunk_size": 4},
        "analyze": {"sample_grid": 4},
        "card": {"license": "apache-2.0", "license_name": None, "license_link": None},
        "mixtures": [{"name": "half", "sources": {"gasr": 0.5, "df2k": 0.5}}],
    }
    data.update(changes)
    path = tmp_path / "build.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_build_config(path)


def fresh_python(code: str, cwd: Path) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_build_makes_a_repository_plain_load_dataset_reads(tmp_path):
    config = tiny_config(tmp_path)
    result = build(config)
    out = Path(config.out)
    assert result.did_work
    assert {"prompts", "generate", "annotate-gasr", "annotate-DIV2K", "manifest"} <= set(result.ran)
    assert (out / "README.md").is_file() and (out / "manifest.json").is_file()
    assert (out / "figures" / "samples.png").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == "0.0.1"
    code = (
        "import sys, datasets\n"
        "ds = datasets.load_dataset('gasr', 'gasr-df2k', split='train')\n"
        "st = datasets.load_dataset('gasr', 'gasr-df2k', split='train', streaming=True)\n"
        "default = datasets.load_dataset('gasr', split='train')\n"
        "print(len(ds), sum(1 for _ in st), len(default), 'gasr_hf' in sys.modules)\n"
        "print(sorted(set(ds['source'])), ds[0]['image'].size)\n"
    )
    lines = fresh_python(code, cwd=tmp_path).splitlines()
    assert lines[-2] == "9 9 6 False"
    assert lines[-1].startswith("['DIV2K', 'GASR'] (64, 64)")
    card = (out / "README.md").read_text()
    assert "gasr-df2k" in card and "artwork@1.1.0" in card and "half" in card


def test_a_finished_build_does_no_work(tmp_path, caplog):
    config = tiny_config(tmp_path)
    build(config)
    shards = sorted(Path(config.out).glob("data/*/*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in shards]
    with caplog.at_level("INFO", logger="gasr_hf.build"):
        again = build(config)
    assert not again.did_work and "manifest" in again.skipped
    assert "complete: nothing to do" in caplog.text
    assert [p.stat().st_mtime_ns for p in shards] == stamps


def test_an_interrupted_build_continues_where_it_stopped(tmp_path, monkeypatch):
    import gasr_hf.publish

    config = tiny_config(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(gasr_hf.publish, "assemble_repo", broken)
    with pytest.raises(RuntimeError, match="power cut"):
        build(config)
    images = Path(config.out) / ".gasr" / "build" / "images"
    stamps = {p: p.stat().st_mtime_ns for p in images.glob("*.parquet")}
    assert len(stamps) == 2
    monkeypatch.undo()
    result = build(config)
    assert "generate" in result.skipped and "annotate-gasr" in result.skipped
    assert result.ran == ("assemble", "card", "manifest")
    assert {p: p.stat().st_mtime_ns for p in images.glob("*.parquet")} == stamps


def test_changed_data_settings_are_refused(tmp_path):
    build(tiny_config(tmp_path))
    with pytest.raises(ValueError, match="stage 'prompts' was built with other settings"):
        build(tiny_config(tmp_path, prompts={"corpus": "artwork", "n": 7, "seed": 0}))


def test_config_errors_name_the_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"version": "1.0.0", "out": "x", "prompts": {"n": 4, "sed": 1}}))
    with pytest.raises(ValueError, match=r"bad.yaml.prompts: unknown key 'sed'"):
        load_build_config(path)
    path.write_text(yaml.safe_dump({"version": "1.0", "out": "x", "prompts": {"n": 4}}))
    with pytest.raises(ValueError, match="semantic version"):
        load_build_config(path)


@pytest.mark.parametrize("name", ["offline.yaml", "gasr_flux.yaml"])
def test_example_configs_load(name):
    config = load_build_config(EXAMPLES / name)
    assert config.prompts.corpus == "artwork"
    if name == "gasr_flux.yaml":
        assert config.prompts.n == 10304
        backend = config.generate.backend.resolved()
        assert (backend.model, backend.width, backend.steps) == (
            "black-forest-labs/FLUX.1-dev",
            1024,
            28,
        )
        assert backend.guidance == 3.5 and backend.dtype == "bfloat16"


def test_ranks_wait_for_each_other_through_stage_markers(tmp_path):
    import threading
    import time

    from gasr_hf.build import _Stages

    order = []
    rank1 = _Stages(tmp_path, rank=1, world_size=2)
    rank0 = _Stages(tmp_path, rank=0, world_size=2)

    def slow_rank0():
        time.sleep(0.5)
        order.append("rank0 work")
        return 0

    def run_rank1():
        rank1.run_distributed("generate", {"a": 1}, lambda: order.append("rank1 work") or 1)
        order.append("rank1 past the barrier")

    thread = threading.Thread(target=run_rank1)
    thread.start()
    assert rank0.run_distributed("generate", {"a": 1}, slow_rank0) == 0
    thread.join(timeout=30)
    assert order.index("rank1 past the barrier") > order.index("rank0 work")
    assert (tmp_path / "generate@0-of-2.json").is_file()
    assert (tmp_path / "generate@1-of-2.json").is_file()


def _card_model(out: Path) -> str:
    return next(
        line
        for line in (out / "README.md").read_text().splitlines()
        if "gasr_hf.procedural@" in line
    )


def test_generate_killed_after_its_last_chunk_resumes_from_the_written_rows(tmp_path, monkeypatch):
    import gasr_hf.generate.runner

    config = tiny_config(tmp_path)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed before the stage marker")

    monkeypatch.setattr(gasr_hf.generate.runner, "write_json_atomic", killed)
    with pytest.raises(KeyboardInterrupt):
        build(config)
    monkeypatch.undo()
    stages = Path(config.out) / ".gasr" / "build" / "stages"
    assert not (stages / "generate.json").exists()
    result = build(config)
    assert "generate" in result.ran and "manifest" in result.ran
    generated = json.loads((stages / "generate.json").read_text())["result"]
    assert generated["this_run"]["images"] == 0 and generated["images"] == 6
    assert _card_model(Path(config.out))

    (stages / "generate.json").unlink()
    again = build(config)
    assert "generate" in again.ran and _card_model(Path(config.out))


def test_a_rank_whose_generate_chunks_are_all_done_still_builds(tmp_path, monkeypatch):
    import threading

    import accelerate

    from gasr_hf.generate import generate
    from gasr_hf.prompts import build_prompts, save_prompts

    local = threading.local()

    class TwoRanks:
        """accelerate's PartialState as seen by rank ``local.rank`` of two (threads here)."""

        def __init__(self):
            self.process_index = getattr(local, "rank", 0)
            self.num_processes = 2

    monkeypatch.setattr(accelerate, "PartialState", TwoRanks)
    config = tiny_config(tmp_path)
    work = Path(config.out) / ".gasr" / "build"
    save_prompts(build_prompts("artwork", 6, 0), work / "prompts")
    before = generate(work / "prompts", work / "images", config.generate.backend, chunk_size=3)
    assert before["this_run"]["images"] == 3 and not before["complete"]

    results, errors = {}, []

    def run_rank(rank):
        local.rank = rank
        try:
            results[rank] = build(config)
        except BaseException as err:  # reported below; a dead rank would leave the other waiting
            errors.append(err)

    threads = [threading.Thread(target=run_rank, args=(r,), daemon=True) for r in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and sorted(results) == [0, 1]
    result = results[0]
    rank0 = json.loads((work / "stages" / "generate@0-of-2.json").read_text())["result"]
    assert rank0["this_run"]["images"] == 0
    assert "manifest" in result.ran and _card_model(Path(config.out))


def test_a_generate_run_where_every_prompt_failed_is_a_clear_error(tmp_path, monkeypatch):
    from gasr_hf.generate.procedural import ProceduralBackend

    def black(self, rows):
        return [Image.new("RGB", (64, 64)) for _ in rows]

    monkeypatch.setattr(ProceduralBackend, "render", black)
    config = tiny_config(tmp_path)
    for _ in range(2):
        with pytest.raises(ValueError, match="generate wrote no image .* every prompt failed"):
            build(config)
