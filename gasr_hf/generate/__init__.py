"""The generation stage: prompt rows -> images (procedural or diffusers) in resumable Parquet shards.

Importing this package is cheap; torch and diffusers load only when a diffusers backend renders.
"""

from gasr_hf.generate.backend import (
    PRESETS,
    Backend,
    BackendConfig,
    bad_output_reason,
    create_backend,
    derive_seed,
)
from gasr_hf.generate.mapped import GenerateImages
from gasr_hf.generate.runner import REPORT_NAME, generate
from gasr_hf.generate.samples import make_sample_grid

__all__ = [
    "PRESETS",
    "REPORT_NAME",
    "Backend",
    "BackendConfig",
    "GenerateImages",
    "bad_output_reason",
    "create_backend",
    "derive_seed",
    "generate",
    "make_sample_grid",
]
