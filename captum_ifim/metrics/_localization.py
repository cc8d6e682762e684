"""Ground-truth localization: attribution energy inside a known signal mask, pointing game.

Both reduce a map to one score per pixel location (channel-summed |map|, see
:func:`spatial_saliency`) and compare it with a binary mask of the same locations.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_ifim._validation import check_choice
from captum_ifim.metrics._pixel_selection import MAGNITUDES, Magnitude, spatial_saliency
from captum_ifim.metrics._validation import check_holds_data, check_map, resolve_spatial_dims


def _check(
    attributions: Tensor, masks: Tensor, spatial_dims: int | None, magnitude: Magnitude = "abs"
) -> tuple[Tensor, Tensor]:
    """Validate; return (scores (N, *spatial) float64, mask (N, *spatial) bool)."""
    check_choice("magnitude", magnitude, MAGNITUDES)
    if not isinstance(attributions, Tensor):
        raise TypeError(f"expected attributions to be a torch.Tensor, got {type(attributions)}")
    if attributions.dim() < 2 or attributions.shape[0] == 0:
        raise ValueError(
            f"expected attributions of shape (N, ...) with N > 0, got {tuple(attributions.shape)}"
        )
    spatial = resolve_spatial_dims(attributions.dim(), spatial_dims)
    check_map(attributions, attributions, spatial)
    if not isinstance(masks, Tensor):
        raise TypeError(f"expected masks to be a torch.Tensor, got {type(masks).__name__}")
    check_holds_data(masks, "masks")
    spatial_shape = tuple(attributions.shape[attributions.dim() - spatial :])
    lead = masks.shape[: masks.dim() - spatial]
    if (
        tuple(masks.shape[masks.dim() - spatial :]) != spatial_shape
        or len(lead) < 1
        or lead[0] != attributions.shape[0]
        or any(size != 1 for size in lead[1:])
    ):
        raise ValueError(
            f"expected masks of shape (N, *{spatial_shape}) or (N, 1, ..., *{spatial_shape}) "
            f"with N = {attributions.shape[0]}, got {tuple(masks.shape)}"
        )
    if masks.dtype != torch.bool and not ((masks == 0) | (masks == 1)).all():
        raise ValueError("expected binary masks (bool or values in {0, 1}), got other values")
    scores = spatial_saliency(attributions.double(), spatial, magnitude)
    return scores, masks.reshape(attributions.shape[0], *spatial_shape).to(scores.device).bool()


def _warn_empty(empty: Tensor, what: str) -> None:
    if empty.any():
        warnings.warn(f"{int(empty.sum())} samples have {what}; their score is nan", stacklevel=3)


def energy_in_mask(
    attributions: Tensor,
    masks: Tensor,
    *,
    spatial_dims: int | None = None,
    magnitude: Magnitude = "abs",
) -> Tensor:
    """Share of the attribution energy inside the ground-truth mask; higher is better.

    ``sum_{p in mask} s(p) / sum_p s(p)`` with s the channel-summed ``|map|`` (or map^2 with
    ``magnitude="squared"``).

    Args:
        attributions: ``(N, *channel dims, *spatial dims)``.
        masks: ``(N, *spatial dims)`` or ``(N, 1, ..., *spatial dims)``, bool or {0, 1}.
        spatial_dims: Trailing dims that index a pixel; see :func:`spatial_saliency`.
        magnitude: ``"abs"`` or ``"squared"``.

    Returns:
        (N,) float64 in [0, 1]; ``nan`` (with a warning) for an all-zero map or an
        empty mask.

    Example:
        >>> m = torch.tensor([[[[3.0, 1.0], [0.0, 0.0]]]])
        >>> energy_in_mask(m, torch.tensor([[[[1, 0], [0, 0]]]])).tolist()
        [0.75]
    """
    scores, mask = _check(attributions, masks, spatial_dims, magnitude)
    total = scores.flatten(1).sum(dim=1)
    inside = (scores * mask).flatten(1).sum(dim=1)
    undefined = (total == 0) | ~mask.flatten(1).any(dim=1)
    _warn_empty(undefined, "an all-zero map or an empty mask")
    share = inside / total
    return torch.where(undefined, torch.full_like(share, float("nan")), share)


def pointing_game(
    attributions: Tensor,
    masks: Tensor,
    *,
    spatial_dims: int | None = None,
    tolerance: int = 0,
) -> Tensor:
    """Pointing game (Zhang et al., 2018): is the map's maximum inside the mask?

    The maximum of the channel-summed ``|map|`` is a hit when it lies in the mask dilated
    by ``tolerance`` locations (a (2 t + 1)-wide max filter). With several maximal
    locations, a hit needs all of them inside (a flat map cannot hit by luck).

    Args:
        attributions: ``(N, *channel dims, *spatial dims)``; 1 to 3 spatial dims.
        masks: ``(N, *spatial dims)`` or ``(N, 1, ..., *spatial dims)``, bool or {0, 1}.
        spatial_dims: Trailing dims that index a pixel; see :func:`spatial_saliency`.
        tolerance: Dilation of the mask in locations, >= 0.

    Returns:
        (N,) float64: 1.0 hit, 0.0 miss, ``nan`` (with a warning) for a constant map or an
        empty mask.

    Example:
        >>> m = torch.tensor([[[[0.0, 5.0], [1.0, 0.0]]]])
        >>> pointing_game(m, torch.tensor([[[[0, 1], [0, 0]]]])).tolist()
        [1.0]
    """
    scores, mask = _check(attributions, masks, spatial_dims)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0:
        raise ValueError(f"expected tolerance to be an int >= 0, got {tolerance!r}")
    if tolerance > 0:
        spatial = mask.dim() - 1
        pools = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
        if spatial not in pools:
            raise ValueError(f"expected 1 to 3 spatial dims for tolerance > 0, got {spatial}")
        size = 2 * tolerance + 1
        mask = pools[spatial](mask.unsqueeze(1).double(), size, stride=1, padding=tolerance)
        mask = mask.squeeze(1).bool()
    flat, flat_mask = scores.flatten(1), mask.flatten(1)
    is_max = flat == flat.max(dim=1, keepdim=True).values
    hit = (is_max <= flat_mask).all(dim=1)
    undefined = is_max.all(dim=1) | ~flat_mask.any(dim=1)
    _warn_empty(undefined, "a constant map or an empty mask")
    hit_value = hit.double()
    return torch.where(undefined, torch.full_like(hit_value, float("nan")), hit_value)
