"""How the iFIM's eigenvalues spread: the largest, the trace, the effective rank and K.

For one input x, the nonzero eigenvalues ``lambda_1 >= ... >= lambda_R > 0`` of F(x)
(eq. 8) say how sensitive the predictive distribution is (eqs. 21-22: ``lambda_1`` bounds the
local KL change of a unit perturbation) and how many directions share that sensitivity.
Training that changes the model (a shortcut, adversarial training) changes them; these four
numbers per image describe the change without ranking anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SpectrumSummary:
    """Per-example description of an iFIM spectrum.

    Attributes:
        lambda_1: (N,) float64, the largest eigenvalue (eq. 8; the bound of eq. 22).
        trace: (N,) float64, ``sum_i lambda_i = tr F(x)`` (eqs. 8, 11): the expected squared
            norm of the score ``E_y ||grad_x log p(y|x)||^2`` (eq. 2).
        effective_rank: (N,) float64, ``exp(-sum_i p_i log p_i)`` with
            ``p_i = lambda_i / sum_j lambda_j`` (Roy & Vetterli, "The effective rank: a
            measure of effective dimensionality", EUSIPCO 2007): 1 for a rank-one
            spectrum, R for R equal eigenvalues; ``nan`` for a zero iFIM.
        num_components: (N,) float64, K of eq. 13 (as given).
    """

    lambda_1: Tensor
    trace: Tensor
    effective_rank: Tensor
    num_components: Tensor


def _check(eigenvalues: Tensor, num_components: Tensor) -> None:
    if not isinstance(eigenvalues, Tensor):
        raise TypeError(
            f"expected eigenvalues to be a torch.Tensor, got {type(eigenvalues).__name__}"
        )
    if not isinstance(num_components, Tensor):
        raise TypeError(
            f"expected num_components to be a torch.Tensor, got {type(num_components).__name__}"
        )
    if not eigenvalues.is_floating_point():
        raise TypeError(f"expected floating-point eigenvalues, got {eigenvalues.dtype}")
    if eigenvalues.dim() != 2 or 0 in eigenvalues.shape:
        raise ValueError(
            f"expected eigenvalues of shape (N, R) with N, R > 0, got {tuple(eigenvalues.shape)}"
        )
    if eigenvalues.device.type == "meta" or num_components.device.type == "meta":
        raise ValueError("expected eigenvalues and num_components to hold data, got meta tensors")
    if not torch.isfinite(eigenvalues).all() or bool((eigenvalues < 0).any()):
        raise ValueError("expected finite eigenvalues >= 0 (F(x) is PSD), got other values")
    if num_components.is_floating_point() or num_components.dtype == torch.bool:
        raise TypeError(f"expected integer num_components, got {num_components.dtype}")
    n, r = eigenvalues.shape
    if num_components.shape != (n,):
        raise ValueError(
            f"expected num_components of shape ({n},), got {tuple(num_components.shape)}"
        )
    if bool(((num_components < 0) | (num_components > r)).any()):
        raise ValueError(f"expected num_components in [0, {r}], got {num_components.tolist()}")


def spectrum_summary(eigenvalues: Tensor, num_components: Tensor) -> SpectrumSummary:
    """The largest eigenvalue, the trace, the effective rank and K of each iFIM spectrum.

    Args:
        eigenvalues: (N, R) the iFIM eigenvalues (eq. 8), zeros past each rank, e.g.
            ``IFIMResult.eigenvalues``; any order.
        num_components: (N,) integer K (eq. 13), e.g. ``IFIMResult.num_components``.

    Returns:
        A :class:`SpectrumSummary` of (N,) float64 tensors on the eigenvalues' device.

    Example:
        >>> s = spectrum_summary(torch.tensor([[2.0, 0.0], [1.0, 1.0]]), torch.tensor([1, 2]))
        >>> s.lambda_1.tolist(), s.trace.tolist(), s.effective_rank.tolist()
        ([2.0, 1.0], [2.0, 2.0], [1.0, 2.0])
    """
    _check(eigenvalues, num_components)
    values = eigenvalues.detach().to(torch.float64)
    trace = values.sum(dim=1)
    shares = values / torch.where(trace > 0, trace, torch.ones_like(trace))[:, None]
    entropy = -torch.where(shares > 0, shares * shares.log(), torch.zeros_like(shares)).sum(dim=1)
    effective_rank = torch.where(trace > 0, entropy.exp(), torch.full_like(trace, float("nan")))
    return SpectrumSummary(
        lambda_1=values.max(dim=1).values,
        trace=trace,
        effective_rank=effective_rank,
        num_components=num_components.detach().to(values.device, torch.float64),
    )
