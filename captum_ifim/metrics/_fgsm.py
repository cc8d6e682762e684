"""The fast gradient sign method (Goodfellow et al., 2015; paper eq. 27)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from numbers import Real
from typing import Any

import torch
from torch import Tensor

from captum_ifim._captum_compat import _run_forward
from captum_ifim._ifim._output_heads import OutputHead, check_output_head
from captum_ifim._validation import check_eval_mode, explained_forward_failures
from captum_ifim.metrics._forward import chunk_bounds, slice_args
from captum_ifim.metrics._predictive import cross_entropy_sum, num_classes_of
from captum_ifim.metrics._validation import (
    check_input_tensor,
    check_labels,
    check_max_examples_per_batch,
    check_nonnegative,
)


def check_clamp(clamp: Any) -> None:
    """Raise unless ``clamp`` is ``(low, high)``: two real numbers with low < high (an
    infinite bound clips one side only)."""
    values = list(clamp) if isinstance(clamp, Iterable) and not isinstance(clamp, str) else []
    if len(values) != 2 or not all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
        raise TypeError(f"expected clamp = (low, high) of two numbers, got {clamp!r}")
    low, high = (float(v) for v in values)
    if not low < high:
        raise ValueError(f"expected clamp = (low, high) with low < high, got {clamp!r}")


def fgsm(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    labels: Tensor,
    epsilon: float,
    *,
    output: OutputHead = "logits",
    clamp: tuple[float, float] | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> Tensor:
    """``x_adv = x + epsilon * sign(grad_x L(f(x), y))`` with the true label y (eq. 27).

    L is the cross-entropy -log p(y|x) of the output head. Entries whose gradient is
    exactly 0 stay unchanged (sign(0) = 0). Per-sample gradients come from one backward
    pass per chunk, which is exact because samples do not interact in eval mode.

    Args:
        forward_func: The classifier, outputs (N, C).
        inputs: (N, ...) clean inputs of the model's dtype and device; left untouched.
        labels: (N,) true labels.
        epsilon: The L-infinity radius, >= 0 (e.g. 1% of the dataset's value range).
        output: The output head (see :class:`captum_ifim.IFIMDecomposition`).
        clamp: ``(low, high)`` valid value range to clip to; ``None`` does not clip (clip
            only when the dataset declares a range).
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: Differentiate at most this many inputs at a time.

    Returns:
        The adversarial inputs, detached, with the inputs' shape, dtype and device.

    Raises:
        TypeError: Inputs of another dtype than the model's, or a ``clamp`` that is not
            two numbers.
        ValueError: Bad inputs, labels or options; inputs the model cannot take (the
            error names the layer).

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
        >>> x = torch.zeros(1, 1, 2, 2)
        >>> x_adv = fgsm(model, x, torch.tensor([1]), 0.1)
        >>> bool(((x_adv - x).abs() <= 0.1 + 1e-7).all())
        True
    """
    check_output_head(output)
    check_input_tensor(inputs, model=forward_func)
    eps = check_nonnegative(epsilon, "epsilon")
    check_max_examples_per_batch(max_examples_per_batch)
    if clamp is not None:
        check_clamp(clamp)
    check_eval_mode(forward_func)
    adversarial = []
    explained = explained_forward_failures(forward_func, (inputs,), additional_forward_args)
    with explained:
        for start, stop in chunk_bounds(inputs.shape[0], max_examples_per_batch):
            x = inputs[start:stop].detach().clone().requires_grad_(True)
            with torch.enable_grad():
                outputs = _run_forward(
                    forward_func, x, None, slice_args(additional_forward_args, start, stop)
                )
                if start == 0:
                    check_labels(labels, inputs.shape[0], num_classes_of(outputs, output))
                loss = cross_entropy_sum(outputs, labels[start:stop].to(outputs.device), output)
                (grad,) = torch.autograd.grad(loss, x)
            adversarial.append(inputs[start:stop].detach() + eps * grad.sign())
    result = torch.cat(adversarial)
    if clamp is not None:
        result = result.clamp(clamp[0], clamp[1])
    return result
