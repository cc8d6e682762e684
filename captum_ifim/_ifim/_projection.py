"""Projection of an input onto the leading iFIM eigenspace and its complement (eqs. 14-17)."""

from __future__ import annotations

import torch
from torch import Tensor


def project_sensitive(flat_inputs: Tensor, eigenvectors: Tensor, num_components: Tensor) -> Tensor:
    """``x_sens = U_K U_K^T x`` per sample (eqs. 14, 16).

    Args:
        flat_inputs: x, shape (N, d).
        eigenvectors: U, shape (N, m, d), orthonormal rows (zero rows past the rank).
        num_components: K per sample, shape (N,).

    Returns:
        x_sens, shape (N, d). The complement is ``x - x_sens`` (eq. 17).
    """
    coefficients = torch.einsum("nid,nd->ni", eigenvectors, flat_inputs)
    index = torch.arange(eigenvectors.shape[1], device=eigenvectors.device)
    selected = index.unsqueeze(0) < num_components.unsqueeze(1)
    coefficients = coefficients * selected.to(coefficients.dtype)
    return torch.einsum("ni,nid->nd", coefficients, eigenvectors)
