"""Corpus -> prompt dataset: unique, reproducible and prefix-stable samples of styles x components.

Row ``k`` depends only on (corpus, seed, k), never on ``n``: the random choices come from a keyed hash of
the row counter (stable across NumPy and Python versions, unlike their generators' streams), so a run can
be extended with a larger ``n`` and its first rows stay byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from gasr_hf import __version__
from gasr_hf.files import tmp_name
from gasr_hf.prompts.corpus import Corpus, load_corpus

if TYPE_CHECKING:
    import datasets

_SEED_SPACE = 2**32


def _hash64(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _pair_from_index(p: int, n: int) -> tuple[int, int]:
    """The ``p``-th unordered pair (i < j) of ``range(n)`` in row-major order."""
    # Pairs with first element < i number i*n - i*(i+1)/2; invert that triangular count.
    i = int(((2 * n - 1) - math.sqrt((2 * n - 1) ** 2 - 8 * p)) // 2)
    while i > 0 and i * n - i * (i + 1) // 2 > p:
        i -= 1
    while (i + 1) * n - (i + 1) * (i + 2) // 2 <= p:
        i += 1
    j = p - (i * n - i * (i + 1) // 2) + i + 1
    return i, j


def sample_combinations(corpus: Corpus, n: int, seed: int) -> list[tuple[str, str, str]]:
    """``n`` distinct (style, component_1, component_2) triples; prefix-stable in ``n``."""
    total = corpus.num_combinations
    if n > total:
        raise ValueError(
            f"n={n} exceeds the {total} unique prompts of corpus {corpus.id} "
            f"({len(corpus.styles)} styles x {len(corpus.components)} components taken 2 at a time)"
        )
    n_pairs = total // len(corpus.styles)
    chosen: set[int] = set()
    out: list[tuple[str, str, str]] = []
    draw = 0
    while len(out) < n:
        h = _hash64(corpus.id, seed, "combination", draw)
        draw += 1
        index = h % total
        if index in chosen:
            continue
        chosen.add(index)
        style_index, pair_index = divmod(index, n_pairs)
        i, j = _pair_from_index(pair_index, len(corpus.components))
        if (h >> 63) & 1:
            i, j = j, i
        out.append((corpus.styles[style_index], corpus.components[i], corpus.components[j]))
    return out


def build_prompts(corpus: Corpus | str, n: int, seed: int = 0) -> datasets.Dataset:
    """The prompt dataset of ``n`` rows for ``corpus`` (a :class:`Corpus`, shipped name or YAML path).

    Columns: ``prompt_id``, ``prompt``, ``base_description``, ``domain_description``, ``style``,
    ``components`` (two distinct strings), ``seed`` (int64, for the image generator), ``corpus``.
    """
    import datasets

    if not isinstance(corpus, Corpus):
        corpus = load_corpus(corpus)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rows: dict[str, list] = {name: [] for name in PROMPT_FEATURES}
    for k, (style, c1, c2) in enumerate(sample_combinations(corpus, n, seed)):
        domain = corpus.domain_description(style, c1, c2)
        rows["prompt_id"].append(f"{corpus.name}-s{seed}-{k:07d}")
        rows["prompt"].append(f"{corpus.base_description} {domain}")
        rows["base_description"].append(corpus.base_description)
        rows["domain_description"].append(domain)
        rows["style"].append(style)
        rows["components"].append([c1, c2])
        rows["seed"].append(_hash64(corpus.id, seed, "image-seed", k) % _SEED_SPACE)
        rows["corpus"].append(corpus.id)
    return datasets.Dataset.from_dict(rows, features=prompt_features())


PROMPT_FEATURES = (
    "prompt_id",
    "prompt",
    "base_description",
    "domain_description",
    "style",
    "components",
    "seed",
    "corpus",
)


def prompt_features() -> datasets.Features:
    """The features of a prompt dataset; generation and publishing keep these columns."""
    import datasets

    string = datasets.Value("string")
    return datasets.Features(
        {
            "prompt_id": string,
            "prompt": string,
            "base_description": string,
            "domain_description": string,
            "style": string,
            "components": datasets.List(string),
            "seed": datasets.Value("int64"),
            "corpus": string,
        }
    )


def save_prompts(
    dataset: datasets.Dataset,
    out_dir: str | Path,
    *,
    provenance: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the prompt dataset as ``OUT/data/train-00000.parquet`` (what ``load_dataset(OUT)`` reads)
    and ``OUT/prompts.json`` (how it was made)."""
    out = Path(out_dir)
    shard = out / "data" / "train-00000.parquet"
    if shard.exists() and not overwrite:
        raise FileExistsError(f"{shard} exists already (pass overwrite to replace it)")
    shard.parent.mkdir(parents=True, exist_ok=True)
    tmp = shard.with_name(tmp_name(shard.name))
    dataset.to_parquet(str(tmp))
    tmp.replace(shard)
    info = {
        "num_rows": len(dataset),
        "corpus": sorted(set(dataset["corpus"])),
        "gasr_hf": __version__,
    }
    info.update(provenance or {})
    (out / "prompts.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out


def load_prompts(path: str | Path) -> datasets.Dataset:
    """Read a prompt dataset written by :func:`save_prompts` (or any folder of Parquet prompt rows)."""
    import datasets

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"prompt dataset not found: {path}")
    files = (
        [path]
        if path.is_file()
        else sorted(path.glob("data/*.parquet")) or sorted(path.glob("*.parquet"))
    )
    if not files:
        raise FileNotFoundError(f"no Parquet files under {path} (expected data/train-*.parquet)")
    ds = datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train")
    missing = [c for c in PROMPT_FEATURES if c not in ds.column_names]
    if missing:
        raise ValueError(f"{path}: not a prompt dataset, column {missing[0]!r} is missing")
    return ds
