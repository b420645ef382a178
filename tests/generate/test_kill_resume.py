"""A generating process killed with SIGKILL part-way loses only the chunk in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq

from gasr_hf.generate import BackendConfig, generate
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
    shards = sorted(out.glob("*.parquet"))
    assert len(shards) == N // CHUNK
    ids = [
        i for s in shards for i in pq.read_table(s, columns=["prompt_id"])["prompt_id"].to_pylist()
    ]
    assert len(ids) == N and len(set(ids)) == N
    assert not list((out / ".gasr" / "tmp").iterdir())
