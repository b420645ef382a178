"""spandrel's RCAN, made safe to call on the caller's tensor."""

from __future__ import annotations

import torch
from spandrel.architectures.RCAN import RCAN as SpandrelRCAN


class RCAN(SpandrelRCAN):
    """spandrel's RCAN (same init arguments and state dict), except that ``forward`` never writes
    to its input: spandrel's scales the input in place (``x *= rgb_range``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.clone())
