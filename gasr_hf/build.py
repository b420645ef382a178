"""``gasr build``: the whole chain from one YAML config, resumable stage by stage.

prompts -> generate -> ingest real sources -> annotate -> Table 1 -> UMAP -> sample grid -> assemble the
dataset repository -> card -> mixtures -> manifest. The output folder is the dataset repository itself;
the stages' working data lives under its hidden ``.gasr/build/`` (never published). Each finished stage
leaves a marker holding the fingerprint of the settings it ran with: a rerun skips finished stages (a
finished build does no work and says so), an interrupted stage resumes through its own shard runner, and
a rerun whose settings differ from a finished stage's is refused rather than silently mixed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gasr_hf import __version__
from gasr_hf.config import from_dict, load_yaml, save_yaml, to_dict
from gasr_hf.curate import CurateRule
from gasr_hf.files import json_digest
from gasr_hf.generate.backend import BackendConfig

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
        names = [source.name for source in self.real]
        if len(set(names)) != len(names):
            raise ValueError(f"real: source names must be unique, got {names}")
        if any(source.config == GENERATED for source in self.real):
            raise ValueError(f"real: config {GENERATED!r} is reserved for the generated images")
        made = {GENERATED} | {s.config for s in self.real if s.config is not None}
        for rule in self.curate:
            if rule.source not in made:
                raise ValueError(
                    f"curate: {rule.name!r} selects from config {rule.source!r}, which this build "
                    f"does not make (it makes {', '.join(sorted(made))})"
                )
            if rule.name in made or [r.name for r in self.curate].count(rule.name) > 1:
                raise ValueError(f"curate: config name {rule.name!r} is already taken")
        if self.analyze.umap and "clip_embedding" not in self.annotate.annotators:
            raise ValueError("analyze.umap needs 'clip_embedding' in annotate.annotators")


def load_build_config(path: str | Path) -> BuildConfig:
    """Read a build config; unknown keys and wrong types fail naming the key and the file."""
    return from_dict(BuildConfig, load_yaml(path), source=str(path))


_fingerprint = json_digest


class _Stages:
    """Runs named stages once each, keeping a marker per finished stage.

    Under ``accelerate launch`` the data stages run on every process (each takes its share of the
    chunks) with one marker per rank, and every rank waits for the others' markers before the next
    stage reads their output: a barrier through files, which, unlike a collective, has no timeout to
    outlast while ranks finish their last chunks minutes apart.
    """

    def __init__(self, state_dir: Path, rank: int = 0, world_size: int = 1) -> None:
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.rank, self.world_size = rank, world_size
        self.ran: list[str] = []
        self.skipped: list[str] = []

    def run_distributed(self, name: str, settings: Any, work: Callable[[], Any]) -> Any:
        """A data stage on every rank; returns once all ranks have finished it."""
        if self.world_size == 1:
            return self.run(name, settings, work)
        result = self.run(f"{name}@{self.rank}-of-{self.world_size}", settings, work)
        self.wait_for([f"{name}@{r}-of-{self.world_size}" for r in range(self.world_size)])
        return result

    def wait_for(self, names: list[str]) -> None:
        """Block until the markers of the stages ``names`` exist (written by any rank)."""
        last_log = 0.0
        while missing := [n for n in names if not (self.state_dir / f"{n}.json").is_file()]:
            if time.monotonic() - last_log > 60:
                logger.info("rank %d waits for stage %s", self.rank, ", ".join(missing))
                last_log = time.monotonic()
            time.sleep(2)

    def run(
        self, name: str, settings: Any, work: Callable[[], Any], *, derived: bool = False
    ) -> Any:
        """Run ``work`` unless stage ``name`` finished with the same ``settings``.

        Data stages (``derived=False``) refuse other settings than they finished with. Derived
        stages (statistics, figures, layout, card) are cheap and recomputed whenever their settings
        changed or a stage before them ran in this invocation.
        """
        marker = self.state_dir / f"{name}.json"
        fingerprint = _fingerprint(settings)
        if marker.is_file():
            done = json.loads(marker.read_text(encoding="utf-8"))
            same = done["fingerprint"] == fingerprint
            if not same and not derived:
                raise ValueError(
                    f"stage {name!r} was built with other settings ({marker}); "
                    "build into a new output folder, or delete that folder to start over"
                )
            if same and not (derived and self.ran):
                self.skipped.append(name)
                return done.get("result")
        logger.info("stage %s: running", name)
        start = time.perf_counter()
        result = work()
        record = {
            "stage": name,
            "fingerprint": fingerprint,
            "settings": settings,
            "result": result,
            "seconds": round(time.perf_counter() - start, 3),
            "gasr_hf": __version__,
        }
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        tmp.replace(marker)
        self.ran.append(name)
        return result


@dataclass(frozen=True)
class BuildResult:
    out: Path
    ran: tuple[str, ...]
    skipped: tuple[str, ...]

    @property
    def did_work(self) -> bool:
        return bool(self.ran)


def build(config: BuildConfig) -> BuildResult:
    """Run every stage of ``config`` that is not finished yet; see the module docstring."""
    from accelerate import PartialState

    from gasr_hf.analyze.stats import format_markdown, table1
    from gasr_hf.annotate import ClipConfig, annotate, ingest_folder
    from gasr_hf.annotate.segments import segment_config
    from gasr_hf.curate import config_descriptions, curate
    from gasr_hf.generate import REPORT_NAME, generate, make_sample_grid
    from gasr_hf.generate.runner import read_provenance
    from gasr_hf.prompts import build_prompts, load_corpus, save_prompts
    from gasr_hf.publish import CardInfo, add_mixture, assemble_repo, write_card, write_manifest

    state = PartialState()
    rank, world_size = state.process_index, state.num_processes
    out = Path(config.out)
    work = out / ".gasr" / "build"
    stages = _Stages(work / "stages", rank, world_size)
    if rank == 0:
        save_yaml(to_dict(config), work / "config.yaml")
    corpus = load_corpus(config.prompts.corpus)
    backend = config.generate.backend.resolved()
    prompts_dir, images_dir = work / "prompts", work / "images"
    annotated = {GENERATED: work / "annotated" / GENERATED}

    def make_prompts() -> dict:
        dataset = build_prompts(corpus, config.prompts.n, config.prompts.seed)
        provenance = {"corpus": corpus.id, "n": config.prompts.n, "seed": config.prompts.seed}
        save_prompts(dataset, prompts_dir, provenance=provenance, overwrite=True)
        return provenance

    prompt_settings = {"corpus": corpus.id, **to_dict(config.prompts)}
    if rank == 0:
        stages.run("prompts", prompt_settings, make_prompts)
    stages.wait_for(["prompts"])
    generate_settings = {
        "backend": backend.fingerprint(),
        "chunk_size": config.generate.chunk_size,
        "max_attempts": config.generate.max_attempts,
    }
    stages.run_distributed(
        "generate",
        generate_settings,
        lambda: generate(
            prompts_dir,
            images_dir,
            backend,
            chunk_size=config.generate.chunk_size,
            max_attempts=config.generate.max_attempts,
        ),
    )
    # Read from the rows, not from this run's report: a resumed or other-rank generate call may
    # have rendered nothing itself.
    provenance = read_provenance(images_dir)
    if provenance is None:
        raise ValueError(
            f"generate wrote no image into {images_dir}: every prompt failed; the errors are in "
            f"{images_dir / REPORT_NAME}"
        )
    inputs = {GENERATED: images_dir}
    for source in config.real:
        ingested = work / "ingested" / source.name
        stages.run_distributed(
            f"ingest-{source.name}",
            to_dict(source),
            lambda s=source, d=ingested: ingest_folder(
                s.folder, s.name, d, rank=rank, world_size=world_size
            ).to_dict(),
        )
        inputs[source.name] = ingested
        annotated[source.name] = work / "annotated" / source.name

    settings = config.annotate
    sam = (
        segment_config(settings.sam_checkpoint, settings.sam_model_type, settings.sam_overrides)
        if settings.sam_checkpoint
        else None
    )
    clip = ClipConfig(model=settings.clip_model, batch_size=settings.clip_batch_size)
    annotate_settings = {
        k: v
        for k, v in to_dict(settings).items()
        if k not in ("device", "batch_size", "clip_batch_size")
    }
    for name, folder in inputs.items():
        stages.run_distributed(
            f"annotate-{name}",
            annotate_settings,
            lambda src=folder, dst=annotated[name]: annotate(
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
            ).to_dict(),
        )
    if rank != 0:
        return BuildResult(out=out, ran=tuple(stages.ran), skipped=tuple(stages.skipped))

    figures = work / "figures"
    analysis = to_dict(config.analyze)

    def make_table1() -> str:
        rows = table1(
            list(annotated.values()),
            work / "stats",
            names=list(annotated),
            basis=config.analyze.basis,
        )
        return format_markdown(rows)

    table1_markdown = stages.run("stats", analysis, make_table1, derived=True)
    umap_png = None
    if config.analyze.umap:
        from gasr_hf.analyze.umap import umap_figure

        result = stages.run(
            "umap",
            analysis,
            lambda: to_dict(
                umap_figure(
                    list(annotated.values()),
                    figures / "umap",
                    names=list(annotated),
                    target=config.analyze.umap_target,
                )
            ),
            derived=True,
        )
        umap_png = Path(result["png_path"])
    samples_png = None
    if config.analyze.sample_grid:
        samples_png = figures / "samples.png"
        stages.run(
            "samples",
            analysis,
            lambda: str(
                make_sample_grid(annotated[GENERATED], samples_png, n=config.analyze.sample_grid)
            ),
            derived=True,
        )

    sources: dict[str, list[Path]] = {GENERATED: [annotated[GENERATED]]}
    for source in config.real:
        if source.config is not None:
            sources.setdefault(source.config, []).append(annotated[source.name])
    combined = {f"{GENERATED}-{name}": [GENERATED, name] for name in sources if name != GENERATED}
    layout_settings = {"sources": sorted(sources), "combined": combined}
    stages.run(
        "assemble",
        layout_settings,
        lambda: str(assemble_repo(out, sources, combined=combined or None)),
        derived=True,
    )

    curated = [
        stages.run(
            f"curate-{rule.name}",
            to_dict(rule),
            lambda r=rule: curate(out, r).to_dict(),
            derived=True,
        )
        for rule in config.curate
    ]

    card = CardInfo(
        **{
            "version": config.version,
            "corpus": corpus.id,
            "prompt_template": corpus.template,
            "base_description": corpus.base_description,
            "model": provenance["model"],
            "model_revision": provenance.get("model_revision"),
            "sampler": {
                k: v
                for k, v in (
                    to_dict(backend)
                    | {
                        "scheduler": provenance.get("scheduler"),
                        "max_attempts": config.generate.max_attempts,
                    }
                ).items()
                if v is not None
                and k
                in (
                    "width",
                    "height",
                    "steps",
                    "guidance",
                    "dtype",
                    "first_block_cache",
                    "scheduler",
                    "max_attempts",
                )
            },
            "seeds": {
                "prompts": config.prompts.seed,
                "images": "each row's seed column (seed_used after a retry)",
            },
            "table1_markdown": table1_markdown,
            "config_descriptions": config_descriptions(curated),
            "umap_figure": umap_png,
            "sample_grid": samples_png,
            "provenance": {
                "backend": provenance["backend"],
                "library_versions": provenance.get("library_versions"),
                "annotators": list(settings.annotators),
                "gasr_hf": __version__,
            },
            **config.card,
        }
    )
    card_settings = {"card": to_dict(card), "mixtures": [to_dict(m) for m in config.mixtures]}

    def make_card() -> str:
        path = write_card(out, card)
        for mixture in config.mixtures:
            add_mixture(out, mixture.name, mixture.sources, mixture.mode, replace=True)
        return str(path)

    stages.run("card", card_settings, make_card, derived=True)
    stages.run(
        "manifest",
        {"version": config.version, "card": card_settings},
        lambda: str(write_manifest(out, config.version)),
        derived=True,
    )
    if stages.ran:
        logger.info("build %s: ran %s", out, ", ".join(stages.ran))
    else:
        logger.info("build %s is complete: nothing to do", out)
    return BuildResult(out=out, ran=tuple(stages.ran), skipped=tuple(stages.skipped))
