"""Generation as a ``datasets.map`` callable: the same rows as ``gasr generate``, in any process.

``prompts.map(GenerateImages(config), batched=True, batch_size=B, with_rank=True, num_proc=N)``
renders every prompt row with the same checks, retries and provenance columns as
:func:`gasr_hf.generate.generate`; each worker loads its backend once, on the device
:func:`gasr_hf.placement.place` gives its rank (``cuda:rank`` with CUDA, else the CPU).
``map`` keeps its result only when every batch is done; for hours of work, map one
``prompts.shard(n, i)`` at a time and write each to Parquet (see the README), or use the chunk
runner, which keeps every finished chunk.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from gasr_hf.generate.backend import PROVENANCE_COLUMNS, BackendConfig, create_backend
from gasr_hf.generate.runner import REQUIRED_COLUMNS, _columns, _Renderer, output_features
from gasr_hf.placement import cached, place, single_thread_in_forked_worker

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

logger = logging.getLogger(__name__)

ERROR_COLUMN = "error"
"""With ``keep_failures``: why a row has no image (``""`` for rows that rendered)."""


class GenerateImages:
    """A batched ``datasets.map`` function (``with_rank=True``) from prompt rows to image rows.

    The output replaces each batch: image, width, height, source, the prompt columns and the
    provenance columns, in :func:`gasr_hf.generate.runner.output_features`' order and types. A row
    whose image stays bad after ``max_attempts`` (or whose render raises) is logged with the reason
    and left out, as ``gasr generate`` leaves it out of its shards; with ``keep_failures`` it is
    kept with an empty image and the reason in an ``error`` column. Pickled into ``map``'s worker
    processes without its backend: each process builds and loads its own, once.
    """

    def __init__(
        self,
        backend: BackendConfig,
        *,
        max_attempts: int = 3,
        min_std: float = 2.0,
        keep_failures: bool = False,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.config = backend.resolved()
        self.max_attempts = max_attempts
        self.min_std = min_std
        self.keep_failures = keep_failures

    def renderer(self, rank: int | None = None) -> _Renderer:
        """This process's renderer for ``rank`` (built on the first call, then reused)."""
        config = self.config
        if config.backend != "procedural":
            device = place(config.device, config.dtype, rank=rank).device
            config = dataclasses.replace(config, device=device)
            if device == "cpu":
                single_thread_in_forked_worker()
        key = ("generate", config, self.max_attempts, self.min_std)
        return cached(
            key,
            lambda: _Renderer(create_backend(config), self.max_attempts, self.min_std, None),
        )

    def features(self, prompt_features: datasets.Features) -> datasets.Features:
        """The output features for prompt rows of ``prompt_features``."""
        import datasets

        features = output_features(prompt_features)
        if self.keep_failures:
            features[ERROR_COLUMN] = datasets.Value("string")
        return features

    def __call__(self, batch: dict[str, list[Any]], rank: int | None = None) -> pa.Table:
        import datasets

        missing = [c for c in REQUIRED_COLUMNS if c not in batch]
        if missing:
            raise ValueError(f"prompt rows lack column {missing[0]!r} (need {REQUIRED_COLUMNS})")
        clash = [c for c in ("image", "width", "height", *PROVENANCE_COLUMNS) if c in batch]
        if clash:
            raise ValueError(f"column {clash[0]!r} of the prompt rows is reserved for the output")
        rows = [
            dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)
        ]
        # The prompt columns keep the types the batch's values have (the sampler's are plain).
        features = self.features(datasets.Dataset.from_dict(batch).features)
        records, errors = self.renderer(rank).rows(rows)
        kept = []
        for row, record, error in zip(rows, records, errors, strict=True):
            if record is None:
                logger.warning("prompt %r: %s", row["prompt_id"], error)
                if not self.keep_failures:
                    continue
                record = {**{name: None for name in features}, **row}
            if self.keep_failures:
                record = {**record, ERROR_COLUMN: error}
            kept.append(record)
        return _columns(kept, features).data.table
