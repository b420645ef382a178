"""``manifest.json``: every shard of a dataset repository with its rows, bytes and SHA-256, the card
(``README.md``) and the figures with their bytes and SHA-256, plus the version and configs;
``verify_repo`` recomputes it all and lists what differs (an edited licence line included)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gasr_hf.files import read_json_state, sha256_file, write_json_atomic

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "gasr-manifest/2"
"""Version 2 added ``files`` (the card and the figures)."""
_READ_BLOCK = 8 << 20


@dataclass(frozen=True)
class Mismatch:
    """One difference between a repository and its manifest or card."""

    path: str
    kind: str
    """``missing``, ``extra``, ``sha256``, ``bytes``, ``rows``, ``unreadable``, ``version``,
    ``configs`` or ``card``."""
    expected: str = ""
    actual: str = ""

    def __str__(self) -> str:
        if self.kind in ("missing", "extra", "card"):
            detail = f": {self.actual}" if self.actual else ""
            return f"{self.path}: {self.kind}{detail}"
        return f"{self.path}: {self.kind} is {self.actual}, manifest says {self.expected}"


def repo_shards(repo_dir: Path) -> list[str]:
    """Relative POSIX paths of the Parquet files under ``data/`` (hidden ones excluded), sorted."""
    from gasr_hf.publish.layout import DATA_DIR

    data = repo_dir / DATA_DIR
    if not data.is_dir():
        return []
    return sorted(
        p.relative_to(repo_dir).as_posix()
        for p in data.rglob("*.parquet")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data).parts)
    )


def repo_files(repo_dir: Path) -> list[str]:
    """The card and the files under ``figures/`` (hidden ones excluded), as relative POSIX paths."""
    from gasr_hf.publish.card import FIGURES_DIR, README

    files = [README] if (repo_dir / README).is_file() else []
    figures = repo_dir / FIGURES_DIR
    if figures.is_dir():
        files += sorted(
            p.relative_to(repo_dir).as_posix()
            for p in figures.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(figures).parts)
        )
    return files


def _file_entry(repo_dir: Path, rel: str) -> dict[str, Any]:
    path = repo_dir / rel
    return {"path": rel, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _card_configs(repo_dir: Path) -> dict[str, list[str]]:
    from gasr_hf.publish.card import card_configs, config_patterns, read_card

    return {
        name: config_patterns(entry)
        for name, entry in card_configs(read_card(repo_dir).data).items()
    }


def _shard_entry(repo_dir: Path, rel: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    path = repo_dir / rel
    return {
        "path": rel,
        "rows": pq.read_metadata(path).num_rows,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def write_manifest(repo_dir: str | Path, version: str) -> Path:
    """Write ``manifest.json`` for the repository ``repo_dir`` at release ``version``.

    ``version`` must be ``X.Y.Z`` and equal the card's version when the card has been written.
    """
    from tqdm.auto import tqdm

    from gasr_hf import __version__
    from gasr_hf.publish.card import card_version, check_version

    repo_dir = Path(repo_dir)
    check_version(version)
    in_card = card_version(repo_dir)
    if in_card is not None and in_card != version:
        raise ValueError(f"version {version!r} differs from the card's version {in_card!r}")
    shards = repo_shards(repo_dir)
    if not shards:
        raise FileNotFoundError(f"no Parquet shards under {repo_dir / 'data'}")
    manifest = {
        "format": FORMAT,
        "version": version,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gasr_hf_version": __version__,
        "configs": _card_configs(repo_dir),
        "total_rows": 0,
        "total_bytes": 0,
        "shards": [_shard_entry(repo_dir, rel) for rel in tqdm(shards, desc="manifest")],
        "files": [_file_entry(repo_dir, rel) for rel in repo_files(repo_dir)],
    }
    manifest["total_rows"] = sum(s["rows"] for s in manifest["shards"])
    manifest["total_bytes"] = sum(s["bytes"] for s in manifest["shards"])
    path = write_json_atomic(repo_dir / MANIFEST, manifest)
    logger.info(
        "wrote %s: %d shards, %d rows, version %s",
        path,
        len(shards),
        manifest["total_rows"],
        version,
    )
    return path


def read_manifest(repo_dir: str | Path) -> dict[str, Any]:
    path = Path(repo_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no {MANIFEST} in {repo_dir}; run write_manifest first")
    manifest = read_json_state(path, ("format",), "manifest")
    if manifest["format"] != FORMAT:
        raise ValueError(
            f"{path}: format {manifest['format']!r} is not {FORMAT!r}; rewrite it with "
            "gasr manifest (or rerun gasr build)"
        )
    missing = [k for k in ("version", "configs", "shards", "files") if k not in manifest]
    if missing:
        raise ValueError(f"{path}: corrupt manifest (no {missing[0]!r})")
    return manifest


def refresh_manifest_configs(repo_dir: str | Path) -> None:
    """Copy the card's configs into an existing manifest (after a mixture added a config)."""
    path = Path(repo_dir) / MANIFEST
    if not path.is_file():
        return
    manifest = read_manifest(repo_dir)
    manifest["configs"] = _card_configs(Path(repo_dir))
    manifest["files"] = [_file_entry(Path(repo_dir), rel) for rel in repo_files(Path(repo_dir))]
    write_json_atomic(path, manifest)


def _verify_files(repo_dir: Path, entries: list[dict[str, Any]]) -> list[Mismatch]:
    """The card and the figures against their manifest entries."""
    found: list[Mismatch] = []
    listed = {entry["path"]: entry for entry in entries}
    for rel in sorted(set(repo_files(repo_dir)) - set(listed)):
        found.append(Mismatch(rel, "extra", actual="file not in the manifest"))
    for rel, entry in listed.items():
        path = repo_dir / rel
        if not path.is_file():
            found.append(Mismatch(rel, "missing"))
            continue
        if path.stat().st_size != entry["bytes"]:
            found.append(Mismatch(rel, "bytes", str(entry["bytes"]), str(path.stat().st_size)))
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            found.append(Mismatch(rel, "sha256", entry["sha256"], digest))
    return found


def verify_repo(repo_dir: str | Path) -> list[Mismatch]:
    """Recompute every shard's rows, bytes and SHA-256 and compare them, the shard list, the
    version and the configs with ``manifest.json``; also run the card's offline checks.

    Returns the differences (empty when the repository is intact).
    """
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from gasr_hf.publish.card import README, card_version, check_card

    repo_dir = Path(repo_dir)
    manifest = read_manifest(repo_dir)
    found: list[Mismatch] = []
    listed = {entry["path"]: entry for entry in manifest["shards"]}
    present = set(repo_shards(repo_dir))
    for rel in sorted(present - set(listed)):
        found.append(Mismatch(rel, "extra", actual="shard not in the manifest"))
    for rel, entry in tqdm(listed.items(), desc="verify"):
        path = repo_dir / rel
        if not path.is_file():
            found.append(Mismatch(rel, "missing"))
            continue
        size = path.stat().st_size
        if size != entry["bytes"]:
            found.append(Mismatch(rel, "bytes", str(entry["bytes"]), str(size)))
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            found.append(Mismatch(rel, "sha256", entry["sha256"], digest))
        try:
            rows = pq.read_metadata(path).num_rows
        except (OSError, ValueError) as err:
            found.append(Mismatch(rel, "unreadable", "Parquet", str(err)))
            continue
        if rows != entry["rows"]:
            found.append(Mismatch(rel, "rows", str(entry["rows"]), str(rows)))
    found.extend(_verify_files(repo_dir, manifest["files"]))
    if not (repo_dir / README).is_file():
        return found
    in_card = card_version(repo_dir)
    if in_card is not None and in_card != manifest["version"]:
        found.append(Mismatch(README, "version", manifest["version"], in_card))
    configs = _card_configs(repo_dir)
    if configs != manifest["configs"]:
        found.append(
            Mismatch(README, "configs", json.dumps(manifest["configs"]), json.dumps(configs))
        )
    found.extend(Mismatch(README, "card", actual=problem) for problem in check_card(repo_dir))
    return found
