"""gasr curate: gates, near-duplicates, domain targeting and the random baseline, as a new config."""

from __future__ import annotations

import io
import json
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from gasr_hf.cli import main
from gasr_hf.curate import CurateRule, curate, perceptual_hash
from gasr_hf.files import parquet_files
from gasr_hf.publish import assemble_repo


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _flat(value: int) -> np.ndarray:
    return np.full((64, 64, 3), value, np.uint8)


def _noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (64, 64, 3))


def _stripes(period: int) -> np.ndarray:
    x = np.arange(64)
    row = np.where((x // period) % 2 == 0, 20, 235)
    return np.repeat(np.repeat(row[None, :, None], 64, axis=0), 3, axis=2)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Config gasr of 8 rows: flat (low png_bpp), blocky, two stripes near-duplicates, noise."""
    images = {
        "flat-0": (_flat(40), 1.0, 0.05),
        "flat-1": (_flat(200), 1.0, 0.05),
        "blocky": (_noise(9), 80.0, 7.0),
        "stripes-a": (_stripes(8), 2.0, 0.5),
        "stripes-b": (np.clip(_stripes(8) + 3, 0, 255), 2.0, 0.5),
        "noise-0": (_noise(0), 3.0, 7.5),
        "noise-1": (_noise(1), 3.0, 7.5),
        "noise-2": (_noise(2), 3.0, 7.5),
    }
    dataset = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": _png(px), "path": None} for px, _, _ in images.values()],
            "prompt_id": list(images),
            "blockiness": [b for _, b, _ in images.values()],
            "png_bpp": [p for _, _, p in images.values()],
        },
        features=datasets.Features(
            {
                "image": datasets.Image(),
                "prompt_id": datasets.Value("string"),
                "blockiness": datasets.Value("float64"),
                "png_bpp": datasets.Value("float64"),
            }
        ),
    )
    stage = tmp_path / "stage"
    stage.mkdir()
    dataset.to_parquet(str(stage / "train-00000.parquet"))
    out = tmp_path / "repo"
    assemble_repo(out, {"gasr": [stage]})
    return out


def _ids(repo: Path, config: str) -> list[str]:
    files = parquet_files(repo / "data" / config)
    return datasets.Dataset.from_parquet([str(f) for f in files])["prompt_id"]


def test_gates_and_near_duplicates_make_a_new_config_with_its_rule(repo: Path) -> None:
    rule = CurateRule(
        name="gasr-curated", max_blockiness=10, min_columns={"png_bpp": 0.1}, dedupe_bits=6
    )
    report = curate(repo, rule)
    assert _ids(repo, "gasr-curated") == ["stripes-a", "noise-0", "noise-1", "noise-2"]
    assert report.removed == {"blockiness": 1, "png_bpp >= 0.1": 2, "near-duplicates": 1}
    assert (report.rows_in, report.rows_out) == (8, 4)
    saved = json.loads((report.folder / "rule.json").read_text())
    assert saved["settings"]["min_columns"] == {"png_bpp": 0.1}
    assert saved["rule"].startswith("rows of `gasr` selected by gasr curate: blockiness <= 10;")
    assert "near-duplicates" in report.rule and "png_bpp >= 0.1" in report.rule
    assert _ids(repo, "gasr") == [  # the source config is untouched
        "flat-0",
        "flat-1",
        "blocky",
        "stripes-a",
        "stripes-b",
        "noise-0",
        "noise-1",
        "noise-2",
    ]


def test_target_keeps_the_rows_nearest_a_folders_features(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    for period in (4, 8, 16):
        Image.fromarray(_stripes(period).astype(np.uint8)).save(target / f"s{period}.png")
    curate(repo, CurateRule(name="like-stripes", target=target, keep=2, target_neighbours=2))
    assert sorted(_ids(repo, "like-stripes")) == ["stripes-a", "stripes-b"]


def test_random_subset_is_seeded_and_of_the_asked_size(repo: Path) -> None:
    first = curate(repo, CurateRule(name="rand", random=True, keep=3, seed=1))
    ids = _ids(repo, "rand")
    again = curate(repo, CurateRule(name="rand", random=True, keep=3, seed=1))
    assert len(ids) == 3 and _ids(repo, "rand") == ids
    assert first.removed == again.removed == {"random": 5}


def test_bad_rules_name_the_problem(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="has no column 'fz_segments'"):
        curate(repo, CurateRule(name="x", min_columns={"fz_segments": 100}))
    with pytest.raises(ValueError, match="keep=9 but only 8 rows"):
        curate(repo, CurateRule(name="x", random=True, keep=9))
    with pytest.raises(FileNotFoundError, match="config 'nope' not found"):
        curate(repo, CurateRule(name="x", source="nope"))
    with pytest.raises(ValueError, match="target and random need keep"):
        CurateRule(name="x", random=True)
    with pytest.raises(FileNotFoundError, match="target folder not found"):
        curate(repo, CurateRule(name="x", target=tmp_path / "missing", keep=1))


def test_perceptual_hash_ignores_small_changes_and_sees_different_images() -> None:
    a = Image.fromarray(_stripes(8).astype(np.uint8))
    b = Image.fromarray(np.clip(_stripes(8) + 3, 0, 255).astype(np.uint8))
    c = Image.fromarray(_noise(0).astype(np.uint8))
    assert bin(perceptual_hash(a) ^ perceptual_hash(b)).count("1") <= 2
    assert bin(perceptual_hash(a) ^ perceptual_hash(c)).count("1") > 12


def test_cli_curates_and_reports_bad_values_in_one_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["curate", str(repo), "--name", "r", "--random", "--keep", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["rows_out"] == 2
    assert main(["curate", str(repo), "--name", "r2", "--min", "png_bpp=high"]) == 2
    assert "--min png_bpp='high': the value must be a number" in capsys.readouterr().err


def test_a_build_config_curates_only_configs_it_makes() -> None:
    from gasr_hf.build import BuildConfig, check_config
    from gasr_hf.config import from_dict

    settings = {
        "version": "0.1.0",
        "out": "out",
        "prompts": {"corpus": "artwork", "n": 4},
        "curate": [{"name": "picked", "source": "df2k", "random": True, "keep": 2}],
    }
    problems = check_config(from_dict(BuildConfig, settings))
    assert any("config 'df2k', which this build does not make" in p for p in problems)
    settings["curate"] = [{"name": "gasr", "random": True, "keep": 2}]
    with pytest.raises(ValueError, match="must differ from its source"):
        from_dict(BuildConfig, settings)


def test_a_curating_build_publishes_the_subset_with_its_rule(tmp_path: Path) -> None:
    import datasets
    from test_build import tiny_config

    from gasr_hf.build import build

    rule = {"name": "picked", "source": "gasr", "random": True, "keep": 3, "seed": 0}
    config = tiny_config(tmp_path, curate=[rule])
    assert "curate-picked" in build(config).ran
    picked = datasets.load_dataset(str(config.out), "picked", split="train")
    everything = datasets.load_dataset(str(config.out), "gasr", split="train")
    assert len(picked) == 3 and set(picked["prompt_id"]) <= set(everything["prompt_id"])
    card = (Path(config.out) / "README.md").read_text()
    assert "picked" in card and "3 of 6" in card
    assert not build(config).did_work


def test_split_half_check_of_a_targeting_rule(repo: Path, tmp_path: Path) -> None:
    # examples/curation_split_half.py: a target folder of noise images makes every half pick the
    # three noise rows, while two random 3-row subsets of the 7 gated rows share fewer on average.
    import importlib.util

    script = Path(__file__).parents[1] / "examples" / "curation_split_half.py"
    spec = importlib.util.spec_from_file_location("curation_split_half", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    target = tmp_path / "target"
    target.mkdir()
    for seed in range(10, 14):
        Image.fromarray(_noise(seed).astype(np.uint8)).save(target / f"{seed}.png")
    rule = CurateRule(
        name="gasr-near",
        source="gasr",
        max_blockiness=10.0,
        target=str(target),
        keep=3,
    )
    result = module.split_half(repo, rule, splits=20, seed=0)
    assert (result["kept"], result["pages"]) == (7, 4), result["removed"]
    assert result["halves"] == [1.0] * 20 and result["leave_one_out"] == [1.0] * 4
    assert 0 < sum(result["chance"]) / 20 < 0.8
    pool, chosen, aimed = result["features"]["png_bpp"]
    assert chosen > pool and abs(chosen - aimed) < abs(pool - aimed)
    with pytest.raises(ValueError, match="keep=8, the gates keep 7"):
        module.split_half(repo, CurateRule(**{**rule.__dict__, "keep": 8}), splits=1)
