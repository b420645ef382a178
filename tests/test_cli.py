import argparse
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from gasr_hf.cli import build_parser, main

RECIPE = Path(__file__).resolve().parent.parent / "examples" / "configs" / "compact_x4.yaml"


def run_gasr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gasr_hf.cli", *args], capture_output=True, text=True, check=False
    )


def all_command_paths(parser: argparse.ArgumentParser, prefix=()):
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_command_paths(sub, (*prefix, name))


def test_help_works_on_every_level(capsys):
    paths = list(all_command_paths(build_parser()))
    assert ("prompts",) in paths and ("corpus", "expand") in paths
    for path in paths:
        with pytest.raises(SystemExit) as info:
            main([*path, "--help"])
        assert info.value.code == 0, path
        assert "usage: gasr" in capsys.readouterr().out


def test_importing_the_cli_loads_no_heavy_library():
    code = (
        "import sys, gasr_hf.cli; "
        "heavy = [m for m in ('torch', 'datasets', 'diffusers', 'transformers') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_argument_is_one_line_and_exit_2():
    assert_one_line_error(run_gasr("prompts", "--n", "many", "--out", "x"), "--n", "many")
    assert_one_line_error(run_gasr("no-such-command"), "invalid choice")


def test_missing_file_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "missing.yaml"
    result = run_gasr("prompts", "--corpus", str(missing), "--n", "3", "--out", str(tmp_path))
    assert_one_line_error(result, "gasr prompts: error", str(missing))


def test_malformed_config_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndomain: d\nversion: '1'\nbase_description: b\ntemplat: t\n")
    assert_one_line_error(run_gasr("corpus", "show", str(bad)), "unknown key 'templat'")
    bad.write_text("styles: [\n")
    assert_one_line_error(run_gasr("corpus", "show", str(bad)), "malformed YAML")


def test_too_many_prompts_is_one_line_and_exit_2(tmp_path):
    corpus = tmp_path / "c.yaml"
    corpus.write_text(
        "name: c\ndomain: d\nversion: '1'\nbase_description: b\n"
        "template: '{component_1} {component_2} {style}'\nstyles: [s]\ncomponents: [x, y]\n"
    )
    result = run_gasr("prompts", "--corpus", str(corpus), "--n", "2", "--out", str(tmp_path / "p"))
    assert_one_line_error(result, "exceeds the 1 unique prompts")


def test_prompts_command_writes_a_loadable_dataset(tmp_path):
    out = tmp_path / "prompts"
    assert main(["-q", "prompts", "--corpus", "artwork", "--n", "25", "--out", str(out)]) == 0
    ds = datasets.load_dataset(str(out), split="train")
    assert len(ds) == 25 and ds[0]["corpus"] == "artwork@1.1.0"
    assert main(["-q", "prompts", "--n", "25", "--out", str(out)]) == 2  # exists already
    assert main(["-q", "prompts", "--n", "30", "--out", str(out), "--overwrite"]) == 0
    grown = datasets.load_dataset(str(out), split="train")
    assert grown["prompt"][:25] == ds["prompt"]


def test_corpus_show_lists_and_summarises(capsys):
    assert main(["corpus", "show"]) == 0
    assert "artwork" in capsys.readouterr().out.split()
    assert main(["corpus", "show", "artwork"]) == 0
    assert '"unique_prompts"' in capsys.readouterr().out


def test_an_os_error_is_one_line_naming_where(tmp_path, monkeypatch, capsys):
    import errno

    import gasr_hf.prompts

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gasr_hf.prompts, "save_prompts", full_disk)
    out = tmp_path / "prompts"
    assert main(["prompts", "--n", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"gasr prompts: error: [Errno 28] No space left on device (in {out})\n"


@pytest.mark.parametrize("command", ["generate", "annotate", "ingest", "tile", "train", "eval"])
def test_a_folder_another_run_writes_is_refused_at_once(tmp_path, capsys, command):
    import os

    from gasr_hf.lock import folder_lock

    out = tmp_path / "out"
    argv = {
        "generate": ["generate", "--prompts", str(tmp_path / "p"), "--out", str(out)],
        "annotate": ["annotate", str(tmp_path / "in"), "--out", str(out)],
        "ingest": ["ingest", str(tmp_path / "in"), "--name", "x", "--out", str(out)],
        "tile": ["tile", str(tmp_path / "in"), str(out)],
        "train": ["train", "--config", str(RECIPE), "--set", f"output_dir={out}"],
        "eval": ["eval", "--model", "bicubic", "--bench", "Set5", "--out", str(out)],
    }[command]
    with folder_lock(out, "build"):
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        f"gasr {command}: error: {out} is being written by another run: PID {os.getpid()} "
        f"(gasr build) holds {out / '.gasr' / 'lock'}; wait for it to finish before running "
        f"gasr {command} into this folder\n"
    )


def _error(capsys) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    return lines[0]


def test_a_missing_or_undecodable_config_is_one_line_naming_it_once(tmp_path, capsys):
    missing = tmp_path / "missing.yaml"
    assert main(["build", "--config", str(missing)]) == 2
    assert _error(capsys) == f"gasr build: error: config file not found: {missing}"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("version: 0.0.1\nout: caf\xe9\n".encode("latin-1"))
    assert main(["build", "--config", str(latin1)]) == 2
    assert _error(capsys).startswith(f"gasr build: error: {latin1}: not UTF-8 text")


def test_a_folder_that_cannot_be_made_names_its_parent_error(tmp_path, monkeypatch):
    import errno

    from gasr_hf.lock import folder_lock

    read_only = tmp_path / "ro"
    mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if read_only in (self, *self.parents):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(PermissionError, match="Permission denied") as caught:
        with folder_lock(read_only / "new", "build"):
            pass
    assert caught.value.filename.startswith(str(read_only))
