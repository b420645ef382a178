"""The ``gasr`` command: parse arguments, then call one stage function; no logic of its own."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gasr_hf import __version__

logger = logging.getLogger("gasr_hf")

USER_ERRORS = (ValueError, OSError)
"""Reported in one line each (a bad value, a missing file, a read-only folder, a full disk) with
exit code 2; a :class:`gasr_hf.config.ConfigErrors` in one line per problem."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (exit code 2), without the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add(
    subparsers: argparse._SubParsersAction, name: str, func: Callable, help_text: str
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(func=func)
    return parser


# --- prompts and corpora -------------------------------------------------------------------------


def _cmd_prompts(args: argparse.Namespace) -> None:
    from gasr_hf.prompts import build_prompts, load_corpus, save_prompts

    corpus = load_corpus(args.corpus)
    dataset = build_prompts(corpus, args.n, args.seed)
    provenance = {"corpus": corpus.id, "n": args.n, "seed": args.seed}
    out = save_prompts(dataset, args.out, provenance=provenance, overwrite=args.overwrite)
    logger.info("wrote %d prompts of %s to %s", len(dataset), corpus.id, out)


def _cmd_corpus_expand(args: argparse.Namespace) -> None:
    from gasr_hf.prompts.expand import ExpandConfig, expand_corpus

    config = ExpandConfig(
        model=args.model,
        domain=args.domain,
        n_styles=args.n_styles,
        n_components=args.n_components,
        name=args.name,
        version=args.version,
        max_rounds=args.max_rounds,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        seed=args.seed,
        device=args.device,
    )
    corpus = expand_corpus(config, args.out)
    logger.info(
        "wrote corpus %s (%d styles, %d components) to %s",
        corpus.id,
        len(corpus.styles),
        len(corpus.components),
        args.out,
    )


def _cmd_corpus_show(args: argparse.Namespace) -> None:
    from gasr_hf.prompts import load_corpus, shipped_corpora

    if args.corpus is None:
        print("\n".join(shipped_corpora()))
        return
    corpus = load_corpus(args.corpus)
    summary = {
        "id": corpus.id,
        "domain": corpus.domain,
        "styles": len(corpus.styles),
        "components": len(corpus.components),
        "unique_prompts": corpus.num_combinations,
        "base_description": corpus.base_description,
        "template": corpus.template,
    }
    print(json.dumps(summary, indent=2))


def _add_prompt_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(sub, "prompts", _cmd_prompts, "Build the prompt dataset from a corpus.")
    p.add_argument("--corpus", default="artwork", help="shipped corpus name or YAML file")
    p.add_argument("--n", type=int, required=True, help="number of prompts")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing prompt dataset")

    corpus = sub.add_parser(
        "corpus", help="Inspect or expand corpora.", description="Inspect or expand corpora."
    )
    corpus_sub = corpus.add_subparsers(dest="corpus_command", required=True, parser_class=_Parser)
    show = _add(corpus_sub, "show", _cmd_corpus_show, "Validate and summarise a corpus.")
    show.add_argument("corpus", nargs="?", help="name or YAML file; omit to list shipped corpora")
    ex = _add(corpus_sub, "expand", _cmd_corpus_expand, "Enumerate a new corpus with a local LLM.")
    ex.add_argument("--model", required=True, help="transformers model id or local path")
    ex.add_argument("--domain", required=True, help="the target domain, in words")
    ex.add_argument("--n-styles", type=int, required=True)
    ex.add_argument("--n-components", type=int, required=True)
    ex.add_argument("--out", type=Path, required=True, help="corpus YAML to write")
    ex.add_argument("--name", default="custom", help="corpus name (default custom)")
    ex.add_argument("--version", default="1.0.0", help="corpus version (default 1.0.0)")
    ex.add_argument("--max-rounds", type=int, default=30)
    ex.add_argument("--max-new-tokens", type=int, default=768)
    ex.add_argument("--temperature", type=float, default=0.9)
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: auto)")


# --- the whole chain ----------------------------------------------------------------------------


def _cmd_build(args: argparse.Namespace) -> None:
    from gasr_hf.build import build, load_build_config, plan_build

    config = load_build_config(args.config)
    args.out = config.out  # an OSError that names no file names the output folder
    if args.dry_run:
        print("\n".join(plan_build(config).lines()))
        return
    result = build(config)
    state = "built" if result.did_work else "already complete, nothing to do"
    print(f"{result.out}: {state}")


def _add_build_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(sub, "build", _cmd_build, "Run the whole chain from one YAML config (resumable).")
    p.add_argument("--config", type=Path, required=True, help="build config YAML")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the config and print each stage as done / to run / stale; write nothing",
    )


def _locked(folder: Path, command: str, rank: int | None = None, world_size: int | None = None):
    """The output folder's lock for the whole command (see gasr_hf.lock): one writer per folder.
    ``rank`` and ``world_size`` are the command's own when it takes them and runs several."""
    from gasr_hf.lock import folder_lock

    if world_size is not None and world_size > 1:
        return folder_lock(folder, command, rank=rank, world_size=world_size)
    return folder_lock(folder, command)


# --- generation ---------------------------------------------------------------------------------


def _cmd_generate(args: argparse.Namespace) -> None:
    from gasr_hf.generate import BackendConfig, generate

    backend = BackendConfig(
        backend=args.backend,
        model=args.model,
        preset=args.preset,
        revision=args.revision,
        width=args.width,
        height=args.height,
        steps=args.steps,
        guidance=args.guidance,
        dtype=args.dtype,
        batch_size=args.batch_size,
        device=args.device,
        compile=args.compile,
        first_block_cache=args.first_block_cache,
    )
    with _locked(args.out, "generate"):
        report = generate(
            args.prompts,
            args.out,
            backend,
            chunk_size=args.chunk_size,
            max_attempts=args.max_attempts,
        )
    print(json.dumps(report, indent=2))


def _cmd_samples(args: argparse.Namespace) -> None:
    from gasr_hf.generate import make_sample_grid

    path = make_sample_grid(args.shards, args.out, n=args.n, columns=args.columns, tile=args.tile)
    logger.info("wrote %s", path)


def _add_generate_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(sub, "generate", _cmd_generate, "Render prompt rows into resumable image shards.")
    p.add_argument("--prompts", type=Path, required=True, help="prompt dataset folder")
    p.add_argument("--out", type=Path, required=True, help="output folder (a rerun resumes)")
    p.add_argument("--backend", choices=("procedural", "diffusers"), default="procedural")
    p.add_argument("--model", default=None, help="diffusers: Hub id or local pipeline folder")
    p.add_argument("--preset", default=None, help="flux-dev or sd21")
    p.add_argument("--revision", default=None, help="Hub revision of the model")
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--guidance", type=float, default=None)
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default=None)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--device", default=None, help="default: this accelerate process's device")
    p.add_argument("--chunk-size", type=int, default=256, help="rows per shard (default 256)")
    p.add_argument("--max-attempts", type=int, default=3, help="renders per row before failing")
    p.add_argument("--compile", action="store_true", help="torch.compile the denoiser")
    p.add_argument(
        "--first-block-cache",
        type=float,
        default=None,
        metavar="THRESHOLD",
        help="diffusers First Block Cache threshold, e.g. 0.08 (default off)",
    )

    p = _add(sub, "samples", _cmd_samples, "Draw a grid of sample images from shards.")
    p.add_argument("--shards", type=Path, required=True, help="folder of image shards")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--columns", type=int, default=4)
    p.add_argument("--tile", type=int, default=256, help="tile size in pixels")


# --- analysis -----------------------------------------------------------------------------------


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _cmd_ingest(args: argparse.Namespace) -> None:
    from gasr_hf.annotate import ingest_folder

    background = tuple(int(v) for v in _csv(args.alpha_background))
    if len(background) != 3:
        raise ValueError(f"--alpha-background must be R,G,B, got {args.alpha_background!r}")
    with _locked(args.out, "ingest", args.rank, args.world_size):
        report = ingest_folder(
            args.folder,
            args.name,
            args.out,
            chunk_size=args.chunk_size,
            max_pixels=args.max_pixels,
            alpha_background=background,
            rank=args.rank,
            world_size=args.world_size,
        )
    print(json.dumps(report.to_dict(), indent=2))


def _cmd_annotate(args: argparse.Namespace) -> None:
    from gasr_hf.annotate import ClipConfig, annotate
    from gasr_hf.annotate.segments import segment_config

    sam = (
        segment_config(args.sam_checkpoint, args.sam_model_type, args.sam)
        if args.sam_checkpoint
        else None
    )
    clip = ClipConfig(model=args.clip_model, batch_size=args.clip_batch_size, dtype=args.clip_dtype)
    with _locked(args.out, "annotate", args.rank, args.world_size):
        report = annotate(
            args.in_dir,
            args.out,
            annotators=_csv(args.annotators),
            sam=sam,
            clip=clip,
            chunk_size=args.chunk_size,
            batch_size=args.batch_size,
            rank=args.rank,
            world_size=args.world_size,
            device=args.device,
        )
    print(json.dumps(report.to_dict(), indent=2))


def _cmd_basis(args: argparse.Namespace) -> None:
    from gasr_hf.analyze.jpeg_quality import build_basis

    qualities = [int(q) for q in _csv(args.qualities)]
    build_basis(args.reference, args.out, qualities=qualities, name=args.name)
    logger.info("wrote the blockiness basis %r to %s", args.name, args.out)


def _cmd_stats(args: argparse.Namespace) -> None:
    from gasr_hf.analyze.stats import format_markdown, table1

    names = _csv(args.names) if args.names else None
    rows = table1(args.dirs, args.out, names=names, basis=args.basis, threshold=args.threshold)
    print(format_markdown(rows), end="")


def _cmd_umap(args: argparse.Namespace) -> None:
    from gasr_hf.analyze.umap import umap_figure

    result = umap_figure(
        args.dirs,
        args.out,
        names=_csv(args.names) if args.names else None,
        target=args.target,
        random_state=args.random_state,
        n_neighbors=args.n_neighbors,
        min_dist=args.min_dist,
        metric=args.metric,
        max_per_dataset=args.max_per_dataset,
        eps=args.eps,
    )
    logger.info("wrote %s", result.png_path)
    for name, distance in result.distances.items():
        print(f"{name}: Frechet distance to {args.target} = {distance:.4f}")


def _add_analysis_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(sub, "ingest", _cmd_ingest, "Turn an image folder into a dataset of Parquet shards.")
    p.add_argument("folder", type=Path, help="folder of images (searched recursively)")
    p.add_argument("--name", required=True, help="dataset name, stored in the source column")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--chunk-size", type=int, default=64, help="images per shard (default 64)")
    p.add_argument("--max-pixels", type=int, default=89478485, help="decompression-bomb limit")
    p.add_argument("--alpha-background", default="255,255,255", help="R,G,B behind transparency")
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--world-size", type=int, default=1)

    p = _add(sub, "annotate", _cmd_annotate, "Add annotation columns to a dataset's shards.")
    p.add_argument("in_dir", type=Path, help="folder of Parquet shards with an image column")
    p.add_argument("--out", type=Path, required=True, help="output folder (a rerun resumes)")
    p.add_argument(
        "--annotators",
        default="num_pixels,blockiness",
        help="comma list of num_pixels, blockiness, fz_segments, png_bpp, hf_energy, "
        "num_segments, clip_embedding",
    )
    p.add_argument("--sam-checkpoint", default=None, help="segment-anything checkpoint file")
    p.add_argument("--sam-model-type", default="vit_h", help="vit_h, vit_l or vit_b")
    p.add_argument(
        "--sam",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a SamAutomaticMaskGenerator parameter (repeat)",
    )
    p.add_argument("--clip-model", default="openai/clip-vit-large-patch14", help="id or path")
    p.add_argument("--clip-batch-size", type=int, default=32)
    p.add_argument("--clip-dtype", default="float32", help="float32, float16 or bfloat16")
    p.add_argument("--chunk-size", type=int, default=64, help="rows per shard")
    p.add_argument("--batch-size", type=int, default=16, help="rows per map batch")
    p.add_argument("--rank", type=int, default=0, help="this process (runs on cuda:rank)")
    p.add_argument("--world-size", type=int, default=1)
    p.add_argument("--device", default=None, help="default: cuda:{rank %% n_gpus} or cpu")

    p = _add(sub, "basis", _cmd_basis, "Build JPEG blockiness basis distributions from a folder.")
    p.add_argument("reference", type=Path, help="folder of reference images (e.g. DF2K HR)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--name", default="basis")
    p.add_argument("--qualities", default="100,95,85,75,50")

    p = _add(sub, "stats", _cmd_stats, "Table 1: #images, #pixels, blockiness, #segments, JPEG q.")
    p.add_argument("dirs", nargs="+", type=Path, help="annotated dataset folders")
    p.add_argument("--out", type=Path, required=True, help="folder for table1.{md,csv,json}")
    p.add_argument("--names", default=None, help="comma list of display names")
    p.add_argument("--basis", type=Path, default=None, help="blockiness basis folder")
    p.add_argument("--threshold", type=float, default=300.0, help="blockiness cut for the KDE")

    p = _add(sub, "umap", _cmd_umap, "UMAP of CLIP embeddings across datasets + Frechet distances.")
    p.add_argument("dirs", nargs="+", type=Path, help="annotated folders with clip_embedding")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--names", default=None, help="comma list of display names")
    p.add_argument("--target", default=None, help="dataset name to measure distances to")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--n-neighbors", type=int, default=15)
    p.add_argument("--min-dist", type=float, default=0.1)
    p.add_argument("--metric", default="euclidean")
    p.add_argument("--max-per-dataset", type=int, default=None)
    p.add_argument("--eps", type=float, default=1e-6, help="covariance regularisation")


# --- publishing ---------------------------------------------------------------------------------


def _pairs(specs: Sequence[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{what} {spec!r} must look like NAME=VALUE")
        pairs.append((key, value))
    return pairs


def _cmd_assemble(args: argparse.Namespace) -> None:
    from gasr_hf.publish import assemble_repo

    sources: dict[str, list[str]] = {}
    for config, folder in _pairs(args.source, "--source"):
        sources.setdefault(config, []).append(folder)
    combined = {name: _csv(parts) for name, parts in _pairs(args.combined, "--combined")}
    layout = assemble_repo(
        args.out, sources, combined=combined or None, default_config=args.default
    )
    logger.info("assembled %s", layout)


def _cmd_card(args: argparse.Namespace) -> None:
    from gasr_hf.publish import load_card_info, write_card

    logger.info("wrote %s", write_card(args.repo, load_card_info(args.info)))


def _cmd_manifest(args: argparse.Namespace) -> None:
    from gasr_hf.publish import write_manifest

    logger.info("wrote %s", write_manifest(args.repo, args.version))


def _cmd_verify(args: argparse.Namespace) -> int:
    from gasr_hf.publish import verify_repo

    mismatches = verify_repo(args.repo)
    for mismatch in mismatches:
        print(mismatch)
    if mismatches:
        print(f"{len(mismatches)} mismatch(es) in {args.repo}", file=sys.stderr)
        return 1
    print(f"{args.repo}: every shard matches manifest.json")
    return 0


def _cmd_push(args: argparse.Namespace) -> None:
    from gasr_hf.publish import push_repo

    result = push_repo(
        args.repo, args.repo_id, args.version, private=args.private, token=args.token
    )
    print(f"pushed {result.repo_id} at {result.commit}, tagged {result.tag}: {result.url}")


def _cmd_mix(args: argparse.Namespace) -> None:
    from gasr_hf.publish import add_mixture, parse_sources

    mixture = add_mixture(
        args.repo,
        args.name,
        parse_sources(args.source),
        args.mode,
        replace=args.replace,
        seed=args.seed,
    )
    logger.info("recorded mixture %s", mixture)


def _add_publish_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(sub, "assemble", _cmd_assemble, "Lay out stage outputs as a dataset repository.")
    p.add_argument("out", type=Path, help="repository folder")
    p.add_argument(
        "--source",
        action="append",
        required=True,
        metavar="CONFIG=DIR",
        help="a folder of shards for a config (repeat; a config may repeat)",
    )
    p.add_argument(
        "--combined",
        action="append",
        default=[],
        metavar="NAME=A,B",
        help="a config listing other configs' shards (default gasr-df2k=gasr,df2k)",
    )
    p.add_argument("--default", default="gasr", help="the default config (default gasr)")

    p = _add(sub, "card", _cmd_card, "Write the dataset card (README.md) from a card YAML.")
    p.add_argument("repo", type=Path)
    p.add_argument("--info", type=Path, required=True, help="YAML of gasr_hf.publish.CardInfo")

    p = _add(sub, "manifest", _cmd_manifest, "Write manifest.json: shards, rows, sha256.")
    p.add_argument("repo", type=Path)
    p.add_argument("--version", required=True, help="semantic version X.Y.Z")

    p = _add(sub, "verify", _cmd_verify, "Check a repository against its manifest (exit 1 if not).")
    p.add_argument("repo", type=Path)

    p = _add(sub, "push", _cmd_push, "Upload a verified repository and tag vX.Y.Z on the Hub.")
    p.add_argument("repo", type=Path)
    p.add_argument("--repo-id", required=True, help="USER/NAME on the Hub")
    p.add_argument("--version", required=True, help="must equal the manifest's version")
    p.add_argument("--private", action="store_true")
    p.add_argument("--token", default=None, help="default: the stored Hub login")

    p = _add(sub, "mix", _cmd_mix, "Record a training mixture of configs in the card.")
    p.add_argument("repo", type=Path)
    p.add_argument("--name", required=True, help="mixture name")
    p.add_argument("--source", action="append", required=True, metavar="CONFIG=WEIGHT")
    p.add_argument("--mode", choices=("probabilities", "concat"), default="probabilities")
    p.add_argument("--replace", action="store_true", help="replace a mixture of that name")
    p.add_argument("--seed", type=int, default=0, help="interleave seed (default 0)")


# --- SR data ------------------------------------------------------------------------------------


def _cmd_tile(args: argparse.Namespace) -> None:
    with _locked(args.out, "tile", args.rank, args.world_size):
        report = _tile(args)
    print(json.dumps(report.to_dict(), indent=2))


def _tile(args: argparse.Namespace) -> Any:
    from gasr_hf.sr.tile import tile_dataset

    return tile_dataset(
        args.src,
        args.out,
        args.size,
        args.step,
        image_column=args.image_column,
        keep_columns=tuple(args.keep_column),
        split=args.split,
        src_config=args.src_config,
        chunk_size=args.chunk_size,
        image_format=args.format,
        png_compression=args.png_compression,
        rank=args.rank,
        world_size=args.world_size,
        repo_dir=args.repo,
        repo_config=args.config,
    )


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(sub, "tile", _cmd_tile, "Cut HR images into overlapping sub-images (a new config).")
    p.add_argument("src", help="dataset folder, Parquet file or glob, or Hub id")
    p.add_argument("out", type=Path, help="output folder of Parquet shards")
    p.add_argument("--size", type=int, default=480, help="tile size (default 480)")
    p.add_argument("--step", type=int, default=240, help="tile step (default 240)")
    p.add_argument("--image-column", default="image")
    p.add_argument("--keep-column", action="append", default=[], help="column to copy (repeat)")
    p.add_argument("--split", default="train")
    p.add_argument("--src-config", default=None, help="config of a Hub or repo source")
    p.add_argument("--chunk-size", type=int, default=16, help="source images per shard")
    p.add_argument("--format", choices=("png", "bmp"), default="png", help="tile format")
    p.add_argument(
        "--png-compression", type=int, default=0, help="PNG level 0-9 (default 0: fastest decode)"
    )
    p.add_argument("--repo", type=Path, default=None, help="also add the tiles to this repository")
    p.add_argument("--config", default=None, help="config name of the tiles in --repo")
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--world-size", type=int, default=1)


# --- SR training ----------------------------------------------------------------------------------


def _cmd_train(args: argparse.Namespace) -> None:
    from gasr_hf.sr.train import load_train_config, train

    config = load_train_config(
        args.config, args.overrides, max_steps=args.max_steps, smoke=args.smoke
    )
    with _locked(Path(config.output_dir), "train"):
        result = train(config, resume=args.resume)
    print(f"trained {result.steps} steps; EMA weights: {result.ema_weights}")


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of a training run, shared by ``gasr train`` and ``examples/train_sr.py``."""
    parser.add_argument("--config", type=Path, required=True, help="recipe YAML, e.g. hat_x4.yaml")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after N optimizer steps")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe key with a YAML value (dotted keys reach into model_args; repeat)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny model, small crops, 20 steps, no workers: a CPU check of the recipe",
    )
    parser.add_argument(
        "--resume",
        default=None,
        help="'latest' (newest checkpoint in output_dir, if any) or a checkpoint-N folder; "
        "without it, an output_dir that already holds checkpoints is refused",
    )
    return parser


def _add_train_commands(sub: argparse._SubParsersAction) -> None:
    add_train_arguments(
        _add(sub, "train", _cmd_train, "Train an SR model, one process (examples/train_sr.py).")
    )


# --- SR evaluation --------------------------------------------------------------------------------


def _cmd_eval(args: argparse.Namespace) -> None:
    with _locked(args.out, "eval"):
        report = _evaluate(args)
    print(report.to_markdown())


def _evaluate(args: argparse.Namespace) -> Any:
    from gasr_hf.sr.evaluate import evaluate_model

    return evaluate_model(
        args.model,
        args.bench,
        args.bench_root,
        args.scale,
        args.out,
        tile=args.tile,
        tile_pad=args.tile_pad,
        self_ensemble=args.self_ensemble,
        y_uint8=args.y_uint8,
        training_dataset=args.training_dataset,
        num_train_images=args.num_train_images,
        name=args.name,
        device=args.device,
        save_images=args.save_images,
        lr_root=args.lr_root,
        gray_as_gray=args.gray_as_gray,
    )


def _cmd_upscale(args: argparse.Namespace) -> None:
    from gasr_hf.sr.upscale import upscale

    report = upscale(
        args.model,
        args.inputs,
        args.out,
        tile=args.tile,
        tile_pad=args.tile_pad,
        dtype=args.dtype,
        device=args.device,
    )
    print(
        f"{len(report.written)} written, {len(report.skipped)} already done, "
        f"{len(report.failed)} failed -> {report.out_dir}"
    )
    for name, why in report.failed.items():
        print(f"  failed: {name}: {why}")


def _cmd_eval_merge(args: argparse.Namespace) -> None:
    from gasr_hf.sr.evaluate import merge_reports

    print(merge_reports(args.reports, args.out).to_markdown())


def _add_eval_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(sub, "eval", _cmd_eval, "Score an SR model (or bicubic) on benchmarks: Table 2.")
    p.add_argument(
        "--model", required=True, help="'bicubic' or a checkpoint file spandrel recognises"
    )
    p.add_argument("--bench", nargs="+", required=True, help="benchmark names, e.g. Set14 Urban100")
    p.add_argument("--bench-root", type=Path, default=None, help="folder holding the benchmarks")
    p.add_argument("--scale", type=int, default=None, help="needed for bicubic; else read")
    p.add_argument("--out", type=Path, required=True, help="report folder (a rerun resumes)")
    p.add_argument("--tile", type=int, default=None, help="tile size in LR pixels (default: none)")
    p.add_argument("--tile-pad", type=int, default=32, help="overlap of tiles (default 32)")
    p.add_argument("--self-ensemble", action="store_true", help="x8 flip/rotation ensemble")
    p.add_argument("--y-uint8", action="store_true", help="round Y to uint8 as older code did")
    p.add_argument("--training-dataset", default="", help="the report's training dataset column")
    p.add_argument("--num-train-images", type=int, default=None, help="the report's #Images")
    p.add_argument("--name", default=None, help="model name in the report")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--save-images", action="store_true", help="also write the SR PNGs")
    p.add_argument(
        "--lr-root",
        type=Path,
        default=None,
        help="score on given LR files (LR_ROOT/<bench>/, or LR_ROOT for one bench) instead of "
        "bicubic LR made from HR",
    )
    p.add_argument(
        "--gray-as-gray",
        action="store_true",
        help="score one-channel images on their gray values (as MATLAB scripts do), not on Y",
    )
    u = _add(sub, "upscale", _cmd_upscale, "Apply an SR model to an image or a folder of images.")
    u.add_argument("--model", required=True, help="a checkpoint file spandrel recognises")
    u.add_argument("--in", dest="inputs", type=Path, required=True, help="an image or a folder")
    u.add_argument("--out", type=Path, required=True, help="output folder (a rerun resumes)")
    u.add_argument("--tile", type=int, default=None, help="tile size in LR pixels (default: none)")
    u.add_argument("--tile-pad", type=int, default=32, help="overlap of tiles (default 32)")
    u.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default="fp32")
    u.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    m = _add(sub, "eval-merge", _cmd_eval_merge, "Merge several eval reports into one table.")
    m.add_argument("reports", nargs="+", type=Path, help="report.json files or their folders")
    m.add_argument("--out", type=Path, required=True, help="folder for the merged report")


# --- experiments ----------------------------------------------------------------------------------


def _cmd_experiment(args: argparse.Namespace) -> None:
    from gasr_hf.experiment import load_experiment_config, plan_runs, run_experiment

    config = load_experiment_config(
        args.config, out=args.out, bench_root=args.bench_root, benches=args.bench or ()
    )
    if args.dry_run:
        for run in plan_runs(config, str(args.config)):
            state = "done" if (run.folder / "result.json").is_file() else "to run"
            print(f"{run.key}: {state} ({run.train.max_steps} steps) -> {run.folder}")
        return
    result = run_experiment(config, source=str(args.config))
    if result.report is None:
        print(f"{result.finished} of {result.runs} runs finished; the report follows the last")
    else:
        print(result.report.with_name("report.md").read_text(encoding="utf-8"))


def _add_experiment_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(
        sub,
        "experiment",
        _cmd_experiment,
        "Train one recipe on several training sets x seeds, score, and compare with a baseline.",
    )
    p.add_argument("--config", type=Path, required=True, help="experiment YAML")
    p.add_argument("--out", type=Path, default=None, help="output folder (replaces the config's)")
    p.add_argument("--bench-root", type=Path, default=None, help="folder holding the benchmarks")
    p.add_argument("--bench", nargs="+", default=None, help="benchmarks (replace the config's)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and their state")


# --- curation -------------------------------------------------------------------------------------


def _cmd_curate(args: argparse.Namespace) -> None:
    from gasr_hf.curate import CurateRule, curate

    minimums = {}
    for column, value in _pairs(args.min, "--min"):
        try:
            minimums[column] = float(value)
        except ValueError as err:
            raise ValueError(f"--min {column}={value!r}: the value must be a number") from err
    rule = CurateRule(
        name=args.name,
        source=args.source,
        max_blockiness=args.max_blockiness,
        min_columns=minimums,
        dedupe_bits=args.dedupe_bits,
        target=args.target,
        target_neighbours=args.neighbours,
        random=args.random,
        keep=args.keep,
        seed=args.seed,
    )
    print(json.dumps(curate(args.repo, rule).to_dict(), indent=2))


def _add_curate_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(sub, "curate", _cmd_curate, "Select rows of a config by annotations (a new config).")
    p.add_argument("repo", type=Path, help="dataset repository (gasr build / gasr assemble)")
    p.add_argument("--name", required=True, help="name of the new config")
    p.add_argument("--source", default="gasr", help="config to select from (default gasr)")
    p.add_argument("--max-blockiness", type=float, default=None, help="blockiness gate")
    p.add_argument("--min", action="append", default=[], help="COLUMN=VALUE floor (repeat)")
    p.add_argument("--dedupe-bits", type=int, default=0, help="pHash near-duplicate distance")
    p.add_argument("--target", type=Path, default=None, help="image folder to select toward")
    p.add_argument("--neighbours", type=int, default=5, help="target images each row is scored by")
    p.add_argument("--random", action="store_true", help="a random --keep rows (the baseline)")
    p.add_argument("--keep", type=int, default=None, help="rows to keep after the gates")
    p.add_argument("--seed", type=int, default=0, help="seed of --random")


# --- the parser and the entry point -------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gasr",
        description="Build artwork-style synthetic SR training data as Hugging Face datasets, "
        "and train and evaluate SR models on it.",
    )
    parser.add_argument("--version", action="version", version=f"gasr_hf {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_prompt_commands(sub)
    _add_build_commands(sub)
    _add_generate_commands(sub)
    _add_analysis_commands(sub)
    _add_publish_commands(sub)
    _add_data_commands(sub)
    _add_train_commands(sub)
    _add_eval_commands(sub)
    _add_experiment_commands(sub)
    _add_curate_commands(sub)
    return parser


def _error_lines(err: Exception, args: argparse.Namespace) -> list[str]:
    """One line per problem; an OSError that names no file (a full disk) names the command's
    output folder or input instead, unless its message does."""
    if isinstance(err, OSError) and err.filename is None:
        where = next(
            (getattr(args, k) for k in ("out", "repo", "config") if getattr(args, k, None)), None
        )
        return [f"{err} (in {where})" if where and str(where) not in str(err) else str(err)]
    return getattr(err, "problems", None) or [str(err)]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        code = args.func(args)
    except USER_ERRORS as err:
        for problem in _error_lines(err, args):
            print(f"gasr {args.command}: error: {' '.join(problem.split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gasr {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``gasr ... | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
