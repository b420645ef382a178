from pathlib import Path

import pytest
import yaml

from gasr_hf.prompts import (
    PAPER_BASE_DESCRIPTION,
    PAPER_TEMPLATE,
    load_corpus,
    shipped_corpora,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "corpora"


def write_corpus(tmp_path: Path, **overrides) -> Path:
    data = {
        "name": "tiny",
        "domain": "test domain",
        "version": "1.0",
        "base_description": "Base.",
        "template": "Featuring {component_1} and {component_2} in a {style} composition.",
        "styles": ["ink", "pixel art", "woodcut"],
        "components": ["a poster", "a map", "a ticket", "a label"],
    }
    data.update(overrides)
    path = tmp_path / "corpus.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_shipped_artwork_corpus_has_the_paper_descriptions_and_enough_items():
    corpus = load_corpus("artwork")
    assert "artwork" in shipped_corpora()
    assert corpus.id == "artwork@1.1.0"
    assert corpus.base_description == PAPER_BASE_DESCRIPTION
    assert PAPER_BASE_DESCRIPTION == (
        "An ultra detailed, high-contrast image with sharp edges and dense information."
    )
    assert corpus.template == PAPER_TEMPLATE
    assert len(corpus.styles) >= 80
    assert len(corpus.components) >= 300
    assert corpus.num_combinations >= 10304


def test_user_corpus_loads_by_path(tmp_path):
    corpus = load_corpus(write_corpus(tmp_path))
    assert corpus.id == "tiny@1.0"
    assert corpus.styles == ("ink", "pixel art", "woodcut")
    assert corpus.num_combinations == 3 * 6
    assert corpus.domain_description("ink", "a map", "a poster") == (
        "Featuring a map and a poster in a ink composition."
    )


def test_example_corpus_for_another_domain_is_valid():
    corpus = load_corpus(EXAMPLES / "manga_pages.yaml")
    assert corpus.name == "manga-pages"
    assert corpus.num_combinations > 1000


def test_unknown_name_lists_the_shipped_corpora():
    with pytest.raises(ValueError, match=r"unknown corpus 'nope'.*artwork"):
        load_corpus("nope")


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_corpus(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"styles": []}, r"styles needs at least 1 item\(s\), found 0"),
        ({"components": ["a map"]}, r"components needs at least 2"),
        ({"components": ["a map", "a poster", "A  Map"]}, r"spaces"),
        ({"components": ["a map", "a poster", "A Map"]}, r"duplicate item in components: 'A Map'"),
        ({"styles": ["ink", "Ink"]}, r"duplicate item in styles"),
        ({"template": "Featuring {component_1} in a {style} composition."}, r"missing the field"),
        ({"template": "{component_1} {component_2} {style} {colour}"}, r"unknown field \{colour\}"),
        ({"template": "{component_1 {component_2} {style}"}, r"not a valid format string"),
        ({"base_description": "  "}, r"base_description is empty"),
        ({"name": "Bad Name"}, r"name 'Bad Name'"),
        ({"stlyes": ["ink"]}, r"unknown key 'stlyes'"),
        ({"styles": "ink"}, r"styles: expected a list"),
        ({"styles": ["ink", 3]}, r"styles\[1\]: expected a string"),
    ],
)
def test_invalid_corpora_fail_naming_the_problem(tmp_path, overrides, message):
    path = write_corpus(tmp_path, **overrides)
    with pytest.raises(ValueError, match=message) as info:
        load_corpus(path)
    assert str(path) in str(info.value)


def test_missing_key_is_named(tmp_path):
    path = write_corpus(tmp_path)
    data = yaml.safe_load(path.read_text())
    del data["template"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="missing required key 'template'"):
        load_corpus(path)


def test_malformed_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ValueError, match="broken.yaml: malformed YAML"):
        load_corpus(path)


def test_corpus_save_round_trips(tmp_path):
    corpus = load_corpus(write_corpus(tmp_path))
    corpus.save(tmp_path / "again.yaml")
    assert load_corpus(tmp_path / "again.yaml") == corpus


def test_shipped_manga_corpus_targets_the_renderers_manga_families():
    from collections import Counter

    from gasr_hf.generate.procedural import LAYOUT_KEYWORDS, pick_by_keywords

    corpus = load_corpus("manga")
    assert "manga" in shipped_corpora()
    assert corpus.id == "manga@1.0.0"
    assert corpus.base_description == PAPER_BASE_DESCRIPTION
    assert corpus.template == PAPER_TEMPLATE
    layouts = Counter(pick_by_keywords(c, LAYOUT_KEYWORDS, None, []) for c in corpus.components)
    assert set(layouts) == {"manga_cover", "manga_page", "comic"}
    assert layouts["manga_cover"] > len(corpus.components) / 2  # covers, as Manga109 holds
    assert corpus.num_combinations >= 20000
