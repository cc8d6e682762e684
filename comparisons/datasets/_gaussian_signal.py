"""Gaussian signals and their half-maximum ground-truth masks (paper Sec. IV-A).

The signal is ``A exp(-|r - c|^2 / (2 sigma^2))`` on the pixel grid (pixel centres at integer
coordinates, ``r = (row, column)``). Its ground-truth mask is the set of pixels where the signal
is at least half its peak, i.e. the disc ``|r - c| <= sigma sqrt(2 ln 2)`` (half the FWHM).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def half_max_radius(sigma: float) -> float:
    """Radius of the half-maximum disc of a Gaussian of width ``sigma``: ``sigma sqrt(2 ln 2)``."""
    return sigma * math.sqrt(2.0 * math.log(2.0))


def _squared_distances(centres: Tensor, size: int) -> tuple[Tensor, Tensor]:
    grid = torch.arange(size, dtype=centres.dtype, device=centres.device)
    dy2 = (grid[None, :] - centres[:, 0:1]) ** 2  # (N, H)
    dx2 = (grid[None, :] - centres[:, 1:2]) ** 2  # (N, W)
    return dy2, dx2


def gaussian_blobs(centres: Tensor, amplitudes: Tensor, sigma: float, size: int) -> Tensor:
    """One Gaussian per image, separable evaluation.

    Args:
        centres: (N, 2) float, (row, column) of each centre in pixels.
        amplitudes: (N,) peak values; 0 gives an empty image.
        sigma: Width in pixels.
        size: Images are ``size x size``.

    Returns:
        (N, size, size), same dtype as ``centres``.
    """
    if sigma <= 0:
        raise ValueError(f"expected sigma > 0, got {sigma}")
    dy2, dx2 = _squared_distances(centres, size)
    gy = torch.exp(-dy2 / (2.0 * sigma**2))
    gx = torch.exp(-dx2 / (2.0 * sigma**2))
    return amplitudes[:, None, None] * gy[:, :, None] * gx[:, None, :]


def half_max_masks(centres: Tensor, present: Tensor, sigma: float, size: int) -> Tensor:
    """Ground-truth masks: the half-maximum disc of each present signal, empty otherwise.

    Args:
        centres: (N, 2) float, (row, column).
        present: (N,) bool, whether image n carries a signal.
        sigma: Signal width in pixels.
        size: Images are ``size x size``.

    Returns:
        (N, size, size) bool.
    """
    dy2, dx2 = _squared_distances(centres, size)
    inside = dy2[:, :, None] + dx2[:, None, :] <= half_max_radius(sigma) ** 2
    return inside & present[:, None, None]
