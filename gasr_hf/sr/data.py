"""Streaming HR/LR training pairs for SR from one or more image datasets.

Per row of the mixed, shuffled, rank-split stream: decode the ``image`` column, take a random HR
crop of ``hr_size`` pixels at a position on the LR grid (a multiple of the scale, as toolboxes crop
paired LR/HR), make its LR with MATLAB's bicubic (:func:`gasr_hf.sr.resize.imresize`) from the crop
plus a margin beyond the kernel's reach, so the LR crop equals the crop of the whole image's LR
(:func:`lr_crop`: the same pairs a model meets at test time), apply one of the 8 dihedral transforms
(uniformly), and yield float tensors in [0, 1], CHW.

Determinism and resume. The crop and the transform of a row come from a generator seeded with
``(seed, epoch, rank, worker, index)``, where ``index`` is the row's position in that worker's
stream of the epoch. Each yielded pair carries ``worker``, ``epoch`` and ``index``, so the consumer
knows exactly how far every worker has got. :class:`SRPairLoader` (a ``DataLoader`` wrapper) keeps
that state per worker, and on resume each worker replays its epoch's rows undecoded up to its saved
position, and batches come out in the same order as without the interruption. The shuffle buffer's
contents are not in the checkpoint (they would be hundreds of MB of images); the replay rebuilds
them, so resume is exact at the cost of re-reading (not decoding) up to one epoch of bytes.

Images smaller than ``hr_size`` in either dimension are skipped and counted (``small_images="skip"``,
the default; the count is in every pair and in the loader's state) or raise ``ValueError``
(``small_images="error"``). They are not padded: padding would teach the model borders that the
data does not have.

This module imports torch and datasets at the top: it is meant for training code only.
"""

from __future__ import annotations

import glob
import io
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal

import datasets
import numpy as np
import torch
from datasets.distributed import split_dataset_by_node
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from gasr_hf.sr.resize import imresize

logger = logging.getLogger(__name__)

__all__ = [
    "SRPairConfig",
    "SRPairLoader",
    "SRPairStream",
    "cell_bytes",
    "decode_image",
    "dihedral",
    "lr_crop",
]

_ORIENTATION = 0x0112

Source = datasets.Dataset | datasets.IterableDataset | str


@dataclass(frozen=True)
class SRPairConfig:
    """How pairs are cut and how the sources are mixed and shuffled."""

    scale: int = 4
    """Downscaling factor; the LR crop is ``hr_size // scale`` pixels."""
    hr_size: int = 192
    """HR crop size in pixels; a multiple of ``scale``."""
    weights: tuple[float, ...] | None = None
    """Sampling weight per source (normalised); ``None`` weighs all sources equally."""
    stopping_strategy: Literal["all_exhausted", "first_exhausted"] = "all_exhausted"
    """When a mixed epoch ends (``datasets.interleave_datasets``)."""
    shuffle_buffer: int = 1000
    """Rows in the shuffle buffer (shard order is shuffled too); 0 keeps the stored order."""
    shuffle_input_shards: int = 10
    """Shards read at once to fill the buffer, for better mixing (``datasets``' default). With
    Parquet shards and a value above 1, ``datasets`` pauses 5 s when a stream ends or is closed
    (a pyarrow thread-shutdown workaround): once per epoch and worker, negligible in training."""
    seed: int = 0
    repeat: bool = True
    """Cycle epochs forever (iteration-based training); False stops after one epoch."""
    small_images: Literal["skip", "error"] = "skip"
    """Policy for images smaller than ``hr_size``: skip and count, or raise ``ValueError``."""
    image_column: str = "image"
    split: str = "train"
    """Split loaded for sources given as paths or Hub ids."""
    map_style_shards: int = 64
    """Shards a map-style ``datasets.Dataset`` is cut into, for rank and worker splitting."""

    def __post_init__(self) -> None:
        if self.scale < 1:
            raise ValueError(f"scale must be >= 1, got {self.scale}")
        if self.hr_size < self.scale or self.hr_size % self.scale:
            raise ValueError(
                f"hr_size must be a positive multiple of scale={self.scale}, got {self.hr_size}"
            )
        if self.weights is not None and (not self.weights or any(not w > 0 for w in self.weights)):
            raise ValueError(f"weights must be positive numbers, got {self.weights}")
        if self.stopping_strategy not in ("all_exhausted", "first_exhausted"):
            raise ValueError(
                "stopping_strategy must be 'all_exhausted' or 'first_exhausted', "
                f"got {self.stopping_strategy!r}"
            )
        if self.shuffle_buffer < 0:
            raise ValueError(f"shuffle_buffer must be >= 0, got {self.shuffle_buffer}")
        if self.shuffle_input_shards < 1:
            raise ValueError(f"shuffle_input_shards must be >= 1, got {self.shuffle_input_shards}")
        if self.small_images not in ("skip", "error"):
            raise ValueError(f"small_images must be 'skip' or 'error', got {self.small_images!r}")
        if self.map_style_shards < 1:
            raise ValueError(f"map_style_shards must be >= 1, got {self.map_style_shards}")


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """Transform ``k`` (0..7) of the dihedral group on the first two axes.

    ``k % 4`` quarter turns counter-clockwise, then a left-right flip when ``k >= 4``.
    """
    if not 0 <= k < 8:
        raise ValueError(f"k must be in 0..7, got {k}")
    out = np.rot90(img, k % 4)
    return out[:, ::-1] if k >= 4 else out


def cell_bytes(value: dict[str, Any] | Any, where: str) -> bytes:
    """The encoded bytes of an undecoded ``Image`` cell (``{"bytes", "path"}``), read from ``path``
    when the cell holds no bytes. ``where`` names the row in the errors."""
    data = value.get("bytes") if isinstance(value, dict) else None
    path = value.get("path") if isinstance(value, dict) else None
    if data is None and path:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{where}: image file not found: {path}")
        with open(path, "rb") as handle:
            data = handle.read()
    if data is None:
        raise ValueError(f"{where}: expected an image cell with bytes or a path, got {value!r:.80}")
    return data


# EXIF orientation -> the view that turns the stored pixels upright; each comment names the Pillow
# transpose that gasr_hf.annotate.ingest applies for that orientation.
_UPRIGHT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],  # FLIP_LEFT_RIGHT
    3: lambda a: a[::-1, ::-1],  # ROTATE_180
    4: lambda a: a[::-1],  # FLIP_TOP_BOTTOM
    5: lambda a: a.swapaxes(0, 1),  # TRANSPOSE
    6: lambda a: a.swapaxes(0, 1)[:, ::-1],  # ROTATE_270
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],  # TRANSVERSE
    8: lambda a: a.swapaxes(0, 1)[::-1],  # ROTATE_90
}


def _exif_orientation(data: bytes) -> int:
    """The EXIF (or XMP) orientation tag read by Pillow, 1 when absent, invalid or unreadable."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                # The base method reads the metadata Image.open has already parsed; Pillow's PNG
                # override decodes every pixel to look for metadata stored after them.
                orientation = Image.Image.getexif(image).get(_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return 1
    return orientation if orientation in _UPRIGHT else 1


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """RGB from RGBA composited over opaque white, by Pillow as the ingest stage does it."""
    from PIL import Image

    image = Image.fromarray(rgba, "RGBA")
    canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(canvas, image).convert("RGB"))


def decode_image(data: bytes, where: str = "image") -> np.ndarray:
    """RGB uint8 HxWx3 pixels of encoded image ``data``, by the ingest stage's policy.

    The same pixels as :func:`gasr_hf.annotate.ingest.read_image` stores: 16-bit samples become
    ``round(v * 255 / 65535)``; alpha (RGBA, grey + alpha, palette with transparency) is composited
    over white; grey is replicated to three channels; the EXIF orientation turns the image upright
    (in PNGs the metadata before the pixel data, as the PNG specification places it). The pair
    stream and ``gasr tile`` both decode with this, so tiled and untiled training data agree.
    ``where`` names the row in the ``ValueError`` raised for undecodable data.
    """
    import cv2

    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError(f"{where}: not a decodable image")
    if array.dtype == np.uint16:
        # round(v / 257) in integers; v / 257 is never a tie, as 257 is odd.
        array = ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ValueError(f"{where}: {array.dtype} samples are not supported (8 or 16 bits only)")
    channels = 1 if array.ndim == 2 else array.shape[2]
    if channels == 1:
        rgb = cv2.cvtColor(array, cv2.COLOR_GRAY2RGB)
    elif channels == 3:
        rgb = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    elif channels == 4:
        rgb = _over_white(cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA))
    else:
        raise ValueError(f"{where}: images with {channels} channels are not supported")
    orientation = _exif_orientation(data)
    if orientation != 1:
        rgb = np.ascontiguousarray(_UPRIGHT[orientation](rgb))
    return rgb


def _load_source(source: Source, config: SRPairConfig, position: int) -> datasets.IterableDataset:
    """One source as a streaming dataset with a single undecoded ``image`` column."""
    if isinstance(source, datasets.Dataset):
        num_shards = max(1, min(config.map_style_shards, len(source)))
        stream = source.to_iterable_dataset(num_shards=num_shards)
    elif isinstance(source, datasets.IterableDataset):
        stream = source
    elif isinstance(source, str):
        if any(ch in source for ch in "*?["):
            if not glob.glob(source, recursive=True):
                raise FileNotFoundError(f"sources[{position}]: no file matches {source!r}")
            stream = datasets.load_dataset(
                "parquet", data_files=source, split="train", streaming=True
            )
        elif source.endswith(".parquet"):
            if not os.path.isfile(source):
                raise FileNotFoundError(f"sources[{position}]: no such file {source!r}")
            stream = datasets.load_dataset(
                "parquet", data_files=source, split="train", streaming=True
            )
        else:
            stream = datasets.load_dataset(source, split=config.split, streaming=True)
    else:
        raise ValueError(
            f"sources[{position}] must be a datasets.Dataset, a datasets.IterableDataset or a "
            f"path / Hub id, got {type(source).__name__}"
        )
    columns = list(stream.column_names or [])
    if config.image_column not in columns:
        raise ValueError(
            f"sources[{position}] has no column {config.image_column!r} (columns: {columns})"
        )
    stream = stream.select_columns([config.image_column])
    if config.image_column != "image":
        stream = stream.rename_column(config.image_column, "image")
    return stream.cast_column("image", datasets.Image(decode=False))


def _epoch_seed(seed: int, epoch: int, stage: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, stage]).generate_state(1)[0])


def _worker() -> tuple[int, int]:
    info = get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


class SRPairStream(IterableDataset):
    """HR/LR training pairs streamed from ``sources`` (see the module docstring).

    Each item is a dict: ``hr`` (3, hr_size, hr_size) and ``lr`` (3, hr_size/scale, hr_size/scale)
    float32 tensors in [0, 1]; ``transform`` (0..7, see :func:`dihedral`); and the position
    ``worker``, ``epoch``, ``index``, ``skipped`` (small images this worker has skipped since the
    last :meth:`set_epoch`).
    Iterate it through :class:`SRPairLoader` to batch it and resume exactly; iterated directly (in
    one process), its own :meth:`state_dict` is exact too. Iteration continues from the saved
    position, so without ``repeat`` call :meth:`set_epoch` before each pass (as with ``datasets``;
    the loader does it itself).
    """

    def __init__(
        self,
        sources: Source | Sequence[Source],
        config: SRPairConfig | None = None,
        *,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__()
        self.config = config or SRPairConfig()
        if isinstance(sources, (str, datasets.Dataset, datasets.IterableDataset)):
            sources = [sources]
        if not sources:
            raise ValueError("sources must name at least one dataset")
        if self.config.weights is not None and len(self.config.weights) != len(sources):
            raise ValueError(
                f"weights has {len(self.config.weights)} entries for {len(sources)} sources"
            )
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got rank={rank}")
        self.rank = rank
        self.world_size = world_size
        self._sources = [_load_source(s, self.config, i) for i, s in enumerate(sources)]
        self._state: dict[str, Any] = self._fresh_state(epoch=0, num_workers=1)
        # Skips per worker, in shared memory while a loader runs: skips after a worker's last pair
        # reach no batch, so they would otherwise never be counted in the main process.
        self._skip_counter: torch.Tensor | None = None

    # --- the row stream ------------------------------------------------------------------------

    def _rows(self, epoch: int) -> datasets.IterableDataset:
        """The mixed, shuffled, rank-split rows of ``epoch``; new objects, so workers share nothing."""
        config = self.config
        if len(self._sources) == 1:
            rows = self._sources[0]
        else:
            weights = config.weights or (1.0,) * len(self._sources)
            total = float(sum(weights))
            rows = datasets.interleave_datasets(
                self._sources,
                probabilities=[w / total for w in weights],
                seed=_epoch_seed(config.seed, epoch, 0),
                stopping_strategy=config.stopping_strategy,
            )
        if config.shuffle_buffer:
            rows = rows.shuffle(
                seed=_epoch_seed(config.seed, epoch, 1),
                buffer_size=config.shuffle_buffer,
                max_buffer_input_shards=config.shuffle_input_shards,
            )
        if self.world_size > 1:
            rows = split_dataset_by_node(rows, self.rank, self.world_size)
        return rows

    @property
    def num_shards(self) -> int:
        """Shards this rank's stream has: the most DataLoader workers that all get data."""
        total = self._rows(0).num_shards
        return total // self.world_size if total % self.world_size == 0 else total

    # --- epochs and state ----------------------------------------------------------------------

    def _fresh_state(self, epoch: int, num_workers: int, skipped: int = 0) -> dict[str, Any]:
        return {
            "epoch": epoch,
            "num_workers": num_workers,
            "next_worker": 0,
            "workers": {},
            "skipped_before": skipped,
            "rank": self.rank,
            "world_size": self.world_size,
            "config": asdict(self.config),
        }

    @property
    def epoch(self) -> int:
        return int(self._state["epoch"])

    def set_epoch(self, epoch: int) -> None:
        """Start the next iteration at the beginning of ``epoch`` (drops any resume position)."""
        self._state = self._fresh_state(epoch, self._state["num_workers"], self.skipped)
        self._skip_counter = None

    def state_dict(self) -> dict[str, Any]:
        """Where every worker's stream stands: JSON-ready, for :meth:`load_state_dict`."""
        state = dict(self._state)
        state["workers"] = {k: dict(v) for k, v in self._state["workers"].items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; raises ``ValueError`` if it was made with other settings."""
        for key, mine in (
            ("config", asdict(self.config)),
            ("rank", self.rank),
            ("world_size", self.world_size),
        ):
            theirs = state.get(key)
            if key == "config" and isinstance(theirs, dict):
                theirs = {k: tuple(v) if isinstance(v, list) else v for k, v in theirs.items()}
            if theirs != mine:
                raise ValueError(
                    f"state_dict was made with {key}={theirs!r}, this stream has {mine!r}"
                )
        self._state = {**state, "workers": {str(k): dict(v) for k, v in state["workers"].items()}}
        self._skip_counter = None

    def _record(self, item: dict[str, Any], num_workers: int, *, turn: bool = True) -> None:
        """Advance the state past ``item`` (the last pair of a batch, a pair, or a skipped row)."""
        self._state["num_workers"] = num_workers
        worker = int(item["worker"])
        self._state["workers"][str(worker)] = {
            "epoch": int(item["epoch"]),
            "index": int(item["index"]) + 1,
            "skipped": int(item["skipped"]),
        }
        if turn:
            self._state["next_worker"] = (worker + 1) % num_workers

    def _start(self, worker: int, num_workers: int) -> tuple[int, int, int]:
        saved = self._state["workers"]
        if saved and self._state["num_workers"] != num_workers:
            raise ValueError(
                f"state_dict was saved with num_workers={self._state['num_workers']}, "
                f"resumed with {num_workers}; the worker streams differ, resume with the same count"
            )
        pos = saved.get(str(worker))
        if pos is None:
            return self.epoch, 0, 0
        return int(pos["epoch"]), int(pos["index"]), int(pos["skipped"])

    @property
    def skipped(self) -> int:
        """Images smaller than the crop skipped so far (kept through ``state_dict``)."""
        if self._skip_counter is not None:
            current = int(self._skip_counter.sum())
        else:
            current = sum(int(w["skipped"]) for w in self._state["workers"].values())
        return int(self._state["skipped_before"]) + current

    def _share_skip_counter(self, num_workers: int) -> None:
        saved = self._state["workers"]
        counts = [int(saved.get(str(w), {}).get("skipped", 0)) for w in range(num_workers)]
        self._skip_counter = torch.tensor(counts, dtype=torch.int64).share_memory_()

    # --- iteration -----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker, num_workers = _worker()
        epoch, start, skipped = self._start(worker, num_workers)
        in_main_process = get_worker_info() is None
        while True:
            rows = pairs = 0
            with _short_shutdown_pause():
                for index, row in enumerate(self._rows(epoch)):
                    rows += 1
                    if index < start:
                        continue
                    item = self._pair(row["image"], epoch, worker, index, skipped)
                    if item is None:
                        skipped += 1
                        if self._skip_counter is not None:
                            self._skip_counter[worker] = skipped
                        if in_main_process:
                            position = {"worker": worker, "epoch": epoch, "index": index}
                            self._record({**position, "skipped": skipped}, num_workers, turn=False)
                        continue
                    pairs += 1
                    if in_main_process:
                        self._record(item, num_workers)
                    yield item
            if not self.config.repeat:
                return
            if rows == 0:
                raise ValueError(
                    f"rank {self.rank} worker {worker} of {num_workers} got no rows in epoch "
                    f"{epoch}; use at most num_shards={self.num_shards} workers"
                )
            if pairs == 0 and start == 0:
                raise ValueError(
                    f"rank {self.rank} worker {worker}: all {rows} images of epoch {epoch} are "
                    f"smaller than hr_size={self.config.hr_size}"
                )
            epoch, start = epoch + 1, 0

    def _pair(
        self, cell: dict[str, Any], epoch: int, worker: int, index: int, skipped: int
    ) -> dict[str, Any] | None:
        config = self.config
        where = (
            f"{cell.get('path') or 'row'} (rank {self.rank}, worker {worker}, epoch {epoch}, "
            f"index {index})"
        )
        img = decode_image(cell_bytes(cell, where), where)
        height, width = img.shape[:2]
        size = config.hr_size
        if height < size or width < size:
            if config.small_images == "error":
                raise ValueError(f"{where}: image is {width}x{height}, smaller than hr_size={size}")
            log = logger.warning if skipped == 0 else logger.debug
            log("skipping %s: image is %dx%d, smaller than hr_size=%d", where, width, height, size)
            return None
        rng = np.random.default_rng([config.seed, epoch, self.rank, worker, index])
        scale = config.scale
        y = scale * int(rng.integers(0, (height - size) // scale + 1))
        x = scale * int(rng.integers(0, (width - size) // scale + 1))
        transform = int(rng.integers(0, 8))
        hr = img[y : y + size, x : x + size]
        lr = lr_crop(img, y, x, size, scale)
        return {
            "hr": _to_tensor(dihedral(hr, transform)),
            "lr": _to_tensor(dihedral(lr, transform)),
            "transform": transform,
            "worker": worker,
            "epoch": epoch,
            "index": index,
            "skipped": skipped,
        }


SHUTDOWN_PAUSE = 0.1
"""Seconds datasets waits for Arrow's reader threads when an epoch's stream ends (its default is 5 s)."""


@contextmanager
def _short_shutdown_pause() -> Iterator[None]:
    """Cap datasets' pause at the end of a multi-shard Parquet stream at :data:`SHUTDOWN_PAUSE`.

    datasets sleeps 5 s whenever such a stream closes, a guard against Arrow threads outliving the
    interpreter at exit (apache/arrow#45214); a repeating stream closes one at every epoch, which on a
    small training set (291 images in 971 tiles: an epoch every 61 steps) cost 250 s of a 3,000-step
    run. Mid-run the threads finish on their own; a tenth of a second still covers the exit case.
    """
    previous = datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN
    datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = min(previous, SHUTDOWN_PAUSE)
    try:
        yield
    finally:
        datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = previous


def lr_crop(img: np.ndarray, y: int, x: int, size: int, scale: int) -> np.ndarray:
    """The LR of the HR crop ``img[y:y+size, x:x+size]`` (``y``, ``x``, ``size`` multiples of
    ``scale``) as it stands in the LR of the whole image: the crop is resized with a margin of
    ``4 * scale`` HR pixels (beyond the bicubic kernel's reach, 2 * scale + 2) wherever the image
    has them, then trimmed, so no LR pixel sees the crop's edges replicated, and every one equals
    the whole image's LR pixel ``(y / scale + i, x / scale + j)``."""
    height, width = img.shape[:2]
    margin = 4 * scale
    y0, x0 = max(y - margin, 0), max(x - margin, 0)
    region = img[y0 : min(y + size + margin, height), x0 : min(x + size + margin, width)]
    lr = imresize(region, 1.0 / scale)
    top, left, lr_size = (y - y0) // scale, (x - x0) // scale, size // scale
    return lr[top : top + lr_size, left : left + lr_size]


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)


class SRPairLoader:
    """A ``torch.utils.data.DataLoader`` over an :class:`SRPairStream` with exact resume.

    ``state_dict()`` after any batch, ``load_state_dict()`` before iterating: the resumed loader
    yields the very batches the uninterrupted one would have. It relies on the DataLoader's in-order
    round robin over workers: after a resume it holds back the batches of workers whose turn has
    already passed until the others have had theirs. Without ``repeat`` one iteration is one epoch,
    and the next iteration starts the following epoch.
    """

    def __init__(
        self,
        stream: SRPairStream,
        batch_size: int,
        *,
        num_workers: int = 0,
        pin_memory: bool = False,
        prefetch_factor: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        shards = stream.num_shards
        if num_workers > shards:
            raise ValueError(
                f"num_workers={num_workers} exceeds the {shards} shards of rank {stream.rank}; "
                "extra workers would get no data"
            )
        self.stream = stream
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.prefetch_factor = prefetch_factor

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "stream": self.stream.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("batch_size") != self.batch_size:
            raise ValueError(
                f"state_dict was saved with batch_size={state.get('batch_size')}, "
                f"this loader has {self.batch_size}"
            )
        self.stream.load_state_dict(state["stream"])

    @property
    def skipped(self) -> int:
        return self.stream.skipped

    def __iter__(self) -> Iterator[dict[str, Any]]:
        workers = max(1, self.num_workers)
        stream = self.stream
        if stream._state["workers"] and stream._state["num_workers"] != workers:
            raise ValueError(
                f"state_dict was saved with num_workers={stream._state['num_workers']}, "
                f"this loader has {workers}; resume with the same count"
            )
        stream._state["num_workers"] = workers
        stream._share_skip_counter(workers)
        first = int(stream._state["next_worker"])
        loader = DataLoader(
            stream,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            prefetch_factor=self.prefetch_factor,
        )
        held: list[dict[str, Any]] = []
        previous = -1
        for batch in loader:
            worker = int(batch["worker"][0])
            if worker <= previous:
                # A new round of the round robin: the held workers' turns of the last round.
                yield from self._emit(held, workers)
                held = []
            previous = worker
            if worker < first:
                held.append(batch)
            else:
                yield from self._emit([batch], workers)
        yield from self._emit(held, workers)
        if not stream.config.repeat:
            stream.set_epoch(stream.epoch + 1)

    def _emit(self, batches: list[dict[str, Any]], workers: int) -> Iterator[dict[str, Any]]:
        for batch in batches:
            self.stream._record({k: batch[k][-1] for k in _POSITION}, workers)
            yield batch


_POSITION = ("worker", "epoch", "index", "skipped")
