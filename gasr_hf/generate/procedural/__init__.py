"""The offline procedural backend: artwork-like images drawn with PIL and NumPy, no weights.

Each prompt row picks a layout from its first component (poster, comic page, cover, signage, label,
infographic, map or blueprint, text page, textile pattern, ticket, black-and-white manga page,
colour manga cover), an inset from its second, and a palette and treatment from its style
(:mod:`.registry`). Everything random comes from the row's seed, so the same row
gives the same pixels. Drawing happens at twice the target size and is box-reduced, which
anti-aliases the hard edges the way rasterised vector artwork is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image

from gasr_hf.generate.backend import Backend, library_versions
from gasr_hf.generate.procedural.fonts import FONT_FILES, cjk_font_path, font, font_dir
from gasr_hf.generate.procedural.registry import (
    LAYOUT_KEYWORDS,
    LAYOUTS,
    pick_by_keywords,
    render_artwork,
)

RENDERER_VERSION = "3"

__all__ = [
    "FONT_FILES",
    "LAYOUTS",
    "LAYOUT_KEYWORDS",
    "RENDERER_VERSION",
    "ProceduralBackend",
    "font",
    "font_dir",
    "pick_by_keywords",
    "render_artwork",
]


class ProceduralBackend(Backend):
    """Offline artwork renderer; deterministic per row; CPU only."""

    def prepare(self) -> None:
        font_dir()
        cjk_font_path()

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Image.Image]:
        return [render_artwork(row, self.config.width, self.config.height) for row in rows]

    def model_identity(self) -> dict[str, str | None]:
        return {"model": f"gasr_hf.procedural@{RENDERER_VERSION}", "model_revision": None}

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": "procedural",
            **self.model_identity(),
            "scheduler": None,
            "steps": None,
            "guidance": None,
            "dtype": "uint8",
            "library_versions": library_versions(
                "pillow", "numpy", "matplotlib", "justmytype-intl-cjk"
            ),
        }
