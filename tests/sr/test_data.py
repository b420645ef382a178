"""The SR pair stream: consistent pairs, uniform transforms, mixing, rank splits and exact resume."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from gasr_hf.annotate.ingest import read_image
from gasr_hf.sr.data import (
    SRPairConfig,
    SRPairLoader,
    SRPairStream,
    cell_bytes,
    decode_image,
    dihedral,
    lr_crop,
)
from gasr_hf.sr.resize import imresize
from gasr_hf.sr.tile import tile_dataset


def _dataset(tmp_path: Path, images: list[np.ndarray], name: str = "src") -> datasets.Dataset:
    """A map-style dataset whose ``image`` column points at PNG files written to ``tmp_path``."""
    folder = tmp_path / name
    folder.mkdir()
    paths = []
    for i, img in enumerate(images):
        path = folder / f"{i:03d}.png"
        Image.fromarray(img).save(path)
        paths.append(str(path))
    return datasets.Dataset.from_dict({"image": paths}).cast_column("image", datasets.Image())


def _noise(n: int, seed: int, shape: tuple[int, int] = (40, 48)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(n)]


def _flat(n: int, offset: int = 0) -> list[np.ndarray]:
    """Images of one colour each: the colour's red value ``offset + 7 * i`` names the image."""
    return [np.full((24, 28, 3), (offset + 7 * i, 100, 200), dtype=np.uint8) for i in range(n)]


def _uint8(t: torch.Tensor) -> np.ndarray:
    arr = t.permute(1, 2, 0).numpy() * 255.0
    assert np.all(np.abs(arr - np.round(arr)) < 1e-4), "values are not k/255"
    return np.round(arr).astype(np.uint8)


def _undo(img: np.ndarray, k: int) -> np.ndarray:
    if k >= 4:
        img = img[:, ::-1]
    return np.rot90(img, -(k % 4))


def _locate(crop: np.ndarray, images: list[np.ndarray]) -> tuple[int, int, int]:
    size = crop.shape[0]
    found = []
    for i, img in enumerate(images):
        ys, xs = np.nonzero(np.all(img == crop[0, 0], axis=-1))
        for y, x in zip(ys, xs, strict=True):
            if np.array_equal(img[y : y + size, x : x + size], crop):
                found.append((i, int(y), int(x)))
    assert len(found) == 1, f"crop found at {found}"
    return found[0]


def _red(item: dict) -> int:
    return int(round(float(item["hr"][0, 0, 0]) * 255))


def test_dihedral_gives_eight_distinct_transforms() -> None:
    img = np.arange(12).reshape(3, 4)
    outs = {dihedral(img, k).tobytes() + bytes(dihedral(img, k).shape) for k in range(8)}
    assert len(outs) == 8
    for k in range(8):
        assert np.array_equal(_undo(dihedral(img, k), k), img)


def test_every_pair_is_a_crop_and_its_matlab_resize(tmp_path: Path) -> None:
    images = _noise(6, seed=0)
    config = SRPairConfig(scale=2, hr_size=16, shuffle_buffer=4, map_style_shards=2, repeat=False)
    stream = SRPairStream(_dataset(tmp_path, images), config)
    items = list(stream)
    assert len(items) == 6
    seen = set()
    for item in items:
        assert item["hr"].shape == (3, 16, 16) and item["lr"].shape == (3, 8, 8)
        assert item["hr"].dtype == torch.float32
        assert 0.0 <= float(item["hr"].min()) and float(item["hr"].max()) <= 1.0
        k = item["transform"]
        hr = _undo(_uint8(item["hr"]), k)
        image, y, x = _locate(hr, images)
        seen.add(image)
        # On the LR grid, and the LR crop is the crop of the whole image's LR.
        assert y % 2 == 0 and x % 2 == 0
        whole = imresize(images[image], 0.5)
        assert np.array_equal(
            _uint8(item["lr"]), dihedral(whole[y // 2 : y // 2 + 8, x // 2 : x // 2 + 8], k)
        )
    assert seen == set(range(6))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_lr_crops_equal_the_whole_images_lr(scale: int) -> None:
    """No LR pixel of a training pair sees the crop's edges: every one equals the whole image's
    LR pixel, at the borders too and for sizes that are not multiples of the scale."""
    rng = np.random.default_rng(scale)
    for height, width in [(97, 130), (64, 64), (50, 203)]:
        img = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        whole = imresize(img, 1.0 / scale)
        size = 8 * scale
        ys = [0, *range(0, height - size + 1, scale)[1:-1:3], (height - size) // scale * scale]
        xs = [0, *range(0, width - size + 1, scale)[1:-1:3], (width - size) // scale * scale]
        for y, x in itertools.product(ys, xs):
            lr = lr_crop(img, y, x, size, scale)
            expected = whole[y // scale : y // scale + 8, x // scale : x // scale + 8]
            assert np.array_equal(lr, expected), (height, width, y, x)
    # What a crop resized on its own gets wrong: its outer ring sees replicated edges.
    y = x = 4 * scale
    alone = imresize(img[y : y + size, x : x + size], 1.0 / scale)
    assert not np.array_equal(
        alone, whole[y // scale : y // scale + 8, x // scale : x // scale + 8]
    )


def test_all_eight_transforms_occur_uniformly(tmp_path: Path) -> None:
    config = SRPairConfig(scale=2, hr_size=8, shuffle_buffer=0, map_style_shards=1, seed=3)
    stream = SRPairStream(_dataset(tmp_path, _flat(10)), config)
    n = 800
    counts = np.bincount([item["transform"] for item in itertools.islice(stream, n)], minlength=8)
    assert counts.min() > 0
    chi2 = float(((counts - n / 8) ** 2 / (n / 8)).sum())
    # 7 degrees of freedom: P(chi2 > 24.32) = 0.001 for a uniform draw.
    assert chi2 < 24.32, f"transform counts {counts.tolist()} (chi2 {chi2:.1f})"


def test_sources_mix_with_weights(tmp_path: Path) -> None:
    a = _dataset(tmp_path, _flat(5, offset=0), "a")
    b = _dataset(tmp_path, _flat(5, offset=100), "b")
    config = SRPairConfig(scale=2, hr_size=8, weights=(4.0, 1.0), map_style_shards=1)
    stream = SRPairStream([a, b], config)
    n = 500
    from_a = sum(_red(item) < 100 for item in itertools.islice(stream, n))
    # Binomial(500, 0.8): mean 400, standard deviation 9.
    assert 355 < from_a < 445, from_a


@pytest.mark.parametrize("shards", [4, 3])
def test_two_ranks_see_disjoint_data(tmp_path: Path, shards: int) -> None:
    # 4 shards split by shard; 3 shards (not a multiple of 2) split by example.
    source = _dataset(tmp_path, _flat(12))
    config = SRPairConfig(
        scale=2, hr_size=8, shuffle_buffer=4, map_style_shards=shards, repeat=False
    )
    seen = [
        [_red(item) for item in SRPairStream(source, config, rank=rank, world_size=2)]
        for rank in (0, 1)
    ]
    assert seen[0] and seen[1]
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == [7 * i for i in range(12)]


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])) for k in a)


def test_resumed_stream_continues_where_it_stopped(tmp_path: Path) -> None:
    source = _dataset(tmp_path, _noise(5, seed=1, shape=(20, 20)))
    config = SRPairConfig(scale=2, hr_size=16, shuffle_buffer=3, map_style_shards=2)
    whole = list(itertools.islice(SRPairStream(source, config), 17))
    assert {item["epoch"] for item in whole} == {0, 1, 2, 3}

    first = SRPairStream(source, config)
    head = list(itertools.islice(first, 7))
    state = json.loads(json.dumps(first.state_dict()))
    resumed = SRPairStream(source, config)
    resumed.load_state_dict(state)
    tail = list(itertools.islice(resumed, 10))
    assert all(_same(x, y) for x, y in zip(head + tail, whole, strict=True))


@pytest.mark.parametrize(
    ("repeat", "images", "shards", "batch_size"),
    [
        (True, 8, 4, 3),  # infinite: both workers cross epochs, some batches span two epochs
        (False, 14, 3, 2),  # one epoch: worker 0 reads two shards, worker 1 one and runs dry first
    ],
)
def test_resumed_loader_yields_the_same_batches(
    tmp_path: Path, repeat: bool, images: int, shards: int, batch_size: int
) -> None:
    source = _dataset(tmp_path, _noise(images, seed=2, shape=(18, 18)))
    config = SRPairConfig(
        scale=2, hr_size=16, shuffle_buffer=3, map_style_shards=shards, repeat=repeat
    )

    def loader() -> SRPairLoader:
        return SRPairLoader(SRPairStream(source, config), batch_size=batch_size, num_workers=2)

    uninterrupted = loader()
    whole = list(itertools.islice(uninterrupted, 10))
    workers = [int(b["worker"][0]) for b in whole]
    if repeat:
        assert len(whole) == 10
        assert {int(e) for b in whole for e in b["epoch"]} == {0, 1, 2, 3}
    else:
        assert len(whole) < 10
        assert workers[-2:] == [0, 0]
    assert set(workers) == {0, 1}

    got: list[dict] = []
    state = None
    # Stop after an odd number of batches (worker 1's turn is next), then after an even number.
    for stop in [3, len(whole) - 1, len(whole)]:
        current = loader()
        if state is not None:
            current.load_state_dict(json.loads(json.dumps(state)))
        got += list(itertools.islice(current, stop - len(got)))
        state = current.state_dict()
    assert len(got) == len(whole)
    assert all(_same(x, y) for x, y in zip(got, whole, strict=True))
    if repeat:
        assert state == uninterrupted.state_dict()
    else:
        assert not list(current), "the epoch was already finished"


def test_small_images_are_skipped_and_counted(tmp_path: Path) -> None:
    images = _noise(3, seed=4) + _noise(2, seed=5, shape=(12, 40))
    source = _dataset(tmp_path, images)
    config = SRPairConfig(scale=2, hr_size=16, shuffle_buffer=0, map_style_shards=1, repeat=False)
    stream = SRPairStream(source, config)
    assert len(list(stream)) == 3
    assert stream.skipped == 2
    # Through worker processes too: worker 1 gets the two small images and never yields a pair.
    two = SRPairConfig(**{**config.__dict__, "map_style_shards": 2})
    loader = SRPairLoader(SRPairStream(source, two), batch_size=2, num_workers=2)
    assert sum(len(batch["hr"]) for batch in loader) == 3
    assert loader.skipped == 2
    strict = SRPairStream(source, SRPairConfig(**{**config.__dict__, "small_images": "error"}))
    with pytest.raises(ValueError, match="smaller than hr_size=16"):
        list(strict)


def test_bad_settings_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of scale"):
        SRPairConfig(scale=3, hr_size=16)
    source = _dataset(tmp_path, _flat(4))
    config = SRPairConfig(scale=2, hr_size=8, map_style_shards=2)
    with pytest.raises(ValueError, match="num_workers=3 exceeds"):
        SRPairLoader(SRPairStream(source, config), batch_size=2, num_workers=3)
    with pytest.raises(ValueError, match="no column 'picture'"):
        SRPairStream(source, SRPairConfig(image_column="picture"))
    state = SRPairStream(source, config).state_dict()
    other = SRPairStream(source, SRPairConfig(scale=2, hr_size=8, map_style_shards=2, seed=1))
    with pytest.raises(ValueError, match="config"):
        other.load_state_dict(state)


# --- decoding: the ingest stage's policy ----------------------------------------------------------


def _encoded(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _ingested(data: bytes) -> np.ndarray:
    """The RGB pixels the ingest stage stores for ``data``."""
    return np.asarray(Image.open(io.BytesIO(read_image(data).data)).convert("RGB"))


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def policy_cases() -> dict[str, bytes]:
    """One encoded image per case of the decode policy, 24x36 (not square, so rotations show)."""
    import cv2

    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (24, 36, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, rng.integers(0, 256, (24, 36), dtype=np.uint8)])
    deep = rng.integers(0, 65536, (24, 36, 3), dtype=np.uint16)
    deep_alpha = rng.integers(0, 65536, (24, 36, 4), dtype=np.uint16)
    return {
        "exif_jpeg": _encoded(Image.fromarray(rgb), "JPEG", quality=95, exif=_exif(6)),
        "exif_png": _encoded(Image.fromarray(rgb), exif=_exif(8)),
        "png_16bit": cv2.imencode(".png", deep)[1].tobytes(),
        "png_16bit_alpha": cv2.imencode(".png", deep_alpha)[1].tobytes(),
        "png_16bit_grey": _encoded(Image.fromarray(deep[:, :, 0])),
        "rgba_png": _encoded(Image.fromarray(rgba)),
        "grey_alpha_png": _encoded(Image.fromarray(rgba[:, :, :2], "LA")),
        "palette_transparency_png": _encoded(Image.fromarray(rgb).quantize(16), transparency=3),
        "grey_png": _encoded(Image.fromarray(rgb[:, :, 0])),
        "rgb_png": _encoded(Image.fromarray(rgb)),
    }


@pytest.mark.parametrize("case", sorted(policy_cases()))
def test_decode_gives_the_pixels_ingest_stores(case: str) -> None:
    data = policy_cases()[case]
    got = decode_image(data, case)
    assert got.dtype == np.uint8 and got.ndim == 3 and got.shape[2] == 3
    assert got.flags.c_contiguous
    assert np.array_equal(got, _ingested(data))
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert got.shape[:2] == (upright.height, upright.width)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_turned_upright(orientation: int) -> None:
    rgb = np.random.default_rng(orientation).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    data = _encoded(Image.fromarray(rgb), exif=_exif(orientation))
    upright = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert np.array_equal(decode_image(data), upright)


def test_16bit_samples_round_like_ingest() -> None:
    import cv2

    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    got = decode_image(cv2.imencode(".png", values)[1].tobytes())[:, :, 0]
    expected = np.round(values.astype(np.float64) * (255 / 65535)).astype(np.uint8)
    assert np.array_equal(got, expected)


def test_undecodable_data_and_missing_files_name_the_row(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="row 3: not a decodable image"):
        decode_image(b"not an image", "row 3")
    with pytest.raises(FileNotFoundError, match="row 4: image file not found"):
        cell_bytes({"bytes": None, "path": str(tmp_path / "gone.png")}, "row 4")
    with pytest.raises(ValueError, match="row 5: expected an image cell"):
        cell_bytes({"bytes": None, "path": None}, "row 5")


def test_tiles_hold_the_pixels_the_stream_decodes(tmp_path: Path) -> None:
    # EXIF-rotated JPEG and PNG, 16-bit, alpha, grey: tiled and untiled data must agree.
    cases = policy_cases()
    source = datasets.Dataset.from_dict(
        {"image": [{"bytes": data, "path": f"{name}.img"} for name, data in cases.items()]}
    ).cast_column("image", datasets.Image())
    out = tmp_path / "tiles"
    report = tile_dataset(source, out, size=16, step=12, chunk_size=4)
    assert report.complete and not report.failures
    decoded = {name: decode_image(data, name) for name, data in cases.items()}
    tiles = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    seen = set()
    for row in tiles.cast_column("image", datasets.Image(decode=False)):
        name = row["source_file"].removesuffix(".img")
        y, x = row["y"], row["x"]
        tile = decode_image(row["image"]["bytes"], name)
        assert np.array_equal(tile, decoded[name][y : y + 16, x : x + 16]), name
        seen.add(name)
    assert seen == set(cases)


def test_epoch_ends_do_not_pause_for_five_seconds(tmp_path: Path, monkeypatch) -> None:
    """datasets sleeps SLEEP_TIME_ON_THREADS_SHUTDOWN (5 s) whenever a multi-shard Parquet stream
    closes; a repeating stream closes one every epoch, so it caps that pause, and restores it."""
    import datasets.iterable_dataset as iterable

    monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 5)
    slept: list[float] = []
    monkeypatch.setattr(iterable.time, "sleep", lambda seconds: slept.append(seconds))
    folder = tmp_path / "shards"
    folder.mkdir()
    for shard, images in enumerate((_noise(3, seed=1), _noise(3, seed=2))):
        ds = _dataset(tmp_path, images, name=f"src{shard}")
        ds.to_parquet(str(folder / f"train-{shard:05d}-of-00002.parquet"))
    config = SRPairConfig(scale=2, hr_size=16, shuffle_buffer=4)
    stream = SRPairStream(str(folder / "train-*.parquet"), config)
    items = list(itertools.islice(iter(stream), 20))  # more than three epochs of 6 images
    assert {item["epoch"] for item in items} >= {0, 1, 2}
    assert slept and max(slept) <= 0.1
    assert datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN == 5
