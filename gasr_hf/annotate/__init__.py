"""The annotate stage: ingest image folders, and add ``num_pixels``, ``blockiness``, the offline
complexity measures ``fz_segments``, ``png_bpp`` and ``hf_energy``, ``num_segments`` and
``clip_embedding`` columns. Importing this package loads no torch, transformers or SAM."""

from gasr_hf.annotate.blockiness import Blockiness, blockiness
from gasr_hf.annotate.clip import ClipConfig, ClipEmbedding
from gasr_hf.annotate.complexity import FzSegments, HfEnergy, PngBpp
from gasr_hf.annotate.ingest import IngestReport, ingest_folder, read_image
from gasr_hf.annotate.pixels import NumPixels, num_pixels
from gasr_hf.annotate.run import ANNOTATORS, annotate, build_annotators
from gasr_hf.annotate.segments import SAM_ARCHITECTURES, NumSegments, SamArchitecture, SegmentConfig

__all__ = [
    "ANNOTATORS",
    "SAM_ARCHITECTURES",
    "Blockiness",
    "ClipConfig",
    "ClipEmbedding",
    "FzSegments",
    "HfEnergy",
    "IngestReport",
    "NumPixels",
    "NumSegments",
    "PngBpp",
    "SamArchitecture",
    "SegmentConfig",
    "annotate",
    "blockiness",
    "build_annotators",
    "ingest_folder",
    "num_pixels",
    "read_image",
]
