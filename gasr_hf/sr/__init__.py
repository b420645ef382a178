"""Super-resolution: MATLAB-exact resize, streaming training pairs, tiling, models, evaluation.

Submodules are imported on demand (``gasr_hf.sr.data`` pulls in torch and datasets).
"""
