import datasets
import pytest

from gasr_hf.prompts import build_prompts, load_corpus, load_prompts, save_prompts
from gasr_hf.prompts.corpus import corpus_from_dict
from gasr_hf.prompts.sampler import _pair_from_index


@pytest.fixture(scope="module")
def artwork():
    return load_corpus("artwork")


@pytest.fixture
def tiny():
    return corpus_from_dict(
        {
            "name": "tiny",
            "domain": "d",
            "version": "2",
            "base_description": "Base.",
            "template": "Featuring {component_1} and {component_2} in a {style} composition.",
            "styles": ["ink", "woodcut", "pixel art"],
            "components": ["a poster", "a map", "a ticket", "a label", "a stamp"],
        }
    )


def test_columns_types_and_content(artwork):
    ds = build_prompts(artwork, 200, seed=0)
    assert ds.column_names == [
        "prompt_id",
        "prompt",
        "base_description",
        "domain_description",
        "style",
        "components",
        "seed",
        "corpus",
    ]
    assert ds.features["seed"] == datasets.Value("int64")
    assert ds.features["components"] == datasets.List(datasets.Value("string"))
    for row in ds:
        c1, c2 = row["components"]
        assert c1 != c2 and c1 in artwork.components and c2 in artwork.components
        assert row["style"] in artwork.styles
        assert row["domain_description"] == artwork.domain_description(row["style"], c1, c2)
        assert row["prompt"] == f"{artwork.base_description} {row['domain_description']}"
        assert row["corpus"] == "artwork@1.1.0"
        assert 0 <= row["seed"] < 2**32
    assert len(set(ds["prompt"])) == 200
    assert len(set(ds["prompt_id"])) == 200
    assert ds[0]["prompt_id"] == "artwork-s0-0000000"


def test_same_arguments_give_an_identical_dataset(artwork):
    a = build_prompts(artwork, 100, seed=3)
    b = build_prompts("artwork", 100, seed=3)
    assert a.to_dict() == b.to_dict()


def test_different_seeds_differ(artwork):
    a = build_prompts(artwork, 50, seed=0)
    b = build_prompts(artwork, 50, seed=1)
    assert a["prompt"] != b["prompt"]
    assert a["seed"] != b["seed"]


def test_larger_n_keeps_the_first_rows(artwork):
    small = build_prompts(artwork, 40, seed=7).to_dict()
    large = build_prompts(artwork, 130, seed=7).to_dict()
    for column, values in small.items():
        assert large[column][:40] == values


def test_every_combination_is_reachable_and_unique(tiny):
    ds = build_prompts(tiny, tiny.num_combinations, seed=0)
    triples = {(r["style"], frozenset(r["components"])) for r in ds}
    assert len(triples) == tiny.num_combinations == 3 * 10


def test_n_beyond_the_unique_combinations_is_a_clear_error(tiny):
    with pytest.raises(ValueError, match=r"n=31 exceeds the 30 unique prompts of corpus tiny@2"):
        build_prompts(tiny, 31, seed=0)


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_bad_n_is_rejected(tiny, n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        build_prompts(tiny, n, seed=0)


def test_pair_index_decoding_covers_all_pairs():
    n = 9
    pairs = [_pair_from_index(p, n) for p in range(n * (n - 1) // 2)]
    assert pairs == [(i, j) for i in range(n) for j in range(i + 1, n)]


def test_saved_prompts_load_with_load_dataset_and_load_prompts(tmp_path, tiny):
    ds = build_prompts(tiny, 12, seed=0)
    out = save_prompts(ds, tmp_path / "prompts", provenance={"seed": 0, "n": 12})
    again = datasets.load_dataset(str(out), split="train")
    assert again.to_dict() == ds.to_dict()
    assert load_prompts(out).to_dict() == ds.to_dict()
    with pytest.raises(FileExistsError):
        save_prompts(ds, out)
    save_prompts(ds, out, overwrite=True)


def test_load_prompts_rejects_other_tables(tmp_path):
    datasets.Dataset.from_dict({"x": [1]}).to_parquet(str(tmp_path / "x.parquet"))
    with pytest.raises(ValueError, match="not a prompt dataset, column 'prompt_id'"):
        load_prompts(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_prompts(tmp_path / "nothing")
