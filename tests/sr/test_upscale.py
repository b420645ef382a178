"""gasr upscale: any spandrel checkpoint on a file or folder, tiles without seams, half precision
where the architecture allows it, broken inputs named and skipped, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from gasr_hf.cli import main
from gasr_hf.sr.evaluate import load_upscaler, upscale_image
from gasr_hf.sr.models import build, tiny_config
from gasr_hf.sr.upscale import REPORT_FILE, upscale


def _checkpoint(tmp_path: Path, name: str) -> Path:
    torch.manual_seed(0)
    model = build(name, 4, **tiny_config(name))
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return path


def _image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / 5.0
    base = np.sin(x * rng.uniform(0.5, 1.5)) * np.cos(y * rng.uniform(0.5, 1.5))
    img = (base[..., None] * 90 + 128 + rng.normal(0, 10, (h, w, 3))).clip(0, 255)
    return img.astype(np.uint8)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_image(20, 24, 0)).save(src / "a.png")
    Image.fromarray(_image(18, 16, 1)).save(src / "b.jpg", quality=95)
    Image.fromarray(_image(12, 12, 2)[..., 0]).save(src / "gray.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (src / "notes.txt").write_text("not an image")
    return src


def test_a_folder_is_upscaled_resumably_and_broken_inputs_are_named(tmp_path, folder):
    model = _checkpoint(tmp_path, "compact")
    out = tmp_path / "out"
    report = upscale(str(model), folder, out)
    assert sorted(report.written) == ["a.png", "b.jpg", "gray.png"]
    assert list(report.failed) == ["broken.png"]
    assert Image.open(out / "a.png").size == (24 * 4, 20 * 4)
    assert Image.open(out / "b.png").size == (16 * 4, 18 * 4)
    assert Image.open(out / "gray.png").mode == "RGB"
    expected = upscale_image(load_upscaler(str(model), device="cpu"), _image(20, 24, 0))
    assert np.array_equal(np.asarray(Image.open(out / "a.png")), expected)
    before = (out / "a.png").stat().st_mtime_ns
    again = upscale(str(model), folder, out)
    assert again.written == [] and sorted(again.skipped) == ["a.png", "b.jpg", "gray.png"]
    assert (out / "a.png").stat().st_mtime_ns == before
    assert json.loads((out / REPORT_FILE).read_text())["failed"]["broken.png"]
    with pytest.raises(ValueError, match="other settings .*tile"):
        upscale(str(model), folder, out, tile=8)


def test_tiles_leave_no_seams(tmp_path):
    model = _checkpoint(tmp_path, "rcan")
    upscaler = load_upscaler(str(model), device="cpu")
    lr = _image(37, 45, 3)
    whole = upscale_image(upscaler, lr)
    tiled = upscale_image(upscaler, lr, tile=12, tile_pad=16)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1
    # Without context the tile borders differ: the test can see seams.
    seams = upscale_image(upscaler, lr, tile=12, tile_pad=0)
    assert np.abs(whole.astype(int) - seams.astype(int)).max() > 1


def test_half_precision_only_where_spandrel_allows_it(tmp_path):
    compact = _checkpoint(tmp_path, "compact")
    lr = _image(16, 16, 4)
    full = upscale_image(load_upscaler(str(compact), device="cpu"), lr)
    half = upscale_image(load_upscaler(str(compact), device="cpu", dtype="bf16"), lr)
    assert np.abs(full.astype(int) - half.astype(int)).mean() < 2.0
    rcan = _checkpoint(tmp_path, "rcan")
    with pytest.raises(ValueError, match="not supporting fp16; use fp32 or bf16"):
        load_upscaler(str(rcan), device="cpu", dtype="fp16")


def test_the_command_upscales_a_single_file(tmp_path, folder, capsys):
    model = _checkpoint(tmp_path, "compact")
    out = tmp_path / "one"
    code = main(
        ["upscale", "--model", str(model), "--in", str(folder / "a.png"), "--out", str(out)]
    )
    assert code == 0
    assert "1 written" in capsys.readouterr().out
    assert [p.name for p in out.glob("*.png")] == ["a.png"]
    assert (
        main(["upscale", "--model", str(model), "--in", str(tmp_path / "none"), "--out", str(out)])
        == 2
    )
    clash = tmp_path / "clash"
    clash.mkdir()
    Image.fromarray(_image(8, 8, 5)).save(clash / "x.png")
    Image.fromarray(_image(8, 8, 6)).save(clash / "x.bmp")
    assert main(["upscale", "--model", str(model), "--in", str(clash), "--out", str(out)]) == 2
    assert "would both write x.png" in capsys.readouterr().err
