"""Per-sample input gradients of several output rows for a whole batch.

Two ways to the same numbers: one backward pass per row (``"sequential"``), or the rows'
backward passes vectorized into one (``"batched"``: ``torch.autograd.grad(...,
is_grads_batched=True)``, a ``vmap`` over the backward graph). ``"auto"`` picks by
:func:`prefer_batched_backward`, a rule measured on this project's 2-core CPU
(``docs/performance.md``, "Batched backward passes").
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor

BackwardMode = Literal["auto", "sequential", "batched"]
BACKWARD_MODES: tuple[str, ...] = get_args(BackwardMode)

#: ``"auto"`` on a CPU batches the backward passes only when a pass is this small: at most
#: this many input values per pass (N x d). Measured on the 2-core AMD EPYC, one thread:
#: at or below it the batched form saves per-pass overhead on both ResNet18 (0.81 x at
#: C = 10, 4 x 32 px) and the shallow CNN (0.64 x at C = 100, 4 x 32 px); above it the
#: vectorized backward is slower on the shallow CNN (1.22 x at 8 x 32 px, 1.66 x at
#: 16 x 64 px) and on ResNet18 at the benchmark's sizes (1.16 x at 16 x 128 px, C = 3).
CPU_BATCHED_MAX_VALUES = 4_096


def check_backward_mode(backward: str) -> None:
    """Raise ``ValueError`` unless ``backward`` is one of :data:`BACKWARD_MODES`."""
    if backward not in BACKWARD_MODES:
        raise ValueError(f"expected backward to be one of {BACKWARD_MODES}, got {backward!r}")


def prefer_batched_backward(num_rows: int, inputs: tuple[Tensor, ...]) -> bool:
    """The ``"auto"`` rule: batch the backward passes of ``num_rows`` rows or not.

    Batched when there are at least two rows and either the inputs are on a GPU (one
    launch sequence instead of ``num_rows``) or, on a CPU, a pass holds at most
    :data:`CPU_BATCHED_MAX_VALUES` input values (the passes are then bound by their fixed
    overhead, which the vectorized form pays once).
    """
    if num_rows < 2:
        return False
    if any(x.device.type != "cpu" for x in inputs):
        return True
    return sum(x.numel() for x in inputs) <= CPU_BATCHED_MAX_VALUES


def per_sample_row_gradients(
    rows: Tensor, inputs: tuple[Tensor, ...], backward: BackwardMode = "sequential"
) -> tuple[Tensor, ...]:
    """Input gradients of every row of ``rows`` for every sample.

    Samples must not interact in the forward pass (a model in eval mode): then the
    gradient of ``rows[:, j].sum()`` with respect to ``inputs[i][n]`` is the gradient of
    ``rows[n, j]`` alone.

    Args:
        rows: Tensor of shape (N, m) computed from ``inputs``.
        inputs: Tensors of shape ``(N, *S_i)`` with ``requires_grad=True``.
        backward: ``"sequential"`` (one backward pass per row), ``"batched"`` (the m
            passes vectorized into one) or ``"auto"`` (:func:`prefer_batched_backward`;
            the sequential passes where the graph cannot be vectorized). Equal up to
            floating-point rounding.

    Returns:
        One tensor per input, of shape ``(N, m, *S_i)``. Inputs that do not reach a row get
        zero gradients.
    """
    check_backward_mode(backward)
    num_rows = rows.shape[1]
    batched = backward == "batched" or (
        backward == "auto" and prefer_batched_backward(num_rows, inputs)
    )
    if batched:
        try:
            return _batched_gradients(rows, inputs, retain_graph=backward == "auto")
        except RuntimeError:
            if backward == "batched":
                raise
    return _sequential_gradients(rows, inputs)


def _sequential_gradients(rows: Tensor, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    num_rows = rows.shape[1]
    per_row = [
        torch.autograd.grad(
            rows[:, j].sum(), inputs, retain_graph=j < num_rows - 1, allow_unused=True
        )
        for j in range(num_rows)
    ]
    jacobians = []
    for i, x in enumerate(inputs):
        grads = [row_grads[i] for row_grads in per_row]
        if all(grad is None for grad in grads):
            jacobians.append(x.new_zeros((x.shape[0], num_rows, *x.shape[1:])))
            continue
        filled = [torch.zeros_like(x) if grad is None else grad for grad in grads]
        # One row: a view, no copy (the C = 2 case, a saliency map's cost).
        jacobians.append(filled[0].unsqueeze(1) if num_rows == 1 else torch.stack(filled, 1))
    return tuple(jacobians)


def _batched_gradients(
    rows: Tensor, inputs: tuple[Tensor, ...], retain_graph: bool
) -> tuple[Tensor, ...]:
    num_samples, num_rows = rows.shape
    # grad_outputs[j] selects row j of every sample: the j-th backward pass of the loop.
    basis = torch.eye(num_rows, dtype=rows.dtype, device=rows.device)
    grad_outputs = basis.unsqueeze(1).expand(num_rows, num_samples, num_rows)
    grads = torch.autograd.grad(
        rows,
        inputs,
        grad_outputs,
        retain_graph=retain_graph,
        allow_unused=True,
        is_grads_batched=True,
    )
    return tuple(
        x.new_zeros((x.shape[0], num_rows, *x.shape[1:])) if grad is None else grad.movedim(0, 1)
        for grad, x in zip(grads, inputs, strict=True)
    )
