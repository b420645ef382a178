"""Fixtures: tiny random SAM and CLIP models saved where the annotators load them from."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import TINY_SAM, make_tiny_sam, save_tiny_clip

from gasr_hf.annotate.segments import SegmentConfig


@pytest.fixture(scope="session")
def tiny_sam_checkpoint(tmp_path_factory) -> Path:
    import torch

    path = tmp_path_factory.mktemp("sam") / "tiny_sam.pth"
    torch.save(make_tiny_sam().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def tiny_sam_config(tiny_sam_checkpoint) -> SegmentConfig:
    """Permissive thresholds so that random weights still yield masks; 4x4 prompt points."""
    return SegmentConfig(
        checkpoint=str(tiny_sam_checkpoint),
        architecture=TINY_SAM,
        points_per_side=4,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
    )


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")
