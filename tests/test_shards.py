"""The shared chunk runner: atomic shards, done markers, resume, ranks, merged report."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from gasr_hf.shards import ChunkResult, marker_path, report_path, run_chunks


def _source(n: int) -> datasets.Dataset:
    return datasets.Dataset.from_dict({"id": [f"r{i:03d}" for i in range(n)], "x": list(range(n))})


class Doubler:
    """A process function that records which chunks it saw and fails rows whose x is in ``bad``."""

    def __init__(self, bad: frozenset[int] = frozenset(), explode_on_call: int | None = None):
        self.calls: list[list[str]] = []
        self.bad = bad
        self.explode_on_call = explode_on_call

    def __call__(self, chunk: datasets.Dataset) -> ChunkResult:
        self.calls.append(chunk["id"])
        if self.explode_on_call == len(self.calls):
            raise RuntimeError("boom")
        keep = [i for i, x in enumerate(chunk["x"]) if x not in self.bad]
        failures = [
            {"row": x, "id": chunk[i]["id"], "error": "bad row"}
            for i, x in enumerate(chunk["x"])
            if x in self.bad
        ]
        out = chunk.select(keep).map(lambda r: {"y": 2 * r["x"]})
        return ChunkResult(out, failures)


def _read_all(out_dir: Path) -> datasets.Dataset:
    return datasets.load_dataset("parquet", data_dir=str(out_dir), split="train")


def test_writes_one_shard_and_marker_per_chunk(tmp_path: Path) -> None:
    report = run_chunks(_source(10), tmp_path, Doubler(), chunk_size=4, meta={"stage": "t"})
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == [
        "train-00000.parquet",
        "train-00001.parquet",
        "train-00002.parquet",
    ]
    marker = json.loads(marker_path(tmp_path, "train", 2).read_text())
    assert (marker["row_start"], marker["row_stop"], marker["rows_out"]) == (8, 10, 2)
    assert marker["meta"] == {"stage": "t"}
    assert report.complete and report.rows_in == 10 and report.rows_out == 10
    assert json.loads(report_path(tmp_path).read_text())["chunks_done"] == 3
    loaded = _read_all(tmp_path)
    assert sorted(loaded["y"]) == [2 * i for i in range(10)]
    assert not list((tmp_path / ".gasr" / "tmp").iterdir())


def test_rerun_skips_done_chunks_and_redoes_a_grown_last_chunk(tmp_path: Path) -> None:
    run_chunks(_source(10), tmp_path, Doubler(), chunk_size=4)
    again = Doubler()
    report = run_chunks(_source(10), tmp_path, again, chunk_size=4)
    assert again.calls == [] and report.chunks_skipped == 3 and report.chunks_run == 0

    grown = Doubler()
    report = run_chunks(_source(14), tmp_path, grown, chunk_size=4)
    assert [c[0] for c in grown.calls] == ["r008", "r012"]
    assert report.complete and report.rows_out == 14
    ids = _read_all(tmp_path)["id"]
    assert sorted(ids) == [f"r{i:03d}" for i in range(14)] and len(set(ids)) == 14


def test_failed_process_leaves_earlier_chunks_and_is_redone(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        run_chunks(_source(12), tmp_path, Doubler(explode_on_call=2), chunk_size=4)
    assert marker_path(tmp_path, "train", 0).is_file()
    assert not marker_path(tmp_path, "train", 1).exists()
    resumed = Doubler()
    report = run_chunks(_source(12), tmp_path, resumed, chunk_size=4)
    assert [c[0] for c in resumed.calls] == ["r004", "r008"]
    assert report.complete and report.rows_out == 12


def test_marker_without_its_shard_is_redone(tmp_path: Path) -> None:
    run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4)
    (tmp_path / "train-00001.parquet").unlink()
    again = Doubler()
    run_chunks(_source(8), tmp_path, again, chunk_size=4)
    assert [c[0] for c in again.calls] == ["r004"]


def test_ranks_split_chunks_round_robin(tmp_path: Path) -> None:
    p0, p1 = Doubler(), Doubler()
    run_chunks(_source(10), tmp_path, p0, chunk_size=3, rank=0, world_size=2)
    report = run_chunks(_source(10), tmp_path, p1, chunk_size=3, rank=1, world_size=2)
    assert [c[0] for c in p0.calls] == ["r000", "r006"]
    assert [c[0] for c in p1.calls] == ["r003", "r009"]
    assert report.complete and report.rows_out == 10


def test_failures_are_counted_not_dropped(tmp_path: Path) -> None:
    report = run_chunks(_source(6), tmp_path, Doubler(bad=frozenset({1, 5})), chunk_size=4)
    assert report.rows_in == 6 and report.rows_out == 4
    assert [f["id"] for f in report.failures] == ["r001", "r005"]
    saved = json.loads(report_path(tmp_path).read_text())
    assert saved["num_failures"] == 2 and saved["failures"][1]["error"] == "bad row"


def test_changed_chunk_size_is_refused(tmp_path: Path) -> None:
    run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4)
    with pytest.raises(ValueError, match="chunk_size=4"):
        run_chunks(_source(8), tmp_path, Doubler(), chunk_size=3)


def test_stale_temporary_file_of_a_killed_run_is_removed(tmp_path: Path) -> None:
    tmp_dir = tmp_path / ".gasr" / "tmp"
    tmp_dir.mkdir(parents=True)
    (tmp_dir / "train-00000.rank0.parquet").write_bytes(b"half a file")
    run_chunks(_source(4), tmp_path, Doubler(), chunk_size=4)
    assert not list(tmp_dir.iterdir())
    assert len(_read_all(tmp_path)) == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"rank": 2, "world_size": 2}, "rank"),
        ({"split": "train-x"}, "split"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        run_chunks(_source(4), tmp_path, Doubler(), **kwargs)
