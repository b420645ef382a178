"""The publish stage: a self-contained, versioned Hugging Face dataset repository.

``assemble_repo`` writes the shards and configs, ``write_card`` the dataset card, ``add_mixture``
training mixtures, ``write_manifest`` / ``verify_repo`` the integrity record, ``push_repo`` the
upload and its ``vX.Y.Z`` tag. Heavy libraries (datasets, pyarrow, huggingface_hub) are imported
inside the functions.
"""

from gasr_hf.publish.card import (
    CardInfo,
    check_card,
    load_card_info,
    render_card,
    write_card,
)
from gasr_hf.publish.hub import PushResult, push_repo
from gasr_hf.publish.layout import RepoLayout, add_source, assemble_repo
from gasr_hf.publish.manifest import Mismatch, verify_repo, write_manifest
from gasr_hf.publish.mix import Mixture, add_mixture, mixture_dataset, parse_sources, read_mixtures

__all__ = [
    "CardInfo",
    "Mismatch",
    "Mixture",
    "PushResult",
    "RepoLayout",
    "add_mixture",
    "add_source",
    "assemble_repo",
    "check_card",
    "load_card_info",
    "mixture_dataset",
    "parse_sources",
    "push_repo",
    "read_mixtures",
    "render_card",
    "verify_repo",
    "write_card",
    "write_manifest",
]
