import argparse
import subprocess
import sys

import datasets
import pytest

from gasr_hf.cli import build_parser, main


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
