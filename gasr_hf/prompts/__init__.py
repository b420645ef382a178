"""The prompt stage: a corpus of styles and components -> a dataset of prompts."""

from gasr_hf.prompts.corpus import (
    PAPER_BASE_DESCRIPTION,
    PAPER_TEMPLATE,
    Corpus,
    corpus_from_dict,
    load_corpus,
    shipped_corpora,
)
from gasr_hf.prompts.sampler import build_prompts, load_prompts, prompt_features, save_prompts

__all__ = [
    "PAPER_BASE_DESCRIPTION",
    "PAPER_TEMPLATE",
    "Corpus",
    "build_prompts",
    "corpus_from_dict",
    "load_corpus",
    "load_prompts",
    "prompt_features",
    "save_prompts",
    "shipped_corpora",
]
