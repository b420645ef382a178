"""gasr_hf: artwork-style synthetic training data for image super-resolution, as Hugging Face datasets."""

from gasr_hf import _spandrel_hook

__version__ = "0.1.0"

_spandrel_hook.install()
