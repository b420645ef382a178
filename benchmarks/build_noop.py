"""Benchmark: the no-op rerun of a finished ``make run`` build (examples/configs/offline.yaml).

Builds the offline config once into a work folder, then reruns ``gasr build`` on it in fresh
interpreters and prints wall seconds (median of ``--repeats``) against two baselines measured in the
same run: a bare interpreter that imports only the CLI, and one that imports ``accelerate`` (which
the build imported before the planner read the rank from the launcher's environment). Also lists the
heaviest modules the no-op rerun imports (``python -X importtime``).

Usage: python benchmarks/build_noop.py [--repeats 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

OFFLINE = Path(__file__).resolve().parent.parent / "examples" / "configs" / "offline.yaml"


def wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def heaviest_imports(command: list[str], env: dict[str, str], top: int = 5) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:]],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
            if cumulative.isdigit() and not name.startswith(" "):
                rows.append((int(cumulative), name))
    return [f"{name} {us / 1e3:.0f} ms" for us, name in sorted(rows, reverse=True)[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gasr-noop-"))
    config = yaml.safe_load(OFFLINE.read_text(encoding="utf-8"))
    config["out"] = str(workdir / "out")
    config_path = workdir / "offline.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    gasr = [sys.executable, "-m", "gasr_hf.cli", "build", "--config", str(config_path)]

    first = wall(gasr, env)
    cases = {
        "interpreter + `import gasr_hf.cli` (baseline)": [
            sys.executable,
            "-c",
            "import gasr_hf.cli",
        ],
        "interpreter + `import accelerate`": [sys.executable, "-c", "import accelerate"],
        "`gasr build` no-op rerun": gasr,
    }
    times = {
        name: statistics.median(wall(command, env) for _ in range(args.repeats))
        for name, command in cases.items()
    }
    baseline = times["interpreter + `import gasr_hf.cli` (baseline)"]
    print(f"first build of {OFFLINE.name}: {first:.1f} s wall; {os.cpu_count()} CPUs")
    print(f"\n| run (median of {args.repeats}) | wall s | vs baseline |")
    print("|---|---:|---:|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.2f} | {seconds / baseline:.2f}x |")
    print("\nheaviest imports of the no-op rerun: " + ", ".join(heaviest_imports(gasr, env)))


if __name__ == "__main__":
    main()
