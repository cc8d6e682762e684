"""Brute-force iFIM references for small inputs: the d x d matrix from the full Jacobian."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def brute_force_fisher(
    log_likelihoods: Callable[[Tensor], Tensor], x: Tensor
) -> tuple[Tensor, Tensor]:
    """F = sum_o P(o) grad log P(o) grad log P(o)^T over every outcome o (eq. 2).

    Args:
        log_likelihoods: Maps one flattened input (d,) to the log-probabilities of all
            outcomes (O,), which must sum (after exp) to the number of independent
            distributions (1 for a softmax; one per output for sigmoids).
        x: One flattened input, shape (d,).

    Returns:
        ``(F, probs)``: F of shape (d, d) and the outcome probabilities (O,).
    """
    jacobian = torch.autograd.functional.jacobian(log_likelihoods, x)  # (O, d)
    probs = log_likelihoods(x).exp().detach()
    fisher = (jacobian.T * probs) @ jacobian
    return fisher, probs


def softmax_log_likelihoods(model: torch.nn.Module, shape: tuple[int, ...]):
    """Outcome log-probabilities of a softmax classifier, as a function of a flat input."""
    return lambda flat: torch.log_softmax(model(flat.reshape(1, *shape)), dim=1)[0]


def sigmoid_log_likelihoods(model: torch.nn.Module, shape: tuple[int, ...]):
    """Log-probabilities of both outcomes of every independent Bernoulli output."""

    def log_likelihoods(flat: Tensor) -> Tensor:
        logits = model(flat.reshape(1, *shape))[0]
        return torch.cat(
            [torch.nn.functional.logsigmoid(logits), torch.nn.functional.logsigmoid(-logits)]
        )

    return log_likelihoods


def top_eigenspace(fisher: Tensor, count: int) -> tuple[Tensor, Tensor]:
    """The ``count`` largest eigenvalues (descending) and the projector onto their span."""
    values, vectors = torch.linalg.eigh(fisher)
    values, vectors = values.flip(0), vectors.flip(1)
    basis = vectors[:, :count]
    return values, basis @ basis.T
