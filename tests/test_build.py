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
    config = tiny_config(tmp_path, prompts={"corpus": "artwork", "n": 7, "seed": 0})
    marker = Path(config.out) / ".gasr" / "build" / "stages" / "prompts.json"
    with pytest.raises(
        ValueError, match=r"stage 'prompts' finished with other settings \(n: 6 -> 7\)"
    ):
        build(config)
    with pytest.raises(ValueError, match=f"remove {marker}"):
        build(config)


def test_a_new_procedural_renderer_is_a_changed_generate_stage(tmp_path, monkeypatch):
    import gasr_hf.generate.procedural as procedural

    build(tiny_config(tmp_path))
    monkeypatch.setattr(procedural, "RENDERER_VERSION", "99")
    with pytest.raises(ValueError, match=r"stage 'generate' finished with other settings"):
        build(tiny_config(tmp_path))


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

    from gasr_hf.graph import Stage, StageGraph

    order = []

    def slow_rank0(_):
        time.sleep(0.5)
        order.append("rank0 work")
        return 0

    def graph(rank, work):
        stage = Stage("generate", work, {"a": 1}, data=True, distributed=True)
        return StageGraph([stage], tmp_path, rank=rank, world_size=2)

    def run_rank1():
        graph(1, lambda _: order.append("rank1 work") or 1).run()
        order.append("rank1 past the barrier")

    thread = threading.Thread(target=run_rank1)
    thread.start()
    assert graph(0, slow_rank0).run().ran == ("generate",)
    thread.join(timeout=30)
    assert order.index("rank1 past the barrier") > order.index("rank0 work")
    for name in ("generate@0-of-2", "generate@1-of-2", "generate"):
        assert (tmp_path / f"{name}.json").is_file()


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

    import gasr_hf.build
    from gasr_hf.generate import generate
    from gasr_hf.prompts import build_prompts, save_prompts

    local = threading.local()

    class TwoRanks:
        """accelerate's PartialState as seen by rank ``local.rank`` of two (threads here)."""

        def __init__(self):
            self.process_index = getattr(local, "rank", 0)
            self.num_processes = 2

    monkeypatch.setattr(accelerate, "PartialState", TwoRanks)
    monkeypatch.setattr(gasr_hf.build, "launch_rank", lambda: (getattr(local, "rank", 0), 2))
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


# --- plan first -----------------------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``gasr ARGV`` in a fresh interpreter: (exit code, stdout, stderr)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-m", "gasr_hf.cli", *argv], env=env, capture_output=True, text=True
    )
    return result.returncode, result.stdout, result.stderr


def image_folder(folder: Path, n: int, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = rng.integers(0, 256, size=(40, 56, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:04d}.png")
    return folder


def test_every_config_problem_is_reported_at_once_and_nothing_is_written(tmp_path, capsys):
    from gasr_hf.cli import main

    config = tiny_config(
        tmp_path,
        real=[
            {"name": "DIV2K/HR", "folder": str(tmp_path / "div2k"), "config": "df2k"},
            {"name": "Flickr2K", "folder": str(tmp_path / "no-such-folder"), "config": "df2k"},
        ],
        annotate={"annotators": ["num_pixels", "num_segments"], "sam_checkpoint": "sam.pth"},
        analyze={"basis": str(tmp_path / "no-basis"), "sample_grid": 4},
        mixtures=[{"name": "half", "sources": {"gasr": 0.5, "div2k": 0.5, "df2k": -1}}],
    )
    assert main(["build", "--config", str(tmp_path / "build.yaml")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert all(line.startswith("gasr build: error: ") for line in lines)
    expected = [
        "real[0].name 'DIV2K/HR' must start with a letter or digit",
        "real[1].folder not found: " + str(tmp_path / "no-such-folder"),
        "annotate.sam_checkpoint not found: sam.pth",
        "analyze.basis not found: " + str(tmp_path / "no-basis"),
        "mixtures[0] ('half'): weight of 'df2k' must be > 0, got -1",
        "mixtures[0] ('half'): unknown config 'div2k'",
    ]
    assert len(lines) == len(expected)
    for line, text in zip(lines, expected, strict=True):
        assert text in line
    assert not Path(config.out).exists()

    assert main(["build", "--config", str(tmp_path / "build.yaml"), "--dry-run"]) == 2
    assert len(capsys.readouterr().err.splitlines()) == len(expected)


def test_an_out_folder_that_is_not_a_build_is_refused(tmp_path, capsys):
    from gasr_hf.cli import main

    config = tiny_config(tmp_path)
    Path(config.out).mkdir()
    (Path(config.out) / "notes.txt").write_text("mine")
    assert main(["build", "--config", str(tmp_path / "build.yaml")]) == 2
    assert "holds other files and no gasr build" in capsys.readouterr().err
    assert sorted(p.name for p in Path(config.out).iterdir()) == ["notes.txt"]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    from gasr_hf.cli import main

    config = tiny_config(tmp_path)
    path = str(tmp_path / "build.yaml")
    assert main(["build", "--config", path, "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prompts: to run (not run yet)"
    assert "annotate-DIV2K: to run (after ingest-DIV2K)" in lines
    assert lines[-1] == "images still to generate: 6 of 6"
    assert not Path(config.out).exists()

    build(config)
    assert main(["build", "--config", path, "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.endswith(": done") for line in lines[:-1])
    assert lines[-1] == "images still to generate: 0 of 6"

    tiny_config(tmp_path, analyze={"sample_grid": 2})
    stages = Path(config.out) / ".gasr" / "build" / "stages"
    stamps = {p: p.stat().st_mtime_ns for p in stages.iterdir()}
    assert main(["build", "--config", path, "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-6:-1] == [
        "stats: done",
        "samples: stale (n: 4 -> 2)",
        "assemble: done",
        "card: stale (after samples; rerun if that changes its input)",
        "manifest: stale (after card; rerun if that changes its input)",
    ]
    assert {p: p.stat().st_mtime_ns for p in stages.iterdir()} == stamps


# --- the stage graph ------------------------------------------------------------------------------


def test_a_layout_change_or_another_spelling_of_a_folder_reruns_only_the_layout(
    tmp_path, monkeypatch
):
    config = tiny_config(tmp_path)
    build(config)
    monkeypatch.chdir(tmp_path)
    relative = {"name": "DIV2K", "folder": "./div2k/../div2k", "config": "div2k"}
    again = build(tiny_config(tmp_path, real=[relative], mixtures=[]))
    assert {"ingest-DIV2K", "annotate-DIV2K", "generate"} <= set(again.skipped)
    assert {"assemble", "card", "manifest"} <= set(again.ran)
    card = (Path(config.out) / "README.md").read_text()
    assert "gasr-div2k" in card and "gasr-df2k" not in card


def test_derived_stages_follow_an_input_changed_by_an_earlier_invocation(tmp_path, monkeypatch):
    import gasr_hf.analyze.stats

    build(tiny_config(tmp_path))
    image_folder(tmp_path / "flickr2k", 2, seed=1)
    flickr = {"name": "Flickr2K", "folder": str(tmp_path / "flickr2k"), "config": "df2k"}
    div2k = {"name": "DIV2K", "folder": str(tmp_path / "div2k"), "config": "df2k"}
    config = tiny_config(tmp_path, real=[div2k, flickr])

    def cut(*args, **kwargs):
        raise RuntimeError("power cut after the annotation")

    monkeypatch.setattr(gasr_hf.analyze.stats, "table1", cut)
    with pytest.raises(RuntimeError, match="power cut"):
        build(config)
    monkeypatch.undo()
    result = build(config)
    assert "annotate-Flickr2K" in result.skipped
    assert {"stats", "assemble", "card", "manifest"} <= set(result.ran)
    assert "| Flickr2K |" in (Path(config.out) / "README.md").read_text()


KILLED_IN_ANNOTATION = """
import pathlib, sys, time
import gasr_hf.shards
from gasr_hf.cli import main

write = gasr_hf.shards.write_json_atomic

def write_then_hang(path, data, **kwargs):
    done = write(path, data, **kwargs)
    if "annotated/Flickr2K/.gasr/done" in str(path):
        pathlib.Path(sys.argv[1]).touch()
        time.sleep(3600)
    return done

gasr_hf.shards.write_json_atomic = write_then_hang
sys.exit(main(["build", "--config", sys.argv[2]]))
"""


def wait_for_file(path: Path, process: subprocess.Popen) -> None:
    import time

    while not path.exists():
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)


def test_a_source_added_to_a_finished_build_and_killed_during_its_annotation(tmp_path):
    config = tiny_config(tmp_path)
    build(config)
    image_folder(tmp_path / "flickr2k", 5, seed=1)
    flickr = {"name": "Flickr2K", "folder": str(tmp_path / "flickr2k"), "config": "df2k"}
    div2k = {"name": "DIV2K", "folder": str(tmp_path / "div2k"), "config": "df2k"}
    config = tiny_config(tmp_path, real=[div2k, flickr])
    first_chunk = tmp_path / "first-chunk-annotated"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_IN_ANNOTATION,
            str(first_chunk),
            str(tmp_path / "build.yaml"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for_file(first_chunk, process)
    process.kill()
    process.communicate()
    stages = Path(config.out) / ".gasr" / "build" / "stages"
    assert (stages / "ingest-Flickr2K.json").is_file()
    assert not (stages / "annotate-Flickr2K.json").exists()

    result = build(config)
    assert {"annotate-Flickr2K", "stats", "card", "manifest"} <= set(result.ran)
    table1 = (Path(config.out) / "README.md").read_text().split("## Statistics (Table 1)")[1]
    assert "| Flickr2K |" in table1 and "| DIV2K |" in table1


# --- one writer per folder ------------------------------------------------------------------------

WAITING_BUILD = """
import pathlib, sys, time
import gasr_hf.prompts
from gasr_hf.cli import main

build_prompts = gasr_hf.prompts.build_prompts

def wait_then_build(*args, **kwargs):
    while not pathlib.Path(sys.argv[1]).exists():
        time.sleep(0.05)
    return build_prompts(*args, **kwargs)

gasr_hf.prompts.build_prompts = wait_then_build
sys.exit(main(["build", "--config", sys.argv[2]]))
"""


def test_two_builds_started_at_once_one_runs_the_other_exits_2_naming_the_holder(tmp_path):
    import time

    config = tiny_config(tmp_path)
    go = tmp_path / "go"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    command = [sys.executable, "-c", WAITING_BUILD, str(go), str(tmp_path / "build.yaml")]
    builds = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    while all(b.poll() is None for b in builds):  # the winner waits for `go`: the loser ends first
        time.sleep(0.05)
    loser = next(b for b in builds if b.poll() is not None)
    winner = next(b for b in builds if b is not loser)
    _, err = loser.communicate()
    assert loser.returncode == 2, err
    assert f"{config.out} is being written by another run: PID {winner.pid} (gasr build)" in err
    assert "stage" not in err
    go.touch()
    out, err = winner.communicate()
    assert winner.returncode == 0, err
    assert out.strip() == f"{config.out}: built"
    assert not build(config).did_work


def test_ranks_of_one_launch_share_the_lock_and_another_launch_is_refused(tmp_path, monkeypatch):
    import threading

    from gasr_hf.lock import FolderBusy, folder_lock

    joined = threading.Event()

    def rank1():
        with folder_lock(tmp_path, "train", rank=1, world_size=2):
            joined.set()

    with folder_lock(tmp_path, "train", rank=0, world_size=2):
        thread = threading.Thread(target=rank1)
        thread.start()
        thread.join(timeout=60)
        assert joined.is_set()
        monkeypatch.setenv("GASR_LAUNCH_ID", "another launch")
        with pytest.raises(FolderBusy, match=f"PID {os.getpid()} \\(gasr train\\)"):
            with folder_lock(tmp_path, "train", rank=1, world_size=2):
                pass
        with pytest.raises(FolderBusy, match=f"{tmp_path} is being written"):
            with folder_lock(tmp_path, "eval"):
                pass
    with folder_lock(tmp_path, "eval"):
        pass


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marker", "text", "message"),
    [
        ("stages/card.json", "{}", "corrupt stage marker (no 'stage')"),
        ("stages/stats.json", '{"stage": "stats", "fingerp', "corrupt stage marker"),
        ("images/.gasr/done/train-00000.json", "{}", "corrupt done marker (no 'index')"),
    ],
)
def test_a_corrupt_marker_is_one_line_naming_it(tmp_path, marker, text, message):
    config = tiny_config(tmp_path)
    build(config)
    work = Path(config.out) / ".gasr" / "build"
    (work / marker).write_text(text)
    if marker.startswith("images"):
        (work / "stages" / "generate.json").unlink()
    code, _, err = run_cli("-q", "build", "--config", str(tmp_path / "build.yaml"))
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"gasr build: error: {work / marker}: {message}")


def test_a_malformed_config_is_one_line_naming_it(tmp_path):
    path = tmp_path / "build.yaml"
    path.write_text("version: 0.0.1\nout: [unclosed\n")
    code, _, err = run_cli("build", "--config", str(path))
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"gasr build: error: {path}: malformed YAML")


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in folder.rglob("*")
    }


def test_a_finished_build_on_a_read_only_mount_has_nothing_to_do(tmp_path):
    config = tiny_config(tmp_path)
    build(config)
    out = Path(config.out)
    before = _tree(out)
    mount = f"mount --bind -o ro {out} {out}"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", mount], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot mount read-only here (unshare -m needs CAP_SYS_ADMIN)")
    gasr = f"{sys.executable} -m gasr_hf.cli build --config {tmp_path / 'build.yaml'}"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"{mount} && {gasr}"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{out}: already complete, nothing to do"
    tiny_config(tmp_path, analyze={"sample_grid": 2})
    changed = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"{mount} && {gasr}"], env=env, capture_output=True, text=True
    )
    assert changed.returncode == 2
    assert len(changed.stderr.strip().splitlines()) == 1
    assert "Read-only file system" in changed.stderr and str(out) in changed.stderr
    assert _tree(out) == before


def test_a_procedural_build_card_speaks_of_its_backend_and_domain(tmp_path):
    config = tiny_config(tmp_path)
    build(config)
    card = (Path(config.out) / "README.md").read_text()
    assert "procedural backend draws an image for each prompt" in card
    assert "model's own artefacts" not in card and "a text-to-image model (" not in card
    assert "in the domain of artwork: posters, covers, comics and manga" in card
    assert "probabilities=[0.5, 0.5],\n    seed=0," in card


def test_models_that_cannot_load_offline_are_config_problems(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from gasr_hf.build import check_config

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    (tmp_path / "hub" / "models--openai--clip-vit-base-patch32").mkdir(parents=True)
    config = tiny_config(
        tmp_path,
        generate={"backend": {"backend": "diffusers", "model": "./no/flux", "width": 64}},
        annotate={"annotators": ["clip_embedding"], "clip_model": "someone/not-cached"},
    )
    assert check_config(config) == [
        "generate.backend.model: local model folder not found: ./no/flux",
        "annotate.clip_model: someone/not-cached is neither a local folder nor in the Hub cache "
        f"({tmp_path / 'hub'}), and HF_HUB_OFFLINE is set",
    ]
    cached = tiny_config(
        tmp_path,
        annotate={"annotators": ["clip_embedding"], "clip_model": "openai/clip-vit-base-patch32"},
    )
    assert check_config(cached) == []


def test_a_changed_data_stage_is_reported_with_the_other_problems(tmp_path, capsys):
    from gasr_hf.cli import main

    build(tiny_config(tmp_path))
    capsys.readouterr()
    tiny_config(
        tmp_path,
        prompts={"corpus": "artwork", "n": 7, "seed": 0},
        analyze={"basis": str(tmp_path / "no-basis"), "sample_grid": 4},
    )
    assert main(["-q", "build", "--config", str(tmp_path / "build.yaml")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(f"analyze.basis not found: {tmp_path / 'no-basis'}")
    assert "stage 'prompts' finished with other settings (n: 6 -> 7)" in lines[1]


def test_the_ranks_of_a_launch_on_several_machines_have_one_launch_id(monkeypatch):
    import socket

    from gasr_hf.lock import launch_id

    for key in ("GASR_LAUNCH_ID", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    alone = launch_id()
    monkeypatch.setenv("MASTER_ADDR", "node0")
    monkeypatch.setenv("MASTER_PORT", "29500")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-7")
    ids = set()
    for host in ("node0", "node1"):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        ids.add(launch_id())
    assert len(ids) == 1 and ids != {alone}
    monkeypatch.setenv("MASTER_PORT", "29501")
    assert launch_id() not in ids


def test_following_a_refusals_advice_rebuilds_what_it_named(tmp_path, capsys):
    from gasr_hf.cli import main

    config = tiny_config(tmp_path)
    build(config)
    capsys.readouterr()
    stages = Path(config.out) / ".gasr" / "build" / "stages"
    path = str(tmp_path / "build.yaml")

    tiny_config(tmp_path, prompts={"corpus": "artwork", "n": 8, "seed": 0})
    assert main(["-q", "build", "--config", path]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "stage 'prompts' finished with other settings (n: 6 -> 8)" in lines[0]
    assert "redoing it redoes prompts, generate, annotate-gasr:" in lines[0]
    assert f"remove {stages / 'prompts.json'} and rerun" in lines[0]
    (stages / "prompts.json").unlink()
    assert main(["-q", "build", "--dry-run", "--config", path]) == 0
    plan = capsys.readouterr().out.splitlines()
    assert "generate: stale (input prompts changed; redone from scratch)" in plan
    assert plan[-1] == "images still to generate: 8 of 8"
    assert main(["-q", "build", "--config", path]) == 0
    card = (Path(config.out) / "README.md").read_text()
    assert "| gasr | 8 |" in card and "| `gasr-df2k` | 11 |" in card
    capsys.readouterr()

    generate = {"backend": {"backend": "procedural", "width": 96, "height": 64}, "chunk_size": 3}
    tiny_config(tmp_path, prompts={"corpus": "artwork", "n": 8, "seed": 0}, generate=generate)
    assert main(["-q", "build", "--config", path]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "stage 'generate' finished with other settings (backend.width: 64 -> 96)" in lines[0]
    assert "redoing it redoes generate, annotate-gasr:" in lines[0]
    (stages / "generate.json").unlink()
    assert main(["-q", "build", "--dry-run", "--config", path]) == 0
    plan = capsys.readouterr().out.splitlines()
    assert (
        "generate: to run (starts afresh: its folder holds work of other settings or inputs)"
        in plan
    )
    assert plan[-1] == "images still to generate: 8 of 8"
    assert main(["-q", "build", "--config", path]) == 0
    code = "import datasets\nprint(datasets.load_dataset('gasr', 'gasr', split='train')[0]['image'].size)"
    assert fresh_python(code, cwd=tmp_path).splitlines()[-1] == "(96, 64)"


def test_a_deleted_or_edited_output_reruns_the_stage_that_wrote_it(tmp_path):
    import shutil

    config = tiny_config(tmp_path)
    build(config)
    out = Path(config.out)
    shutil.rmtree(out / "data")
    again = build(config)
    assert again.ran == ("assemble", "card", "manifest")
    assert sorted(p.name for p in (out / "data").iterdir()) == ["df2k", "gasr"]

    (out / "README.md").unlink()
    (out / "figures" / "samples.png").unlink()
    assert build(config).ran == ("card",)  # the same card again: the manifest still holds
    assert "figures/samples.png" in (out / "README.md").read_text()
    assert (out / "figures" / "samples.png").is_file()

    manifest = (out / "manifest.json").read_text()
    (out / "manifest.json").write_text(manifest.replace('"0.0.1"', '"9.9.9"'))
    assert build(config).ran == ("manifest",)
    assert json.loads((out / "manifest.json").read_text())["version"] == "0.0.1"
    assert not build(config).did_work


def test_a_moved_build_reads_its_own_figures(tmp_path):
    config = tiny_config(tmp_path)
    build(config)
    moved = tmp_path / "moved"
    Path(config.out).rename(moved)
    card = {"license": "apache-2.0", "license_name": None, "license_link": None}
    config = tiny_config(tmp_path, out=str(moved), card={**card, "pretty_name": "Moved GASR"})
    result = build(config)
    assert "card" in result.ran and "generate" in result.skipped
    assert "Moved GASR" in (moved / "README.md").read_text()
    assert (moved / "figures" / "samples.png").is_file()


def test_a_mixture_removed_from_the_config_leaves_the_card(tmp_path):
    from gasr_hf.publish import read_mixtures

    both = {"name": "both", "sources": {"gasr": 1, "df2k": 1}, "mode": "concat"}
    half = {"name": "half", "sources": {"gasr": 0.5, "df2k": 0.5}}
    config = tiny_config(tmp_path, mixtures=[half, both])
    build(config)
    out = Path(config.out)
    assert [m.name for m in read_mixtures(out)] == ["half", "both"]
    assert "config_name: both" in (out / "README.md").read_text()

    build(tiny_config(tmp_path, mixtures=[half]))
    assert [m.name for m in read_mixtures(out)] == ["half"]
    assert "config_name: both" not in (out / "README.md").read_text()
    build(tiny_config(tmp_path, mixtures=[]))
    assert read_mixtures(out) == []
    assert "half" not in (out / "README.md").read_text()
    assert "both" not in json.loads((out / "manifest.json").read_text())["configs"]


def test_an_os_error_naming_no_file_names_the_build_folder(tmp_path, monkeypatch, capsys):
    import errno

    import gasr_hf.publish
    from gasr_hf.cli import main

    config = tiny_config(tmp_path)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gasr_hf.publish, "assemble_repo", full_disk)
    assert main(["-q", "build", "--config", str(tmp_path / "build.yaml")]) == 2
    line = capsys.readouterr().err.splitlines()[-1]
    assert line == f"gasr build: error: [Errno 28] No space left on device (in {config.out})"


def test_the_plan_names_a_stages_own_change_before_its_pending_inputs(tmp_path, capsys):
    from gasr_hf.cli import main

    build(tiny_config(tmp_path))
    image_folder(tmp_path / "flickr2k", 2, seed=1)
    flickr = {"name": "Flickr2K", "folder": str(tmp_path / "flickr2k"), "config": "df2k"}
    div2k = {"name": "DIV2K", "folder": str(tmp_path / "div2k"), "config": "df2k"}
    tiny_config(tmp_path, real=[div2k, flickr], analyze={"sample_grid": 2})
    capsys.readouterr()
    assert main(["build", "--config", str(tmp_path / "build.yaml"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "ingest-Flickr2K: to run (not run yet)" in lines
    assert "annotate-Flickr2K: to run (after ingest-Flickr2K)" in lines
    assert "stats: stale (names: ['gasr', 'DIV2K'] -> ['gasr', 'DIV2K', 'Flickr2K'])" in lines
    assert "samples: stale (n: 4 -> 2)" in lines


def test_a_pushed_card_keeps_its_repository_when_the_build_reruns(tmp_path):
    from gasr_hf.publish.card import set_repo_id

    config = tiny_config(tmp_path)
    build(config)
    out = Path(config.out)
    set_repo_id(out, "someone/gasr")  # what `gasr push` does before uploading
    assert 'load_dataset("someone/gasr"' in (out / "README.md").read_text()
    assert build(config).ran == ("card", "manifest")  # README.md changed since the build
    assert 'load_dataset("someone/gasr"' in (out / "README.md").read_text()
    assert not build(config).did_work
