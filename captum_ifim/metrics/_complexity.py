"""Complexity of a map: sparseness (Gini index), entropy, effective complexity.

Each reduces a map to one score per location, s(p) = channel-summed ``|map|`` (see
:func:`spatial_saliency`; a pixel in 2-D, a voxel in 3-D), and measures how concentrated s
is. They need neither the model nor the inputs. Quantus (0.6) computes the same on the
flattened ``|map|`` after dividing it by its maximum; for a one-channel map the values
agree (``tests/test_metrics_other_families.py``).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from captum_ifim.metrics._pixel_selection import spatial_saliency
from captum_ifim.metrics._validation import check_nonnegative


def _location_scores(attributions: Tensor, spatial_dims: int | None) -> Tensor:
    """(N, L) float64: s(p) per location, flattened (the checks of spatial_saliency)."""
    if isinstance(attributions, Tensor) and attributions.is_floating_point():
        attributions = attributions.double()
    return spatial_saliency(attributions, spatial_dims).double().flatten(1)


def _nan_where_zero(values: Tensor, total: Tensor) -> Tensor:
    """``values`` with ``nan`` (and a warning) where a map is all zero (``total == 0``)."""
    zero = total == 0
    if zero.any():
        warnings.warn(
            f"{int(zero.sum())} samples have an all-zero map; their score is nan", stacklevel=3
        )
    return torch.where(zero, torch.full_like(values, float("nan")), values)


def sparseness(attributions: Tensor, *, spatial_dims: int | None = None) -> Tensor:
    """Sparseness (Chalasani et al., 2020): the Gini index of s; higher is better.

    ``G = sum_i (2 i - L - 1) s_(i) / (L sum_i s_(i))`` with ``s_(1) <= ... <= s_(L)`` the
    sorted location scores (L locations): 0 for a flat map, ``1 - 1/L`` for a map with one
    non-zero location. Invariant to the map's scale.

    Args:
        attributions: ``(N, *channel dims, *spatial dims)``, finite.
        spatial_dims: Trailing dims that index a location; see :func:`spatial_saliency`.

    Returns:
        (N,) float64 in [0, 1 - 1/L]; ``nan`` (with a warning) for an all-zero map.

    Example:
        >>> sparseness(torch.tensor([[[[0.0, 0.0], [0.0, 2.0]]]])).tolist()
        [0.75]
    """
    scores = _location_scores(attributions, spatial_dims)
    length = scores.shape[1]
    ordered = scores.sort(dim=1).values
    i = torch.arange(1, length + 1, dtype=scores.dtype, device=scores.device)
    total = scores.sum(dim=1)
    gini = ((2 * i - length - 1) * ordered).sum(dim=1) / (length * total)
    return _nan_where_zero(gini, total)


def complexity(attributions: Tensor, *, spatial_dims: int | None = None) -> Tensor:
    """Complexity (Bhatt et al., 2020): the entropy of the normalized s; lower is better.

    ``H = -sum_p P(p) ln P(p)`` with ``P(p) = s(p) / sum_q s(q)`` (0 ln 0 = 0): 0 when one
    location holds everything, ``ln k`` when k locations share it equally.

    Args:
        attributions: ``(N, *channel dims, *spatial dims)``, finite.
        spatial_dims: Trailing dims that index a location; see :func:`spatial_saliency`.

    Returns:
        (N,) float64 in [0, ln L] (natural log); ``nan`` (with a warning) for an all-zero
        map.

    Example:
        >>> round(complexity(torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])).item(), 6)
        0.693147
    """
    scores = _location_scores(attributions, spatial_dims)
    total = scores.sum(dim=1)
    share = scores / total.unsqueeze(1)
    entropy = -torch.special.xlogy(share, share).sum(dim=1)
    return _nan_where_zero(entropy, total)


def effective_complexity(
    attributions: Tensor, *, eps: float = 1e-5, spatial_dims: int | None = None
) -> Tensor:
    """Effective complexity (Nguyen & Martinez, 2020): how many locations matter; lower
    is better.

    ``#{p : s(p) / max_q s(q) > eps}``: the locations above ``eps`` of the map's own
    maximum (Quantus's ``EffectiveComplexity`` with its default ``eps``, on the map divided
    by its maximum). An all-zero map counts 0.

    Args:
        attributions: ``(N, *channel dims, *spatial dims)``, finite.
        eps: Threshold relative to the map's maximum, finite and >= 0.
        spatial_dims: Trailing dims that index a location; see :func:`spatial_saliency`.

    Returns:
        (N,) float64 counts in [0, L].

    Example:
        >>> effective_complexity(torch.tensor([[[[1.0, 1e-7], [0.5, 0.0]]]])).tolist()
        [2.0]
    """
    threshold = check_nonnegative(eps, "eps")
    scores = _location_scores(attributions, spatial_dims)
    peak = scores.max(dim=1, keepdim=True).values
    above = scores > threshold * peak
    return (above & (peak > 0)).sum(dim=1).double()
