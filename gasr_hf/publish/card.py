"""The dataset card: README.md with YAML metadata (``DatasetCardData``) and a body rendered from
``gasr_hf/publish/card_template.md`` (``dataset_card/README.template.md`` links to it).

The card's state is its metadata in ``.gasr/card.json`` (hidden, never published); README.md is
rendered from it and never read back as state. ``assemble_repo`` sets its ``configs`` and
``dataset_info``; ``write_card`` adds the licence, tags and the card inputs (``gasr_card``, a
:class:`CardInfo`); ``add_mixture`` adds ``gasr_mixtures``. Every change re-renders README.md whole
(YAML and body), so a hand edit of it is overwritten, and ``gasr verify`` reports one. A repository
without that state (made by an older gasr_hf) is read from its README once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gasr_hf.files import tmp_name

if TYPE_CHECKING:
    import datasets
    from huggingface_hub import DatasetCard, DatasetCardData

logger = logging.getLogger(__name__)

README = "README.md"
CARD_STATE = Path(".gasr") / "card.json"
FIGURES_DIR = "figures"
TEMPLATE_PATH = Path(__file__).with_name("card_template.md")
"""Package data, so a wheel install writes cards too; ``dataset_card/README.template.md`` links here."""
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")

FLUX_DEV_LICENSE_NAME = "flux-1-dev-non-commercial-license"
FLUX_DEV_LICENSE_LINK = "https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md"
FLUX_DEV_TERMS = (
    "The generated images were made with FLUX.1 [dev], which is released under the "
    f"[FLUX.1 [dev] Non-Commercial License]({FLUX_DEV_LICENSE_LINK}). Its terms bind these images: "
    "the licence restricts commercial use, and it sets conditions on the use of the model's "
    "outputs (among them, outputs may not be used to train, fine-tune or distil a model that "
    "competes with FLUX.1 [dev]). This dataset is published for non-commercial research. Read the "
    "licence before any other use; where this card and the licence differ, the licence prevails."
)
DEFAULT_SOURCE_TERMS: dict[str, str] = {
    "DIV2K": "Agustsson and Timofte, NTIRE 2017; made available for academic research "
    "(https://data.vision.ee.ethz.ch/cvl/DIV2K/).",
    "Flickr2K": "Lim et al., EDSR, CVPR Workshops 2017; images collected from Flickr, each under "
    "its uploader's licence.",
}

KNOWN_COLUMNS: dict[str, str] = {
    "image": "The image (PNG bytes; ingested PNG/JPEG files keep their own bytes).",
    "width": "Image width in pixels.",
    "height": "Image height in pixels.",
    "prompt_id": "Identifier of the prompt row the image was generated from.",
    "prompt": "The full text prompt (base description + domain description).",
    "base_description": "The corpus's base description, shared by every prompt.",
    "domain_description": "The prompt template filled with the style and components.",
    "style": "The artwork style drawn from the corpus.",
    "components": "The two components drawn from the corpus.",
    "seed": "Seed of the image generator for this row.",
    "corpus": "Corpus the prompt came from, as name@version.",
    "file_name": "Path of the source file inside its image folder.",
    "source": "Where the row comes from: GASR for generated images, else the real dataset's name.",
    "format": "Format of the source file.",
    "conversion": "What ingest did to the file (none: its own bytes are stored).",
    "num_pixels": "Number of pixels (width x height).",
    "blockiness": "JPEG blockiness estimate (higher: stronger 8x8 block artefacts).",
    "num_segments": "Number of SAM segments in the image.",
    "clip_embedding": "CLIP image embedding.",
    "source_file": "Tiles: the file name or id of the image the tile was cut from.",
    "source_row": "Tiles: the row of the source dataset the tile was cut from.",
    "x": "Tiles: left edge of the tile in the source image, in pixels.",
    "y": "Tiles: top edge of the tile in the source image, in pixels.",
    "backend": "Image backend that rendered the row.",
    "model": "The model or renderer that made the row, with its version or Hub id.",
    "model_revision": "Revision (commit) of the model.",
    "scheduler": "Diffusion scheduler.",
    "steps": "Number of sampling steps.",
    "guidance": "Guidance scale.",
    "dtype": "Compute dtype of the model.",
    "library_versions": "Versions of the libraries that rendered the row.",
    "seed_used": "Seed actually used (differs from seed when a bad output was retried).",
    "attempt": "Render attempt that produced the image (1: the first).",
}
CONFIG_DESCRIPTIONS: dict[str, str] = {
    "gasr": "The generated images.",
    "df2k": "Real photographs ingested from DIV2K and Flickr2K.",
    "gasr-df2k": "gasr and df2k together: the paper's training set.",
}


@dataclass(frozen=True)
class CardInfo:
    """What the card says about how the dataset was made; stored in the YAML as ``gasr_card``."""

    version: str
    """Semantic version ``X.Y.Z`` of this dataset release."""
    corpus: str
    """Corpus id, ``name@version``."""
    prompt_template: str
    model: str
    """Text-to-image model id (or backend name) that rendered the images."""
    model_revision: str | None = None
    backend: str | None = None
    """The image backend (``diffusers``, ``procedural``): the card's wording follows it."""
    domain: str | None = None
    """The corpus's target domain, in words; the card says what the images are for with it."""
    base_description: str | None = None
    sampler: dict[str, Any] = field(default_factory=dict)
    """Sampler settings, for example ``{"steps": 50, "guidance": 3.5, "width": 1024, ...}``."""
    seeds: dict[str, Any] = field(default_factory=dict)
    """How seeds were chosen, for example ``{"prompts": 0, "images": "the seed column"}``."""
    pretty_name: str = "GASR: artwork-style synthetic images for super-resolution"
    summary: str | None = None
    """An extra paragraph for the summary."""
    repo_id: str | None = None
    """Hub id (``USER/NAME``) used in the card's loading examples; else the folder's name."""
    table1_markdown: str | None = None
    """Table 1 (statistics of the dataset and its sources) as a Markdown table."""
    umap_figure: Path | None = None
    sample_grid: Path | None = None
    license: str = "other"
    license_name: str | None = FLUX_DEV_LICENSE_NAME
    license_link: str | None = FLUX_DEV_LICENSE_LINK
    license_terms: str = FLUX_DEV_TERMS
    source_terms: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SOURCE_TERMS))
    """Terms of the real-image sources, shown when the repository has real-image configs."""
    column_descriptions: dict[str, str] = field(default_factory=dict)
    """Descriptions of columns, added to (and overriding) the built-in ones."""
    config_descriptions: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    """Anything else worth recording (annotator settings, tool versions, ...)."""
    citation_bibtex: str | None = None
    """The GASR paper's BibTeX; by default an entry whose unknown fields say FILL IN."""

    def __post_init__(self) -> None:
        check_version(self.version, "CardInfo.version")
        for name in ("corpus", "prompt_template", "model", "license"):
            if not getattr(self, name):
                raise ValueError(f"CardInfo.{name} must be a non-empty string")


_REQUIRED = tuple(
    f
    for f in dataclasses.fields(CardInfo)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)


def check_version(version: str, what: str = "version") -> str:
    if not isinstance(version, str) or not SEMVER.fullmatch(version):
        raise ValueError(f"{what} must be a semantic version X.Y.Z, got {version!r}")
    return version


def load_card_info(path: str | Path) -> CardInfo:
    """A :class:`CardInfo` from a YAML file; a typo in a key fails naming it."""
    from gasr_hf.config import from_dict, load_yaml

    return from_dict(CardInfo, load_yaml(path), source=str(path))


# --- the card's state, and the README as published ------------------------------------------------


def card_data(repo_dir: str | Path) -> DatasetCardData:
    """The card's metadata as gasr_hf last wrote it (``.gasr/card.json``); empty for a new
    repository; read from README.md only for one made before that state existed."""
    from huggingface_hub import DatasetCardData

    from gasr_hf.files import read_json_state

    repo_dir = Path(repo_dir)
    state = repo_dir / CARD_STATE
    if state.is_file():
        return DatasetCardData(**read_json_state(state, what="card state"))
    if (repo_dir / README).is_file():
        return read_card(repo_dir).data
    return DatasetCardData()


def read_card(repo_dir: str | Path) -> DatasetCard:
    """README.md as published (for checks and for readers of the card, not as state)."""
    from huggingface_hub import DatasetCard

    path = Path(repo_dir) / README
    if not path.is_file():
        raise FileNotFoundError(f"no {README} in {repo_dir}; run assemble_repo first")
    return DatasetCard.load(path)


def card_configs(data: DatasetCardData) -> dict[str, dict[str, Any]]:
    """Config name -> its YAML entry (``data_files``, ``default``, ...), in card order."""
    return {entry["config_name"]: entry for entry in data.get("configs", [])}


def config_patterns(entry: Mapping[str, Any]) -> list[str]:
    """The train ``data_files`` patterns of one YAML config entry."""
    files = entry.get("data_files", [])
    if isinstance(files, str):
        return [files]
    patterns: list[str] = []
    for item in files:
        if isinstance(item, str):
            patterns.append(item)
        else:
            path = item["path"]
            patterns.extend([path] if isinstance(path, str) else path)
    return patterns


def card_version(repo_dir: str | Path) -> str | None:
    """The version recorded by ``write_card``; ``None`` before it ran."""
    return (read_card(repo_dir).data.get("gasr_card") or {}).get("version")


def matched_files(repo_dir: Path, patterns: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for pattern in patterns:
        files.extend(sorted(p for p in repo_dir.glob(pattern) if p.is_file()))
    return files


def _config_info(repo_dir: Path, name: str, patterns: Sequence[str]) -> datasets.DatasetInfo:
    import datasets
    import pyarrow.parquet as pq

    files = matched_files(repo_dir, patterns)
    if not files:
        raise ValueError(f"config {name!r}: no files match {', '.join(patterns)} in {repo_dir}")
    rows = num_bytes = download = 0
    for path in files:
        meta = pq.read_metadata(path)
        rows += meta.num_rows
        num_bytes += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        download += path.stat().st_size
    splits = datasets.SplitDict()
    splits.add(datasets.SplitInfo(name="train", num_bytes=num_bytes, num_examples=rows))
    return datasets.DatasetInfo(
        features=datasets.Features.from_arrow_schema(pq.read_schema(files[0])),
        splits=splits,
        download_size=download,
        dataset_size=num_bytes,
    )


def update_card_data(
    repo_dir: str | Path,
    *,
    configs: Mapping[str, Sequence[str]] | None = None,
    default_config: str | None = None,
    remove: Iterable[str] = (),
    **keys: Any,
) -> None:
    """Change the README's YAML and save it (re-rendering the body when the card was written).

    ``configs`` adds or replaces configs (name -> ``data_files`` patterns); ``remove`` drops
    configs; ``default_config`` moves ``default: true``; other ``keys`` are set as metadata
    (``None`` deletes a key). ``dataset_info`` is recomputed for every config from its files.
    """
    from datasets.info import DatasetInfosDict

    repo_dir = Path(repo_dir)
    data = card_data(repo_dir)
    entries = card_configs(data)
    for name in remove:
        entries.pop(name, None)
    for name, patterns in (configs or {}).items():
        entry = dict(entries.get(name, {"config_name": name}))
        entry["data_files"] = [
            {"split": "train", "path": patterns[0] if len(patterns) == 1 else list(patterns)}
        ]
        entries[name] = entry
    if default_config is not None:
        if default_config not in entries:
            raise ValueError(f"default_config {default_config!r} is not a config of {repo_dir}")
        for name, entry in entries.items():
            entry.pop("default", None)
            if name == default_config:
                entry["default"] = True
    data["configs"] = list(entries.values())
    data.pop("dataset_info")
    DatasetInfosDict(
        {
            name: _config_info(repo_dir, name, config_patterns(entry))
            for name, entry in entries.items()
        }
    ).to_dataset_card_data(data)
    for key, value in keys.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    save_card(repo_dir, data)


def save_card(repo_dir: str | Path, data: DatasetCardData) -> Path:
    """Record ``data`` as the card's state, then write README.md from it: the rendered template once
    ``gasr_card`` is set, else the metadata with a one-line body."""
    from huggingface_hub import DatasetCard

    from gasr_hf.files import write_json_atomic

    repo_dir = Path(repo_dir)
    write_json_atomic(repo_dir / CARD_STATE, data.to_dict())
    if data.get("gasr_card"):
        card = _render(repo_dir, data)
    else:
        body = (
            f"\n# {repo_dir.name}\n\nData assembled by gasr_hf; "
            "`gasr_hf.publish.write_card` writes the full card.\n"
        )
        card = DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}")
    path = repo_dir / README
    tmp = path.with_name(tmp_name(README))
    card.save(tmp)
    os.replace(tmp, path)
    return path


# --- rendering --------------------------------------------------------------------------------


def _stored_info(data: DatasetCardData) -> CardInfo:
    from gasr_hf.config import from_dict

    return from_dict(CardInfo, data["gasr_card"], source=f"{README}: gasr_card")


def _feature_type(feature: Any) -> str:
    import datasets

    if isinstance(feature, datasets.Value):
        return feature.dtype
    if isinstance(feature, datasets.Image):
        return "image"
    if isinstance(feature, (datasets.List, datasets.LargeList)):
        length = getattr(feature, "length", -1)
        inner = _feature_type(feature.feature)
        return f"list<{inner}>[{length}]" if length and length > 0 else f"list<{inner}>"
    if isinstance(feature, dict):
        return "struct"
    return type(feature).__name__


def _human_bytes(num: int) -> str:
    size, unit = float(num), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            break
        size /= 1024
    return f"{num} B" if unit == "B" else f"{size:.1f} {unit}"


def real_configs(data: DatasetCardData) -> list[str]:
    """Source configs other than the generated ``gasr`` (the real images, such as ``df2k``)."""
    from gasr_hf.publish.layout import shard_pattern

    return [
        name
        for name, entry in card_configs(data).items()
        if name != "gasr" and config_patterns(entry) == [shard_pattern(name)]
    ]


def _render(repo_dir: Path, data: DatasetCardData) -> DatasetCard:
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard

    info = _stored_info(data)
    infos = DatasetInfosDict.from_dataset_card_data(data)
    entries = card_configs(data)
    descriptions = {**CONFIG_DESCRIPTIONS, **info.config_descriptions}
    config_rows = []
    for name, entry in entries.items():
        patterns = config_patterns(entry)
        split = infos[name].splits["train"]
        members = [p.split("/")[1] for p in patterns if p.startswith("data/")]
        config_rows.append(
            {
                "name": name,
                "patterns": patterns,
                "rows": split.num_examples,
                "size": _human_bytes(infos[name].download_size or 0),
                "default": bool(entry.get("default")),
                "description": descriptions.get(name)
                or ("The images of " + " and ".join(members) + "." if members else ""),
            }
        )
    default = next((r["name"] for r in config_rows if r["default"]), config_rows[0]["name"])
    features = infos[default].features
    columns = {**KNOWN_COLUMNS, **info.column_descriptions}
    column_rows = [
        {"name": name, "dtype": _feature_type(feature), "description": columns.get(name, "")}
        for name, feature in features.items()
    ]
    kwargs = {
        "info": info,
        "version": info.version,
        "config_rows": config_rows,
        "column_rows": column_rows,
        "default_config": default,
        "real_configs": real_configs(data),
        "mixtures": data.get("gasr_mixtures") or [],
        "stream_config": "gasr-df2k" if "gasr-df2k" in entries else default,
        "load_path": info.repo_id or f"./{repo_dir.name}",
        "revision": f"v{info.version}" if info.repo_id else None,
        "bibtex": info.citation_bibtex or default_bibtex(),
        "procedural": (info.backend or info.provenance.get("backend")) == "procedural",
    }
    if not TEMPLATE_PATH.is_file():
        raise FileNotFoundError(f"card template not found: {TEMPLATE_PATH}")
    return DatasetCard.from_template(data, template_path=str(TEMPLATE_PATH), **kwargs)


def default_bibtex() -> str:
    return (
        "@misc{gasr,\n"
        "  title  = {Generating Artwork-Style Synthetic Data for Image Super-Resolution},\n"
        "  author = {FILL IN: the authors of the GASR paper},\n"
        "  year   = {FILL IN},\n"
        "  note   = {FILL IN: venue or arXiv identifier}\n"
        "}"
    )


def _size_category(rows: int) -> str:
    bounds = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"))
    bounds += ((1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))
    for bound, label in bounds:
        if rows < bound:
            return label
    return "10M<n<100M"


def _copy_figure(repo_dir: Path, src: Path | None, stem: str) -> Path | None:
    if src is None:
        return None
    dest_rel = Path(FIGURES_DIR) / f"{stem}{src.suffix.lower()}"
    dest = repo_dir / dest_rel
    candidate = src if src.is_absolute() or src.is_file() else repo_dir / src
    if not candidate.is_file():
        raise FileNotFoundError(f"figure {stem} not found: {src}")
    if candidate.resolve() != dest.resolve():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(candidate, dest)
    return dest_rel


def write_card(repo_dir: str | Path, info: CardInfo) -> Path:
    """Write the full card of the assembled repository ``repo_dir``; returns the README path.

    Copies the figures into ``figures/`` (links in the card are relative), sets the licence, task,
    tags, size and pretty name, stores ``info`` as ``gasr_card`` and renders the template.
    """
    from datasets.info import DatasetInfosDict

    from gasr_hf.config import to_dict

    repo_dir = Path(repo_dir)
    data = card_data(repo_dir)
    if not data.get("configs"):
        raise FileNotFoundError(f"{repo_dir} has no card with configs; run assemble_repo first")
    stored = dataclasses.replace(
        info,
        umap_figure=_copy_figure(repo_dir, info.umap_figure, "umap"),
        sample_grid=_copy_figure(repo_dir, info.sample_grid, "samples"),
    )
    infos = DatasetInfosDict.from_dataset_card_data(data)
    largest = max(i.splits["train"].num_examples for i in infos.values())
    data.license = info.license
    data.pretty_name = info.pretty_name
    data.task_categories = ["image-to-image"]
    data.size_categories = [_size_category(largest)]
    data["tags"] = ["super-resolution", "synthetic", "art", "image"]
    data["license_name"] = info.license_name
    data["license_link"] = info.license_link
    # Fields left at their defaults are not stored: the YAML stays short and from_dict refills them.
    required = {f.name: getattr(info, f.name) for f in _REQUIRED}
    defaults = to_dict(CardInfo(**required))
    data["gasr_card"] = {
        k: v
        for k, v in to_dict(stored).items()
        if k in required or (v is not None and v != defaults[k])
    }
    path = save_card(repo_dir, data)
    logger.info("wrote the dataset card %s (version %s)", path, info.version)
    return path


def set_repo_id(repo_dir: str | Path, repo_id: str) -> bool:
    """Point the card's quick start at the Hub repository ``repo_id`` (loaded at the release's tag)
    and re-render it; returns whether the card changed."""
    repo_dir = Path(repo_dir)
    data = card_data(repo_dir)
    stored = dict(data.get("gasr_card") or {})
    if not stored:
        raise ValueError(f"{repo_dir / README} has no gasr_card; run write_card first")
    if stored.get("repo_id") == repo_id:
        return False
    stored["repo_id"] = repo_id
    data["gasr_card"] = stored
    save_card(repo_dir, data)
    return True


def render_card(repo_dir: str | Path) -> Path:
    """Re-render README.md's body from its own YAML (after editing the template, say)."""
    repo_dir = Path(repo_dir)
    data = card_data(repo_dir)
    if not data.get("gasr_card"):
        raise ValueError(f"{repo_dir / README} has no gasr_card; run write_card first")
    return save_card(repo_dir, data)


# --- offline checks ---------------------------------------------------------------------------


def check_card(repo_dir: str | Path) -> list[str]:
    """Problems with the card that can be found offline; an empty list means none.

    Checks that the README loads, its configs parse as ``datasets`` parses them with exactly one
    default, every config's data files exist (glob) inside the repository, every config declares
    its features and they equal the shards' schema, the declared row counts match the shards,
    the licence and version are set, mixtures name existing configs and the figures exist.
    """
    import datasets
    import pyarrow.parquet as pq
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    repo_dir = Path(repo_dir)
    try:
        data = read_card(repo_dir).data
    except (FileNotFoundError, ValueError) as err:
        return [str(err)]
    problems: list[str] = []
    try:
        parsed = MetadataConfigs.from_dataset_card_data(data)
        parsed.get_default_config_name()
    except ValueError as err:
        return [f"configs: {' '.join(str(err).split())}"]
    if not parsed:
        return ["no configs declared"]
    if sum(bool(entry.get("default")) for entry in card_configs(data).values()) != 1:
        problems.append("exactly one config must have default: true")
    infos = DatasetInfosDict.from_dataset_card_data(data)
    for name, entry in card_configs(data).items():
        patterns = config_patterns(entry)
        for pattern in patterns:
            if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
                problems.append(f"config {name!r}: data file {pattern!r} points outside the repo")
            elif not matched_files(repo_dir, [pattern]):
                problems.append(f"config {name!r}: no files match {pattern!r}")
        info = infos.get(name)
        if info is None or not info.features:
            problems.append(f"config {name!r}: no features declared in dataset_info")
            continue
        files = matched_files(repo_dir, patterns)
        rows = 0
        for path in files:
            rel = path.relative_to(repo_dir).as_posix()
            try:
                schema = pq.read_schema(path)
                rows += pq.read_metadata(path).num_rows
            except (OSError, ValueError) as err:
                problems.append(f"config {name!r}: {rel} is not readable Parquet: {err}")
                continue
            if datasets.Features.from_arrow_schema(schema) != info.features:
                problems.append(f"config {name!r}: {rel} does not have the declared features")
        declared = info.splits["train"].num_examples if info.splits else None
        if files and declared != rows:
            problems.append(
                f"config {name!r}: dataset_info says {declared} rows, files hold {rows}"
            )
    if not data.license:
        problems.append("no license declared")
    stored = data.get("gasr_card")
    if stored is not None:
        try:
            info = _stored_info(data)
        except ValueError as err:
            problems.append(str(err))
        else:
            for figure in (info.umap_figure, info.sample_grid):
                if figure is not None and not (repo_dir / figure).is_file():
                    problems.append(f"figure {figure} linked from the card is missing")
    configs = card_configs(data)
    for mixture in data.get("gasr_mixtures") or []:
        for source in mixture.get("sources", {}):
            if source not in configs:
                problems.append(
                    f"mixture {mixture.get('name')!r}: source {source!r} is not a config"
                )
    return problems
