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
