"""num_segments and clip_embedding run their full code paths on tiny random models loaded by path."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image
from tiny_models import TINY_SAM, make_tiny_sam

from gasr_hf.annotate import ClipConfig, ClipEmbedding, NumSegments, SegmentConfig
from gasr_hf.annotate.segments import load_sam


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    out = []
    for size in ((48, 40), (64, 64), (37, 90)):
        array = np.zeros((size[1], size[0], 3), np.uint8)
        array[:, : size[0] // 2] = (200, 30, 30)
        array += rng.integers(0, 20, array.shape, dtype=np.uint8)
        out.append(Image.fromarray(array))
    return out


def test_sam_defaults_match_segment_anything():
    config = SegmentConfig(checkpoint="sam_vit_h_4b8939.pth")
    assert config.model_type == "vit_h"
    assert config.resolved_architecture.encoder_embed_dim == 1280
    kwargs = config.generator_kwargs()
    expected = {
        "points_per_side": 32,
        "pred_iou_thresh": 0.88,
        "stability_score_thresh": 0.95,
        "box_nms_thresh": 0.7,
        "crop_n_layers": 0,
        "min_mask_region_area": 0,
    }
    assert {k: kwargs[k] for k in expected} == expected


def test_sam_checkpoint_missing_is_a_clear_error(tmp_path):
    annotator = NumSegments(SegmentConfig(checkpoint=str(tmp_path / "absent.pth")), device="cpu")
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        annotator.compute(_images()[:1])


def test_corrupt_sam_checkpoint_is_a_value_error_naming_the_file(tiny_sam_checkpoint, tmp_path):
    import torch

    data = tiny_sam_checkpoint.read_bytes()
    cases = {
        "truncated.pth": data[: len(data) // 2],
        "junk.pth": b"not a checkpoint",
        "empty.pth": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f"{name} is not a readable torch state dict"):
            load_sam(tmp_path / name, TINY_SAM)
    # Through the datasets.map path too: a model that cannot load fails the call, not each row.
    annotator = NumSegments(
        SegmentConfig(checkpoint=str(tmp_path / "junk.pth"), architecture=TINY_SAM), device="cpu"
    )
    with pytest.raises(ValueError, match="junk.pth is not a readable"):
        annotator({"image": _images()[:1]})
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="list.pth holds a list, not a state dict"):
        load_sam(tmp_path / "list.pth", TINY_SAM)


def test_sam_checkpoint_of_other_shape_is_refused(tiny_sam_checkpoint):
    other = dataclasses.replace(TINY_SAM, encoder_embed_dim=32)
    with pytest.raises(ValueError, match="does not fit architecture"):
        load_sam(tiny_sam_checkpoint, other)


def test_num_segments_loads_checkpoint_and_counts_like_segment_anything(tiny_sam_config):
    import torch
    from segment_anything import SamAutomaticMaskGenerator

    annotator = NumSegments(tiny_sam_config, device="cpu")
    images = _images()
    counts = annotator.compute(images)

    reference_model = make_tiny_sam()
    loaded = annotator.generator().predictor.model
    for name, tensor in reference_model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, rtol=0, atol=0)
    reference = SamAutomaticMaskGenerator(
        reference_model, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0
    )
    expected = [len(reference.generate(np.asarray(im))) for im in images]
    assert counts == expected
    assert all(c > 0 for c in counts)
    assert annotator.generator() is annotator.generator(), "model must load once per process"


def test_num_segments_params_record_overrides(tiny_sam_config):
    params = NumSegments(tiny_sam_config, device="cpu").params()
    assert params["model_type"] == "custom"
    assert params["architecture"]["encoder_embed_dim"] == 16
    assert params["generator"]["points_per_side"] == 4
    assert params["generator"]["pred_iou_thresh"] == 0.0
    assert len(params["checkpoint_sha256"]) == 64


def test_num_segments_as_datasets_map_with_rank(tiny_sam_config):
    import datasets

    images = _images()
    ds = datasets.Dataset.from_dict(
        {"image": images}, features=datasets.Features({"image": datasets.Image()})
    )
    annotator = NumSegments(tiny_sam_config, device="cpu")
    out = ds.map(annotator, batched=True, batch_size=2, with_rank=True)
    assert out["num_segments"] == annotator.compute(images)


def test_clip_embedding_is_normalised_and_matches_the_model(tiny_clip_dir):
    import torch
    from transformers import CLIPImageProcessor, CLIPModel

    annotator = ClipEmbedding(ClipConfig(model=str(tiny_clip_dir), batch_size=2), device="cpu")
    images = _images()
    embeddings = np.asarray(annotator.compute(images))
    assert embeddings.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)

    model = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    processor = CLIPImageProcessor.from_pretrained(tiny_clip_dir)
    with torch.no_grad():
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        direct = model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output)
    direct = torch.nn.functional.normalize(direct, dim=-1).numpy()
    np.testing.assert_allclose(embeddings, direct, atol=1e-5)

    one_by_one = np.concatenate([annotator.compute([im]) for im in images])
    np.testing.assert_allclose(one_by_one, embeddings, atol=1e-5)


def test_clip_embedding_feature_params_and_map(tiny_clip_dir):
    import datasets

    annotator = ClipEmbedding(ClipConfig(model=str(tiny_clip_dir)), device="cpu")
    assert annotator.feature() == datasets.List(datasets.Value("float32"), length=8)
    params = annotator.params()
    assert params["model"] == str(tiny_clip_dir) and params["projection_dim"] == 8
    ds = datasets.Dataset.from_dict(
        {"image": _images()}, features=datasets.Features({"image": datasets.Image()})
    )
    out = ds.map(annotator, batched=True, batch_size=2, with_rank=True)
    assert len(out["clip_embedding"][0]) == 8


def test_clip_weights_absent_offline_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ClipEmbedding(ClipConfig(model="gasr-test/no-such-clip-model"), device="cpu").compute(
            _images()
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        ClipEmbedding(ClipConfig(model=str(tmp_path / "empty")), device="cpu").compute(_images())


def test_segment_config_from_command_line_overrides():
    from gasr_hf.annotate.segments import segment_config

    config = segment_config("sam.pth", "vit_b", ["points_per_side=16", "pred_iou_thresh=0.5"])
    assert (config.model_type, config.points_per_side, config.pred_iou_thresh) == ("vit_b", 16, 0.5)
    assert config.stability_score_thresh == 0.95
    with pytest.raises(ValueError, match="KEY=VALUE"):
        segment_config("sam.pth", overrides=["no_such_key=1"])
    with pytest.raises(ValueError, match="takes a int"):
        segment_config("sam.pth", overrides=["points_per_side=many"])
    with pytest.raises(ValueError, match="model_type"):
        segment_config("sam.pth", "vit_x")
