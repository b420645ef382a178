"""Benchmark: assemble_repo (pyarrow, row group by row group) against a datasets-based rewrite
(Dataset.from_parquet -> add null columns -> cast -> to_parquet), on 1024x1024 PNG shards.

Each method runs in its own Python process; the table shows wall time, throughput and the
process's peak RSS. Usage: python benchmarks/publish.py [--images N] [--workdir DIR]
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_sources(root: Path, per_source: int) -> dict[str, list[str]]:
    import datasets

    rng = np.random.default_rng(0)

    def png(i: int) -> bytes:
        # smooth gradient + noise: compresses like a detailed artwork (about 1.5-2 MB per image)
        y, x = np.mgrid[0:1024, 0:1024]
        base = ((x + y + i * 7) % 256).astype(np.uint8)
        noise = rng.integers(0, 64, (1024, 1024, 3), dtype=np.uint8)
        pixels = (base[..., None] // 2 + noise).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        return buffer.getvalue()

    gen = datasets.Features(
        {
            "image": datasets.Image(),
            "width": datasets.Value("int32"),
            "height": datasets.Value("int32"),
            "prompt": datasets.Value("string"),
            "seed": datasets.Value("int64"),
        }
    )
    ing = datasets.Features(
        {
            "image": datasets.Image(),
            "file_name": datasets.Value("string"),
            "width": datasets.Value("int32"),
            "height": datasets.Value("int32"),
            "source": datasets.Value("string"),
        }
    )
    half = per_source // 2
    for shard in range(2):
        rows = range(shard * half, (shard + 1) * half)
        datasets.Dataset.from_dict(
            {
                "image": [{"bytes": png(i), "path": None} for i in rows],
                "width": [1024] * half,
                "height": [1024] * half,
                "prompt": [f"prompt {i}" for i in rows],
                "seed": list(rows),
            },
            features=gen,
        ).to_parquet(str(root / "gen" / f"train-{shard:05d}.parquet"))
        datasets.Dataset.from_dict(
            {
                "image": [{"bytes": png(1000 + i), "path": f"{i}.png"} for i in rows],
                "file_name": [f"{i}.png" for i in rows],
                "width": [1024] * half,
                "height": [1024] * half,
                "source": ["div2k"] * half,
            },
            features=ing,
        ).to_parquet(str(root / "div2k" / f"train-{shard:05d}.parquet"))
    return {"gasr": [str(root / "gen")], "df2k": [str(root / "div2k")]}


ASSEMBLE = """
import json, sys
from gasr_hf.publish import assemble_repo
assemble_repo(sys.argv[1], json.loads(sys.argv[2]))
"""

BASELINE = """
import json, sys
from pathlib import Path
import datasets
from gasr_hf.publish.layout import parquet_files, union_features
out, sources = Path(sys.argv[1]), json.loads(sys.argv[2])
files = {c: [f for p in paths for f in parquet_files(p)] for c, paths in sources.items()}
features = union_features([f for fs in files.values() for f in fs])
for config, paths in files.items():
    for i, path in enumerate(paths):
        ds = datasets.Dataset.from_parquet(str(path), cache_dir=str(out / ".cache"))
        for name, feature in features.items():
            if name not in ds.column_names:
                ds = ds.add_column(name, [None] * len(ds), feature=feature)
        ds = ds.select_columns(list(features)).cast(features)
        dst = out / "data" / config / f"train-{i:05d}.parquet"
        dst.parent.mkdir(parents=True, exist_ok=True)
        ds.to_parquet(str(dst))
"""

MANIFEST = """
import sys
from gasr_hf.publish.manifest import verify_repo, write_manifest
write_manifest(sys.argv[1], "1.0.0")
assert [m for m in verify_repo(sys.argv[1]) if m.kind != "card"] == []  # no card written here
"""


# VmHWM belongs to the process's own memory map (ru_maxrss would include the forking parent's).
PEAK = "\nimport re\nprint(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"


def run(code: str, *args: str) -> tuple[float, float]:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + PEAK, *args], check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - began
    return seconds, int(done.stdout.split()[-1]) / 1024


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=32, help="images per source (2 sources)")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "publish_bench"
    )
    args = parser.parse_args()
    per_source, work = args.images, args.workdir
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("gen", "div2k"):
        (work / "src" / sub).mkdir(parents=True)
    sources = make_sources(work / "src", per_source)
    size = sum(p.stat().st_size for p in (work / "src").rglob("*.parquet")) / 2**20
    arg = json.dumps(sources)
    results = [("assemble_repo (pyarrow row groups)", *run(ASSEMBLE, str(work / "repo"), arg))]
    results.append(
        ("datasets from_parquet/cast/to_parquet", *run(BASELINE, str(work / "base"), arg))
    )
    rerun = run(ASSEMBLE, str(work / "repo"), arg)
    manifest = run(MANIFEST, str(work / "repo"))
    print(f"{2 * per_source} images of 1024x1024 PNG, {size:.0f} MiB of Parquet in 4 shards\n")
    print("| method | seconds | MiB/s | peak RSS (MiB) |")
    print("|---|---:|---:|---:|")
    for name, seconds, peak in results:
        print(f"| {name} | {seconds:.1f} | {size / seconds:.0f} | {peak:.0f} |")
    print(f"| assemble_repo rerun (all shards done) | {rerun[0]:.1f} | - | {rerun[1]:.0f} |")
    print(
        f"| write_manifest + verify_repo (sha256 twice) | {manifest[0]:.1f} "
        f"| {2 * size / manifest[0]:.0f} | {manifest[1]:.0f} |"
    )


if __name__ == "__main__":
    main()
