"""Per-sample input gradients of several output rows for a whole batch."""

from __future__ import annotations

import torch
from torch import Tensor


def per_sample_row_gradients(rows: Tensor, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """Input gradients of every row of ``rows`` for every sample, one backward pass per row.

    Samples must not interact in the forward pass (a model in eval mode): then the
    gradient of ``rows[:, j].sum()`` with respect to ``inputs[i][n]`` is the gradient of
    ``rows[n, j]`` alone.

    Args:
        rows: Tensor of shape (N, m) computed from ``inputs``.
        inputs: Tensors of shape ``(N, *S_i)`` with ``requires_grad=True``.

    Returns:
        One tensor per input, of shape ``(N, m, *S_i)``. Inputs that do not reach a row get
        zero gradients.
    """
    num_rows = rows.shape[1]
    jacobians = tuple(x.new_zeros((x.shape[0], num_rows, *x.shape[1:])) for x in inputs)
    for j in range(num_rows):
        grads = torch.autograd.grad(
            rows[:, j].sum(),
            inputs,
            retain_graph=j < num_rows - 1,
            allow_unused=True,
        )
        for jacobian, grad in zip(jacobians, grads, strict=True):
            if grad is not None:
                jacobian[:, j] = grad
    return jacobians
