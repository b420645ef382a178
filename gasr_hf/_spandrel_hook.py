"""Register MambaIR-light with spandrel as soon as spandrel is imported, without importing it here.

Importing ``gasr_hf`` must make ``spandrel.ModelLoader`` load MambaIR-light checkpoints, yet must not
import spandrel and torch itself (``gasr --help`` stays instant). So: if spandrel is loaded already,
register now; otherwise a one-shot import hook registers right after spandrel's own import finishes.
Hand-written because Python has no post-import hook of its own.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType


def _register() -> None:
    if "gasr_hf.sr.models" in sys.modules:
        # That package registers on import; it is loaded already or is what imported spandrel.
        return
    from gasr_hf.sr.models.spandrel_arch import register_spandrel

    register_spandrel()


class _SpandrelFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname != "spandrel":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module: ModuleType) -> None:
            exec_module(module)
            _register()

        spec.loader.exec_module = exec_then_register  # type: ignore[method-assign]
        return spec


def install() -> None:
    if "spandrel" in sys.modules:
        _register()
    elif not any(isinstance(f, _SpandrelFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SpandrelFinder())
