"""Evaluation metrics for attribution maps, in Captum's metric style."""

from captum_ifim.metrics._contrastive_perturbation import (
    ContrastivePerturbationResult,
    ContrastivePredictions,
    LowRule,
    contrastive_perturbation,
    contrastive_perturbation_predictions,
    f1,
    f1_ratio,
    gaussian_noise,
)
from captum_ifim.metrics._pixel_selection import num_selected_pixels, pixel_mask, spatial_saliency

__all__ = [
    "ContrastivePerturbationResult",
    "ContrastivePredictions",
    "LowRule",
    "contrastive_perturbation",
    "contrastive_perturbation_predictions",
    "f1",
    "f1_ratio",
    "gaussian_noise",
    "num_selected_pixels",
    "pixel_mask",
    "spatial_saliency",
]
