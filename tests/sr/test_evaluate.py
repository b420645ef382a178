"""gasr_hf.sr.evaluate: the bicubic baseline, spandrel checkpoints, tiling, self-ensemble, reports."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import spandrel
import torch
from PIL import Image

from gasr_hf.sr.evaluate import (
    Report,
    evaluate_model,
    list_bench_images,
    load_upscaler,
    merge_reports,
    upscale_image,
)
from gasr_hf.sr.metrics import calculate_psnr, calculate_psnr_ssim
from gasr_hf.sr.resize import imresize

REPO_ROOT = Path(__file__).resolve().parents[2]


def _smooth_image(h: int, w: int, channels: int, seed: int) -> np.ndarray:
    """A natural-ish test image: random low-frequency content plus a little noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (h // 6 + 2, w // 6 + 2, channels), dtype=np.uint8)
    img = imresize(coarse, 6.0)[:h, :w].astype(np.int64)
    img += rng.integers(-6, 7, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


@pytest.fixture
def bench_root(tmp_path: Path) -> Path:
    """``tiny/``: one odd-sized RGB image and one odd-sized grayscale image."""
    folder = tmp_path / "benches" / "tiny"
    folder.mkdir(parents=True)
    Image.fromarray(_smooth_image(83, 70, 3, seed=0)).save(folder / "a.png")
    Image.fromarray(_smooth_image(66, 57, 1, seed=1), mode="L").save(folder / "b.png")
    return tmp_path / "benches"


def _dihedral_symmetric(weight: torch.Tensor) -> torch.Tensor:
    """Average a conv kernel over the 8 flips/rotations: the layer then commutes with them."""
    variants = [torch.rot90(weight, k, dims=(2, 3)) for k in range(4)]
    variants += [torch.flip(v, dims=(3,)) for v in variants]
    return torch.stack(variants).mean(dim=0)


@pytest.fixture
def esrgan_files(tmp_path: Path) -> dict[str, Path]:
    """Random-weight tiny ESRGANs (spandrel's RRDBNet) saved as a .pth state dict and as
    .safetensors; ``symmetric`` has D4-symmetric kernels, so the network is flip/rotation
    equivariant and self-ensemble must not change its output."""
    from safetensors.torch import save_file
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    net = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    files = {
        "pth": tmp_path / "tiny_esrgan.pth",
        "safetensors": tmp_path / "tiny_esrgan.safetensors",
    }
    torch.save(state, files["pth"])
    save_file(state, str(files["safetensors"]))
    symmetric = {k: _dihedral_symmetric(v) if v.ndim == 4 else v for k, v in state.items()}
    # A positive bias on the last layer keeps the random network's output off the clamp at 0.
    last_bias = [k for k in symmetric if k.endswith(".bias")][-1]
    symmetric[last_bias] = symmetric[last_bias] + 0.5
    files["symmetric"] = tmp_path / "symmetric_esrgan.pth"
    torch.save(symmetric, files["symmetric"])
    return files


def _scores(report: Report, bench: str) -> list[tuple[float, float]]:
    score = report.rows[0].score(bench)
    assert score is not None
    return [(s.psnr, s.ssim) for s in score.per_image]


def test_bicubic_x4_baseline_on_shared_set5_set14(shared_benchmarks: Path, tmp_path: Path) -> None:
    report = evaluate_model(
        "bicubic", ["Set5", "Set14"], shared_benchmarks, 4, tmp_path / "out", device="cpu"
    )
    set5, set14 = report.rows[0].scores
    assert (set5.num_images, set14.num_images) == (5, 14)
    assert set5.psnr == pytest.approx(28.430, abs=0.002)
    assert set5.ssim == pytest.approx(0.8111, abs=0.0002)
    assert set14.psnr == pytest.approx(26.091, abs=0.002)
    assert set14.ssim == pytest.approx(0.7048, abs=0.0002)

    # Rounding Y as MATLAB's rgb2ycbcr on uint8 does gives the papers' Set5 PSNR, 28.42 dB.
    rounded = evaluate_model(
        "bicubic", ["Set5"], shared_benchmarks, 4, tmp_path / "y_uint8", y_uint8=True, device="cpu"
    )
    assert round(rounded.rows[0].scores[0].psnr, 2) == 28.42


def test_pipeline_bicubic_is_matlab_imresize(bench_root: Path) -> None:
    upscaler = load_upscaler("bicubic", 4, device="cpu")
    for _, load in list_bench_images("tiny", bench_root):
        hr = load()
        lr = imresize(hr[:64, :56], 0.25)
        np.testing.assert_array_equal(upscale_image(upscaler, lr), imresize(lr, 4.0))


def test_mod_crop_border_and_gray_images(bench_root: Path, tmp_path: Path) -> None:
    report = evaluate_model("bicubic", ["tiny"], bench_root, 4, tmp_path / "out", device="cpu")
    expected = []
    for name in ("a", "b"):
        # Gray images are scored as RGB (replicated), as image readers in SR code load them.
        hr = np.asarray(Image.open(bench_root / "tiny" / f"{name}.png").convert("RGB"))
        h, w = hr.shape[:2]
        hr = hr[: h - h % 4, : w - w % 4]
        sr = imresize(imresize(hr, 0.25), 4.0)
        expected.append(calculate_psnr_ssim(sr, hr, 4))
    assert _scores(report, "tiny") == expected
    assert [s.image for s in report.rows[0].scores[0].per_image] == ["a.png", "b.png"]


def test_tiled_and_self_ensemble_bicubic(bench_root: Path) -> None:
    upscaler = load_upscaler("bicubic", 3, device="cpu")
    hr = list_bench_images("tiny", bench_root)[0][1]()[:81, :69]
    lr = imresize(hr, 1 / 3)
    plain = upscale_image(upscaler, lr)
    np.testing.assert_array_equal(upscale_image(upscaler, lr, tile=7, tile_pad=4), plain)
    # Bicubic commutes with flips and transposes up to MATLAB's per-pass uint8 rounding, which
    # transposing applies in the other order: the average of the 8 stays within 2 levels.
    ensemble = upscale_image(upscaler, lr, self_ensemble=True)
    assert np.abs(ensemble.astype(int) - plain).max() <= 2
    assert np.mean(ensemble != plain) < 0.1
    assert calculate_psnr_ssim(ensemble, hr, 3)[0] == pytest.approx(
        calculate_psnr_ssim(plain, hr, 3)[0], abs=0.01
    )


def test_tiled_and_self_ensemble_spandrel_model(esrgan_files: dict[str, Path]) -> None:
    upscaler = load_upscaler(str(esrgan_files["symmetric"]), device="cpu")
    lr = _smooth_image(30, 26, 3, seed=2)
    plain = upscale_image(upscaler, lr)
    assert plain.shape == (120, 104, 3) and plain.dtype == np.uint8
    assert plain.std() > 1.0
    # The receptive field (about 18 LR pixels) fits in the padding: tiles change nothing but
    # float rounding.
    tiled = upscale_image(upscaler, lr, tile=12, tile_pad=20)
    assert np.abs(tiled.astype(int) - plain).max() <= 1
    assert np.mean(tiled != plain) < 1e-3
    ensemble = upscale_image(upscaler, lr, self_ensemble=True)
    assert np.abs(ensemble.astype(int) - plain).max() <= 1
    assert np.mean(ensemble != plain) < 1e-3


def test_tiles_survive_models_that_scale_their_input_in_place(tmp_path: Path) -> None:
    # spandrel's RCAN multiplies its input by 255 in place; tiles are views of one LR tensor.
    from spandrel.architectures.RCAN import RCAN

    torch.manual_seed(0)
    net = RCAN(scale=2, n_resgroups=1, n_resblocks=1, n_feats=8, reduction=4)
    torch.save(net.state_dict(), tmp_path / "rcan.pth")
    upscaler = load_upscaler(str(tmp_path / "rcan.pth"), device="cpu")
    lr = _smooth_image(30, 26, 3, seed=4)
    plain = upscale_image(upscaler, lr)
    # Channel attention pools over the whole input, so tiles differ slightly; not by much.
    assert calculate_psnr(upscale_image(upscaler, lr, tile=12, tile_pad=8), plain, 0) > 50


@pytest.mark.parametrize("kind", ["pth", "safetensors"])
def test_spandrel_checkpoint_end_to_end(
    kind: str, esrgan_files: dict[str, Path], bench_root: Path, tmp_path: Path
) -> None:
    path = esrgan_files[kind]
    report = evaluate_model(
        str(path),
        ["tiny"],
        bench_root,
        None,
        tmp_path / "out",
        training_dataset="GASR",
        num_train_images=1000,
        device="cpu",
    )
    assert report.scale == 4
    row = report.rows[0]
    assert (row.model, row.training_dataset, row.num_train_images) == ("tiny_esrgan", "GASR", 1000)
    assert row.settings["architecture"] == "ESRGAN"

    descriptor = spandrel.ModelLoader().load_from_file(path)
    expected = []
    for _, load in list_bench_images("tiny", bench_root):
        hr = load()
        h, w = hr.shape[:2]
        hr = hr[: h - h % 4, : w - w % 4]
        x = torch.from_numpy(imresize(hr, 0.25)).permute(2, 0, 1)[None].float() / 255
        sr = (descriptor(x)[0].permute(1, 2, 0).double() * 255).round().byte().numpy()
        expected.append(calculate_psnr_ssim(sr, hr, 4))
    np.testing.assert_allclose(_scores(report, "tiny"), expected, atol=1e-6)
    table = (tmp_path / "out" / "report.md").read_text()
    assert "| tiny_esrgan | GASR | 1000 |" in table


def test_checkpoint_scale_must_match(esrgan_files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="x4 model, but scale=2"):
        load_upscaler(str(esrgan_files["pth"]), 2, device="cpu")


def test_report_files_and_merge(
    esrgan_files: dict[str, Path], bench_root: Path, tmp_path: Path
) -> None:
    bicubic = evaluate_model("bicubic", ["tiny"], bench_root, 4, tmp_path / "bic", device="cpu")
    (bench_root / "other").mkdir()
    Image.fromarray(_smooth_image(40, 48, 3, seed=3)).save(bench_root / "other" / "c.png")
    esrgan = evaluate_model(
        str(esrgan_files["pth"]),
        ["other", "tiny"],
        bench_root,
        4,
        tmp_path / "esr",
        name="ESRGAN-tiny",
        device="cpu",
    )

    assert Report.from_json(tmp_path / "bic" / "report.json") == bicubic
    merged = merge_reports([tmp_path / "bic", tmp_path / "esr" / "report.json"], tmp_path / "all")
    assert merged.rows == bicubic.rows + esrgan.rows
    assert merged.benches == ["tiny", "other"]

    md = (tmp_path / "all" / "report.md").read_text().splitlines()
    assert md[2] == "| Model | Training dataset | #Images | tiny PSNR / SSIM | other PSNR / SSIM |"
    tiny = bicubic.rows[0].scores[0]
    assert md[4] == f"| Bicubic | – | – | {tiny.psnr:.2f} / {tiny.ssim:.4f} | – |"
    assert md[5].startswith("| ESRGAN-tiny | – | – | ")

    csv_lines = (tmp_path / "all" / "report.csv").read_text().splitlines()
    assert csv_lines[0] == (
        "model,training_dataset,num_train_images,scale,tiny_psnr,tiny_ssim,tiny_num_images,"
        "other_psnr,other_ssim,other_num_images"
    )
    assert csv_lines[1] == f"Bicubic,,,4,{tiny.psnr:.6f},{tiny.ssim:.6f},2,,,"
    assert json.loads((tmp_path / "all" / "report.json").read_text())["benches"] == [
        "tiny",
        "other",
    ]

    x2 = evaluate_model("bicubic", ["tiny"], bench_root, 2, tmp_path / "x2", device="cpu")
    assert x2.scale == 2
    with pytest.raises(ValueError, match="x2"):
        merge_reports([tmp_path / "bic", tmp_path / "x2"], tmp_path / "bad")


def test_rerun_resumes_and_refuses_other_settings(bench_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = evaluate_model("bicubic", ["tiny"], bench_root, 4, out, device="cpu")
    scores = out / "scores" / "tiny.jsonl"
    lines = scores.read_text().splitlines()
    assert len(lines) == 2
    # A stored score is reused, not recomputed; a last line cut short by a crash is redone.
    stored = json.loads(lines[0])
    stored["psnr"] = 99.0
    scores.write_text(json.dumps(stored) + "\n" + lines[1][:10])
    again = evaluate_model("bicubic", ["tiny"], bench_root, 4, out, device="cpu")
    assert _scores(again, "tiny") == [(99.0, stored["ssim"]), _scores(first, "tiny")[1]]
    assert len(scores.read_text().splitlines()) == 2

    with pytest.raises(ValueError, match="y_uint8"):
        evaluate_model("bicubic", ["tiny"], bench_root, 4, out, y_uint8=True, device="cpu")


def test_dataset_bench_with_image_column(bench_root: Path, tmp_path: Path) -> None:
    files = sorted((bench_root / "tiny").glob("*.png"))
    ds = datasets.Dataset.from_dict(
        {"image": [str(p) for p in files], "file_name": [p.name for p in files]}
    ).cast_column("image", datasets.Image())
    (tmp_path / "hub_like").mkdir()
    ds.to_parquet(tmp_path / "hub_like" / "test.parquet")

    from_folder = evaluate_model("bicubic", ["tiny"], bench_root, 4, tmp_path / "a", device="cpu")
    from_dataset = evaluate_model(
        "bicubic", [str(tmp_path / "hub_like")], None, 4, tmp_path / "b", device="cpu"
    )
    assert from_dataset.rows[0].scores[0].per_image == from_folder.rows[0].scores[0].per_image
    # The same images under another source: the fingerprint matches, the source differs.
    folder_bench = from_folder.rows[0].settings["benches"]["tiny"]
    dataset_bench = from_dataset.rows[0].settings["benches"][str(tmp_path / "hub_like")]
    assert dataset_bench["images_sha256"] == folder_bench["images_sha256"]
    assert dataset_bench["source"] == f"{(tmp_path / 'hub_like').resolve()}:test"


def test_bad_inputs_are_named(bench_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a scale"):
        load_upscaler("bicubic", None, device="cpu")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_upscaler(str(tmp_path / "missing.pth"), device="cpu")
    unknown = tmp_path / "unknown.pth"
    torch.save({"foo.weight": torch.zeros(3, 3)}, unknown)
    with pytest.raises(ValueError, match="does not recognise"):
        load_upscaler(str(unknown), device="cpu")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        evaluate_model("bicubic", ["nowhere"], bench_root, 4, tmp_path / "out", device="cpu")
    (bench_root / "tiny" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        evaluate_model("bicubic", ["tiny"], bench_root, 4, tmp_path / "out2", device="cpu")


def test_identical_output_scores_inf(tmp_path: Path) -> None:
    # A flat image survives down- and up-sampling unchanged: PSNR is inf, SSIM 1.
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.full((48, 48, 3), 77, np.uint8)).save(tmp_path / "flat" / "f.png")
    report = evaluate_model("bicubic", ["flat"], tmp_path, 4, tmp_path / "out", device="cpu")
    score = report.rows[0].scores[0]
    assert math.isinf(score.psnr) and score.ssim == pytest.approx(1.0)
    assert "| inf / 1.0000 |" in (tmp_path / "out" / "report.md").read_text()


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gasr_hf.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("kind", "damage", "error"),
    [
        ("safetensors", lambda data: data[: len(data) // 2], "SafetensorError"),
        ("pth", lambda data: b"not a checkpoint " * 40, "UnpicklingError"),
    ],
    ids=["truncated-safetensors", "garbage-pth"],
)
def test_corrupt_checkpoint_is_one_line_through_the_cli(
    kind, damage, error, esrgan_files: dict[str, Path], bench_root: Path, tmp_path: Path
) -> None:
    broken = tmp_path / f"broken.{kind}"
    broken.write_bytes(damage(esrgan_files[kind].read_bytes()))
    result = _run_cli(
        "eval", "--model", str(broken), "--bench", "tiny", "--bench-root", str(bench_root),
        "--out", str(tmp_path / "out"), "--device", "cpu",
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"gasr eval: error: model {broken}: cannot read the checkpoint")
    assert f"({error}: " in lines[0]
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert written == [tmp_path / "out" / ".gasr" / "lock"]  # kept: another run may wait on it


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (lambda data: data[: len(data) // 2], "RuntimeError"),  # a zip cut short
        (lambda data: b"", "EOFError"),
    ],
    ids=["truncated", "empty"],
)
def test_truncated_pth_is_a_value_error(damage, error, esrgan_files, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pth"
    broken.write_bytes(damage(esrgan_files["pth"].read_bytes()))
    with pytest.raises(ValueError, match=rf"model {broken}: cannot read the checkpoint.*{error}"):
        load_upscaler(str(broken), device="cpu")


def test_rerun_with_another_copy_of_a_bench_is_refused(bench_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = evaluate_model("bicubic", ["tiny"], bench_root, 4, out, device="cpu")
    recorded = json.loads((out / "run.json").read_text())["benches"]["tiny"]
    assert recorded["bench"] == "tiny"
    assert recorded["source"] == str((bench_root / "tiny").resolve())
    assert first.rows[0].settings["benches"]["tiny"]["source"] == recorded["source"]

    # Another folder named tiny, holding other images.
    copy = tmp_path / "elsewhere" / "tiny"
    copy.mkdir(parents=True)
    Image.fromarray(_smooth_image(48, 48, 3, seed=7)).save(copy / "a.png")
    Image.fromarray(_smooth_image(48, 48, 3, seed=8)).save(copy / "b.png")
    with pytest.raises(ValueError, match=r"bench 'tiny': .*elsewhere/tiny") as caught:
        evaluate_model("bicubic", ["tiny"], copy.parent, 4, out, device="cpu")
    assert str(out) in str(caught.value)

    # The same folder with one image replaced: its fingerprint changes.
    Image.fromarray(_smooth_image(48, 48, 3, seed=9)).save(bench_root / "tiny" / "a.png")
    with pytest.raises(ValueError, match=r"bench 'tiny': .*images sha256"):
        evaluate_model("bicubic", ["tiny"], bench_root, 4, out, device="cpu")
    assert _scores(Report.from_json(out), "tiny") == _scores(first, "tiny")

    # A benchmark new to the out_dir is added to it; the recorded one stays.
    (bench_root / "other").mkdir()
    Image.fromarray(_smooth_image(40, 48, 3, seed=3)).save(bench_root / "other" / "c.png")
    evaluate_model("bicubic", ["other"], bench_root, 4, out, device="cpu")
    benches = json.loads((out / "run.json").read_text())["benches"]
    assert benches["tiny"] == recorded
    assert benches["other"]["source"] == str((bench_root / "other").resolve())


def test_files_with_one_stem_are_scored_separately(tmp_path: Path) -> None:
    folder = tmp_path / "benches" / "stems"
    folder.mkdir(parents=True)
    Image.fromarray(_smooth_image(48, 44, 3, seed=5)).save(folder / "x.png")
    Image.fromarray(_smooth_image(40, 52, 3, seed=6)).save(folder / "x.jpg", quality=90)
    out = tmp_path / "out"
    report = evaluate_model(
        "bicubic", ["stems"], folder.parent, 4, out, device="cpu", save_images=True
    )
    per_image = report.rows[0].scores[0].per_image
    assert [s.image for s in per_image] == ["x.jpg", "x.png"]
    for score in per_image:
        with Image.open(folder / score.image) as img:
            hr = np.asarray(img.convert("RGB"))
        hr = hr[: hr.shape[0] // 4 * 4, : hr.shape[1] // 4 * 4]
        assert (score.psnr, score.ssim) == calculate_psnr_ssim(
            imresize(imresize(hr, 0.25), 4.0), hr, 4
        )
    assert sorted(p.name for p in (out / "images" / "stems").iterdir()) == ["x.jpg.png", "x.png"]

    # A rerun finds both stored scores and computes nothing again.
    assert evaluate_model("bicubic", ["stems"], folder.parent, 4, out, device="cpu") == report
    assert len((out / "scores" / "stems.jsonl").read_text().splitlines()) == 2


def test_benches_sharing_a_score_file_are_refused(bench_root: Path, tmp_path: Path) -> None:
    (bench_root / "a b").mkdir()
    (bench_root / "a_b").mkdir()
    with pytest.raises(ValueError, match=r"'a b' and 'a_b' would share the score file"):
        evaluate_model("bicubic", ["a b", "a_b"], bench_root, 4, tmp_path / "out", device="cpu")


def test_dataset_bench_with_a_name_twice_is_refused(bench_root: Path, tmp_path: Path) -> None:
    files = sorted((bench_root / "tiny").glob("*.png"))
    ds = datasets.Dataset.from_dict(
        {"image": [str(p) for p in files], "file_name": ["same.png"] * len(files)}
    ).cast_column("image", datasets.Image())
    (tmp_path / "twice").mkdir()
    ds.to_parquet(tmp_path / "twice" / "test.parquet")
    with pytest.raises(ValueError, match=r"row 1: file_name 'same.png' appears twice"):
        evaluate_model("bicubic", [str(tmp_path / "twice")], None, 4, tmp_path / "out")


def test_given_lr_files_score_as_the_matlab_lr_they_are(
    shared_benchmarks: Path, tmp_path: Path
) -> None:
    """Set5's MATLAB-made LRBI_x2 files give the scores of LR made from HR (our resize is
    MATLAB's); LR files of another degradation give others, and the report says which LR it used."""
    root = shared_benchmarks / "Set5_MATLAB"
    made = evaluate_model("bicubic", ["HR_x2"], root, 2, tmp_path / "made", device="cpu")
    given = evaluate_model(
        "bicubic", ["HR_x2"], root, 2, tmp_path / "given", device="cpu", lr_root=root / "LRBI_x2"
    )
    assert _scores(given, "HR_x2") == _scores(made, "HR_x2")
    assert "LR: given LR files" in given.to_markdown()
    blurred = tmp_path / "LRBD" / "HR_x2"
    blurred.mkdir(parents=True)
    for path in sorted((root / "LRBI_x2").iterdir()):
        lr = np.asarray(Image.open(path).convert("RGB")).astype(int)
        noisy = (lr + np.random.default_rng(0).integers(-8, 9, lr.shape)).clip(0, 255)
        Image.fromarray(noisy.astype(np.uint8)).save(blurred / path.name.replace("LRBI", "LRDN"))
    other = evaluate_model(
        "bicubic", ["HR_x2"], root, 2, tmp_path / "dn", device="cpu", lr_root=tmp_path / "LRBD"
    )
    assert other.rows[0].scores[0].psnr < made.rows[0].scores[0].psnr - 0.5
    with pytest.raises(ValueError, match="other settings"):
        evaluate_model(
            "bicubic",
            ["HR_x2"],
            root,
            2,
            tmp_path / "made",
            device="cpu",
            lr_root=tmp_path / "LRBD",
        )


def test_lr_files_that_do_not_fit_are_named(bench_root: Path, tmp_path: Path) -> None:
    lr = tmp_path / "lr"
    lr.mkdir()
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(lr / "a.png")
    with pytest.raises(ValueError, match=r"image b.png: no LR file in"):
        evaluate_model("bicubic", ["tiny"], bench_root, 4, tmp_path / "x", device="cpu", lr_root=lr)
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(lr / "b_LRBI_x4.png")
    with pytest.raises(
        ValueError, match=r"image a.png: LR a.png is 5x5, which is not the 83x70 HR divided by 4"
    ):
        evaluate_model("bicubic", ["tiny"], bench_root, 4, tmp_path / "y", device="cpu", lr_root=lr)


def test_gray_as_gray_scores_set14_as_matlab_scripts_do(
    shared_benchmarks: Path, tmp_path: Path
) -> None:
    rgb = evaluate_model("bicubic", ["Set14"], shared_benchmarks, 4, tmp_path / "rgb", device="cpu")
    gray = evaluate_model(
        "bicubic",
        ["Set14"],
        shared_benchmarks,
        4,
        tmp_path / "gray",
        device="cpu",
        gray_as_gray=True,
    )
    by_name = lambda r: {s.image: s for s in r.rows[0].scores[0].per_image}  # noqa: E731
    changed = {n for n, s in by_name(gray).items() if s != by_name(rgb)[n]}
    assert changed == {"bridge.png"}
    assert gray.rows[0].scores[0].psnr == pytest.approx(25.997, abs=0.0005)
    assert gray.rows[0].scores[0].ssim == pytest.approx(0.7029, abs=0.00005)
    assert "one-channel images scored on their gray values" in gray.to_markdown()
