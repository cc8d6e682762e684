"""Evaluation metrics for attribution maps, in Captum's metric style."""

from captum_ifim.metrics._pixel_selection import num_selected_pixels, pixel_mask, spatial_saliency

__all__ = [
    "num_selected_pixels",
    "pixel_mask",
    "spatial_saliency",
]
