"""PSNR and SSIM on Y as SR papers report them, as an `evaluate` metric.

Load it offline from the installed package::

    import evaluate
    from gasr_hf.sr.metrics import EVALUATE_METRIC_PATH
    metric = evaluate.load(str(EVALUATE_METRIC_PATH))
"""

import datasets
import evaluate
import numpy as np

from gasr_hf.sr.metrics import calculate_psnr_ssim

_DESCRIPTION = """\
PSNR and SSIM of super-resolved images against their ground truth, computed as the MATLAB
evaluation code of SR papers computes them: `crop_border` pixels shaved from every side, the luma
Y of BT.601 studio range (unrounded float64; `y_uint8=True` rounds it as MATLAB's rgb2ycbcr does
on uint8 input), PSNR with peak 255, SSIM with an 11x11 Gaussian window (sigma 1.5) in 'valid'
mode. Grayscale images are scored on their gray values. Scores are averaged over images.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: super-resolved images (uint8 HxWx3 or HxW numpy arrays, PIL images or paths).
    references: ground-truth images of the same sizes, in the same order.
    crop_border: pixels shaved from every side before scoring; SR papers use the scale factor.
    test_y_channel: score Y (default) instead of the RGB channels.
    y_uint8: round Y to integers first, as older evaluation code did.
Returns:
    psnr: mean PSNR in dB over the images (inf only when every pair is identical).
    ssim: mean SSIM over the images.
    psnr_per_image, ssim_per_image: the per-image scores, in input order.
Examples:
    >>> metric = evaluate.load("path/to/sr_psnr_ssim")
    >>> metric.compute(predictions=[sr], references=[hr], crop_border=4)
    {'psnr': 28.43, 'ssim': 0.8111, 'psnr_per_image': [...], 'ssim_per_image': [...]}
"""

_CITATION = """\
@article{wang2004ssim,
  title={Image quality assessment: from error visibility to structural similarity},
  author={Wang, Zhou and Bovik, Alan C. and Sheikh, Hamid R. and Simoncelli, Eero P.},
  journal={IEEE Transactions on Image Processing},
  volume={13}, number={4}, pages={600--612}, year={2004}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SrPsnrSsim(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Image(), "references": datasets.Image()}
            ),
        )

    def _compute(
        self,
        predictions,
        references,
        crop_border: int = 0,
        test_y_channel: bool = True,
        y_uint8: bool = False,
    ) -> dict:
        psnrs, ssims = [], []
        for i, (pred, ref) in enumerate(zip(predictions, references, strict=True)):
            try:
                psnr, ssim = calculate_psnr_ssim(
                    np.asarray(pred), np.asarray(ref), crop_border, test_y_channel, y_uint8
                )
            except ValueError as err:
                raise ValueError(f"image pair {i}: {err}") from err
            psnrs.append(psnr)
            ssims.append(ssim)
        return {
            "psnr": float(np.mean(psnrs)),
            "ssim": float(np.mean(ssims)),
            "psnr_per_image": psnrs,
            "ssim_per_image": ssims,
        }
