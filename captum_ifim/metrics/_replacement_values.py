"""What a removed pixel becomes: Quantus's ``perturb_baseline`` values, per example."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Replacement = float | Tensor | Literal["black", "white", "mean"]
_NAMED = ("black", "white", "mean")


def replacement_values(inputs: Tensor, baseline: Replacement) -> Tensor:
    """The values that replace removed pixels, broadcast to the inputs' shape.

    Args:
        inputs: ``(N, ...)``.
        baseline: A number, a tensor broadcastable to the inputs, or one of Quantus's
            names: ``"black"`` (each example's minimum over all its channels and
            locations), ``"white"`` (its maximum) or ``"mean"`` (its mean).

    Returns:
        A tensor of the inputs' shape, dtype and device (a broadcast view for a number).

    Raises:
        TypeError: A baseline of another type.
        ValueError: An unknown name or a tensor that does not broadcast.
    """
    if isinstance(baseline, str):
        if baseline not in _NAMED:
            raise ValueError(
                f"expected baseline to be a number, a tensor or one of {_NAMED}, got {baseline!r}"
            )
        flat = inputs.detach().flatten(1)
        if baseline == "black":
            value = flat.amin(dim=1)
        elif baseline == "white":
            value = flat.amax(dim=1)
        else:
            value = flat.mean(dim=1)
        value = value.view(-1, *([1] * (inputs.dim() - 1)))
        return value.expand(inputs.shape)
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float, Tensor)):
        raise TypeError(
            f"expected baseline to be a number, a tensor or one of {_NAMED}, "
            f"got {type(baseline).__name__}"
        )
    value = torch.as_tensor(baseline, dtype=inputs.dtype, device=inputs.device)
    if not torch.isfinite(value).all():
        raise ValueError("expected a finite baseline, got NaN or inf")
    try:
        return torch.broadcast_to(value, inputs.shape)
    except RuntimeError as error:
        raise ValueError(
            f"expected a baseline broadcastable to {tuple(inputs.shape)}, got {tuple(value.shape)}"
        ) from error
