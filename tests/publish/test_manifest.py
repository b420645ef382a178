"""manifest.json and verify_repo: every shard's rows and sha256; any change is reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gasr_hf.publish.card import write_card
from gasr_hf.publish.layout import assemble_repo
from gasr_hf.publish.manifest import Mismatch, sha256_file, verify_repo, write_manifest

from .tiny_shards import card_info


@pytest.fixture
def repo(tmp_path, stage_outputs) -> Path:
    repo = tmp_path / "repo"
    assemble_repo(repo, stage_outputs)
    write_card(repo, card_info())
    write_manifest(repo, "1.0.0")
    return repo


def test_manifest_lists_every_shard(repo):
    manifest = json.loads((repo / "manifest.json").read_text())
    assert manifest["version"] == "1.0.0" and manifest["gasr_hf_version"]
    assert manifest["created"].endswith("Z")
    assert manifest["configs"]["gasr-df2k"] == [
        "data/gasr/train-*.parquet",
        "data/df2k/train-*.parquet",
    ]
    shards = {s["path"]: s for s in manifest["shards"]}
    assert sorted(shards) == sorted(
        p.relative_to(repo).as_posix() for p in repo.glob("data/*/*.parquet")
    )
    first = shards["data/gasr/train-00000.parquet"]
    assert first["rows"] == 3
    assert first["bytes"] == (repo / first["path"]).stat().st_size
    assert first["sha256"] == sha256_file(repo / first["path"])
    assert manifest["total_rows"] == 10
    assert verify_repo(repo) == []


def test_verify_catches_a_flipped_byte(repo):
    shard = repo / "data/df2k/train-00001.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    found = verify_repo(repo)
    assert [(m.path, m.kind) for m in found] == [("data/df2k/train-00001.parquet", "sha256")]
    assert "sha256 is" in str(found[0])


def test_verify_catches_missing_extra_and_rewritten_shards(repo, tmp_path, stage_outputs):
    (repo / "data/gasr/train-00001.parquet").unlink()
    shutil.copy(repo / "data/gasr/train-00000.parquet", repo / "data/gasr/train-00007.parquet")
    kinds = {(m.path, m.kind) for m in verify_repo(repo)}
    assert ("data/gasr/train-00001.parquet", "missing") in kinds
    assert ("data/gasr/train-00007.parquet", "extra") in kinds
    # the card's own checks run too: the declared row counts no longer match the files
    assert any(kind == "card" for _, kind in kinds)


def test_verify_catches_a_wrong_row_count(repo):
    path = repo / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["shards"][0]["rows"] += 1
    path.write_text(json.dumps(manifest))
    assert verify_repo(repo) == [Mismatch(manifest["shards"][0]["path"], "rows", "4", "3")]


def test_version_must_match_the_card(repo):
    with pytest.raises(ValueError, match="version '1.1.0' differs from the card's version '1.0.0'"):
        write_manifest(repo, "1.1.0")
    with pytest.raises(ValueError, match="semantic version X.Y.Z, got 'v1.0.0'"):
        write_manifest(repo, "v1.0.0")
    path = repo / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["version"] = "0.9.0"
    path.write_text(json.dumps(manifest))
    assert [m.kind for m in verify_repo(repo)] == ["version"]


def test_verify_needs_a_manifest(tmp_path, stage_outputs):
    repo = tmp_path / "bare"
    assemble_repo(repo, stage_outputs)
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        verify_repo(repo)


def test_the_manifest_covers_the_card_and_the_figures(repo):
    manifest = json.loads((repo / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]] == ["README.md"]
    card = repo / "README.md"
    text = card.read_text()
    assert "Non-Commercial License" in text
    card.write_text(text.replace("Non-Commercial License", "Commercial License"))
    (repo / "figures").mkdir()
    (repo / "figures" / "extra.png").write_bytes(b"png")
    found = verify_repo(repo)
    assert [(m.path, m.kind) for m in found] == [
        ("figures/extra.png", "extra"),
        ("README.md", "bytes"),
        ("README.md", "sha256"),
    ]
    write_manifest(repo, "1.0.0")
    assert verify_repo(repo) == []


def test_a_manifest_of_an_older_format_or_corrupt_is_named(repo):
    path = repo / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "format": "gasr-manifest/1"}))
    with pytest.raises(ValueError, match="gasr-manifest/1.*rewrite it with gasr manifest"):
        verify_repo(repo)
    path.write_text("[]")
    with pytest.raises(ValueError, match=f"{path}: corrupt manifest"):
        verify_repo(repo)
