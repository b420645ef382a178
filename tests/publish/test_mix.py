"""Mixtures: recorded in the card, validated, readable for training."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import DatasetCard

from gasr_hf.publish.card import check_card, write_card
from gasr_hf.publish.layout import assemble_repo
from gasr_hf.publish.manifest import verify_repo, write_manifest
from gasr_hf.publish.mix import (
    Mixture,
    add_mixture,
    mixture_dataset,
    parse_sources,
    read_mixtures,
)

from .tiny_shards import card_info


@pytest.fixture
def repo(tmp_path, stage_outputs, monkeypatch) -> Path:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    repo = tmp_path / "repo"
    assemble_repo(repo, stage_outputs)
    write_card(repo, card_info())
    write_manifest(repo, "1.0.0")
    return repo


def test_probabilities_are_normalised_and_recorded(repo):
    mixture = add_mixture(repo, "even", {"gasr": 3, "df2k": 1})
    assert mixture == Mixture(
        "even", "probabilities", {"gasr": 0.75, "df2k": 0.25}, {"gasr": 5, "df2k": 5}
    )
    card = DatasetCard.load(repo / "README.md")
    assert card.data["gasr_mixtures"] == [mixture.to_dict()]
    assert "| `even` | probabilities | `gasr` 0.75, `df2k` 0.25 |" in card.text
    assert "even" not in {c["config_name"] for c in card.data["configs"]}
    assert read_mixtures(repo) == [mixture]
    assert verify_repo(repo) == []


def test_concat_mixture_is_a_config(repo):
    mixture = add_mixture(repo, "paper", {"df2k": 1, "gasr": 1}, "concat")
    assert mixture.sources == {"df2k": 0.5, "gasr": 0.5}
    configs = {c["config_name"]: c for c in DatasetCard.load(repo / "README.md").data["configs"]}
    assert configs["paper"]["data_files"] == [
        {"split": "train", "path": ["data/df2k/train-*.parquet", "data/gasr/train-*.parquet"]}
    ]
    assert check_card(repo) == []
    assert verify_repo(repo) == []  # the manifest's configs follow the card
    rows = mixture_dataset(repo, "paper", streaming=False)
    assert len(rows) == 10
    assert list(rows["source"])[:3] == ["div2k"] * 3


def test_probability_mixture_draws_from_both_sources(repo):
    add_mixture(repo, "even", {"gasr": 1, "df2k": 1})
    # map-style: datasets sleeps 5 s when a streamed interleave shuts its threads down
    rows = list(mixture_dataset(repo, "even", seed=1, streaming=False))
    assert {r["source"] for r in rows} == {None, "div2k", "flickr2k"}
    assert len(rows) >= 10  # all_exhausted: every source is read to its end


def test_replacing_a_mixture(repo):
    add_mixture(repo, "mix", {"gasr": 1, "df2k": 1}, "concat")
    with pytest.raises(ValueError, match="mixture 'mix' already exists"):
        add_mixture(repo, "mix", {"gasr": 1})
    add_mixture(repo, "mix", {"gasr": 0.2, "df2k": 0.8}, replace=True)
    data = DatasetCard.load(repo / "README.md").data
    assert "mix" not in {c["config_name"] for c in data["configs"]}
    assert [m.sources for m in read_mixtures(repo)] == [{"gasr": 0.2, "df2k": 0.8}]
    assert check_card(repo) == [] and verify_repo(repo) == []


@pytest.mark.parametrize(
    ("name", "sources", "mode", "message"),
    [
        (
            "m",
            {"gasr": 1, "lsdir": 1},
            "probabilities",
            "unknown source 'lsdir'; the configs are: gasr, df2k, gasr-df2k",
        ),
        (
            "m",
            {"gasr": -0.5, "df2k": 1},
            "probabilities",
            "weight of source 'gasr' must be finite and >= 0, got -0.5",
        ),
        ("m", {"gasr": 0, "df2k": 0.0}, "probabilities", "the weights of the sources sum to 0"),
        ("m", {"gasr": float("nan")}, "probabilities", "must be finite"),
        ("m", {}, "probabilities", "sources must name at least one config"),
        ("m", {"gasr": 0.5, "df2k": 0.5}, "concat", "every weight must be 1"),
        (
            "m",
            {"gasr": 1, "gasr-df2k": 1},
            "concat",
            "share the data files 'data/gasr/train-\\*.parquet'",
        ),
        ("m", {"gasr": 1}, "shuffle", "mode must be one of probabilities, concat, got 'shuffle'"),
        ("df2k", {"gasr": 1}, "probabilities", "mixture name 'df2k' is already a config"),
        ("a mix", {"gasr": 1}, "probabilities", "mixture name 'a mix' must start"),
    ],
)
def test_bad_mixtures_are_refused(repo, name, sources, mode, message):
    with pytest.raises(ValueError, match=message):
        add_mixture(repo, name, sources, mode)
    assert read_mixtures(repo) == []


def test_parse_sources():
    assert parse_sources(["gasr=0.5", "df2k=0.5"]) == {"gasr": 0.5, "df2k": 0.5}
    with pytest.raises(ValueError, match="must look like CONFIG=WEIGHT"):
        parse_sources(["gasr"])
    with pytest.raises(ValueError, match="weight 'half' is not a number"):
        parse_sources(["gasr=half"])
    with pytest.raises(ValueError, match="source 'gasr' is given twice"):
        parse_sources(["gasr=1", "gasr=2"])


def test_mixtures_of_a_hub_repo_are_read_from_its_card(repo, monkeypatch):
    add_mixture(repo, "even", {"gasr": 1, "df2k": 1})
    asked: list[tuple[str, str | None]] = []

    def download(repo_id: str, filename: str, *, repo_type: str, revision: str | None) -> str:
        asked.append((repo_id, revision))
        assert (filename, repo_type) == ("README.md", "dataset")
        return str(repo / "README.md")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", download)
    assert [m.name for m in read_mixtures("someone/gasr", revision="v1.0.0")] == ["even"]
    assert asked == [("someone/gasr", "v1.0.0")]
