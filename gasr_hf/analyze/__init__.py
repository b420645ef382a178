"""The analyze stage: Table 1 statistics, the JPEG-quality estimate, the UMAP figure and Frechet
distances between datasets' CLIP embeddings. Importing this package loads no umap or torch."""

from gasr_hf.analyze.jpeg_quality import (
    QUALITIES,
    BlockinessBasis,
    QualityEstimate,
    build_basis,
    estimate_jpeg_quality,
    load_basis,
)
from gasr_hf.analyze.stats import (
    DatasetStats,
    dataset_name,
    dataset_stats,
    format_markdown,
    table1,
)
from gasr_hf.analyze.umap import UmapResult, frechet_distance, umap_figure

__all__ = [
    "QUALITIES",
    "BlockinessBasis",
    "DatasetStats",
    "QualityEstimate",
    "UmapResult",
    "build_basis",
    "dataset_name",
    "dataset_stats",
    "estimate_jpeg_quality",
    "format_markdown",
    "frechet_distance",
    "load_basis",
    "table1",
    "umap_figure",
]
