"""Gaussian signals and their half-maximum ground-truth masks (paper Sec. IV-A), in 2-D or 3-D.

The signal is ``A exp(-|r - c|^2 / (2 sigma^2))`` on the pixel (voxel) grid, pixel centres at
integer coordinates, ``r = (row, column)`` in 2-D and ``(depth, row, column)`` in 3-D. Its
ground-truth mask is the set of pixels where the signal is at least half its peak, i.e. the
disc (ball) ``|r - c| <= sigma sqrt(2 ln 2)`` (half the FWHM).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def half_max_radius(sigma: float) -> float:
    """Radius of the half-maximum disc of a Gaussian of width ``sigma``: ``sigma sqrt(2 ln 2)``."""
    return sigma * math.sqrt(2.0 * math.log(2.0))


def _grid_shape(centres: Tensor, size: int | tuple[int, ...]) -> tuple[int, ...]:
    """The grid ``(S_1, ..., S_k)``: ``size`` repeated over the k axes of ``centres`` (N, k)."""
    if centres.dim() != 2 or centres.shape[1] not in (2, 3):
        raise ValueError(f"expected centres of shape (N, 2) or (N, 3), got {tuple(centres.shape)}")
    axes = centres.shape[1]
    shape = (size,) * axes if isinstance(size, int) else tuple(int(s) for s in size)
    if len(shape) != axes:
        raise ValueError(f"expected a size with {axes} entries for {axes}-D centres, got {size!r}")
    return shape


def _squared_distances(centres: Tensor, shape: tuple[int, ...]) -> list[Tensor]:
    """Per axis k, ``(grid_k - c_k)^2`` broadcastable to (N, *shape)."""
    out = []
    for axis, length in enumerate(shape):
        grid = torch.arange(length, dtype=centres.dtype, device=centres.device)
        view = [centres.shape[0]] + [1] * len(shape)
        view[axis + 1] = length
        out.append(((grid[None, :] - centres[:, axis : axis + 1]) ** 2).reshape(view))
    return out


def gaussian_blobs(
    centres: Tensor, amplitudes: Tensor, sigma: float, size: int | tuple[int, ...]
) -> Tensor:
    """One Gaussian per image, separable evaluation.

    Args:
        centres: (N, 2) float, (row, column) of each centre in pixels; or (N, 3),
            (depth, row, column) in voxels.
        amplitudes: (N,) peak values; 0 gives an empty image.
        sigma: Width in pixels (voxels).
        size: The grid: an int for a square (cube), or one length per axis.

    Returns:
        (N, *grid), same dtype as ``centres``.
    """
    if sigma <= 0:
        raise ValueError(f"expected sigma > 0, got {sigma}")
    shape = _grid_shape(centres, size)
    out = amplitudes.reshape(-1, *([1] * len(shape)))
    for squared in _squared_distances(centres, shape):
        out = out * torch.exp(-squared / (2.0 * sigma**2))
    return out


def half_max_masks(
    centres: Tensor, present: Tensor, sigma: float, size: int | tuple[int, ...]
) -> Tensor:
    """Ground-truth masks: the half-maximum disc (ball) of each present signal, empty otherwise.

    Args:
        centres: (N, 2) float (row, column), or (N, 3) (depth, row, column).
        present: (N,) bool, whether image n carries a signal.
        sigma: Signal width in pixels (voxels).
        size: The grid: an int for a square (cube), or one length per axis.

    Returns:
        (N, *grid) bool.
    """
    shape = _grid_shape(centres, size)
    squared = _squared_distances(centres, shape)
    total = squared[0]
    for term in squared[1:]:
        total = total + term
    inside = total <= half_max_radius(sigma) ** 2
    return inside & present.reshape(-1, *([1] * len(shape)))
