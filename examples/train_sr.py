"""Train an SR model on GASR data with a recipe from examples/configs.

    accelerate launch examples/train_sr.py --config examples/configs/hat_x4.yaml
    accelerate launch examples/train_sr.py --config examples/configs/hat_x4.yaml --resume latest
    python examples/train_sr.py --config examples/configs/rcan_x4.yaml --smoke \\
        --set "sources=[{path: out/gasr, config: gasr}]" --set val_root=data/benchmarks

The loop itself is ``gasr_hf.sr.train.train``; ``gasr train`` runs the same function.
"""

from __future__ import annotations

import argparse
import logging


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from gasr_hf.cli import add_train_arguments

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    return add_train_arguments(parser).parse_args(argv)


def main(args: argparse.Namespace) -> None:
    from gasr_hf.lock import folder_lock
    from gasr_hf.sr.train import load_train_config, train

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    config = load_train_config(
        args.config, args.overrides, max_steps=args.max_steps, smoke=args.smoke
    )
    with folder_lock(config.output_dir, "train"):  # shared by the ranks of this launch
        train(config, resume=args.resume)


if __name__ == "__main__":
    main(parse_args())
