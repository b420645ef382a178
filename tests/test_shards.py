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


def test_a_shorter_source_is_refused_and_no_stale_shard_is_left_to_read(tmp_path: Path) -> None:
    run_chunks(_source(14), tmp_path, Doubler(), chunk_size=4)
    with pytest.raises(ValueError, match=r"chunk 2 of rows \[8, 12\).*only 10 rows"):
        run_chunks(_source(10), tmp_path, Doubler(), chunk_size=4)
    marker_path(tmp_path, "train", 2).unlink()
    with pytest.raises(ValueError, match=r"chunk 3 of rows \[12, 14\).*only 10 rows"):
        run_chunks(_source(10), tmp_path, Doubler(), chunk_size=4)
    marker_path(tmp_path, "train", 3).unlink()
    with pytest.raises(ValueError, match="shard train-00003.parquet beyond the 3 chunks"):
        run_chunks(_source(10), tmp_path, Doubler(), chunk_size=4)
    (tmp_path / "train-00003.parquet").unlink()
    redo = Doubler()
    report = run_chunks(_source(10), tmp_path, redo, chunk_size=4)
    assert [c[0] for c in redo.calls] == ["r008"]
    assert report.complete and report.rows_out == 10 and len(_read_all(tmp_path)) == 10


def test_other_rows_of_the_same_length_are_refused(tmp_path: Path) -> None:
    run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4)
    renamed = _source(8).map(lambda r: {"id": r["id"].replace("r", "q")})
    with pytest.raises(ValueError, match=r"train-00000.json: chunk 0 .*other source rows"):
        run_chunks(renamed, tmp_path, Doubler(), chunk_size=4)
    changed = _source(8).map(lambda r: {"x": r["x"] + (r["x"] == 5)})
    with pytest.raises(ValueError, match=r"chunk 1 \(rows \[4, 8\)\).*other source rows"):
        run_chunks(changed, tmp_path, Doubler(), chunk_size=4)


def test_the_rows_digest_follows_content_not_layout(tmp_path: Path) -> None:
    run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4)
    backwards = range(7, -1, -1)
    same_rows = _source(8).select(backwards).select(backwards)  # an indices mapping, same rows
    again = Doubler()
    report = run_chunks(same_rows, tmp_path, again, chunk_size=4)
    assert again.calls == [] and report.chunks_skipped == 2


def test_id_column_digest_ties_markers_to_ids_only(tmp_path: Path) -> None:
    run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4, id_column="id")
    marker = json.loads(marker_path(tmp_path, "train", 0).read_text())
    assert marker["source_digest_of"] == "id_column:id"
    again = Doubler()
    other_x = _source(8).map(lambda r: {"x": r["x"] + 100})
    run_chunks(other_x, tmp_path, again, chunk_size=4, id_column="id")
    assert again.calls == []
    with pytest.raises(ValueError, match="other source rows"):
        run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4)
    with pytest.raises(ValueError, match="id_column 'nope'"):
        run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4, id_column="nope")


def test_other_meta_is_refused_naming_the_keys_and_the_marker(tmp_path: Path) -> None:
    meta = {"stage": "t", "size": 64, "pair": (1, 2), "where": tmp_path}
    run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4, meta=meta)
    again = Doubler()
    report = run_chunks(_source(8), tmp_path, again, chunk_size=4, meta=dict(meta))
    assert again.calls == [] and report.meta["pair"] == [1, 2]
    with pytest.raises(ValueError, match=r"train-00000.json: .*size: was 64, now 96") as err:
        run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4, meta={**meta, "size": 96})
    assert "stage" not in str(err.value)
    with pytest.raises(ValueError, match="extra: was '<absent>', now 1"):
        run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4, meta={**meta, "extra": 1})


def test_other_meta_is_refused_even_when_only_other_ranks_chunks_are_done(tmp_path: Path) -> None:
    run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4, rank=1, world_size=2, meta={"a": 1})
    with pytest.raises(ValueError, match="a: was 1, now 2"):
        run_chunks(_source(8), tmp_path, Doubler(), chunk_size=4, world_size=2, meta={"a": 2})


def test_a_marker_without_a_source_digest_is_refused(tmp_path: Path) -> None:
    run_chunks(_source(4), tmp_path, Doubler(), chunk_size=4)
    path = marker_path(tmp_path, "train", 0)
    marker = json.loads(path.read_text())
    del marker["source_sha256"]
    path.write_text(json.dumps(marker))
    with pytest.raises(ValueError, match="did not record its source rows"):
        run_chunks(_source(4), tmp_path, Doubler(), chunk_size=4)
