"""ingest_folder: every awkward input has its policy; output loads with datasets; reruns resume."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from gasr_hf.annotate.ingest import SkippedImage, ingest_folder, read_image


def _png(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def _jpeg(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **kwargs)
    return buffer.getvalue()


def _noise(width: int = 48, height: int = 40, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(array.squeeze(-1) if channels == 1 else array, mode)


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _bomb_png(side: int = 100_000) -> bytes:
    """A PNG whose header claims side x side pixels, with almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


# --- kept as the file's own bytes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data, fmt",
    [
        (_png(_noise()), "PNG"),
        (_png(_noise(mode="L")), "PNG"),
        (_jpeg(_noise(), quality=80), "JPEG"),
        (_jpeg(_noise(mode="L"), quality=80), "JPEG"),
    ],
    ids=["rgb_png", "gray_png", "rgb_jpeg", "gray_jpeg"],
)
def test_plain_png_and_jpeg_keep_their_bytes(data, fmt):
    item = read_image(data)
    assert item.data == data
    assert (item.width, item.height, item.format, item.conversion) == (48, 40, fmt, "none")


# --- converted to 8-bit RGB PNG -----------------------------------------------------------------


def test_exif_rotation_is_applied_and_stored_as_png():
    source = _noise(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _jpeg(source, quality=95, exif=exif)
    item = read_image(data)
    assert item.conversion == "exif_orientation_6"
    assert (item.width, item.height) == (20, 40)
    out = _decode(item.data)
    assert out.format == "PNG" and out.mode == "RGB"
    expected = ImageOps.exif_transpose(_decode(data))
    assert np.array_equal(np.asarray(out), np.asarray(expected))


def test_16bit_rgb_png_is_scaled_to_8bit():
    import cv2

    rng = np.random.default_rng(1)
    rgb16 = rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    ok, encoded = cv2.imencode(".png", rgb16[:, :, ::-1])
    assert ok
    item = read_image(encoded.tobytes())
    assert item.conversion == "16bit_to_8bit"
    expected = np.round(rgb16 * (255 / 65535)).astype(np.uint8)
    assert np.array_equal(np.asarray(_decode(item.data)), expected)


def test_16bit_gray_png_becomes_8bit_rgb():
    import cv2

    gray16 = np.arange(0, 65536, 65536 // 600, dtype=np.uint16)[:600].reshape(20, 30)
    ok, encoded = cv2.imencode(".png", gray16)
    assert ok and Image.open(io.BytesIO(encoded.tobytes())).mode.startswith("I;16")
    item = read_image(encoded.tobytes())
    out = np.asarray(_decode(item.data))
    assert item.conversion == "16bit_to_8bit" and out.shape == (20, 30, 3)
    assert np.array_equal(out[:, :, 0], np.round(gray16 * (255 / 65535)).astype(np.uint8))


def test_palette_becomes_rgb():
    palette = _noise().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    item = read_image(_png(palette))
    assert item.conversion == "palette_to_rgb"
    assert np.array_equal(np.asarray(_decode(item.data)), np.asarray(palette.convert("RGB")))


def test_alpha_is_composited_over_white():
    array = np.zeros((40, 48, 4), np.uint8)
    array[:, :24] = (255, 0, 0, 0)  # fully transparent red -> background
    array[:, 24:] = (0, 0, 255, 255)  # opaque blue stays
    array[0, 0] = (0, 0, 0, 128)  # half-transparent black over white -> mid grey
    item = read_image(_png(Image.fromarray(array, "RGBA")))
    out = np.asarray(_decode(item.data))
    assert item.conversion == "alpha_composited"
    assert tuple(out[5, 5]) == (255, 255, 255)
    assert tuple(out[5, 30]) == (0, 0, 255)
    assert all(126 <= v <= 128 for v in out[0, 0])
    black = read_image(_png(Image.fromarray(array, "RGBA")), alpha_background=(0, 0, 0))
    assert tuple(np.asarray(_decode(black.data))[5, 5]) == (0, 0, 0)


def test_cmyk_jpeg_becomes_rgb():
    data = _jpeg(Image.new("CMYK", (48, 40), (0, 255, 0, 0)), quality=95)
    item = read_image(data)
    assert item.conversion == "cmyk_to_rgb" and item.format == "JPEG"
    assert np.array_equal(np.asarray(_decode(item.data)), np.asarray(_decode(data).convert("RGB")))


def test_other_formats_are_reencoded_losslessly():
    source = _noise()
    buffer = io.BytesIO()
    source.save(buffer, format="BMP")
    item = read_image(buffer.getvalue())
    assert item.conversion == "reencoded_BMP" and item.format == "BMP"
    assert np.array_equal(np.asarray(_decode(item.data)), np.asarray(source))


def test_animated_gif_keeps_first_frame():
    frames = [_noise(seed=1).convert("P"), _noise(seed=2).convert("P")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    item = read_image(buffer.getvalue())
    assert item.conversion.startswith("first_frame_of_2")
    first = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    assert np.array_equal(np.asarray(_decode(item.data)), np.asarray(first))


# --- skipped with a reason ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"this is not an image at all", "unreadable"),
        (_png(_noise())[:-200], "truncated"),
        (_jpeg(_noise(), quality=90)[:-200], "truncated"),
        (_bomb_png(), "too_large"),
    ],
    ids=["zero_byte", "corrupt", "truncated_png", "truncated_jpeg", "decompression_bomb"],
)
def test_bad_files_are_skipped_with_reason(data, reason):
    with pytest.raises(SkippedImage) as caught:
        read_image(data)
    assert caught.value.reason == reason


def test_max_pixels_guard_checks_the_header():
    with pytest.raises(SkippedImage) as caught:
        read_image(_png(_noise(48, 40)), max_pixels=48 * 40 - 1)
    assert caught.value.reason == "too_large"
    assert read_image(_png(_noise(48, 40)), max_pixels=48 * 40).conversion == "none"


def test_corrupt_pixel_data_is_skipped():
    data = bytearray(_png(_noise(200, 200)))
    data[100:140] = b"\xff" * 40  # inside the IDAT stream
    with pytest.raises(SkippedImage) as caught:
        read_image(bytes(data))
    assert caught.value.reason in {"corrupt", "truncated"}


def test_float_tiff_is_unsupported():
    buffer = io.BytesIO()
    Image.fromarray(np.ones((40, 48), np.float32), "F").save(buffer, format="TIFF")
    with pytest.raises(SkippedImage) as caught:
        read_image(buffer.getvalue())
    assert caught.value.reason == "unsupported_mode"


# --- the whole folder -----------------------------------------------------------------------------


def _awkward_folder(root: Path) -> dict[str, bytes]:
    exif = Image.Exif()
    exif[0x0112] = 8
    files = {
        "a_plain.png": _png(_noise(seed=3)),
        "b_photo.jpg": _jpeg(_noise(seed=4), quality=85),
        "sub/c_gray.png": _png(_noise(mode="L", seed=5)),
        "sub/d_alpha.png": _png(_noise(mode="RGBA", seed=6)),
        "e_rotated.jpg": _jpeg(_noise(seed=7), exif=exif),
        "f_empty.png": b"",
        "g_truncated.png": _png(_noise(seed=8))[:-300],
        "h_bomb.png": _bomb_png(),
        "i_junk.jpg": b"garbage",
        "notes.txt": b"not an image",
        ".hidden/j.png": _png(_noise(seed=9)),
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_ingest_folder_writes_dataset_and_error_report(tmp_path):
    import datasets

    files = _awkward_folder(tmp_path / "images")
    report = ingest_folder(tmp_path / "images", "awkward", tmp_path / "out", chunk_size=3)
    assert report.complete
    assert report.files == 10  # the hidden folder is not part of the dataset
    assert report.written == 5
    assert report.skipped == {
        "empty": 1,
        "not_an_image_extension": 1,
        "too_large": 1,
        "truncated": 1,
        "unreadable": 1,
    }
    assert report.converted == {
        "alpha_composited": 1,
        "exif_orientation_8": 1,
        "none": 3,
    }
    errors = [json.loads(line) for line in Path(report.errors_path).read_text().splitlines()]
    assert sorted(e["file"] for e in errors) == [
        "f_empty.png",
        "g_truncated.png",
        "h_bomb.png",
        "i_junk.jpg",
        "notes.txt",
    ]
    assert all(e["reason"] and e["error"] for e in errors)
    assert json.loads(Path(report.report_path).read_text())["written"] == 5

    ds = datasets.load_dataset("parquet", data_dir=str(tmp_path / "out"), split="train")
    assert ds.column_names == [
        "image",
        "file_name",
        "width",
        "height",
        "source",
        "format",
        "conversion",
    ]
    rows = {row["file_name"]: row for row in ds.cast_column("image", datasets.Image(decode=False))}
    assert sorted(rows) == [
        "a_plain.png",
        "b_photo.jpg",
        "e_rotated.jpg",
        "sub/c_gray.png",
        "sub/d_alpha.png",
    ]
    for name in ("a_plain.png", "b_photo.jpg", "sub/c_gray.png"):
        assert rows[name]["image"]["bytes"] == files[name], f"{name} must keep its own bytes"
    assert {r["source"] for r in rows.values()} == {"awkward"}
    assert (rows["e_rotated.jpg"]["width"], rows["e_rotated.jpg"]["height"]) == (40, 48)


def test_ingest_resumes_and_refuses_a_changed_folder(tmp_path):
    _awkward_folder(tmp_path / "images")
    first = ingest_folder(tmp_path / "images", "awkward", tmp_path / "out", chunk_size=4)
    shard = tmp_path / "out" / "train-00000.parquet"
    stamp = shard.stat().st_mtime_ns
    again = ingest_folder(tmp_path / "images", "awkward", tmp_path / "out", chunk_size=4)
    assert again.written == first.written
    assert shard.stat().st_mtime_ns == stamp, "a finished shard must not be rewritten"
    (tmp_path / "images" / "z_new.png").write_bytes(_png(_noise(seed=10)))
    with pytest.raises(ValueError, match="listing_sha256"):
        ingest_folder(tmp_path / "images", "awkward", tmp_path / "out", chunk_size=4)


def test_ingest_boundary_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder"):
        ingest_folder(tmp_path / "absent", "x", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        ingest_folder(tmp_path / "empty", "x", tmp_path / "out")


def test_broken_symlinks_and_unreadable_files_are_skipped_rows(tmp_path, monkeypatch):
    """Every non-hidden entry is listed; one that cannot be read is an ``unreadable`` row."""
    import os

    images = tmp_path / "images"
    images.mkdir()
    good = _png(_noise(seed=11))
    (images / "a_good.png").write_bytes(good)
    (images / "b_dangling.png").symlink_to(images / "absent.png")
    (images / "c_loop.png").symlink_to(images / "c_loop.png")
    (images / "d_locked.png").write_bytes(_png(_noise(seed=12)))
    os.mkfifo(images / "e_pipe.png")  # reading it would block; it is not a regular file
    (images / "f_folder.png").mkdir()  # a folder is walked, not read
    (images / "f_folder.png" / "inner.png").write_bytes(_png(_noise(seed=13)))

    # Tests run as root, where chmod 000 still reads; fail the read the way EACCES would.
    read_bytes = Path.read_bytes

    def locked(path: Path) -> bytes:
        if path.name == "d_locked.png":
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", locked)
    report = ingest_folder(images, "links", tmp_path / "out", chunk_size=2)
    assert report.complete and report.files == 6 and report.written == 2
    assert report.skipped == {"unreadable": 4}
    errors = {
        e["file"]: e for e in map(json.loads, Path(report.errors_path).read_text().splitlines())
    }
    assert sorted(errors) == ["b_dangling.png", "c_loop.png", "d_locked.png", "e_pipe.png"]
    assert {e["reason"] for e in errors.values()} == {"unreadable"}
    assert "Permission denied" in errors["d_locked.png"]["error"]
    assert "not a regular file" in errors["e_pipe.png"]["error"]

    import datasets

    ds = datasets.load_dataset("parquet", data_dir=str(tmp_path / "out"), split="train")
    ds = ds.cast_column("image", datasets.Image(decode=False))
    assert ds["file_name"] == ["a_good.png", "f_folder.png/inner.png"]
    assert ds[0]["image"]["bytes"] == good
