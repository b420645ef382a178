"""SR models: RCAN and HAT (spandrel's classes) and MambaIR-light (written here).

Importing this package registers MambaIR-light with spandrel (:func:`register_spandrel`), so
``spandrel.ModelLoader().load_from_file(...)`` loads MambaIR-light checkpoints too.
"""

from gasr_hf.sr.models.registry import (
    MODEL_CONFIGS,
    ModelSpec,
    build,
    load_state_dict,
    model_spec,
    tiny_config,
)
from gasr_hf.sr.models.spandrel_arch import register_spandrel

register_spandrel()

__all__ = [
    "MODEL_CONFIGS",
    "ModelSpec",
    "build",
    "load_state_dict",
    "model_spec",
    "register_spandrel",
    "tiny_config",
]
