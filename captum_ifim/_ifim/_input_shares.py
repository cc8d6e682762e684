"""How the iFIM's eigenvectors and spectrum split across the inputs of a multi-input model.

For inputs x = (x_1, ..., x_P) (Captum's tuple inputs: an image and clinical variables, two
imaging modalities, the tensors a layer takes) every unit eigenvector u^(m) of F(x) splits
into blocks u_i^(m), and ``sum_i ||u_i^(m)||^2 = 1``: the share of input i in eigenvector m.
Weighting by the spectrum gives the share of input i in the whole iFIM,

    s_i = sum_m lambda_m ||u_i^(m)||^2 / sum_m lambda_m = trace(F_ii) / trace(F),

with F_ii the diagonal block of input i: the part of the expected squared score (the local
KL curvature, eq. 18, summed over directions) that moves through input i.

The shares depend on each input's units: multiplying input i by a divides its gradients
by a and its block of F by a^2. Compare them across inputs standardised alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class InputShares:
    """The split of the iFIM across P inputs, for a batch of N samples.

    Attributes:
        eigenvector_shares: (N, R_max, P) float64, ``||u_i^(m)||^2``; each row sums to 1
            for the eigenvectors inside the rank and is zero past it.
        spectrum_shares: (N, P) float64, ``trace(F_ii) / trace(F)``; rows sum to 1 (zero
            rows where the iFIM is zero).
        eigenvalues: (N, R_max) float64, lambda_m (zero past the rank).
    """

    eigenvector_shares: Tensor
    spectrum_shares: Tensor
    eigenvalues: Tensor


def input_shares(eigenvectors: tuple[Tensor, ...], eigenvalues: Tensor) -> InputShares:
    """Split each eigenvector's unit energy, and the spectrum, across the inputs.

    Args:
        eigenvectors: One tensor per input, of shape ``(N, R_max, *S_i)``: the blocks
            u_i^(m) of the unit eigenvectors (zero past the rank).
        eigenvalues: (N, R_max), the eigenvalues lambda_m (zero past the rank).

    Returns:
        An :class:`InputShares`.

    Example:
        >>> u = (torch.tensor([[[0.6, 0.0]]]), torch.tensor([[[0.8]]]))  # (N, R, S_i)
        >>> shares = input_shares(u, torch.tensor([[2.0]]))
        >>> [round(share, 6) for share in shares.eigenvector_shares.squeeze().tolist()]
        [0.36, 0.64]
    """
    if not eigenvectors:
        raise ValueError("expected at least one eigenvector block, got none")
    energy = torch.stack(
        [block.flatten(2).to(torch.float64).square().sum(dim=2) for block in eigenvectors],
        dim=2,
    )
    total = energy.sum(dim=2, keepdim=True)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    vector_shares = energy / safe
    weights = eigenvalues.to(torch.float64).clamp_min(0)
    weighted = (weights.unsqueeze(2) * vector_shares).sum(dim=1)
    mass = weights.sum(dim=1, keepdim=True)
    spectrum = weighted / torch.where(mass > 0, mass, torch.ones_like(mass))
    return InputShares(
        eigenvector_shares=vector_shares, spectrum_shares=spectrum, eigenvalues=weights
    )
