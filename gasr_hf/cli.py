"""The ``gasr`` command: parse arguments, then call one stage function; no logic of its own."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gasr_hf import __version__

logger = logging.getLogger("gasr_hf")

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError)


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


# --- SR data ------------------------------------------------------------------------------------


def _cmd_tile(args: argparse.Namespace) -> None:
    from gasr_hf.sr.tile import tile_dataset

    report = tile_dataset(
        args.src,
        args.out,
        args.size,
        args.step,
        image_column=args.image_column,
        keep_columns=tuple(args.keep_column),
        split=args.split,
        chunk_size=args.chunk_size,
        png_compression=args.png_compression,
        rank=args.rank,
        world_size=args.world_size,
    )
    print(json.dumps(report.to_dict(), indent=2))


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    p = _add(sub, "tile", _cmd_tile, "Cut HR images into overlapping sub-images (a new config).")
    p.add_argument("src", help="dataset folder, Parquet file or glob, or Hub id")
    p.add_argument("out", type=Path, help="output folder of Parquet shards")
    p.add_argument("--size", type=int, default=480, help="tile size (default 480)")
    p.add_argument("--step", type=int, default=240, help="tile step (default 240)")
    p.add_argument("--image-column", default="image")
    p.add_argument("--keep-column", action="append", default=[], help="column to copy (repeat)")
    p.add_argument("--split", default="train")
    p.add_argument("--chunk-size", type=int, default=16, help="source images per shard")
    p.add_argument("--png-compression", type=int, default=3, help="PNG level 0-9 (default 3)")
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--world-size", type=int, default=1)


# --- SR evaluation --------------------------------------------------------------------------------


def _cmd_eval(args: argparse.Namespace) -> None:
    from gasr_hf.sr.evaluate import evaluate_model

    report = evaluate_model(
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
    )
    print(report.to_markdown())


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
    m = _add(sub, "eval-merge", _cmd_eval_merge, "Merge several eval reports into one table.")
    m.add_argument("reports", nargs="+", type=Path, help="report.json files or their folders")
    m.add_argument("--out", type=Path, required=True, help="folder for the merged report")


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
    _add_data_commands(sub)
    _add_eval_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        args.func(args)
    except USER_ERRORS as err:
        message = " ".join(str(err).split())
        print(f"gasr {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gasr {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``gasr ... | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
