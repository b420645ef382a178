"""The dataset card: renders from the template, loads, round-trips and passes the offline checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import DatasetCard, DatasetCardData
from PIL import Image

from gasr_hf.publish.card import (
    CardInfo,
    check_card,
    load_card_info,
    render_card,
    write_card,
)
from gasr_hf.publish.layout import assemble_repo

from .tiny_shards import card_info


@pytest.fixture
def repo(tmp_path, stage_outputs) -> Path:
    repo = tmp_path / "repo"
    assemble_repo(repo, stage_outputs)
    return repo


@pytest.fixture
def figures(tmp_path) -> dict[str, Path]:
    """Figures made by the analyze stage and the sample grid, outside the repository."""
    paths = {"umap_figure": tmp_path / "analysis/umap.png", "sample_grid": tmp_path / "grid.png"}
    for colour, path in zip(("navy", "olive"), paths.values(), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), colour).save(path)
    return paths


def test_card_loads_round_trips_and_says_what_it_must(repo, figures):
    path = write_card(repo, card_info(**figures))
    card = DatasetCard.load(path)
    data = card.data

    assert DatasetCardData(**data.to_dict()).to_yaml() == data.to_yaml()
    assert data.license == "other" and data["license_name"] == "flux-1-dev-non-commercial-license"
    assert data.task_categories == ["image-to-image"]
    assert {"super-resolution", "synthetic"} <= set(data["tags"])
    assert data.pretty_name and data["gasr_card"]["version"] == "1.0.0"
    configs = {c["config_name"]: c for c in data["configs"]}
    assert list(configs) == ["gasr", "df2k", "gasr-df2k"]
    assert configs["gasr"]["default"] is True and "default" not in configs["df2k"]
    assert configs["gasr-df2k"]["data_files"] == [
        {"split": "train", "path": ["data/gasr/train-*.parquet", "data/df2k/train-*.parquet"]}
    ]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    assert infos["gasr-df2k"]["splits"] == [
        {"name": "train", "num_bytes": infos["gasr-df2k"]["dataset_size"], "num_examples": 10}
    ]
    assert {"name": "image", "dtype": "image"} in infos["gasr"]["features"]

    text = card.text
    for needle in (
        "FLUX.1 [dev] Non-Commercial License",
        "restricts commercial use",
        "artwork@1.0.0",
        "0ef5fff789c832c5c7f4e127f94c8b54bbcced44",
        "guidance: `3.5`",
        "Featuring {component_1} and {component_2}",
        "| GASR | 5 |",
        "![UMAP of CLIP image embeddings](figures/umap.png)",
        "![A random sample of images](figures/samples.png)",
        "| `clip_embedding` | list<float32>[4] |",
        "| `gasr-df2k` | `data/gasr/train-*.parquet`<br>`data/df2k/train-*.parquet` | 10 |",
        "no loading\nscript",
        "## Intended use",
        "## Limitations",
        "title  = {Generating Artwork-Style Synthetic Data for Image Super-Resolution}",
        "FILL IN: the authors",
        "**DIV2K**",
    ):
        assert needle in text, needle
    assert (repo / "figures/umap.png").is_file() and (repo / "figures/samples.png").is_file()
    assert check_card(repo) == []


def test_rerendering_keeps_the_card_identical(repo, figures):
    path = write_card(repo, card_info(**figures, repo_id="someone/gasr"))
    first = path.read_text()
    assert 'load_dataset("someone/gasr", "df2k", split="train", revision="v1.0.0")' in first
    render_card(repo)
    assert path.read_text() == first
    write_card(repo, load_card_info_from(repo))
    assert path.read_text() == first


def load_card_info_from(repo: Path) -> CardInfo:
    from gasr_hf.config import from_dict

    return from_dict(CardInfo, DatasetCard.load(repo / "README.md").data["gasr_card"])


def test_check_card_finds_offline_problems(repo, figures):
    write_card(repo, card_info(**figures))
    (repo / "figures/umap.png").unlink()
    for shard in repo.glob("data/df2k/*.parquet"):
        shard.unlink()
    problems = check_card(repo)
    assert "config 'df2k': no files match 'data/df2k/train-*.parquet'" in problems
    assert "config 'gasr-df2k': dataset_info says 10 rows, files hold 5" in problems
    assert "figure figures/umap.png linked from the card is missing" in problems


def test_check_card_wants_declared_features_and_one_default(repo):
    card = DatasetCard.load(repo / "README.md")
    card.data["dataset_info"] = [i for i in card.data["dataset_info"] if i["config_name"] != "df2k"]
    for entry in card.data["configs"]:
        entry["default"] = True
    card.save(repo / "README.md")
    problems = check_card(repo)
    assert any("several default configs" in p for p in problems), problems


def test_check_card_reports_missing_features(repo):
    card = DatasetCard.load(repo / "README.md")
    card.data["dataset_info"] = [i for i in card.data["dataset_info"] if i["config_name"] != "df2k"]
    card.save(repo / "README.md")
    problems = check_card(repo)
    assert "config 'df2k': no features declared in dataset_info" in problems
    assert "no license declared" in problems  # write_card has not run yet


def test_card_inputs_are_validated(tmp_path, repo):
    with pytest.raises(
        ValueError, match="CardInfo.version must be a semantic version X.Y.Z, got '1.0'"
    ):
        card_info(version="1.0")
    with pytest.raises(FileNotFoundError, match="figure umap not found"):
        write_card(repo, card_info(umap_figure=tmp_path / "nope.png"))
    config = tmp_path / "card.yaml"
    config.write_text(
        "version: 1.0.0\ncorpus: c@1\nprompt_template: t\nmodel: m\nmodle_revision: x\n"
    )
    with pytest.raises(ValueError, match="unknown key 'modle_revision'"):
        load_card_info(config)
    with pytest.raises(FileNotFoundError, match="run assemble_repo first"):
        write_card(tmp_path / "empty", card_info())


def test_procedural_build_states_its_own_licence(repo):
    info = card_info(
        model="procedural",
        model_revision=None,
        license="apache-2.0",
        license_name=None,
        license_link=None,
        license_terms="Procedural images, Apache-2.0.",
    )
    card = DatasetCard.load(write_card(repo, info))
    assert card.data.license == "apache-2.0" and "license_name" not in card.data.to_dict()
    assert "Procedural images, Apache-2.0." in card.text and "FLUX" not in card.text


def test_the_wording_follows_the_backend_and_the_domain(repo):
    domain = "maps: street plans, nautical charts and contour lines"
    procedural = card_info(backend="procedural", domain=domain, model="gasr_hf.procedural@1")
    text = (repo / "README.md").read_text() if write_card(repo, procedural) else ""
    assert "procedural backend draws an image for each prompt" in text
    assert "model's own artefacts" not in text and "a text-to-image model (" not in text
    assert f"in the domain of {domain}" in text and f"SR quality on {domain}." in text

    text = (repo / "README.md").read_text() if write_card(repo, card_info()) else ""
    assert "a text-to-image model (`black-forest-labs/FLUX.1-dev`) renders them" in text
    assert "the text-to-image model's own artefacts" in text and "procedural" not in text


def test_a_weighted_mixture_shows_the_plain_datasets_code_that_draws_it(repo):
    from gasr_hf.publish.mix import add_mixture

    write_card(repo, card_info(repo_id="someone/gasr"))
    add_mixture(repo, "quarter", {"gasr": 1, "df2k": 3}, seed=7)
    text = (repo / "README.md").read_text()
    code = text.split("plain\n`datasets` reproduces it:\n\n```python\n")[1].split("```")[0]
    compile(code, "card", "exec")
    assert "gasr_hf" not in code
    assert "probabilities=[0.25, 0.75],\n    seed=7," in code
    assert (
        'load_dataset("someone/gasr", "df2k", split="train", streaming=True, revision="v1.0.0")'
        in code
    )


def test_the_readme_is_rendered_from_the_card_state_and_never_read_back(repo):
    from gasr_hf.publish.mix import add_mixture

    write_card(repo, card_info())
    readme = repo / "README.md"
    readme.write_text("---\nlicense: mit\n---\n# edited by hand\n")
    add_mixture(repo, "even", {"gasr": 1, "df2k": 1})
    text = readme.read_text()
    assert "edited by hand" not in text and "license: mit" not in text
    assert "license: other" in text and "| `even` | probabilities |" in text
    assert check_card(repo) == []
