"""Shared test set-up: every test runs offline, and fixtures locate the shared benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_root() -> Path:
    override = os.environ.get("GASR_SHARED")
    return Path(override) if override else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    """``../shared/data/benchmarks``; tests that need it skip when it is absent."""
    path = _shared_root() / "data" / "benchmarks"
    if not path.is_dir():
        pytest.skip(f"shared benchmark data not found at {path}")
    return path


@pytest.fixture(scope="session")
def shared_blockiness_basis() -> Path:
    """``../shared/data/blockiness_basis``; tests that need it skip when it is absent."""
    path = _shared_root() / "data" / "blockiness_basis"
    if not path.is_dir():
        pytest.skip(f"shared blockiness basis not found at {path}")
    return path
