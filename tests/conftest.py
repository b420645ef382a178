"""Shared test set-up: every test runs offline, and fixtures locate the shared benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent


def _missing(what: str, path: Path) -> None:
    """Skip a test whose shared data is absent; in CI (``GASR_REQUIRE_SHARED=1``, set by
    ``.ci/run``) fail it instead, so a missing ``../shared`` cannot pass as green."""
    message = f"{what} not found at {path}"
    if os.environ.get("GASR_REQUIRE_SHARED") == "1":
        pytest.fail(f"{message} (GASR_REQUIRE_SHARED=1: CI needs ../shared)")
    pytest.skip(message)


def _shared_root() -> Path:
    override = os.environ.get("GASR_SHARED")
    return Path(override) if override else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_benchmarks() -> Path:
    """``../shared/data/benchmarks``; tests that need it skip when it is absent."""
    path = _shared_root() / "data" / "benchmarks"
    if not path.is_dir():
        _missing("shared benchmark data", path)
    return path


@pytest.fixture(scope="session")
def shared_blockiness_basis() -> Path:
    """``../shared/data/blockiness_basis``; tests that need it skip when it is absent."""
    path = _shared_root() / "data" / "blockiness_basis"
    if not path.is_dir():
        _missing("shared blockiness basis", path)
    return path


@pytest.fixture(scope="session")
def shared_train() -> Path:
    """``../shared/data/train`` (T91, BSD200); tests that need it skip when it is absent."""
    path = _shared_root() / "data" / "train"
    if not (path / "T91").is_dir():
        _missing("shared training images", path)
    return path
