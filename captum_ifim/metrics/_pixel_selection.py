"""Spatial ranking of attribution maps: which pixel locations a map ranks highest or lowest.

A *pixel* is a spatial location, as in k = ceil(alpha H W) of Sec. IV-E (docs/metrics.md,
"The registry"); in a volume it is a voxel, k = ceil(alpha D H W): a map of shape
(N, *channel dims, *spatial dims) is reduced to one score per location by summing its
magnitude over the channel dims, and a selected location is perturbed in every channel.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import Tensor

from captum_ifim._validation import check_choice, check_positive_int
from captum_ifim.metrics._validation import (
    check_batch_tensor,
    check_fraction,
    resolve_spatial_dims,
)

Magnitude = Literal["abs", "squared"]
MAGNITUDES: tuple[str, ...] = get_args(Magnitude)
Which = Literal["top", "bottom"]
WHICH: tuple[str, ...] = get_args(Which)


def spatial_saliency(
    attributions: Tensor, spatial_dims: int | None = None, magnitude: Magnitude = "abs"
) -> Tensor:
    """One score per pixel location: the channel-summed ``|map|`` (or map^2).

    Args:
        attributions: ``(N, *channel dims, *spatial dims)``, finite real numbers, N > 0.
        spatial_dims: How many trailing dims index a location; ``None``: 2 for
            (N, C, H, W) and (N, H, W), 3 for (N, C, D, H, W), 1 for (N, D).
        magnitude: ``"abs"`` sums ``|m|`` (the paper's ``|S(x)|``), ``"squared"`` sums m^2.

    Returns:
        Scores of shape ``(N, *spatial dims)``, in the map's dtype.

    Raises:
        TypeError: Not a tensor, or a tensor of bools or complex numbers.
        ValueError: An empty batch, NaN or inf, the meta device, or a bad option.

    Example:
        >>> spatial_saliency(torch.tensor([[[[1.0, -2.0]], [[3.0, 0.0]]]])).tolist()
        [[[4.0, 2.0]]]
    """
    check_choice("magnitude", magnitude, MAGNITUDES)
    check_batch_tensor(attributions, "attributions")
    spatial = resolve_spatial_dims(attributions.dim(), spatial_dims)
    values = attributions.abs() if magnitude == "abs" else attributions.square()
    channel_dims = tuple(range(1, attributions.dim() - spatial))
    return values.sum(dim=channel_dims) if channel_dims else values


def num_selected_pixels(fraction: float, num_locations: int) -> int:
    """k = ceil(alpha * H * W) of Sec. IV-E (alpha * D * H * W voxels in a volume), at
    least 1 and at most ``num_locations``.

    ``alpha * H * W`` is rounded to 9 decimals first, so that 0.03 * 100 gives 3 and not
    the 4 that ``ceil(3.0000000000000004)`` would.

    Raises:
        ValueError: ``fraction`` outside (0, 1] or ``num_locations`` not a positive int.
    """
    alpha = check_fraction(fraction)
    check_positive_int(num_locations, "num_locations")
    return min(num_locations, max(1, math.ceil(round(alpha * num_locations, 9))))


def pixel_ranks(
    scores: Tensor, which: Which = "top", generator: torch.Generator | None = None
) -> Tensor:
    """The rank of every location (0 = first selected) when ordering by score.

    Args:
        scores: ``(N, *spatial dims)``, e.g. from :func:`spatial_saliency`.
        which: ``"top"`` ranks the largest score first (TopK), ``"bottom"`` the smallest
            (BottomK).
        generator: Ties are broken by a random permutation of the locations drawn from
            it (the same permutation for every sample); ``None`` breaks ties by location
            index (row-major). Either way the ordering is deterministic, and TopK and
            BottomK of a constant map select the same locations.

    Returns:
        Long tensor of the shape of ``scores``; ``ranks < k`` selects the k locations.
    """
    check_choice("which", which, WHICH)
    flat = scores.flatten(1)
    num_locations = flat.shape[1]
    descending = which == "top"
    if generator is None:
        order = torch.argsort(flat, dim=1, descending=descending, stable=True)
    else:
        perm = torch.randperm(num_locations, generator=generator).to(flat.device)
        order = perm[torch.argsort(flat[:, perm], dim=1, descending=descending, stable=True)]
    positions = torch.arange(num_locations, device=flat.device).expand_as(order)
    ranks = torch.empty_like(order).scatter_(1, order, positions)
    return ranks.view_as(scores)


def expand_to_input(location_mask: Tensor, ndim: int) -> Tensor:
    """Insert singleton channel dims so a (N, *spatial) mask broadcasts over (N, C.., *spatial)."""
    missing = ndim - location_mask.dim()
    return location_mask.view(location_mask.shape[0], *([1] * missing), *location_mask.shape[1:])


def pixel_mask(
    attributions: Tensor,
    fraction: float,
    which: Which = "top",
    spatial_dims: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """TopK (eq. 23) or BottomK (eq. 24) of the channel-summed ``|map|``, as a boolean mask.

    Args:
        attributions: ``(N, *channel dims, *spatial dims)``, checked as by
            :func:`spatial_saliency`.
        fraction: alpha in (0, 1]; k = ceil(alpha * number of locations).
        which: ``"top"`` or ``"bottom"``.
        spatial_dims: See :func:`spatial_saliency`.
        generator: Tie-breaking; see :func:`pixel_ranks`.

    Returns:
        Bool mask ``(N, 1, ..., 1, *spatial dims)`` with k True locations per sample; it
        broadcasts against the inputs.

    Example:
        >>> m = torch.tensor([[[[0.1, 5.0], [-9.0, 0.2]]]])
        >>> pixel_mask(m, 0.5, "top").int().tolist()
        [[[[0, 1], [1, 0]]]]
    """
    check_choice("which", which, WHICH)
    scores = spatial_saliency(attributions, spatial_dims)
    k = num_selected_pixels(fraction, scores[0].numel())
    return expand_to_input(pixel_ranks(scores, which, generator) < k, attributions.dim())
