"""One signed score per location (token, pixel, voxel) from a layer's sensitive component."""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor

LocationSummary = Literal["signed_norm", "projection"]
LOCATION_SUMMARIES: tuple[str, ...] = get_args(LocationSummary)


def signed_location_norms(sensitive: Tensor, activation: Tensor, feature_dim: int = 1) -> Tensor:
    """Per location, ``sign(<s_t, a_t>) * ||s_t||`` over the feature dimension.

    ``s_t`` is the sensitive component x_sens (eq. 16) of the activation at location t
    (one token's embedding, one pixel's channels) and ``a_t`` the activation there. The
    norm says how much of the iFIM's leading subspace sits at t; the sign says whether
    that part points along the activation (positive: it adds to
    ``||x_sens||^2 = sum_t <s_t, a_t>``) or against it (negative). A zero ``s_t`` (a padded
    token, a location the output ignores) scores 0.

    Args:
        sensitive: x_sens, shape ``(N, ...)`` with the features along ``feature_dim``.
        activation: The activation, same shape.
        feature_dim: The feature (channel, embedding) dimension; 1 for channels-first
            maps (N, C, H, W), -1 for token embeddings (N, T, D).

    Returns:
        Shape of ``sensitive`` without ``feature_dim``.

    Example:
        >>> s = torch.tensor([[[3.0, 4.0], [0.0, -1.0]]])  # (N=1, T=2, D=2)
        >>> a = torch.tensor([[[1.0, 1.0], [0.0, 2.0]]])
        >>> signed_location_norms(s, a, feature_dim=-1).tolist()
        [[5.0, -1.0]]
    """
    _check_same_shape(sensitive, activation)
    norms = torch.linalg.vector_norm(sensitive, dim=feature_dim)
    alignment = (sensitive * activation).sum(dim=feature_dim)
    return torch.where(alignment < 0, -norms, norms)


def location_projections(sensitive: Tensor, activation: Tensor, feature_dim: int = 1) -> Tensor:
    """Per location, ``<s_t, a_t>``: location t's term of ``||x_sens||^2 = sum_t <s_t, a_t>``.

    For C = 2, ``s_t = (u^T a) u_t`` and this is ``(u^T a)(u_t^T a_t)``: the sensitivity
    direction at t weighted by the activation there (a gradient-times-input form), where
    :func:`signed_location_norms` gives ``|u^T a| ||u_t||`` (a gradient norm). Args and
    shapes: as :func:`signed_location_norms`.

    Example:
        >>> s = torch.tensor([[[3.0, 4.0], [0.0, -1.0]]])
        >>> a = torch.tensor([[[1.0, 1.0], [0.0, 2.0]]])
        >>> location_projections(s, a, feature_dim=-1).tolist()
        [[7.0, -2.0]]
    """
    _check_same_shape(sensitive, activation)
    return (sensitive * activation).sum(dim=feature_dim)


def location_scores(
    sensitive: Tensor,
    activation: Tensor,
    feature_dim: int = 1,
    summary: LocationSummary = "signed_norm",
) -> Tensor:
    """:func:`signed_location_norms` or :func:`location_projections`, by ``summary``."""
    if summary == "signed_norm":
        return signed_location_norms(sensitive, activation, feature_dim)
    if summary == "projection":
        return location_projections(sensitive, activation, feature_dim)
    raise ValueError(f"expected summary to be one of {LOCATION_SUMMARIES}, got {summary!r}")


def _check_same_shape(sensitive: Tensor, activation: Tensor) -> None:
    if sensitive.shape != activation.shape:
        raise ValueError(
            "expected the sensitive component and the activation of one shape, got "
            f"{tuple(sensitive.shape)} and {tuple(activation.shape)}"
        )
