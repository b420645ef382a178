import pytest

from gasr_hf.prompts import load_corpus
from gasr_hf.prompts.expand import (
    ExpandConfig,
    build_request,
    expand_corpus,
    load_text_generator,
    merge_unique,
    parse_items,
)

CANNED_STYLES = """Sure! Here are some styles:
1. Art Nouveau
2) **Risograph print**
3. "Swiss grid"
- Art nouveau
* ukiyo-e woodblock.

Note: these are examples.
"""
CANNED_COMPONENTS = """- a concert poster
- a subway map
- A Concert Poster
- the subway map
- a vending machine front
- a cereal box
"""


def test_parse_items_strips_numbering_bullets_quotes_and_chatter():
    assert parse_items(CANNED_STYLES) == [
        "Art Nouveau",
        "Risograph print",
        "Swiss grid",
        "Art nouveau",
        "ukiyo-e woodblock",
    ]


def test_parse_items_handles_a_comma_list_and_drops_long_lines():
    assert parse_items("ink, woodcut, pixel art,  halftone") == [
        "ink",
        "woodcut",
        "pixel art",
        "halftone",
    ]
    long_line = " ".join(["word"] * 20)
    assert parse_items(f"{long_line}\nink\n1234\nHeading:\n") == ["ink"]


def test_merge_unique_ignores_case_spacing_and_leading_articles():
    items = merge_unique([], parse_items(CANNED_COMPONENTS))
    assert items == ["a concert poster", "a subway map", "a vending machine front", "a cereal box"]
    assert merge_unique(items, ["A cereal  box", "a tram"]) == items + ["a tram"]


def test_request_names_the_count_domain_and_what_to_avoid():
    text = build_request("components", "street signage", 7, ["a road sign"])
    assert "List 7 distinct components" in text and "street signage" in text
    assert "a road sign" in text


def canned_generator(answers):
    calls = []

    def generate(prompt: str) -> str:
        calls.append(prompt)
        return answers[len(calls) - 1]

    generate.calls = calls
    return generate


def test_expand_with_canned_answers_writes_a_valid_corpus(tmp_path):
    config = ExpandConfig(
        model="canned", domain="posters", n_styles=3, n_components=4, name="posters"
    )
    gen = canned_generator([CANNED_STYLES, CANNED_COMPONENTS])
    corpus = expand_corpus(config, tmp_path / "posters.yaml", generate=gen)
    assert corpus.styles == ("Art Nouveau", "Risograph print", "Swiss grid")
    assert corpus.components == (
        "a concert poster",
        "a subway map",
        "a vending machine front",
        "a cereal box",
    )
    assert load_corpus(tmp_path / "posters.yaml") == corpus
    assert len(gen.calls) == 2 and "styles" in gen.calls[0] and "components" in gen.calls[1]


def test_expand_asks_again_for_what_is_missing(tmp_path):
    config = ExpandConfig(model="canned", domain="d", n_styles=5, n_components=2)
    gen = canned_generator([CANNED_STYLES, "collage\nink\nArt Nouveau", "a map\na key"])
    corpus = expand_corpus(config, tmp_path / "c.yaml", generate=gen)
    assert corpus.styles[3:] == ("ukiyo-e woodblock", "collage")
    assert "Art Nouveau" in gen.calls[1]  # the second request lists what to avoid


def test_expand_keeps_what_it_found_when_the_model_falls_short(tmp_path):
    config = ExpandConfig(model="canned", domain="d", n_styles=10, n_components=2, max_rounds=2)
    gen = canned_generator([CANNED_STYLES, CANNED_STYLES])
    with pytest.raises(ValueError, match=r"4 of 10 styles, 0 of 2 components"):
        expand_corpus(config, tmp_path / "c.yaml", generate=gen)
    assert "Risograph print" in (tmp_path / "c.partial.yaml").read_text()
    assert not (tmp_path / "c.yaml").exists()


def test_config_rejects_impossible_counts():
    with pytest.raises(ValueError, match="n_components must be >= 2"):
        ExpandConfig(model="m", domain="d", n_styles=1, n_components=1)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A random two-layer GPT-2 with a word-level tokenizer and a chat template, built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = ["[UNK]", "[PAD]", "[EOS]", "ink", "poster", "neon", "map", "grid", "list", "user"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    tokenizer.chat_template = "{% for m in messages %}user {{ m['content'] }}{% endfor %} list"
    config = GPT2Config(
        vocab_size=len(words), n_positions=512, n_embd=16, n_layer=2, n_head=2, eos_token_id=2
    )
    path = tmp_path_factory.mktemp("tiny-lm")
    GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_tiny_random_model_runs_the_whole_expand_path(tiny_lm, tmp_path):
    generate = load_text_generator(str(tiny_lm), max_new_tokens=4, seed=0, device="cpu")
    answer = generate("list ink poster")
    assert isinstance(answer, str)
    assert set(answer.split()) <= {"ink", "poster", "neon", "map", "grid", "list", "user", "[UNK]"}
    # Four random words per answer form at most one item per round: two rounds cannot reach three.
    config = ExpandConfig(
        model=str(tiny_lm),
        domain="d",
        n_styles=3,
        n_components=2,
        max_rounds=2,
        max_new_tokens=4,
        device="cpu",
    )
    with pytest.raises(ValueError, match=r"of 3 styles"):
        expand_corpus(config, tmp_path / "lm.yaml")
    assert (tmp_path / "lm.partial.yaml").exists()


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot load text-generation model"):
        load_text_generator(str(tmp_path / "no-model"))
