"""A generating process killed part-way loses only the chunk in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from gasr_hf import shards
from gasr_hf.generate import BackendConfig, generate
from gasr_hf.generate.procedural import ProceduralBackend
from gasr_hf.prompts import build_prompts
from gasr_hf.shards import read_markers

N, CHUNK = 24, 2

CHILD = textwrap.dedent(
    f"""
    import sys, time
    from gasr_hf.generate import BackendConfig, generate
    from gasr_hf.generate.procedural import ProceduralBackend
    from gasr_hf.prompts import build_prompts

    class Slow(ProceduralBackend):
        def render(self, rows):
            time.sleep(0.15)
            return super().render(rows)

    config = BackendConfig(width=64, height=64)
    generate(build_prompts("artwork", {N}, 0), sys.argv[1], Slow(config), chunk_size={CHUNK})
    """
)


def test_sigkill_then_restart_gives_exactly_n_unique_rows(tmp_path: Path) -> None:
    out = tmp_path / "shards"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out)], stderr=subprocess.DEVNULL)
    try:
        while not read_markers(out) if (out / ".gasr" / "done").is_dir() else True:
            assert child.poll() is None, "the generating process ended before any chunk was done"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    done_before = len(read_markers(out))
    assert 1 <= done_before < N // CHUNK

    report = generate(
        build_prompts("artwork", N, 0), out, BackendConfig(width=64, height=64), chunk_size=CHUNK
    )
    assert report["complete"] and report["this_run"]["images"] == N - done_before * CHUNK
    shard_files = sorted(out.glob("*.parquet"))
    assert len(shard_files) == N // CHUNK
    ids = [
        i
        for s in shard_files
        for i in pq.read_table(s, columns=["prompt_id"])["prompt_id"].to_pylist()
    ]
    assert len(ids) == N and len(set(ids)) == N
    assert not list((out / ".gasr" / "tmp").iterdir())


def test_a_shard_renamed_but_not_yet_marked_done_is_redone_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = build_prompts("artwork", 6, 0)
    config = BackendConfig(width=64, height=64)
    write = shards.write_json_atomic

    def killed_at_the_second_marker(path: Path, data: dict, *, tmp_tag: str = "") -> Path:
        if path.name == "train-00001.json":
            raise KeyboardInterrupt("killed after the rename, before the marker")
        return write(path, data, tmp_tag=tmp_tag)

    monkeypatch.setattr(shards, "write_json_atomic", killed_at_the_second_marker)
    with pytest.raises(KeyboardInterrupt):
        generate(prompts, tmp_path, config, chunk_size=2)
    monkeypatch.undo()
    assert (tmp_path / "train-00001.parquet").is_file() and sorted(read_markers(tmp_path)) == [0]

    rendered: list[str] = []

    class Recording(ProceduralBackend):
        def render(self, rows):
            rendered.extend(row["prompt_id"] for row in rows)
            return super().render(rows)

    report = generate(prompts, tmp_path, Recording(config), chunk_size=2)
    assert rendered == prompts["prompt_id"][2:6]
    assert report["complete"] and report["images"] == 6
    ids = datasets.load_dataset("parquet", data_dir=str(tmp_path), split="train")["prompt_id"]
    assert sorted(ids) == sorted(prompts["prompt_id"])
