"""Where an iFIM eigenvector lies in the image: the share of its squared norm in a mask.

Each unit eigenvector u_i of F(x) (eq. 9) is a direction in input space. Its energy
``sum_p u_i(p)^2 = 1`` spreads over the pixel locations; the share inside a region (the
signal's mask, a spurious cue's) says how much of that most-sensitive direction (eq. 22)
the region holds. Unlike S(x) = U_K U_K^T x (eq. 16), it does not weigh the direction by the
image.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from captum_ifim.metrics._validation import check_holds_data


def _check(eigenvectors: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    """Validate; return (energy (N, R, L) float64 per location, mask (N, 1, L) bool)."""
    if not isinstance(eigenvectors, Tensor):
        raise TypeError(
            f"expected eigenvectors to be a torch.Tensor, got {type(eigenvectors).__name__}"
        )
    if not isinstance(masks, Tensor):
        raise TypeError(f"expected masks to be a torch.Tensor, got {type(masks).__name__}")
    if not eigenvectors.is_floating_point():
        raise TypeError(f"expected floating-point eigenvectors, got {eigenvectors.dtype}")
    check_holds_data(eigenvectors, "eigenvectors")
    check_holds_data(masks, "masks")
    if eigenvectors.dim() < 3 or eigenvectors.shape[0] == 0 or eigenvectors.shape[1] == 0:
        raise ValueError(
            "expected eigenvectors of shape (N, R, *input shape) or (N, R, d) with N, R > 0, "
            f"got {tuple(eigenvectors.shape)}"
        )
    if not torch.isfinite(eigenvectors).all():
        raise ValueError("expected finite eigenvectors, got NaN or inf")
    n = eigenvectors.shape[0]
    spatial = tuple(masks.shape[1:])
    if masks.dim() < 2 or masks.shape[0] != n:
        raise ValueError(
            f"expected masks of shape (N, *spatial) with N = {n}, got {tuple(masks.shape)}"
        )
    locations = math.prod(spatial)
    trailing = tuple(eigenvectors.shape[2:])
    flat = eigenvectors.dim() == 3
    fits = (
        trailing[0] % locations == 0
        if flat
        else trailing[len(trailing) - len(spatial) :] == spatial
    )
    if not fits:
        raise ValueError(
            f"expected eigenvectors of shape (N, R, *channels, *{spatial}) or (N, R, d) with d "
            f"a multiple of {locations} (the masks' (N, *spatial) = {tuple(masks.shape)}), got "
            f"{tuple(eigenvectors.shape)}"
        )
    if masks.dtype != torch.bool and not ((masks == 0) | (masks == 1)).all():
        raise ValueError("expected binary masks (bool or values in {0, 1}), got other values")
    squared = eigenvectors.detach().to(torch.float64).square()
    energy = squared.reshape(n, eigenvectors.shape[1], -1, locations).sum(dim=2)
    mask = masks.reshape(n, 1, locations).to(energy.device).bool()
    return energy, mask


def eigenvector_energy(eigenvectors: Tensor, masks: Tensor) -> Tensor:
    """Share of each eigenvector's squared norm inside the mask.

    ``sum_{p in mask} sum_c u_i(c, p)^2 / ||u_i||^2`` for each eigenvector u_i (eq. 9; for a
    unit vector the denominator is 1), the channels of a location summed as the
    localization metrics sum them.

    Args:
        eigenvectors: ``(N, R, *channel dims, *spatial dims)``, e.g.
            ``IFIMResult.eigenvectors``, or ``(N, R, d)`` flattened from ``(C, *spatial)``
            (d a multiple of the masks' locations, channels first).
        masks: ``(N, *spatial dims)``, bool or {0, 1}: the region of each input.

    Returns:
        (N, R) float64 in [0, 1]; ``nan`` for a zero eigenvector (past the rank, or past K
        in a basis U_K) and for an empty mask (a share of no region).

    Example:
        >>> u = torch.tensor([[[[0.6, 0.0], [0.8, 0.0]]]])  # (N=1, R=1, 2, 2), unit norm
        >>> mask = torch.tensor([[[True, False], [False, False]]])
        >>> [round(v, 2) for v in eigenvector_energy(u, mask)[0].tolist()]
        [0.36]
    """
    energy, mask = _check(eigenvectors, masks)
    total = energy.sum(dim=2)
    inside = (energy * mask).sum(dim=2)
    undefined = (total == 0) | ~mask.flatten(1).any(dim=1, keepdim=True)
    share = inside / torch.where(total == 0, torch.ones_like(total), total)
    return torch.where(undefined, torch.full_like(share, math.nan), share)
