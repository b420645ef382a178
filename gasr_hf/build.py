"""``gasr build``: the whole chain from one YAML config, planned first, resumable stage by stage.

prompts -> generate -> ingest real sources -> annotate -> Table 1 -> UMAP -> sample grid -> assemble the
dataset repository -> card (with its mixtures) -> manifest, as a :class:`gasr_hf.graph.StageGraph`.
Before any stage runs, :func:`check_config` finds every problem of the config at once (missing folders
and files, bad names, unknown mixture sources, an output folder that is not a build of this config),
and the plan says which stages are done, stale or to run. The output folder is the dataset repository
itself; the stages' working data and markers live under its hidden ``.gasr/build/`` (never
published), and one build at a time holds the folder's lock (:mod:`gasr_hf.lock`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gasr_hf import __version__
from gasr_hf.config import ConfigErrors, from_dict, load_yaml, save_yaml, to_dict
from gasr_hf.curate import CURATE_DIR, CurateRule
from gasr_hf.files import json_digest
from gasr_hf.generate.backend import BackendConfig
from gasr_hf.graph import Stage, StageGraph, StageStatus
from gasr_hf.lock import folder_lock, launch_rank

logger = logging.getLogger(__name__)

GENERATED = "gasr"
"""The config name of the generated images in the repository."""


@dataclass(frozen=True)
class PromptSettings:
    n: int
    corpus: str = "artwork"
    seed: int = 0


@dataclass(frozen=True)
class GenerateSettings:
    backend: BackendConfig = field(default_factory=BackendConfig)
    chunk_size: int = 256
    max_attempts: int = 3


@dataclass(frozen=True)
class RealSource:
    """A folder of real images, ingested and annotated, then published in ``config`` (DIV2K and
    Flickr2K -> ``df2k``) or, with ``config: null``, only analysed (Manga109 for the UMAP target)."""

    name: str
    folder: Path
    config: str | None = "df2k"


@dataclass(frozen=True)
class AnnotateSettings:
    annotators: tuple[str, ...] = ("num_pixels", "blockiness")
    sam_checkpoint: str | None = None
    sam_model_type: str = "vit_h"
    sam_overrides: tuple[str, ...] = ()
    """``KEY=VALUE`` overrides of SamAutomaticMaskGenerator parameters."""
    clip_model: str = "openai/clip-vit-large-patch14"
    clip_batch_size: int = 32
    chunk_size: int = 64
    batch_size: int = 16
    device: str | None = None


@dataclass(frozen=True)
class AnalyzeSettings:
    basis: Path | None = None
    """A blockiness basis folder for the JPEG-quality estimate (``gasr basis``); none: ``n/a``."""
    umap: bool = False
    """Needs the ``clip_embedding`` annotator."""
    umap_target: str | None = None
    sample_grid: int = 16
    """Images in the card's sample grid (0: none)."""


@dataclass(frozen=True)
class MixtureSettings:
    name: str
    sources: dict[str, float]
    mode: Literal["probabilities", "concat"] = "probabilities"
    seed: int = 0
    """The seed of ``interleave_datasets`` for a ``probabilities`` mixture, shown on the card."""


@dataclass(frozen=True)
class BuildConfig:
    version: str
    out: Path
    prompts: PromptSettings
    generate: GenerateSettings = field(default_factory=GenerateSettings)
    real: tuple[RealSource, ...] = ()
    annotate: AnnotateSettings = field(default_factory=AnnotateSettings)
    analyze: AnalyzeSettings = field(default_factory=AnalyzeSettings)
    card: dict[str, Any] = field(default_factory=dict)
    """Fields of :class:`gasr_hf.publish.CardInfo` (licence, pretty_name, repo_id, ...); the build
    fills in version, corpus, template, model, sampler, seeds, Table 1 and the figures."""
    mixtures: tuple[MixtureSettings, ...] = ()
    curate: tuple[CurateRule, ...] = ()
    """Curated configs (``gasr curate``), made after the repository is assembled."""

    def __post_init__(self) -> None:
        from gasr_hf.publish.card import check_version

        check_version(self.version, "version")


def load_build_config(path: str | Path) -> BuildConfig:
    """Read a build config; unknown keys and wrong types fail naming the key and the file."""
    return from_dict(BuildConfig, load_yaml(path), source=str(path))


# --- checking the config: every problem at once, before any stage, writing nothing -------------

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
"""Source, config and mixture names: they become folder names, stage names and config names."""
CARD_FILLED = (
    "version",
    "corpus",
    "prompt_template",
    "base_description",
    "model",
    "model_revision",
    "backend",
    "domain",
    "sampler",
    "seeds",
    "table1_markdown",
    "umap_figure",
    "sample_grid",
)
"""CardInfo fields the build fills in; ``card:`` sets the others."""


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _model_problem(key: str, model: str) -> str | None:
    """A model named by a local path must exist; offline, a Hub id must be in the Hub cache."""
    if Path(model).expanduser().exists():
        return None
    if model.startswith(("/", "./", "../", "~")) or model.count("/") > 1:
        return f"{key}: local model folder not found: {model}"
    if _hub_offline():
        from huggingface_hub import constants

        cached = Path(constants.HF_HUB_CACHE) / f"models--{model.replace('/', '--')}"
        if not cached.is_dir():
            return (
                f"{key}: {model} is neither a local folder nor in the Hub cache "
                f"({constants.HF_HUB_CACHE}), and HF_HUB_OFFLINE is set"
            )
    return None


def _check_inputs(config: BuildConfig) -> list[str]:
    from gasr_hf.prompts import load_corpus

    problems = []
    try:
        load_corpus(config.prompts.corpus)
    except (ValueError, OSError) as err:
        problems.append(f"prompts.corpus: {err}")
    for key, value in (
        ("prompts.n", config.prompts.n),
        ("generate.chunk_size", config.generate.chunk_size),
        ("generate.max_attempts", config.generate.max_attempts),
        ("annotate.chunk_size", config.annotate.chunk_size),
    ):
        if value < 1:
            problems.append(f"{key} must be >= 1, got {value}")
    try:
        backend = config.generate.backend.resolved()
    except ValueError as err:
        problems.append(f"generate.backend: {err}")
    else:
        if backend.backend == "diffusers" and backend.model:
            problems.append(_model_problem("generate.backend.model", backend.model))
    return [p for p in problems if p]


def _check_real(config: BuildConfig) -> list[str]:
    problems = []
    names = [source.name for source in config.real]
    for i, source in enumerate(config.real):
        where = f"real[{i}]"
        if not NAME.fullmatch(source.name):
            problems.append(
                f"{where}.name {source.name!r} must start with a letter or digit and use only "
                "letters, digits, '_', '.', '-' (it names a folder and a config)"
            )
        elif source.name == GENERATED or names.count(source.name) > 1:
            problems.append(f"{where}.name {source.name!r} is reserved or used twice")
        if source.config is not None and (
            source.config == GENERATED or not NAME.fullmatch(source.config)
        ):
            problems.append(
                f"{where}.config {source.config!r}: {GENERATED!r} is reserved for the generated "
                "images; other names use letters, digits, '_', '.', '-'"
            )
        if not Path(source.folder).is_dir():
            problems.append(f"{where}.folder not found: {source.folder}")
    return problems


def _check_annotate(config: BuildConfig) -> list[str]:
    from gasr_hf.annotate.run import ANNOTATORS

    settings, problems = config.annotate, []
    for name in settings.annotators:
        if name not in ANNOTATORS:
            problems.append(
                f"annotate.annotators: unknown {name!r}; expected some of {', '.join(ANNOTATORS)}"
            )
    if "num_segments" in settings.annotators:
        if settings.sam_checkpoint is None:
            problems.append("annotate.sam_checkpoint is needed by the num_segments annotator")
        elif not Path(settings.sam_checkpoint).is_file():
            problems.append(f"annotate.sam_checkpoint not found: {settings.sam_checkpoint}")
    if "clip_embedding" in settings.annotators:
        problems.append(_model_problem("annotate.clip_model", settings.clip_model))
    return [p for p in problems if p]


def _check_analyze(config: BuildConfig) -> list[str]:
    analyze, problems = config.analyze, []
    if analyze.basis is not None and not Path(analyze.basis).is_dir():
        problems.append(f"analyze.basis not found: {analyze.basis}")
    if analyze.umap and "clip_embedding" not in config.annotate.annotators:
        problems.append("analyze.umap needs 'clip_embedding' in annotate.annotators")
    sources = [GENERATED, *(source.name for source in config.real)]
    if analyze.umap_target is not None and analyze.umap_target not in sources:
        problems.append(
            f"analyze.umap_target {analyze.umap_target!r} is not a source: {', '.join(sources)}"
        )
    if analyze.sample_grid < 0:
        problems.append(f"analyze.sample_grid must be >= 0, got {analyze.sample_grid}")
    return problems


def _check_card_and_mixtures(config: BuildConfig) -> list[str]:
    from gasr_hf.publish.card import CardInfo

    allowed = {f.name for f in dataclasses.fields(CardInfo)} - set(CARD_FILLED)
    problems = [
        f"card: unknown key {key!r}; expected some of {', '.join(sorted(allowed))}"
        for key in config.card
        if key not in allowed
    ]
    sources, combined = _layout(config)
    configs = set(sources) | set(combined)
    for i, mixture in enumerate(config.mixtures):
        where = f"mixtures[{i}] ({mixture.name!r})"
        if not NAME.fullmatch(mixture.name) or mixture.name in configs:
            problems.append(f"{where}: the name is invalid or already a config")
        for source, weight in mixture.sources.items():
            if source not in configs:
                problems.append(
                    f"{where}: unknown config {source!r}; the configs are: "
                    f"{', '.join(sorted(configs))}"
                )
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                problems.append(f"{where}: weight of {source!r} must be a number, got {weight!r}")
            elif not math.isfinite(weight) or weight <= 0:
                problems.append(f"{where}: weight of {source!r} must be > 0, got {weight}")
            elif mixture.mode == "concat" and weight != 1:
                problems.append(f"{where}: a concat mixture takes every weight as 1, got {weight}")
        if mixture.mode == "concat":
            configs.add(mixture.name)
    return problems


def _check_out(out: Path) -> list[str]:
    if not out.exists():
        return []
    if not out.is_dir():
        return [f"out {out} is a file, not a folder"]
    if (out / ".gasr" / "build").is_dir() or all(p.name == ".gasr" for p in out.iterdir()):
        return []  # a build, a new folder, or one whose lock a starting build has just taken
    return [
        f"out {out} holds other files and no gasr build (.gasr/build/): choose an empty or new "
        "folder"
    ]


def check_config(config: BuildConfig) -> list[str]:
    """Every problem of ``config`` that can be found before any work, one line each; writes
    nothing. A finished stage's changed settings are found by the plan (:func:`plan_build`)."""
    return [
        *_check_inputs(config),
        *_check_real(config),
        *_check_annotate(config),
        *_check_analyze(config),
        *_check_card_and_mixtures(config),
        *_check_curate(config),
        *_check_out(Path(config.out)),
    ]


def _check_curate(config: BuildConfig) -> list[str]:
    made = {GENERATED} | {s.config for s in config.real if s.config is not None}
    names = [rule.name for rule in config.curate]
    problems = []
    for rule in config.curate:
        if rule.source not in made:
            problems.append(
                f"curate: {rule.name!r} selects from config {rule.source!r}, which this build "
                f"does not make (it makes {', '.join(sorted(made))})"
            )
        if rule.name in made or names.count(rule.name) > 1:
            problems.append(f"curate: config name {rule.name!r} is already taken")
        if rule.target is not None and not Path(rule.target).expanduser().is_dir():
            problems.append(f"curate: {rule.name!r}: target folder not found: {rule.target}")
    return problems


# --- the stages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paths:
    out: Path

    @property
    def work(self) -> Path:
        return self.out / ".gasr" / "build"

    @property
    def prompts(self) -> Path:
        return self.work / "prompts"

    @property
    def images(self) -> Path:
        return self.work / "images"

    def ingested(self, name: str) -> Path:
        return self.work / "ingested" / name

    def annotated(self, name: str) -> Path:
        return self.work / "annotated" / name


def _resolved(path: Path | str | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


def _written_digest(out: Path, *names: str, contents: bool = True) -> str:
    """A digest of the files ``names`` (relative to ``out``; folders recursively; missing ones
    count as absent) by their contents, or with ``contents=False`` by their sizes and modification
    times (for the shards, too large to read at every plan)."""
    from gasr_hf.files import sha256_file

    entries = []
    for name in names:
        root = out / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if not path.is_file():
                entries.append([name, None])
                continue
            stat = path.stat()
            stamp = sha256_file(path) if contents else [stat.st_size, stat.st_mtime_ns]
            entries.append([path.relative_to(out).as_posix(), stamp])
    return json_digest(entries)


def _layout(config: BuildConfig) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """``(config -> source names, combined config -> configs)`` of the repository."""
    sources: dict[str, list[str]] = {GENERATED: [GENERATED]}
    for source in config.real:
        if source.config is not None:
            sources.setdefault(source.config, []).append(source.name)
    combined = {f"{GENERATED}-{name}": [GENERATED, name] for name in sources if name != GENERATED}
    return sources, combined


def _generated_stages(config: BuildConfig, paths: _Paths) -> list[Stage]:
    """prompts -> generate: the costly, resumable stages of the generated images."""
    from gasr_hf.prompts import load_corpus
    from gasr_hf.shards import folder_digest

    corpus = load_corpus(config.prompts.corpus)
    generate = config.generate

    def make_prompts(_: Mapping[str, Any]) -> dict[str, Any]:
        from gasr_hf.prompts import build_prompts, save_prompts

        dataset = build_prompts(corpus, config.prompts.n, config.prompts.seed)
        provenance = {"corpus": corpus.id, "n": config.prompts.n, "seed": config.prompts.seed}
        save_prompts(dataset, paths.prompts, provenance=provenance, overwrite=True)
        return provenance

    def make_images(_: Mapping[str, Any]) -> dict[str, Any]:
        from gasr_hf.generate import generate as run

        return run(
            paths.prompts,
            paths.images,
            generate.backend.resolved(),
            chunk_size=generate.chunk_size,
            max_attempts=generate.max_attempts,
        )

    def images_content() -> str:
        from gasr_hf.generate import REPORT_NAME
        from gasr_hf.generate.runner import read_provenance

        if read_provenance(paths.images) is None:
            raise ValueError(
                f"generate wrote no image into {paths.images}: every prompt failed; the errors "
                f"are in {paths.images / REPORT_NAME}"
            )
        return folder_digest(paths.images)

    generate_settings: dict[str, Any] = {
        "backend": generate.backend.resolved().pixel_settings(),
        "chunk_size": generate.chunk_size,
        "max_attempts": generate.max_attempts,
    }
    if generate.backend.backend == "procedural":
        from gasr_hf.generate.procedural import RENDERER_VERSION

        # A new renderer draws other pixels from the same settings.
        generate_settings["renderer"] = RENDERER_VERSION
    return [
        Stage(
            "prompts",
            make_prompts,
            {
                "corpus": corpus.id,
                "corpus_sha": json_digest(dataclasses.asdict(corpus)),
                "n": config.prompts.n,
                "seed": config.prompts.seed,
            },
            data=True,
            output=paths.prompts,
        ),
        Stage(
            "generate",
            make_images,
            generate_settings,
            inputs=("prompts",),
            data=True,
            distributed=True,
            content=images_content,
            output=paths.images,
        ),
    ]


def _ingest_stages(config: BuildConfig, paths: _Paths, rank: int, world_size: int) -> list[Stage]:
    """Each real folder as a dataset of shards; its settings hold a digest of its file listing."""
    from gasr_hf.annotate.ingest import list_folder
    from gasr_hf.shards import folder_digest

    stages = []
    for source in config.real:

        def ingest(s: RealSource, _: Mapping[str, Any]) -> dict[str, Any]:
            from gasr_hf.annotate import ingest_folder

            report = ingest_folder(
                s.folder, s.name, paths.ingested(s.name), rank=rank, world_size=world_size
            )
            return report.to_dict()

        settings = {
            "name": source.name,
            "folder": _resolved(source.folder),
            "files_sha": list_folder(Path(source.folder)).digest,
        }
        stages.append(
            Stage(
                f"ingest-{source.name}",
                functools.partial(ingest, source),
                settings,
                data=True,
                distributed=True,
                content=functools.partial(folder_digest, paths.ingested(source.name)),
                output=paths.ingested(source.name),
            )
        )
    return stages


def _annotate_stages(config: BuildConfig, paths: _Paths, rank: int, world_size: int) -> list[Stage]:
    from gasr_hf.shards import folder_digest

    settings = config.annotate
    normalised: dict[str, Any] = {
        "annotators": list(settings.annotators),
        "chunk_size": settings.chunk_size,
    }
    if "num_segments" in settings.annotators:
        normalised["sam"] = [
            _resolved(settings.sam_checkpoint),
            settings.sam_model_type,
            list(settings.sam_overrides),
        ]
    if "clip_embedding" in settings.annotators:
        normalised["clip_model"] = settings.clip_model

    def run(src: Path, dst: Path, _: Mapping[str, Any]) -> dict[str, Any]:
        from gasr_hf.annotate import ClipConfig, annotate
        from gasr_hf.annotate.segments import segment_config

        sam = None
        if "num_segments" in settings.annotators:
            sam = segment_config(
                settings.sam_checkpoint, settings.sam_model_type, settings.sam_overrides
            )
        clip = ClipConfig(model=settings.clip_model, batch_size=settings.clip_batch_size)
        report = annotate(
            src,
            dst,
            annotators=settings.annotators,
            sam=sam,
            clip=clip,
            chunk_size=settings.chunk_size,
            batch_size=settings.batch_size,
            rank=rank,
            world_size=world_size,
            device=settings.device,
        )
        return report.to_dict()

    inputs = {GENERATED: ("generate", paths.images)}
    inputs |= {s.name: (f"ingest-{s.name}", paths.ingested(s.name)) for s in config.real}
    return [
        Stage(
            f"annotate-{name}",
            functools.partial(run, src, paths.annotated(name)),
            normalised,
            inputs=(stage,),
            data=True,
            distributed=True,
            content=functools.partial(folder_digest, paths.annotated(name)),
            output=paths.annotated(name),
        )
        for name, (stage, src) in inputs.items()
    ]


def _analysis_stages(config: BuildConfig, paths: _Paths) -> list[Stage]:
    """Table 1, the UMAP figure and the sample grid: derived from the annotated folders."""
    names = [GENERATED, *(source.name for source in config.real)]
    folders = [paths.annotated(name) for name in names]
    annotated = tuple(f"annotate-{name}" for name in names)
    analyze = config.analyze

    def relative(path: str | Path) -> str:
        """Results name files relative to the build, so a moved or copied build reads its own."""
        return Path(path).relative_to(paths.out).as_posix()

    def stats(_: Mapping[str, Any]) -> str:
        from gasr_hf.analyze.stats import format_markdown, table1

        rows = table1(folders, paths.work / "stats", names=names, basis=analyze.basis)
        return format_markdown(rows)

    stages = [Stage("stats", stats, {"names": names, "basis": _resolved(analyze.basis)}, annotated)]
    if analyze.umap:

        def umap(_: Mapping[str, Any]) -> str:
            from gasr_hf.analyze.umap import umap_figure

            figure = umap_figure(folders, umap_dir, names=names, target=analyze.umap_target)
            return relative(figure.png_path)

        umap_dir = paths.work / "figures" / "umap"
        written = functools.partial(_written_digest, paths.out, relative(umap_dir))
        settings = {"names": names, "target": analyze.umap_target}
        stages.append(Stage("umap", umap, settings, annotated, content=written))
    if analyze.sample_grid:

        def samples(_: Mapping[str, Any]) -> str:
            from gasr_hf.generate import make_sample_grid

            return relative(
                make_sample_grid(paths.annotated(GENERATED), png, n=analyze.sample_grid)
            )

        png = paths.work / "figures" / "samples.png"
        written = functools.partial(_written_digest, paths.out, relative(png))
        inputs = (f"annotate-{GENERATED}",)
        stages.append(
            Stage("samples", samples, {"n": analyze.sample_grid}, inputs, content=written)
        )
    return stages


def _card_info(config: BuildConfig, paths: _Paths, results: Mapping[str, Any]) -> Any:
    from gasr_hf.curate import config_descriptions
    from gasr_hf.generate.runner import read_provenance
    from gasr_hf.prompts import load_corpus
    from gasr_hf.publish import CardInfo
    from gasr_hf.publish.card import card_data

    corpus = load_corpus(config.prompts.corpus)
    backend = config.generate.backend.resolved()
    provenance = read_provenance(paths.images) or {}
    sampler_keys = ("width", "height", "steps", "guidance", "dtype", "first_block_cache")
    sampler = {k: v for k, v in to_dict(backend).items() if k in sampler_keys and v is not None}
    if provenance.get("scheduler"):
        sampler["scheduler"] = provenance["scheduler"]
    sampler["max_attempts"] = config.generate.max_attempts
    return CardInfo(
        **{
            "version": config.version,
            "corpus": corpus.id,
            "prompt_template": corpus.template,
            "base_description": corpus.base_description,
            "model": provenance["model"],
            "model_revision": provenance.get("model_revision"),
            "backend": provenance["backend"],
            "domain": corpus.domain,
            "sampler": sampler,
            "seeds": {
                "prompts": config.prompts.seed,
                "images": "each row's seed column (seed_used after a retry)",
            },
            "table1_markdown": results["stats"],
            "config_descriptions": config_descriptions(
                [results[f"curate-{rule.name}"] for rule in config.curate]
            ),
            "umap_figure": paths.out / results["umap"] if "umap" in results else None,
            "sample_grid": paths.out / results["samples"] if "samples" in results else None,
            "provenance": {
                "backend": provenance["backend"],
                "library_versions": provenance.get("library_versions"),
                "annotators": list(config.annotate.annotators),
                "gasr_hf": __version__,
            },
            # The Hub repository `gasr push` pointed the quick start at, unless `card:` names one.
            "repo_id": (card_data(paths.out).get("gasr_card") or {}).get("repo_id"),
            **config.card,
        }
    )


def _publish_stages(config: BuildConfig, paths: _Paths, figures: tuple[str, ...]) -> list[Stage]:
    """assemble -> card (with the mixtures) -> manifest: the dataset repository itself."""
    from gasr_hf.publish.card import FIGURES_DIR, README
    from gasr_hf.publish.layout import DATA_DIR
    from gasr_hf.publish.manifest import MANIFEST

    sources, combined = _layout(config)
    out = paths.out

    def assemble(_: Mapping[str, Any]) -> list[str]:
        from gasr_hf.publish import assemble_repo

        folders = {c: [paths.annotated(n) for n in names] for c, names in sources.items()}
        return list(assemble_repo(out, folders, combined=combined or None).configs)

    def card(results: Mapping[str, Any]) -> str:
        from gasr_hf.publish import add_mixture, write_card
        from gasr_hf.publish.mix import keep_mixtures

        keep_mixtures(out, [mixture.name for mixture in config.mixtures])
        path = write_card(out, _card_info(config, paths, results))
        for mixture in config.mixtures:
            add_mixture(
                out, mixture.name, mixture.sources, mixture.mode, replace=True, seed=mixture.seed
            )
        return path.relative_to(out).as_posix()

    def curated_config(rule: CurateRule) -> Callable[[Mapping[str, Any]], Any]:
        def run(_: Mapping[str, Any]) -> dict[str, Any]:
            from gasr_hf.curate import curate

            report = curate(out, rule).to_dict()
            return {k: v for k, v in report.items() if k != "folder"}

        return run

    def manifest(_: Mapping[str, Any]) -> str:
        from gasr_hf.publish import write_manifest

        return write_manifest(out, config.version).relative_to(out).as_posix()

    published = tuple(f"annotate-{n}" for names in sources.values() for n in names)
    card_settings = {
        "version": config.version,
        "card": config.card,
        "mixtures": [to_dict(m) for m in config.mixtures],
        "annotators": list(config.annotate.annotators),
        "prompt_seed": config.prompts.seed,
        "max_attempts": config.generate.max_attempts,
        "gasr_hf": __version__,
    }
    written = functools.partial(_written_digest, out)
    curated = [
        Stage(
            f"curate-{rule.name}",
            curated_config(rule),
            to_dict(rule),
            ("assemble",),
            content=functools.partial(
                written,
                f"{DATA_DIR}/{rule.name}",
                (CURATE_DIR / rule.name).as_posix(),
                contents=False,
            ),
        )
        for rule in config.curate
    ]
    return [
        Stage(
            "assemble",
            assemble,
            {"sources": sources, "combined": combined},
            published,
            # Its own configs only: curate stages add theirs to data/ afterwards.
            content=functools.partial(
                written, *(f"{DATA_DIR}/{c}" for c in [*sources, *combined]), contents=False
            ),
        ),
        *curated,
        Stage(
            "card",
            card,
            card_settings,
            ("generate", "stats", *figures, "assemble", *(stage.name for stage in curated)),
            content=functools.partial(written, README, FIGURES_DIR),
        ),
        Stage(
            "manifest",
            manifest,
            {"version": config.version},
            ("card",),
            content=functools.partial(written, MANIFEST),
        ),
    ]


def build_graph(config: BuildConfig, rank: int = 0, world_size: int = 1) -> StageGraph:
    """The stages of ``config``, in order, with their markers under ``out/.gasr/build/stages``."""
    paths = _Paths(Path(config.out))
    analysis = _analysis_stages(config, paths)
    figures = tuple(stage.name for stage in analysis if stage.name != "stats")
    stages = [
        *_generated_stages(config, paths),
        *_ingest_stages(config, paths, rank, world_size),
        *_annotate_stages(config, paths, rank, world_size),
        *analysis,
        *_publish_stages(config, paths, figures),
    ]
    return StageGraph(stages, paths.work / "stages", rank, world_size)


# --- planning and running -----------------------------------------------------------------------


@dataclass(frozen=True)
class BuildPlan:
    out: Path
    stages: tuple[StageStatus, ...]
    images_to_generate: int
    """Prompt rows not yet rendered (failed rows count as rendered: they are recorded)."""
    prompts: int

    def lines(self) -> list[str]:
        return [
            *(str(status) for status in self.stages),
            f"images still to generate: {self.images_to_generate} of {self.prompts}",
        ]


def _images_to_generate(config: BuildConfig, paths: _Paths, generate: StageStatus) -> int:
    from gasr_hf.shards import read_markers

    if generate.afresh or not paths.images.is_dir():
        return config.prompts.n
    done = sum(m["rows_in"] for m in read_markers(paths.images).values())
    return max(config.prompts.n - done, 0)


def _refusals(config: BuildConfig, statuses: list[StageStatus] | None = None) -> list[str]:
    """The finished data stages whose settings changed; none when the stages cannot be laid out
    (a config problem that :func:`check_config` reports)."""
    if statuses is None:
        try:
            statuses = build_graph(config, *launch_rank()).plan()
        except (ValueError, OSError):
            return []
    return [status.reason for status in statuses if status.refused]


def _check(config: BuildConfig) -> None:
    """Raise every problem of ``config`` at once, a finished data stage it would change included."""
    problems = check_config(config)
    if problems:
        raise ConfigErrors(problems + _refusals(config))


def plan_build(config: BuildConfig) -> BuildPlan:
    """Check ``config`` and plan its build, writing nothing. Every problem, a finished data stage
    whose settings changed included, raises one :class:`ConfigErrors` listing them all."""
    _check(config)
    statuses = build_graph(config, *launch_rank()).plan()
    refused = _refusals(config, statuses)
    if refused:
        raise ConfigErrors(refused)
    paths = _Paths(Path(config.out))
    return BuildPlan(
        out=paths.out,
        stages=tuple(statuses),
        images_to_generate=_images_to_generate(
            config, paths, next(s for s in statuses if s.name == "generate")
        ),
        prompts=config.prompts.n,
    )


@dataclass(frozen=True)
class BuildResult:
    out: Path
    ran: tuple[str, ...]
    skipped: tuple[str, ...]

    @property
    def did_work(self) -> bool:
        return bool(self.ran)


def build(config: BuildConfig) -> BuildResult:
    """Check ``config``, take the output folder's lock, then run every stage that is not done.

    Raises :class:`ConfigErrors` (every problem, before anything is written),
    :class:`gasr_hf.lock.FolderBusy` when another run holds the folder, or the first error of a
    stage (a rerun continues from there).
    """
    _check(config)
    out = Path(config.out)
    rank, world_size = launch_rank()
    with folder_lock(out, "build", rank=rank, world_size=world_size):
        graph = build_graph(config, rank, world_size)
        statuses = graph.plan()
        refused = _refusals(config, statuses)
        if refused:
            raise ConfigErrors(refused)
        if all(status.state == "done" for status in statuses):
            logger.info("build %s is complete: nothing to do", out)
            return BuildResult(out, (), tuple(status.name for status in statuses))
        if rank == 0:
            save_yaml(to_dict(config), graph.state_dir.parent / "config.yaml")
        result = graph.run()
    if result.ran:
        logger.info("build %s: ran %s", out, ", ".join(result.ran))
    return BuildResult(out, result.ran, result.skipped)
