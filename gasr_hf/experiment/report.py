"""The experiment's report: ``report.json``, ``report.csv``, ``report.md`` and two figures.

``report.json`` is ``{"baseline": NAME, "sets": [...]}``; each set has ``name``, ``recipe``,
``num_images``, ``seeds`` and, per benchmark, ``psnr_mean``, ``psnr_std``, ``ssim_mean``,
``ssim_std`` and ``per_seed``; every set but the baseline also has ``delta_psnr``, ``ci95``,
``seeds_positive`` and ``verdict`` (:mod:`gasr_hf.experiment.stats`). The scores are those of the
exported EMA weights, computed as ``gasr eval`` computes them.
"""

from __future__ import annotations

import csv
import glob
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gasr_hf.experiment.config import ExperimentConfig, Run
from gasr_hf.experiment.stats import paired_delta
from gasr_hf.files import write_json_atomic, write_text_atomic
from gasr_hf.sr.train import LOG_FILE, SourceConfig

FORMAT = "gasr_hf.experiment/1"


def count_images(sources: Sequence[SourceConfig]) -> int | None:
    """Images in the sources' Parquet files (our layout or globs): rows, or for tiles
    (``gasr tile``) the distinct source images they were cut from; None for other sources."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    total = 0
    for source in sources:
        folder = Path(source.path) / "data" / (source.config or "")
        if source.config and folder.is_dir():
            files = sorted(folder.glob(f"{source.split}-*.parquet"))
        elif source.path.endswith(".parquet") or any(c in source.path for c in "*?["):
            files = [Path(f) for f in sorted(glob.glob(source.path))]
        else:
            return None
        cut_from: set[int] = set()
        if files and "source_row" in pq.read_schema(files[0]).names:
            for f in files:
                column = pq.read_table(f, columns=["source_row"]).column(0)
                cut_from.update(pc.drop_null(column).to_pylist())
        # A repository shares one schema across configs: untiled rows hold a null source_row.
        total += len(cut_from) or sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return total


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _bench_entry(
    config: ExperimentConfig,
    bench: str,
    mine: Sequence[Mapping[str, Any]],
    base: Sequence[Mapping[str, Any]] | None,
    where: str,
) -> dict[str, Any]:
    """One set's scores on ``bench`` (runs in seed order), paired with the baseline's if given."""
    psnr = [r["benches"][bench]["psnr"] for r in mine]
    ssim = [r["benches"][bench]["ssim"] for r in mine]
    entry: dict[str, Any] = {
        "psnr_mean": float(np.mean(psnr)),
        "psnr_std": _std(psnr),
        "ssim_mean": float(np.mean(ssim)),
        "ssim_std": _std(ssim),
        "per_seed": [
            {"seed": r["seed"], "psnr": p, "ssim": s}
            for r, p, s in zip(mine, psnr, ssim, strict=True)
        ],
    }
    if base is None:
        return entry
    images = sorted(base[0]["benches"][bench]["per_image"])
    deltas = []
    for run, ref in zip(mine, base, strict=True):
        ours, theirs = run["benches"][bench]["per_image"], ref["benches"][bench]["per_image"]
        if sorted(ours) != images or sorted(theirs) != images:
            raise ValueError(
                f"{where}: seed {run['seed']} and the baseline were scored on different images "
                f"of {bench}; delete the runs' eval folders to rescore them"
            )
        deltas.append([ours[i][0] - theirs[i][0] for i in images])
    stats = paired_delta(
        np.array(deltas), samples=config.bootstrap_samples, seed=config.bootstrap_seed
    )
    for seed_entry, delta in zip(entry["per_seed"], stats.per_seed, strict=True):
        seed_entry["delta_psnr"] = delta
    per_image = np.array(deltas).mean(axis=0)
    entry |= {
        "delta_psnr": stats.delta,
        "ci95": list(stats.ci95),
        "seeds_positive": stats.seeds_positive,
        "verdict": stats.verdict,
        "per_image_delta": dict(zip(images, per_image.tolist(), strict=True)),
    }
    return entry


def build_report(
    config: ExperimentConfig, runs: Sequence[Run], results: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The ``report.json`` data from finished runs' results."""
    by_key = {(r.recipe, r.set, r.seed): results[r.key] for r in runs}
    recipes = list(dict.fromkeys(r.recipe for r in runs))
    seeds = list(config.seeds)
    sets = []
    for recipe in recipes:
        base = [by_key[(recipe, config.baseline, s)] for s in seeds]
        for training_set in config.sets:
            mine = [by_key[(recipe, training_set.name, s)] for s in seeds]
            is_base = training_set.name == config.baseline
            where = f"recipe {recipe}, set {training_set.name}"
            sets.append(
                {
                    "name": training_set.name,
                    "recipe": recipe,
                    "model": mine[0]["model"],
                    "num_images": count_images(training_set.train_sources(config.data_dir)),
                    "seeds": seeds,
                    "steps": mine[0]["steps"],
                    "train_seconds": sum(r["seconds"]["train"] for r in mine),
                    "benchmarks": {
                        bench: _bench_entry(config, bench, mine, None if is_base else base, where)
                        for bench in config.benches
                    },
                }
            )
    return {
        "format": FORMAT,
        "name": config.name,
        "baseline": config.baseline,
        "weights": "EMA (exported), scored as gasr eval: PSNR/SSIM on Y, border = scale",
        "benches": list(config.benches),
        "bootstrap": {"samples": config.bootstrap_samples, "seed": config.bootstrap_seed},
        "sets": sets,
    }


def _fmt_ci(ci: Sequence[float]) -> str:
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"


def to_markdown(report: Mapping[str, Any]) -> str:
    """A summary table (delta to the baseline per benchmark) and one table per benchmark."""
    benches = report["benches"]
    seeds = report["sets"][0]["seeds"]
    lines = [
        f"## Experiment {report['name']}: baseline `{report['baseline']}`, seeds {seeds}",
        "",
        f"Scores of the {report['weights']}. Delta: mean PSNR difference to the baseline, paired "
        "by seed and image; 95% bootstrap interval over seeds and images; verdict `better` / "
        "`worse` only when the interval excludes 0 and every seed agrees.",
        "",
        "Training: "
        + "; ".join(
            f"{e['recipe']} on {e['name']} {e['train_seconds'] / 60:.1f} min"
            for e in report["sets"]
        )
        + f" (all seeds, {report['sets'][0]['steps']} steps a run).",
        "",
        "| Recipe | Set | #Images | " + " | ".join(f"{b} ΔPSNR (dB)" for b in benches) + " |",
        "|---|---|---:|" + "---|" * len(benches),
    ]
    for entry in report["sets"]:
        cells = []
        for bench in benches:
            b = entry["benchmarks"][bench]
            if "delta_psnr" not in b:
                cells.append(f"baseline: {b['psnr_mean']:.3f}")
            else:
                cells.append(
                    f"{b['delta_psnr']:+.3f} {_fmt_ci(b['ci95'])}, "
                    f"{b['seeds_positive']}/{len(seeds)} seeds > 0, **{b['verdict']}**"
                )
        images = "–" if entry["num_images"] is None else str(entry["num_images"])
        lines.append(
            f"| {entry['recipe']} | {entry['name']} | {images} | " + " | ".join(cells) + " |"
        )
    for bench in benches:
        lines += [
            "",
            f"### {bench}",
            "",
            "| Recipe | Set | PSNR (dB) | SSIM | per seed PSNR | ΔPSNR | 95% CI | seeds > 0 "
            "| verdict |",
            "|---|---|---:|---:|---|---:|---|---:|---|",
        ]
        for entry in report["sets"]:
            b = entry["benchmarks"][bench]
            per_seed = ", ".join(f"{s['psnr']:.3f}" for s in b["per_seed"])
            delta = (
                [
                    f"{b['delta_psnr']:+.3f}",
                    _fmt_ci(b["ci95"]),
                    str(b["seeds_positive"]),
                    b["verdict"],
                ]
                if "delta_psnr" in b
                else ["–", "–", "–", "baseline"]
            )
            lines.append(
                f"| {entry['recipe']} | {entry['name']} | {b['psnr_mean']:.3f} ± "
                f"{b['psnr_std']:.3f} | {b['ssim_mean']:.4f} ± {b['ssim_std']:.4f} | {per_seed} | "
                + " | ".join(delta)
                + " |"
            )
    return "\n".join(lines) + "\n"


def to_csv(report: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    seeds = report["sets"][0]["seeds"]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["recipe", "set", "num_images", "bench", "psnr_mean", "psnr_std", "ssim_mean", "ssim_std"]
        + [f"psnr_seed_{s}" for s in seeds]
        + ["delta_psnr", "ci95_lo", "ci95_hi", "seeds_positive", "verdict"]
    )
    for entry in report["sets"]:
        for bench, b in entry["benchmarks"].items():
            delta = (
                [b["delta_psnr"], *b["ci95"], b["seeds_positive"], b["verdict"]]
                if "delta_psnr" in b
                else ["", "", "", "", "baseline"]
            )
            writer.writerow(
                [entry["recipe"], entry["name"], entry["num_images"], bench]
                + [b["psnr_mean"], b["psnr_std"], b["ssim_mean"], b["ssim_std"]]
                + [s["psnr"] for s in b["per_seed"]]
                + delta
            )
    return buffer.getvalue()


def _curves(run: Run) -> dict[str, list[tuple[int, float]]]:
    """``val/<bench>/psnr`` and ``val_raw/<bench>/psnr`` against the step, from the train log."""
    path = run.train.output_dir / LOG_FILE
    curves: dict[str, list[tuple[int, float]]] = {}
    if not path.is_file():
        return curves
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        for key, value in record.items():
            if key.startswith(("val/", "val_raw/")) and key.endswith("/psnr"):
                curves.setdefault(key, []).append((record["step"], value))
    return curves


def plot_curves(config: ExperimentConfig, runs: Sequence[Run], path: Path) -> Path | None:
    """PSNR of the validation sets against the step: per set the mean over seeds (EMA solid, raw
    dashed), one panel per recipe and validation set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {run.key: _curves(run) for run in runs}
    names = sorted({k.split("/")[1] for c in curves.values() for k in c})
    if not names:
        return None
    recipes = list(dict.fromkeys(r.recipe for r in runs))
    fig, axes = plt.subplots(
        len(recipes), len(names), figsize=(4.2 * len(names), 3.4 * len(recipes)), squeeze=False
    )
    for row, recipe in enumerate(recipes):
        for col, bench in enumerate(names):
            ax = axes[row][col]
            for index, training_set in enumerate(config.sets):
                mine = [r for r in runs if r.recipe == recipe and r.set == training_set.name]
                for kind, style in (("val", "-"), ("val_raw", "--")):
                    series = [dict(curves[r.key].get(f"{kind}/{bench}/psnr", [])) for r in mine]
                    steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
                    if steps:
                        mean = [np.mean([s[t] for s in series]) for t in steps]
                        label = training_set.name + (" (raw)" if kind == "val_raw" else "")
                        ax.plot(steps, mean, style, color=f"C{index}", label=label)
            ax.set_title(f"{recipe}: {bench}")
            ax.set_xlabel("step")
            ax.set_ylabel("PSNR on Y (dB)")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_gains(report: Mapping[str, Any], path: Path) -> Path | None:
    """Each set's per-image PSNR gain over the baseline (mean over seeds), sorted, per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [e for e in report["sets"] if e["name"] != report["baseline"]]
    if not entries:
        return None
    benches = report["benches"]
    fig, axes = plt.subplots(
        len(entries), len(benches), figsize=(4 * len(benches), 2.8 * len(entries)), squeeze=False
    )
    for row, entry in enumerate(entries):
        for col, bench in enumerate(benches):
            b = entry["benchmarks"][bench]
            gains = np.sort(np.array(list(b["per_image_delta"].values())))
            ax = axes[row][col]
            ax.bar(range(len(gains)), gains, color=np.where(gains >= 0, "C2", "C3"), width=1.0)
            ax.axhline(0, color="black", linewidth=0.8)
            ax.axhline(b["delta_psnr"], color="C0", linestyle="--", linewidth=0.8)
            ax.set_title(
                f"{entry['recipe']} {entry['name']} on {bench}\n"
                f"Δ {b['delta_psnr']:+.3f} dB ({b['verdict']})",
                fontsize=9,
            )
            ax.set_xlabel("images, sorted by gain")
            ax.set_ylabel("ΔPSNR (dB)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(
    config: ExperimentConfig,
    runs: Sequence[Run],
    results: Mapping[str, Mapping[str, Any]],
    *,
    tmp_tag: str = "",
) -> dict[str, Path]:
    """Write ``report.{json,csv,md}``, ``psnr_vs_step.png`` and ``per_image_gain.png`` to
    ``config.out``."""
    out = Path(config.out)
    report = build_report(config, runs, results)
    figures = {
        "curves": plot_curves(config, runs, out / "psnr_vs_step.png"),
        "gains": plot_gains(report, out / "per_image_gain.png"),
    }
    markdown = to_markdown(report)
    for label, figure in figures.items():
        if figure is not None:
            markdown += f"\n![{label}]({figure.name})\n"
    paths = {
        "json": write_json_atomic(out / "report.json", report, tmp_tag=tmp_tag),
        "csv": write_text_atomic(out / "report.csv", to_csv(report), tmp_tag=tmp_tag),
        "md": write_text_atomic(out / "report.md", markdown, tmp_tag=tmp_tag),
    }
    return {**paths, **{k: v for k, v in figures.items() if v is not None}}
