"""Assemble a self-contained dataset repository: ``data/<config>/train-{i:05d}.parquet`` + README YAML.

Every shard of the repository gets ONE schema, the union of the sources' features, so that a config
listing several sources' folders (``gasr-df2k``) loads and streams as one table. Each source shard is
rewritten row group by row group with pyarrow: the columns it lacks become nulls, the others keep
their values (image bytes are copied as they are, never decoded). Combined configs hold no data of
their own: their ``data_files`` list the source configs' shards.

Resumable: each written shard gets a marker in ``.gasr/assemble/`` naming its source file (size and
modification time) and the union schema; a rerun skips shards whose marker still matches.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gasr_hf.files import parquet_files, read_json_state, write_json_atomic

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

logger = logging.getLogger(__name__)

SPLIT = "train"
DATA_DIR = "data"
STATE_DIR = ".gasr"
LAYOUT_FILE = "layout.json"
DEFAULT_COMBINED: dict[str, tuple[str, ...]] = {"gasr-df2k": ("gasr", "df2k")}
"""Combined configs made when ``combined`` is not given and all their members are sources."""
CONFIG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class RepoLayout:
    """What ``assemble_repo`` made."""

    repo_dir: str
    configs: dict[str, tuple[str, ...]]
    """Config name -> its ``data_files`` patterns (relative to ``repo_dir``), in card order."""
    default_config: str
    shards: dict[str, tuple[str, ...]]
    """Source config name -> the shards written for it (relative POSIX paths)."""
    rows: dict[str, int]
    """Config name -> number of rows (combined configs: the sum of their members)."""
    columns: tuple[str, ...]
    """The union schema's columns, in order."""
    shards_written: int
    shards_skipped: int


def shard_pattern(config: str) -> str:
    """The ``data_files`` pattern of source config ``config``."""
    return f"{DATA_DIR}/{config}/{SPLIT}-*.parquet"


def _read_features(path: Path) -> datasets.Features:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as err:
        raise ValueError(f"{path}: not a readable Parquet file: {err}") from err
    features = datasets.Features.from_arrow_schema(schema)
    # Published image columns decode on load; ``decode=False`` is a reading choice of a stage.
    return datasets.Features(
        {
            name: dataclasses.replace(f, decode=True) if isinstance(f, datasets.Image) else f
            for name, f in features.items()
        }
    )


def union_features(files: Sequence[Path]) -> datasets.Features:
    """The union of the files' features, columns in order of first appearance.

    A column typed differently in two files is widened when both are plain values (int32 and int64
    give int64, an all-null column takes the other type); any other disagreement is an error
    naming the column and both files.
    """
    import datasets
    import pyarrow as pa

    seen: dict[str, list[tuple[Any, Path]]] = {}
    for path in files:
        for name, feature in _read_features(path).items():
            seen.setdefault(name, []).append((feature, path))
    union: dict[str, Any] = {}
    for name, entries in seen.items():
        typed = [(f, p) for f, p in entries if f != datasets.Value("null")] or entries[:1]
        first, first_path = typed[0]
        others = [(f, p) for f, p in typed if f != first]
        if not others:
            union[name] = first
            continue
        if not all(isinstance(f, datasets.Value) for f, _ in typed):
            other, other_path = others[0]
            raise ValueError(
                f"column {name!r} is {first} in {first_path} but {other} in {other_path}; "
                "the sources must agree on it"
            )
        try:
            widened = pa.unify_schemas(
                [pa.schema([pa.field(name, f.pa_type)]) for f, _ in typed],
                promote_options="permissive",
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            other, other_path = others[0]
            raise ValueError(
                f"column {name!r} is {first.dtype} in {first_path} but {other.dtype} in "
                f"{other_path}, and the two cannot be widened to one type: {err}"
            ) from err
        union[name] = datasets.Features.from_arrow_schema(widened)[name]
        logger.info("column %r widened to %s", name, union[name].dtype)
    return datasets.Features(union)


def features_digest(features: datasets.Features) -> str:
    return hashlib.sha256(json.dumps(features.to_dict(), sort_keys=True).encode()).hexdigest()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    import pyarrow as pa

    arrays = [
        table.column(field.name).cast(field.type)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def rewrite_shard(src: Path, dst: Path, features: datasets.Features) -> int:
    """Copy ``src`` to ``dst`` in the schema of ``features``, one row group at a time; returns rows.

    Written like ``datasets``' own Parquet export (content-defined chunking, image bytes stored
    uncompressed), so the Hub's storage deduplicates unchanged data between versions.
    """
    import pyarrow.parquet as pq
    from datasets.arrow_writer import get_parquet_column_options
    from datasets.config import DEFAULT_CDC_OPTIONS

    schema = features.arrow_schema
    source = pq.ParquetFile(src)
    rows = 0
    with pq.ParquetWriter(
        dst,
        schema,
        use_content_defined_chunking=DEFAULT_CDC_OPTIONS,
        write_page_index=True,
        **get_parquet_column_options(features, schema),
    ) as writer:
        for index in range(source.num_row_groups):
            table = _conform(source.read_row_group(index), schema)
            writer.write_table(table)
            rows += table.num_rows
    return rows


def _check_name(config: str, what: str) -> None:
    if not CONFIG_NAME.fullmatch(config):
        raise ValueError(
            f"{what} name {config!r} must start with a letter or digit and use only letters, "
            "digits, '_', '.', '-'"
        )


def _resolve_combined(
    sources: Mapping[str, Sequence[str | Path]],
    combined: Mapping[str, Sequence[str]] | None,
) -> dict[str, tuple[str, ...]]:
    if combined is None:
        return {
            name: members
            for name, members in DEFAULT_COMBINED.items()
            if all(m in sources for m in members)
        }
    resolved: dict[str, tuple[str, ...]] = {}
    for name, members in combined.items():
        _check_name(name, "combined config")
        if name in sources:
            raise ValueError(f"combined config {name!r} has the name of a source config")
        unknown = [m for m in members if m not in sources]
        if unknown or not members:
            listed = repr(unknown[0]) if unknown else "no configs"
            raise ValueError(
                f"combined config {name!r} lists {listed}; "
                f"its members must be source configs: {', '.join(sources)}"
            )
        resolved[name] = tuple(members)
    return resolved


def _check_not_nested(out_dir: Path, config: str, path: Path) -> None:
    out, src = out_dir.resolve(), path.resolve()
    if out == src or src in out.parents:
        raise ValueError(f"out_dir {out_dir} must not lie inside source {config}={path}")
    # A source in a hidden folder of out_dir (a build's ``.gasr/`` work) is neither published nor
    # matched by the data-file globs, so it may stay there.
    if out in src.parents and not src.relative_to(out).parts[0].startswith("."):
        raise ValueError(f"source {config}={path} must not lie inside out_dir {out_dir}")


def _source_stamp(path: Path, digest: str) -> dict[str, Any]:
    stat = path.stat()
    return {
        "source": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "features_sha256": digest,
    }


def _plan(
    out_dir: Path, sources: Mapping[str, Sequence[str | Path]]
) -> dict[str, list[tuple[str, Path]]]:
    """Source config -> [(output shard path relative to the repo, input file)]."""
    plan: dict[str, list[tuple[str, Path]]] = {}
    for config, paths in sources.items():
        _check_name(config, "source config")
        if isinstance(paths, (str, Path)) or not paths:
            raise ValueError(f"source {config!r} must be a non-empty list of folders or files")
        files: list[Path] = []
        for path in paths:
            _check_not_nested(out_dir, config, Path(path))
            files.extend(parquet_files(path))
        plan[config] = [
            (f"{DATA_DIR}/{config}/{SPLIT}-{i:05d}.parquet", f) for i, f in enumerate(files)
        ]
    return plan


def _check_out_dir(out_dir: Path) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise NotADirectoryError(f"out_dir {out_dir} exists and is not a folder")
    # Hidden entries (``.gasr/`` build state, ``.git``) are never published and may already exist.
    visible = [p for p in out_dir.iterdir() if not p.name.startswith(".")]
    if visible and not (out_dir / STATE_DIR / LAYOUT_FILE).is_file():
        raise ValueError(
            f"out_dir {out_dir} is not empty and was not made by assemble_repo "
            f"(no {STATE_DIR}/{LAYOUT_FILE}); choose an empty or new folder"
        )


def _remove_stale(out_dir: Path, keep: set[str]) -> None:
    data = out_dir / DATA_DIR
    if not data.is_dir():
        return
    for path in sorted(data.rglob("*.parquet")):
        rel = path.relative_to(out_dir).as_posix()
        if rel not in keep:
            logger.info("removing %s: no longer part of the layout", rel)
            path.unlink()
            (out_dir / STATE_DIR / "assemble" / (rel + ".json")).unlink(missing_ok=True)


def _dropped(out_dir: Path, configs: Mapping[str, Any]) -> set[str]:
    """Configs of an earlier layout of the card that this layout no longer has (mixtures stay)."""
    from gasr_hf.publish.card import card_configs, card_data

    data = card_data(out_dir)
    mixtures = {m["name"] for m in data.get("gasr_mixtures") or []}
    return set(card_configs(data)) - set(configs) - mixtures


def assemble_repo(
    out_dir: str | Path,
    sources: Mapping[str, Sequence[str | Path]],
    *,
    combined: Mapping[str, Sequence[str]] | None = None,
    default_config: str = "gasr",
) -> RepoLayout:
    """Write the dataset repository ``out_dir`` from Parquet ``sources``.

    ``sources`` maps a config name to folders (searched recursively for ``*.parquet``, hidden
    folders skipped) or files, for example ``{"gasr": [generated], "df2k": [div2k, flickr2k]}``.
    ``combined`` maps a config name to source configs whose shards it lists; by default
    ``gasr-df2k`` = ``gasr`` + ``df2k`` when both are sources. ``default_config`` gets
    ``default: true``. Writes ``data/<config>/train-{i:05d}.parquet`` and the README's ``configs``
    and ``dataset_info`` (other README content is kept); rerunning skips finished shards and
    removes shards that are no longer part of the layout.
    """
    from tqdm.auto import tqdm

    from gasr_hf.publish.card import update_card_data

    out_dir = Path(out_dir)
    if not sources:
        raise ValueError("sources must name at least one config")
    _check_out_dir(out_dir)
    plan = _plan(out_dir, sources)
    combined_configs = _resolve_combined(sources, combined)
    configs: dict[str, tuple[str, ...]] = {c: (shard_pattern(c),) for c in plan}
    for name, members in combined_configs.items():
        configs[name] = tuple(shard_pattern(m) for m in members)
    if default_config not in configs:
        raise ValueError(
            f"default_config {default_config!r} is not one of the configs: {', '.join(configs)}"
        )

    all_files = [f for entries in plan.values() for _, f in entries]
    features = union_features(all_files)
    digest = features_digest(features)
    state = out_dir / STATE_DIR
    (state / "tmp").mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        state / LAYOUT_FILE,
        {
            "sources": {c: [str(f.resolve()) for _, f in e] for c, e in plan.items()},
            "configs": {c: list(p) for c, p in configs.items()},
            "default_config": default_config,
            "features_sha256": digest,
        },
    )
    _remove_stale(out_dir, {rel for entries in plan.values() for rel, _ in entries})

    written = skipped = 0
    rows: dict[str, int] = {}
    with tqdm(total=len(all_files), desc="assemble", unit="shard") as bar:
        for config, entries in plan.items():
            rows[config] = 0
            for rel, src in entries:
                dst = out_dir / rel
                marker = state / "assemble" / (rel + ".json")
                stamp = _source_stamp(src, digest)
                if dst.is_file() and marker.is_file():
                    done = read_json_state(marker, ("rows",), "assemble marker")
                    if {k: done.get(k) for k in stamp} == stamp:
                        rows[config] += done["rows"]
                        skipped += 1
                        bar.update(1)
                        continue
                marker.unlink(missing_ok=True)
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp = state / "tmp" / f"{config}-{dst.name}"
                count = rewrite_shard(src, tmp, features)
                os.replace(tmp, dst)
                write_json_atomic(marker, {**stamp, "rows": count})
                rows[config] += count
                written += 1
                bar.update(1)
    for name, members in combined_configs.items():
        rows[name] = sum(rows[m] for m in members)
    if skipped and not written:
        logger.info("assemble: all %d shards already up to date in %s", skipped, out_dir)
    else:
        logger.info("assemble: wrote %d shards, %d already up to date", written, skipped)

    update_card_data(
        out_dir, configs=configs, default_config=default_config, remove=_dropped(out_dir, configs)
    )
    return RepoLayout(
        repo_dir=str(out_dir),
        configs=configs,
        default_config=default_config,
        shards={c: tuple(rel for rel, _ in e) for c, e in plan.items()},
        rows=rows,
        columns=tuple(features),
        shards_written=written,
        shards_skipped=skipped,
    )


def add_source(repo_dir: str | Path, config: str, folder: str | Path) -> RepoLayout:
    """Add the shards under ``folder`` (for example ``gasr tile`` output) as config ``config`` of a
    repository made by :func:`assemble_repo`.

    Reruns :func:`assemble_repo` with the layout it recorded in ``repo_dir`` (sources, combined
    configs, default config) plus ``config`` = ``folder``, so the shards are copied to
    ``data/<config>/`` and listed in the card like any source. All shards share the repository's one
    schema, so new columns rewrite the other configs' shards too (resumable); rerun ``gasr card`` /
    ``gasr manifest`` afterwards. ``config`` may name an existing config only if it was registered
    from this ``folder`` (an update).
    """
    repo_dir = Path(repo_dir)
    tiles_dir = Path(folder)
    layout_file = repo_dir / STATE_DIR / LAYOUT_FILE
    if not layout_file.is_file():
        raise FileNotFoundError(
            f"repo_dir {repo_dir} has no {STATE_DIR}/{LAYOUT_FILE}: not a repository made by "
            "assemble_repo (gasr assemble / gasr build)"
        )
    try:
        layout = json.loads(layout_file.read_text(encoding="utf-8"))
        sources: dict[str, list[str]] = dict(layout["sources"])
        configs: dict[str, list[str]] = dict(layout["configs"])
        default_config: str = layout["default_config"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{layout_file}: not a layout written by assemble_repo ({err})") from err
    if config in sources:
        inside = tiles_dir.resolve()
        if not all(inside in Path(f).parents for f in sources[config]):
            raise ValueError(
                f"repo_config {config!r} is already a config of {repo_dir} made from other data; "
                "choose a new name"
            )
    elif config in configs:
        raise ValueError(f"repo_config {config!r} is a combined config of {repo_dir}")
    combined: dict[str, list[str]] = {}
    for name, patterns in configs.items():
        if name in sources:
            continue
        members = [p.split("/")[1] for p in patterns if p.count("/") == 2]
        if [shard_pattern(m) for m in members] != list(patterns):
            raise ValueError(f"{layout_file}: combined config {name!r} has unknown patterns")
        combined[name] = members
    sources[config] = [str(tiles_dir)]
    logger.info("registering %s as config %r of %s", tiles_dir, config, repo_dir)
    return assemble_repo(repo_dir, sources, combined=combined, default_config=default_config)
