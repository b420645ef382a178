"""One module per layout family; each exposes ``layout_<family>(canvas, box, scene)``."""
