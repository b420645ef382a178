"""Training mixtures of a dataset repository's configs, recorded in the card's YAML (``gasr_mixtures``).

``probabilities``: sampling probabilities over source configs (normalised to sum to 1), for
``datasets.interleave_datasets``. ``concat``: plain concatenation, as in the paper; it also becomes a
config whose ``data_files`` list the sources' shards, and its recorded weights are each source's
share of the rows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

MixMode = Literal["probabilities", "concat"]
MODES: tuple[str, ...] = ("probabilities", "concat")
MIXTURES_KEY = "gasr_mixtures"


@dataclass(frozen=True)
class Mixture:
    name: str
    mode: MixMode
    sources: dict[str, float]
    """Source config -> probability (``probabilities``) or share of the rows (``concat``)."""
    rows: dict[str, int]
    """Source config -> its train rows when the mixture was recorded."""
    seed: int = 0
    """The seed of ``interleave_datasets`` that draws a ``probabilities`` mixture."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mode": self.mode,
            "sources": self.sources,
            "rows": self.rows,
            "seed": self.seed,
        }


def parse_sources(specs: Sequence[str]) -> dict[str, float]:
    """``["gasr=0.5", "df2k=0.5"]`` -> ``{"gasr": 0.5, "df2k": 0.5}`` (for the command line)."""
    sources: dict[str, float] = {}
    for spec in specs:
        name, sep, weight = spec.partition("=")
        if not sep or not name:
            raise ValueError(f"source {spec!r} must look like CONFIG=WEIGHT, e.g. gasr=0.5")
        try:
            value = float(weight)
        except ValueError as err:
            raise ValueError(f"source {spec!r}: weight {weight!r} is not a number") from err
        if name in sources:
            raise ValueError(f"source {name!r} is given twice")
        sources[name] = value
    return sources


def _check_weights(sources: Mapping[str, float], mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not sources:
        raise ValueError("sources must name at least one config")
    for name, weight in sources.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ValueError(f"weight of source {name!r} must be a number, got {weight!r}")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of source {name!r} must be finite and >= 0, got {weight}")
    if sum(sources.values()) <= 0:
        raise ValueError("the weights of the sources sum to 0")
    if mode == "concat" and any(w != 1 for w in sources.values()):
        raise ValueError(
            "mode concat concatenates the sources as they are, so every weight must be 1; "
            f"got {dict(sources)}; use mode probabilities for sampling weights"
        )


def add_mixture(
    repo_dir: str | Path,
    name: str,
    sources: Mapping[str, float],
    mode: MixMode = "probabilities",
    *,
    replace: bool = False,
    seed: int = 0,
) -> Mixture:
    """Record mixture ``name`` of the repository's configs ``sources`` (config -> weight).

    Weights must be finite, >= 0 and not all 0; ``probabilities`` weights are normalised. A
    ``concat`` mixture also becomes a config (its sources must not share data files). An existing
    mixture of the same name is an error unless ``replace``. Re-renders the card and, when there is
    a manifest, updates its configs.
    """
    from datasets.info import DatasetInfosDict

    from gasr_hf.publish.card import card_configs, card_data, config_patterns, update_card_data
    from gasr_hf.publish.layout import CONFIG_NAME
    from gasr_hf.publish.manifest import refresh_manifest_configs

    repo_dir = Path(repo_dir)
    _check_weights(sources, mode)
    if not CONFIG_NAME.fullmatch(name):
        raise ValueError(
            f"mixture name {name!r} must start with a letter or digit and use only letters, "
            "digits, '_', '.', '-'"
        )
    data = card_data(repo_dir)
    if not data.get("configs"):
        raise FileNotFoundError(f"{repo_dir} has no card with configs; run assemble_repo first")
    existing = {m["name"]: m for m in data.get(MIXTURES_KEY) or []}
    if name in existing and not replace:
        raise ValueError(
            f"mixture {name!r} already exists in {repo_dir}; pass replace to change it"
        )
    configs = card_configs(data)
    old_concat = existing.get(name, {}).get("mode") == "concat"
    if name in configs and not old_concat:
        raise ValueError(f"mixture name {name!r} is already a config of {repo_dir}")
    unknown = [s for s in sources if s not in configs or s == name]
    if unknown:
        choices = ", ".join(c for c in configs if c != name)
        raise ValueError(f"unknown source {unknown[0]!r}; the configs are: {choices}")
    infos = DatasetInfosDict.from_dataset_card_data(data)
    rows = {s: infos[s].splits["train"].num_examples for s in sources}

    new_configs: dict[str, list[str]] = {}
    if mode == "concat":
        patterns: list[str] = []
        for source in sources:
            for pattern in config_patterns(configs[source]):
                if pattern in patterns:
                    raise ValueError(
                        f"sources of concat mixture {name!r} share the data files {pattern!r}"
                    )
                patterns.append(pattern)
        new_configs[name] = patterns
        total = sum(rows.values())
        weights = {s: rows[s] / total if total else 0.0 for s in sources}
    else:
        total_weight = sum(sources.values())
        weights = {s: float(w) / total_weight for s, w in sources.items()}
    mixture = Mixture(name=name, mode=mode, sources=weights, rows=rows, seed=seed)
    existing[name] = mixture.to_dict()
    update_card_data(
        repo_dir,
        configs=new_configs,
        remove=[name] if old_concat and mode != "concat" else [],
        **{MIXTURES_KEY: list(existing.values())},
    )
    refresh_manifest_configs(repo_dir)
    logger.info("recorded %s mixture %r: %s", mode, name, weights)
    return mixture


def keep_mixtures(repo_dir: str | Path, names: Collection[str]) -> list[str]:
    """Remove the recorded mixtures not in ``names`` (a ``concat`` one's config with it), so the
    card follows a build config from which mixtures were removed; returns the removed names."""
    from gasr_hf.publish.card import card_data, update_card_data
    from gasr_hf.publish.manifest import refresh_manifest_configs

    recorded = card_data(repo_dir).get(MIXTURES_KEY) or []
    kept = [m for m in recorded if m["name"] in names]
    removed = [m for m in recorded if m["name"] not in names]
    if not removed:
        return []
    update_card_data(
        repo_dir,
        remove=[m["name"] for m in removed if m.get("mode") == "concat"],
        **{MIXTURES_KEY: kept or None},
    )
    refresh_manifest_configs(repo_dir)
    logger.info("removed mixtures %s", ", ".join(m["name"] for m in removed))
    return [m["name"] for m in removed]


def read_mixtures(repo: str | Path, *, revision: str | None = None) -> list[Mixture]:
    """The mixtures recorded in the card of a local repository folder or a Hub dataset
    ``USER/NAME`` (at ``revision``, for example ``v1.0.0``)."""
    from huggingface_hub import DatasetCard, hf_hub_download

    from gasr_hf.publish.card import README

    if Path(repo).is_dir():
        path = Path(repo) / README
        if not path.is_file():
            raise FileNotFoundError(f"no {README} in {repo}")
    else:
        path = Path(hf_hub_download(str(repo), README, repo_type="dataset", revision=revision))
    data = DatasetCard.load(path).data
    return [
        Mixture(
            name=m["name"],
            mode=m["mode"],
            sources=dict(m["sources"]),
            rows=dict(m["rows"]),
            seed=m.get("seed", 0),
        )
        for m in data.get(MIXTURES_KEY) or []
    ]


def mixture_dataset(
    repo: str | Path,
    name: str,
    *,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = True,
    seed: int | None = None,
) -> datasets.Dataset | datasets.IterableDataset:
    """Load mixture ``name`` of ``repo`` (folder or Hub id) for training.

    ``concat``: the mixture's config. ``probabilities``: the source configs interleaved with the
    recorded probabilities and seed (or ``seed``), until every source is exhausted: the code the
    card shows, with plain ``datasets``.
    """
    import datasets

    mixtures = {m.name: m for m in read_mixtures(repo, revision=revision)}
    if name not in mixtures:
        raise ValueError(
            f"no mixture {name!r} in {repo}; recorded: {', '.join(mixtures) or 'none'}"
        )
    mixture = mixtures[name]
    path = str(repo)
    if mixture.mode == "concat":
        return datasets.load_dataset(
            path, name, split=split, streaming=streaming, revision=revision
        )
    parts = [
        datasets.load_dataset(path, source, split=split, streaming=streaming, revision=revision)
        for source in mixture.sources
    ]
    return datasets.interleave_datasets(
        parts,
        probabilities=list(mixture.sources.values()),
        seed=mixture.seed if seed is None else seed,
        stopping_strategy="all_exhausted",
    )
