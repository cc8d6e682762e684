"""The Gram matrix, its eigendecomposition and the lift to iFIM eigenvectors (eqs. 7-13).

With the factored iFIM ``F = J^T M J`` of :mod:`captum_ifim._ifim._output_heads`, the paper's
``G`` (eq. 5) is ``J^T M^{1/2}`` and its Gram matrix (eq. 7) is
``K = M^{1/2} J J^T M^{1/2}`` (m x m). ``F`` is never formed.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Default relative eigenvalue tolerance per working dtype: eigenvalues at or below
#: ``rtol * max(eigenvalue)`` are treated as zero (outside the iFIM's rank).
DEFAULT_RTOL: dict[torch.dtype, float] = {
    torch.float64: 1e-10,
    torch.float32: 1e-6,
    torch.float16: 1e-3,
    torch.bfloat16: 1e-3,
}


def psd_sqrt(matrix: Tensor) -> Tensor:
    """Symmetric square root of a batch of positive semidefinite matrices (N, m, m)."""
    values, vectors = torch.linalg.eigh(matrix)
    root = values.clamp_min(0).sqrt()
    return (vectors * root.unsqueeze(-2)) @ vectors.transpose(-1, -2)


def gram_matrix(jacobian: Tensor, metric_sqrt: Tensor) -> Tensor:
    """The Gram matrix ``K = G^T G`` (eq. 7) with ``G = J^T M^{1/2}``, in float64.

    Args:
        jacobian: J, shape (N, m, d).
        metric_sqrt: ``M^{1/2}``, shape (N, m, m), float64.

    Returns:
        K, shape (N, m, m), float64, symmetric positive semidefinite.
    """
    j64 = jacobian.to(torch.float64)
    inner = j64 @ j64.transpose(1, 2)
    gram = metric_sqrt @ inner @ metric_sqrt
    return (gram + gram.transpose(1, 2)) / 2


def gram_eigh(
    gram: Tensor, rtol: float = 1e-10, atol: float = 0.0
) -> tuple[Tensor, Tensor, Tensor]:
    """Eigendecomposition of K in descending order (eq. 8), small eigenvalues zeroed.

    Eigenvalues at or below ``max(atol, rtol * max(eigenvalue))`` are set to zero; they
    are outside the iFIM's numerical rank. Each eigenvector's sign is fixed so that its
    entry of largest magnitude is positive, which makes results reproducible.

    Args:
        gram: K, shape (N, m, m), float64.
        rtol: Relative tolerance.
        atol: Absolute tolerance.

    Returns:
        ``(eigenvalues, eigenvectors, rank)``: (N, m) descending, (N, m, m) with
        eigenvectors as columns, (N,) long.
    """
    values, vectors = torch.linalg.eigh(gram)
    values = values.flip(-1)
    vectors = vectors.flip(-1)
    largest = values[:, :1].clamp_min(0)
    keep = values > torch.maximum(largest * rtol, torch.full_like(largest, atol))
    values = torch.where(keep, values, torch.zeros_like(values))
    pivot = vectors.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(vectors.gather(1, pivot))
    vectors = vectors * torch.where(signs == 0, torch.ones_like(signs), signs)
    return values, vectors, keep.sum(dim=1)


def lift_eigenvectors(
    jacobian: Tensor, metric_sqrt: Tensor, gram_vectors: Tensor, eigenvalues: Tensor
) -> Tensor:
    """Unit eigenvectors of F from those of K: ``U = G V Lambda^{-1/2}`` (eqs. 9-10).

    Args:
        jacobian: J, shape (N, m, d).
        metric_sqrt: ``M^{1/2}``, shape (N, m, m), float64.
        gram_vectors: V, shape (N, m, m), eigenvectors of K as columns.
        eigenvalues: Lambda, shape (N, m), descending; zeros give zero vectors.

    Returns:
        U with one eigenvector per row, shape (N, m, d), in the dtype of ``jacobian``.
    """
    positive = eigenvalues > 0
    inv_root = torch.where(positive, eigenvalues, torch.ones_like(eigenvalues)).rsqrt()
    inv_root = torch.where(positive, inv_root, torch.zeros_like(inv_root))
    weights = metric_sqrt @ gram_vectors * inv_root.unsqueeze(1)
    return weights.transpose(1, 2).to(jacobian.dtype) @ jacobian


def energy_components(eigenvalues: Tensor, energy: float) -> Tensor:
    """The smallest K with ``sum_{i<=K} lambda_i / sum_{i<=R} lambda_i >= energy`` (eq. 13).

    Args:
        eigenvalues: Shape (N, m), descending, zeros past the rank.
        energy: The threshold rho in (0, 1].

    Returns:
        K per sample, shape (N,), long; 0 where the iFIM is zero.
    """
    total = eigenvalues.sum(dim=1, keepdim=True)
    safe_total = torch.where(total > 0, total, torch.ones_like(total))
    fraction = eigenvalues.cumsum(dim=1) / safe_total
    slack = 64 * torch.finfo(eigenvalues.dtype).eps
    count = (fraction < energy - slack).sum(dim=1) + 1
    rank = (eigenvalues > 0).sum(dim=1)
    return torch.minimum(count, rank)
