"""Per-sample correlations of flattened maps: Pearson and Spearman (average ranks for ties).

A constant row has no correlation: the result is ``nan`` there, never 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from captum_ifim.metrics._validation import check_batch_tensor


def _check_pair(a: Tensor, b: Tensor) -> None:
    """Raise unless ``a`` and ``b`` are finite batches (N, ...) of one shape, holding data."""
    check_batch_tensor(a, "a")
    check_batch_tensor(b, "b")
    if a.shape != b.shape:
        raise ValueError(
            f"expected a and b of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def constant_rows(values: Tensor) -> Tensor:
    """(N,) bool: rows of the flattened (N, ...) tensor whose entries are all equal."""
    flat = values.flatten(1)
    return (flat == flat[:, :1]).all(dim=1)


def pearson_per_sample(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation of each flattened pair of rows, in float64.

    Args:
        a: (N, ...), finite.
        b: ``a``'s shape, finite (on any device: it is moved to ``a``'s).

    Returns:
        (N,) float64 in [-1, 1]; ``nan`` where either row is constant.

    Raises:
        TypeError: Not tensors, or tensors of bools or complex numbers.
        ValueError: Shapes that differ, an empty batch, NaN or inf, the meta device.

    Example:
        >>> pearson_per_sample(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[2.0, 4.0, 7.0]]))
        tensor([0.9934], dtype=torch.float64)
    """
    _check_pair(a, b)
    return _pearson(a, b)


def _pearson(a: Tensor, b: Tensor) -> Tensor:
    x, y = a.flatten(1).double(), b.flatten(1).double().to(a.device)
    xc = x - x.mean(dim=1, keepdim=True)
    yc = y - y.mean(dim=1, keepdim=True)
    r = (xc * yc).sum(dim=1) / ((xc.square().sum(dim=1) * yc.square().sum(dim=1)).sqrt())
    r = r.clamp(-1.0, 1.0)
    undefined = constant_rows(x) | constant_rows(y)
    return torch.where(undefined, torch.full_like(r, float("nan")), r)


def average_ranks(values: Tensor) -> Tensor:
    """1-based ranks of each row of (N, ...) flattened, ties sharing their average rank."""
    flat = values.flatten(1).double()
    ordered = flat.sort(dim=1).values.contiguous()
    left = torch.searchsorted(ordered, flat.contiguous(), side="left")
    right = torch.searchsorted(ordered, flat.contiguous(), side="right")
    return (left + right + 1).double() / 2


def spearman_per_sample(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation of each flattened pair of rows (average ranks for ties).

    Args and errors: as :func:`pearson_per_sample`.

    Returns:
        (N,) float64; ``nan`` where either row is constant.
    """
    _check_pair(a, b)
    return _pearson(average_ranks(a), average_ranks(b))
