"""benchmarks/gpu_check.py --dry-run: every part of the prepared GPU check runs at tiny shapes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_dry_run_measures_every_part_and_writes_json_and_markdown(tmp_path: Path) -> None:
    gpu_check = _load_script()
    assert gpu_check.main(["--out", str(tmp_path), "--dry-run"]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["dry_run"] is True
    assert list(report["parts"]) == ["flux", "sd21", "sam", "clip", "train", "scan"]
    measures = {}
    for part, info in report["parts"].items():
        assert info["status"] == "done", (part, info.get("error"))
        measures[part] = [row["measure"] for row in info["rows"] if row["value"] is not None]
    flux = measures["flux"]
    for label in ("eager", "first block cache 0.08", "first block cache 0.12", "torch.compile"):
        assert f"{label}, batch 1" in flux and f"{label}, batch 2" in flux
    assert "VAE decode" in flux
    assert any("difference to eager" in r["note"] for r in report["parts"]["flux"]["rows"])
    assert len(measures["sam"]) == 2 and len(measures["clip"]) == 1
    assert [m.split(",")[0] for m in measures["train"]] == ["rcan", "hat", "mambair-light"]
    assert any("keeps up" in r["note"] for r in report["parts"]["train"]["rows"])
    assert any(m.startswith("chunked scan (ours)") for m in measures["scan"])
    table = (tmp_path / "gpu_check.md").read_text()
    assert table.count("\n| ") == sum(len(i["rows"]) for i in report["parts"].values()) + 1


def test_a_part_past_its_cap_records_skips_and_an_error_keeps_the_rest(
    tmp_path: Path, monkeypatch
) -> None:
    gpu_check = _load_script()
    monkeypatch.setitem(gpu_check.CAPS_S, "scan", 0)

    def broken(rec, shapes):
        raise RuntimeError("out of memory")

    monkeypatch.setitem(gpu_check.PARTS, "sd21", broken)
    assert gpu_check.main(["--out", str(tmp_path), "--dry-run", "--parts", "sd21", "scan"]) == 1
    parts = json.loads((tmp_path / "gpu_check.json").read_text())["parts"]
    assert parts["sd21"]["status"] == "error" and "out of memory" in parts["sd21"]["error"]
    notes = [row["note"] for row in parts["scan"]["rows"]]
    assert parts["scan"]["status"] == "done"
    assert "skipped: time cap of 0 s" in notes
