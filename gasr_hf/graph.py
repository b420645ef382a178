"""A small graph of stages keyed on content: what ``gasr build`` plans and runs.

A :class:`Stage` declares its inputs (earlier stages), its settings (normalised by the caller: paths
resolved, fields that change only the layout or the card left out) and how to digest its output.
Its fingerprint is its settings plus its inputs' output digests, so a stage reruns exactly when its
settings or the content of one of its inputs changed, whichever invocation changed them. A finished
stage leaves a marker (``STATE_DIR/<name>.json``) with its fingerprint and output digest, written
last. A data stage (prompts, images, annotations: costly, resumable) whose own settings changed is
refused, naming the stages that redoing it redoes and the marker to remove; one whose inputs
changed, or whose marker was removed, starts afresh: its output folder, which holds work of other
settings or inputs, is cleared first (a start record, ``STATE_DIR/started/<name>.json``, tells
such a folder from a partial run of the same settings, which resumes). A derived stage
(statistics, figures, layout, card, manifest) is cheap and simply reruns.

Under several processes a distributed stage runs on every rank (each takes its share), each rank
leaves ``<name>@<rank>-of-<n>.json``, and rank 0 writes ``<name>.json`` once all have finished: a
barrier through files, which, unlike a collective, has no timeout to outlast while ranks finish their
last chunks minutes apart. The other stages run on rank 0; the other ranks wait for the markers of
those a distributed stage needs.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gasr_hf import __version__
from gasr_hf.files import json_digest, read_json_state, write_json_atomic

logger = logging.getLogger(__name__)

MARKER_KEYS = ("stage", "fingerprint", "settings", "inputs", "output", "result")
_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Mapping[str, Any]], Any]
    """Does the work, given its inputs' results by name; returns a JSON-ready result."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    data: bool = False
    """A data stage: a finished one whose fingerprint changed is refused, naming its marker."""
    distributed: bool = False
    """Runs on every rank; other stages run on rank 0 only."""
    content: Callable[[], str] | None = None
    """The digest of the stage's output once it ran (all ranks finished); by default its
    fingerprint, for a stage whose output is a function of its settings and inputs. A derived
    stage's is recomputed at each plan: one whose output was deleted or edited reruns."""
    output: Path | None = None
    """The folder a data stage writes, cleared when the stage starts afresh."""


@dataclass(frozen=True)
class StageStatus:
    name: str
    state: Literal["done", "to run", "stale"]
    reason: str = ""
    refused: bool = False
    """A finished data stage whose own settings changed: the build will not run."""
    afresh: bool = False
    """A data stage whose output folder holds work of other settings or inputs: it is cleared
    and the stage starts from scratch."""

    def __str__(self) -> str:
        return f"{self.name}: {self.state}" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class GraphRun:
    ran: tuple[str, ...]
    skipped: tuple[str, ...]


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples as lists, paths as strings)."""
    return json.loads(json.dumps(value, default=str))


def _setting_changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    """What differs between two settings as read back from JSON, nested keys dotted
    (``backend.width: 64 -> 96``)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [f"{prefix or 'settings'} changed"]
    found = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key, "<absent>"), new.get(key, "<absent>")
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            found.extend(_setting_changes(before, after, f"{prefix}{key}."))
        elif len(repr(before)) + len(repr(after)) < 80:
            found.append(f"{prefix}{key}: {before!r} -> {after!r}")
        else:
            found.append(f"{prefix}{key} changed")
    return found


def _changes(marker: Mapping[str, Any], settings: Any, inputs: Mapping[str, str]) -> list[str]:
    """What differs between a finished stage's marker and this run, in words."""
    found = _setting_changes(marker["settings"], _plain(settings))
    old_inputs = marker["inputs"] if isinstance(marker["inputs"], dict) else {}
    for name in sorted(old_inputs.keys() | inputs.keys()):
        if name not in old_inputs:
            found.append(f"new input {name}")
        elif name not in inputs:
            found.append(f"input {name} dropped")
        elif old_inputs[name] != inputs[name]:
            found.append(f"input {name} changed")
    return found or ["fingerprint changed"]


class StageGraph:
    """Plans and runs ``stages`` (in order; every input an earlier stage) with markers in
    ``state_dir``."""

    def __init__(
        self, stages: Sequence[Stage], state_dir: Path, rank: int = 0, world_size: int = 1
    ) -> None:
        seen: set[str] = set()
        for stage in stages:
            missing = [i for i in stage.inputs if i not in seen]
            if stage.name in seen or missing:
                raise ValueError(f"stage {stage.name!r}: duplicate, or unknown inputs {missing}")
            seen.add(stage.name)
        self.stages = tuple(stages)
        self.state_dir = Path(state_dir)
        self.rank, self.world_size = rank, world_size

    def marker_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def read_marker(self, name: str) -> dict[str, Any] | None:
        path = self.marker_path(name)
        if not path.is_file():
            return None
        return read_json_state(path, MARKER_KEYS, "stage marker")

    @staticmethod
    def fingerprint(stage: Stage, digests: Mapping[str, str]) -> str:
        return json_digest(
            {"settings": stage.settings, "inputs": {i: digests[i] for i in stage.inputs}}
        )

    def started_path(self, name: str) -> Path:
        return self.state_dir / "started" / f"{name}.json"

    def own_changes(self, stage: Stage, marker: Mapping[str, Any]) -> list[str]:
        """How ``stage``'s own settings differ from those its marker was made with."""
        return _setting_changes(marker["settings"], _plain(stage.settings))

    @staticmethod
    def output_changed(stage: Stage, marker: Mapping[str, Any]) -> bool:
        """Whether what a finished derived stage wrote differs from what its marker recorded."""
        return not stage.data and stage.content is not None and stage.content() != marker["output"]

    def redone_with(self, name: str) -> list[str]:
        """``name`` and every data stage downstream of it: what redoing ``name`` redoes."""
        affected = {name}
        for stage in self.stages:
            if affected.intersection(stage.inputs):
                affected.add(stage.name)
        return [s.name for s in self.stages if s.name == name or (s.data and s.name in affected)]

    def refusal(self, stage: Stage, marker: Mapping[str, Any]) -> str:
        redone = self.redone_with(stage.name)
        return (
            f"stage {stage.name!r} finished with other settings "
            f"({'; '.join(self.own_changes(stage, marker))}); redoing it redoes "
            f"{', '.join(redone)}: to do that, remove {self.marker_path(stage.name)} and rerun "
            "(or build into a new folder)"
        )

    # --- the plan ---------------------------------------------------------------------------

    def plan(self) -> list[StageStatus]:
        """Each stage's state from the markers alone, writing nothing. A stage after one that is
        to run is stale or to run: whether it reruns depends on its input's new content."""
        digests: dict[str, str] = {}
        statuses = []
        for stage in self.stages:
            marker = self.read_marker(stage.name)
            statuses.append(self._status(stage, marker, digests))
            if statuses[-1].state == "done" and marker is not None:
                digests[stage.name] = marker["output"]
            elif stage.content is None and all(i in digests for i in stage.inputs):
                digests[stage.name] = self.fingerprint(stage, digests)  # known before it runs
        return statuses

    def _status(
        self, stage: Stage, marker: Mapping[str, Any] | None, digests: Mapping[str, str]
    ) -> StageStatus:
        pending = [i for i in stage.inputs if i not in digests]
        if marker is None and pending:
            return StageStatus(stage.name, "to run", f"after {', '.join(pending)}")
        if marker is None:
            if self.holds_other_work(stage, self.fingerprint(stage, digests)):
                reason = "starts afresh: its folder holds work of other settings or inputs"
                return StageStatus(stage.name, "to run", reason, afresh=True)
            return StageStatus(stage.name, "to run", "not run yet")
        own = self.own_changes(stage, marker)
        if own and stage.data:
            return StageStatus(stage.name, "stale", self.refusal(stage, marker), refused=True)
        if own:
            return StageStatus(stage.name, "stale", "; ".join(own))
        if pending:
            again = "redone" if stage.data else "rerun"
            reason = f"after {', '.join(pending)}; {again} if that changes its input"
            return StageStatus(stage.name, "stale", reason)
        if marker["fingerprint"] == self.fingerprint(stage, digests):
            if self.output_changed(stage, marker):
                return StageStatus(stage.name, "stale", "its output was changed or removed")
            return StageStatus(stage.name, "done")
        changes = _changes(marker, stage.settings, {i: digests[i] for i in stage.inputs})
        afresh = self.holds_other_work(stage, self.fingerprint(stage, digests))
        if afresh:
            changes.append("redone from scratch")
        return StageStatus(stage.name, "stale", "; ".join(changes), afresh=afresh)

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> GraphRun:
        """Run every stage that is not done; see the module docstring."""
        digests: dict[str, str] = {}
        results: dict[str, Any] = {}
        ran: list[str] = []
        skipped: list[str] = []
        last_distributed = max((i for i, s in enumerate(self.stages) if s.distributed), default=-1)
        for index, stage in enumerate(self.stages):
            fingerprint = self.fingerprint(stage, digests)
            if self.rank != 0 and not stage.distributed:
                if index > last_distributed:
                    break
                marker = self._wait_for(self.marker_path(stage.name), fingerprint)
            else:
                marker = self.read_marker(stage.name)
                if marker is not None and marker["fingerprint"] != fingerprint:
                    if stage.data and self.own_changes(stage, marker):
                        raise ValueError(self.refusal(stage, marker))
                    why = "; ".join(
                        _changes(marker, stage.settings, {i: digests[i] for i in stage.inputs})
                    )
                    logger.info("stage %s: rerunning (%s)", stage.name, why)
                    marker = None
                elif marker is not None and self.output_changed(stage, marker):
                    logger.info(
                        "stage %s: rerunning (its output was changed or removed)", stage.name
                    )
                    marker = None
                if marker is None:
                    inputs = {i: results[i] for i in stage.inputs}
                    marker = self._execute(stage, fingerprint, inputs, digests)
                    ran.append(stage.name)
                else:
                    skipped.append(stage.name)
            digests[stage.name] = marker["output"]
            results[stage.name] = marker["result"]
        return GraphRun(ran=tuple(ran), skipped=tuple(skipped))

    def holds_other_work(self, stage: Stage, fingerprint: str) -> bool:
        """Whether ``stage``'s output folder holds work it started with another fingerprint. A
        folder without a start record (made by ``gasr generate`` before the build, say) is taken
        as its own: its runner resumes it or names what differs."""
        path = self.started_path(stage.name)
        if stage.output is None or not stage.output.exists() or not path.is_file():
            return False
        return read_json_state(path, ("fingerprint",), "start record")["fingerprint"] != fingerprint

    def _start(self, stage: Stage, fingerprint: str) -> None:
        """Clear ``stage``'s output folder if it holds work of another fingerprint, and record
        that the stage starts with this one (the other ranks wait for that record)."""
        if stage.output is None:
            return
        path = self.started_path(stage.name)
        if self.rank != 0:
            self._wait_for(path, fingerprint, ("fingerprint",))
            return
        if self.holds_other_work(stage, fingerprint):
            logger.info("stage %s: starts afresh, removing %s", stage.name, stage.output)
            shutil.rmtree(stage.output)
        write_json_atomic(
            path, {"stage": stage.name, "fingerprint": fingerprint}, tmp_tag=f"rank{self.rank}"
        )

    def _record(
        self, name: str, stage: Stage, digests: Mapping[str, str], **values: Any
    ) -> dict[str, Any]:
        record = {
            "stage": stage.name,
            "fingerprint": self.fingerprint(stage, digests),
            "settings": stage.settings,
            "inputs": {i: digests[i] for i in stage.inputs},
            **values,
            "gasr_hf": __version__,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_json_atomic(self.marker_path(name), record, tmp_tag=f"rank{self.rank}")
        return _plain(record)

    def _work(self, stage: Stage, inputs: Mapping[str, Any]) -> tuple[Any, float]:
        logger.info("stage %s: running", stage.name)
        start = time.perf_counter()
        result = stage.run(inputs)
        return result, round(time.perf_counter() - start, 3)

    def _execute(
        self,
        stage: Stage,
        fingerprint: str,
        inputs: Mapping[str, Any],
        digests: Mapping[str, str],
    ) -> dict[str, Any]:
        self._start(stage, fingerprint)
        if not stage.distributed or self.world_size == 1:
            result, seconds = self._work(stage, inputs)
            output = stage.content() if stage.content else fingerprint
            return self._record(
                stage.name, stage, digests, output=output, result=result, seconds=seconds
            )
        ranks = [f"{stage.name}@{r}-of-{self.world_size}" for r in range(self.world_size)]
        mine = self.read_marker(ranks[self.rank])
        if mine is None or mine["fingerprint"] != fingerprint:
            result, seconds = self._work(stage, inputs)
            mine = self._record(
                ranks[self.rank], stage, digests, output=None, result=result, seconds=seconds
            )
        for name in ranks:
            self._wait_for(self.marker_path(name), fingerprint)
        if self.rank != 0:
            return self._wait_for(self.marker_path(stage.name), fingerprint)
        output = stage.content() if stage.content else fingerprint
        return self._record(
            stage.name, stage, digests, output=output, result=mine["result"], seconds=0.0
        )

    def _wait_for(
        self, path: Path, fingerprint: str, keys: tuple[str, ...] = MARKER_KEYS
    ) -> dict[str, Any]:
        """Block until the marker (or start record) ``path`` holds ``fingerprint``, written by any
        rank."""
        last_log = 0.0
        while True:
            marker = read_json_state(path, keys, "stage marker") if path.is_file() else None
            if marker is not None and marker["fingerprint"] == fingerprint:
                return marker
            if time.monotonic() - last_log > 60:
                logger.info("rank %d waits for %s", self.rank, path)
                last_log = time.monotonic()
            time.sleep(_POLL_SECONDS)
