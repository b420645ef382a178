"""Does `gasr curate`'s domain targeting pick a domain or particular pages? Split the target folder
in random halves and compare the subsets each half selects from the same pool.

The rows are those the rule's gates keep (blockiness, column floors, near-duplicates); each half of the
target folder then selects ``keep`` of them by the rule's targeting. If the two halves of a split pick
mostly the same rows, and leaving out any single target image changes little, the selection follows
the folder's distribution, not its individual images. Prints the overlaps against what two random
subsets of the same size share by chance.

    python examples/curation_split_half.py --experiment examples/experiments/cpu_table3.yaml \\
        --rule gasr-curated [--splits 50]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
from pathlib import Path
from typing import Any

from gasr_hf.config import from_dict, load_yaml
from gasr_hf.curate import (
    FEATURES,
    CurateRule,
    _folder_features,
    _images,
    _load,
    _nearest_to_target,
    row_features,
    select_rows,
)


def _summary(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f} [{min(values):.3f}, {max(values):.3f}]"


def split_half(data: Path, rule: CurateRule, splits: int, seed: int = 0) -> dict[str, Any]:
    """The overlaps of :func:`main`'s table, and the feature means, for ``rule`` on config
    ``rule.source`` of the repository ``data``."""
    if rule.target is None or rule.keep is None:
        raise ValueError(f"curate rule {rule.name!r} does not target a folder with a keep count")
    table = _load(data, rule.source)
    kept, removed = select_rows(table, dataclasses.replace(rule, target=None, keep=None))
    if rule.keep > len(kept):
        raise ValueError(f"curate rule {rule.name!r}: keep={rule.keep}, the gates keep {len(kept)}")
    pool_features = row_features(_images(table), kept)
    target = _folder_features(Path(rule.target))
    pages = len(target)
    if pages < 2:
        raise ValueError(f"target folder {rule.target} holds {pages} image: nothing to split")

    def pick(rows: list[int]) -> set[int]:
        return set(
            _nearest_to_target(pool_features, target[rows], rule.keep, rule.target_neighbours)
        )

    full = pick(list(range(pages)))
    rng = random.Random(seed)
    halves, with_full, chance = [], [], []
    for _ in range(splits):
        order = rng.sample(range(pages), pages)
        a, b = pick(order[: pages // 2]), pick(order[pages // 2 :])
        halves.append(len(a & b) / rule.keep)
        with_full.append(len(a & full) / rule.keep)
        x, y = rng.sample(range(len(kept)), rule.keep), rng.sample(range(len(kept)), rule.keep)
        chance.append(len(set(x) & set(y)) / rule.keep)
    leave_one_out = [
        len(pick([p for p in range(pages) if p != left]) & full) / rule.keep
        for left in range(pages)
    ]
    chosen = pool_features[sorted(full)]
    return {
        "rows": table.num_rows,
        "kept": len(kept),
        "removed": removed,
        "pages": pages,
        "halves": halves,
        "with_full": with_full,
        "leave_one_out": leave_one_out,
        "chance": chance,
        "features": {
            name: (pool_features[:, k].mean(), chosen[:, k].mean(), target[:, k].mean())
            for k, name in enumerate(FEATURES)
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", required=True, help="an experiment YAML with data.curate")
    parser.add_argument("--rule", required=True, help="the name of a targeting curate rule in it")
    parser.add_argument("--data", help="its built data folder (default: <experiment out>/data)")
    parser.add_argument("--splits", type=int, default=50, help="random half splits (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    experiment = load_yaml(args.experiment)
    rules = {r["name"]: r for r in (experiment.get("data") or {}).get("curate") or ()}
    if args.rule not in rules:
        raise SystemExit(f"{args.experiment}: no curate rule {args.rule!r}; has {sorted(rules)}")
    rule = from_dict(CurateRule, rules[args.rule], source=f"{args.experiment} ({args.rule})")
    data = Path(args.data or Path(experiment["out"]) / "data")
    result = split_half(data, rule, args.splits, args.seed)

    print(
        f"{rule.source}: {result['rows']} rows, the gates keep {result['kept']} "
        f"({result['removed']}); each selection keeps {rule.keep}; target {rule.target}: "
        f"{result['pages']} images"
    )
    print(f"share of rows in common, {args.splits} random half splits, mean ± sd [min, max]")
    print("| comparison | share in common |")
    print("|---|---|")
    print(f"| half A vs half B (disjoint targets) | {_summary(result['halves'])} |")
    print(f"| half A vs the whole folder | {_summary(result['with_full'])} |")
    print(
        f"| the whole folder less one image vs the whole ({result['pages']} cases) | "
        f"{_summary(result['leave_one_out'])} |"
    )
    print(f"| two random subsets of the same size (chance) | {_summary(result['chance'])} |")
    print("\nfeature means: the gated pool, the whole folder's selection, the target folder")
    print("| feature | pool | selected | target |")
    print("|---|---:|---:|---:|")
    for name, means in result["features"].items():
        print(f"| {name} | " + " | ".join(f"{m:.3f}" for m in means) + " |")


if __name__ == "__main__":
    main()
