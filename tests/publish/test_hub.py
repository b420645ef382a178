"""push_repo against a fake HfApi: the calls it makes, and everything that stops it first."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import huggingface_hub.constants
import pytest
from huggingface_hub import DatasetCard

from gasr_hf.publish.card import write_card
from gasr_hf.publish.hub import push_repo
from gasr_hf.publish.layout import assemble_repo
from gasr_hf.publish.manifest import write_manifest

from .tiny_shards import card_info


class FakeApi:
    """Records every call; knows the tags given to it."""

    def __init__(self, tags: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.tags = tags

    def create_repo(self, *args: Any, **kwargs: Any) -> str:
        self.calls.append(("create_repo", args, kwargs))
        return f"https://huggingface.co/datasets/{args[0]}"

    def list_repo_refs(self, *args: Any, **kwargs: Any) -> SimpleNamespace:
        self.calls.append(("list_repo_refs", args, kwargs))
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in self.tags])

    def upload_folder(self, *args: Any, **kwargs: Any) -> SimpleNamespace:
        self.calls.append(("upload_folder", args, kwargs))
        return SimpleNamespace(oid="c0ffee")

    def create_tag(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("create_tag", args, kwargs))


@pytest.fixture
def validated(monkeypatch) -> list[str]:
    """Stands in for the Hub's YAML validation (network) and records that it ran."""
    seen: list[str] = []

    def validate(card: DatasetCard, repo_type: str | None = None) -> None:
        assert "license: other" in str(card)
        seen.append(repo_type or "")

    monkeypatch.setattr(DatasetCard, "validate", validate)
    return seen


@pytest.fixture
def repo(tmp_path, stage_outputs) -> Path:
    repo = tmp_path / "repo"
    assemble_repo(repo, stage_outputs)
    write_card(repo, card_info(version="1.2.0"))
    write_manifest(repo, "1.2.0")
    return repo


def test_push_uploads_then_tags(repo, validated):
    api = FakeApi(tags=("v1.0.0",))
    result = push_repo(repo, "someone/gasr", "1.2.0", api=api, private=True, token="hf_x")

    assert [name for name, *_ in api.calls] == [
        "create_repo",
        "list_repo_refs",
        "upload_folder",
        "create_tag",
    ]
    calls = {name: (args, kwargs) for name, args, kwargs in api.calls}
    assert calls["create_repo"] == (
        ("someone/gasr",),
        {"repo_type": "dataset", "private": True, "exist_ok": True, "token": "hf_x"},
    )
    upload = calls["upload_folder"][1]
    assert upload["repo_id"] == "someone/gasr" and upload["repo_type"] == "dataset"
    assert Path(upload["folder_path"]) == repo and upload["token"] == "hf_x"
    assert ".*" in upload["ignore_patterns"]  # .gasr/ resume state stays local
    assert "data/*" in upload["delete_patterns"]  # stale remote shards go
    tag_args, tag_kwargs = calls["create_tag"]
    assert tag_args == ("someone/gasr",)
    assert tag_kwargs["tag"] == "v1.2.0" and tag_kwargs["revision"] == "c0ffee"
    assert tag_kwargs["repo_type"] == "dataset"
    assert validated == ["dataset"]
    assert (result.tag, result.commit) == ("v1.2.0", "c0ffee")


def test_the_pushed_card_loads_the_pushed_repository_at_its_tag(repo, validated):
    from gasr_hf.publish.manifest import verify_repo

    assert "someone/gasr" not in (repo / "README.md").read_text()
    push_repo(repo, "someone/gasr", "1.2.0", api=FakeApi())
    card = (repo / "README.md").read_text()
    expected = 'load_dataset("someone/gasr", "gasr-df2k", split="train", revision="v1.2.0")'
    assert expected in card
    assert verify_repo(repo) == []


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.2", "semantic version X.Y.Z, got '1.2'"),
        ("1.3.0", "version '1.3.0' differs from manifest.json's version '1.2.0'"),
    ],
)
def test_wrong_version_stops_before_any_call(repo, validated, version, message):
    api = FakeApi()
    with pytest.raises(ValueError, match=message):
        push_repo(repo, "someone/gasr", version, api=api)
    assert api.calls == [] and validated == []


def test_failed_verify_stops_before_any_call(repo, validated):
    shard = repo / "data/gasr/train-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    api = FakeApi()
    with pytest.raises(
        ValueError, match=r"does not match its manifest or card: .*train-00000.parquet: sha256"
    ):
        push_repo(repo, "someone/gasr", "1.2.0", api=api)
    assert api.calls == [] and validated == []


def test_card_version_must_match_too(repo, validated):
    path = repo / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["version"] = "2.0.0"
    path.write_text(json.dumps(manifest))
    api = FakeApi()
    with pytest.raises(
        ValueError, match="version '2.0.0' differs from README.md's version '1.2.0'"
    ):
        push_repo(repo, "someone/gasr", "2.0.0", api=api)
    assert api.calls == []


def test_existing_tag_stops_before_upload(repo, validated):
    api = FakeApi(tags=("v1.2.0",))
    with pytest.raises(ValueError, match="tag v1.2.0 already exists on someone/gasr"):
        push_repo(repo, "someone/gasr", "1.2.0", api=api)
    assert [name for name, *_ in api.calls] == ["create_repo", "list_repo_refs"]


def test_bad_repo_id(repo, validated):
    with pytest.raises(ValueError, match="repo_id must look like USER/NAME, got 'gasr'"):
        push_repo(repo, "gasr", "1.2.0", api=FakeApi())


def test_public_push_of_real_images_warns(repo, validated, caplog):
    push_repo(repo, "someone/gasr", "1.2.0", api=FakeApi())
    assert "pushing the real-image configs df2k to a public repository" in caplog.text


class ConnectError(Exception):
    """Like the network errors of huggingface_hub's HTTP client: not an OSError."""


@pytest.mark.parametrize(
    "error",
    [ConnectError("[Errno -2] Name or service not known"), ConnectionError("connection reset")],
)
def test_card_validation_without_the_hub_is_one_clear_error(repo, monkeypatch, error):
    def validate(card: DatasetCard, repo_type: str | None = None) -> None:
        raise error

    monkeypatch.setattr(DatasetCard, "validate", validate)
    api = FakeApi()
    with pytest.raises(ValueError) as caught:
        push_repo(repo, "someone/gasr", "1.2.0", api=api)
    message = str(caught.value)
    assert message.startswith(
        f"cannot push {repo} to someone/gasr: validating README.md needs the Hugging Face Hub"
    )
    assert f"{type(error).__name__}: {error}" in message
    assert message.endswith("nothing was pushed")
    assert api.calls == []


def test_offline_card_validation_is_one_clear_error(repo, monkeypatch):
    # The real DatasetCard.validate, with huggingface_hub in offline mode: no request leaves.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    api = FakeApi()
    with pytest.raises(
        ValueError, match=r"validating README.md needs the Hugging Face Hub.*OfflineModeIsEnabled"
    ):
        push_repo(repo, "someone/gasr", "1.2.0", api=api)
    assert api.calls == []


def test_card_rejected_by_the_hub_names_the_card(repo, monkeypatch):
    def validate(card: DatasetCard, repo_type: str | None = None) -> None:
        raise ValueError('"license" must be one of [apache-2.0, mit, ...]')

    monkeypatch.setattr(DatasetCard, "validate", validate)
    api = FakeApi()
    with pytest.raises(ValueError) as caught:
        push_repo(repo, "someone/gasr", "1.2.0", api=api)
    assert str(caught.value) == (
        f"{repo / 'README.md'} fails the Hub's dataset card validation: "
        '"license" must be one of [apache-2.0, mit, ...]'
    )
    assert api.calls == []
