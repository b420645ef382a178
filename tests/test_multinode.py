"""Two "machines" (two torchrun nodes of one CPU process each, on this host) share one output folder,
as ``accelerate launch --num_machines 2 --machine_rank R`` runs do on a shared filesystem."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from test_build import tiny_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_nodes(args: list[str], cwd: Path) -> list[str]:
    """Run ``gasr ARGS`` as node 0 and node 1 of a two-node job; returns each node's stderr."""
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    port = _free_port()
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes=2",
                f"--node_rank={rank}",
                "--nproc_per_node=1",
                "--master_addr=127.0.0.1",
                f"--master_port={port}",
                "-m",
                "gasr_hf.cli",
                *args,
            ],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    errs = []
    for node in nodes:
        _, err = node.communicate(timeout=600)
        assert node.returncode == 0, err[-3000:]
        errs.append(err)
    return errs


@pytest.mark.parametrize("command", ["build", "generate"])
def test_two_machines_split_the_rows_and_the_report_counts_each_once(
    tmp_path: Path, command: str
) -> None:
    config = tiny_config(tmp_path)
    if command == "build":
        errs = _two_nodes(["build", "--config", str(tmp_path / "build.yaml")], tmp_path)
        images = Path(config.out) / ".gasr" / "build" / "images"
        repo = datasets.load_dataset(str(config.out), "gasr", split="train")
        assert sorted(repo["prompt_id"]) == sorted(set(repo["prompt_id"])) and len(repo) == 6
    else:
        from gasr_hf.prompts import build_prompts, save_prompts

        save_prompts(build_prompts("artwork", 6, 0), tmp_path / "prompts")
        images = tmp_path / "images"
        args = ["generate", "--prompts", str(tmp_path / "prompts"), "--out", str(images)]
        errs = _two_nodes([*args, "--width", "64", "--height", "64", "--chunk-size", "2"], tmp_path)
    rows = datasets.load_dataset("parquet", data_dir=str(images), split="train")
    assert len(rows) == 6 and len(set(rows["prompt_id"])) == 6
    report = json.loads((images / "generation_report.json").read_text())
    assert report["images"] == 6 and report["complete"]
    assert sorted(r["rank"] for r in report["ranks"]) == [0, 1]
    assert sum(r["images"] for r in report["ranks"]) == 6
    markers = [json.loads(p.read_text()) for p in (images / ".gasr" / "done").glob("*.json")]
    assert sorted({m["rank"] for m in markers}) == [0, 1]
    assert sum(m["rows_out"] for m in markers) == 6
    # Each rank shows its own progress bar.
    for rank, err in enumerate(errs):
        assert f"[rank {rank}/2]" in err
