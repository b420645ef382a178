"""gasr_hf: artwork-style synthetic training data for image super-resolution, as Hugging Face datasets."""

__version__ = "0.1.0"
