"""Per-sample class targets from a Captum-style ``target`` argument."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import torch
from torch import Tensor


def _check_index(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"expected {what} to be an int class index, got {type(value).__name__}")
    return int(value)


def resolve_targets(target: Any, outputs: Tensor) -> Tensor:
    """One class index per sample, as Captum reads ``target`` for (N, C) outputs.

    Args:
        target: ``None`` (the predicted class, argmax of each row of ``outputs``), an int
            (the same class for every sample), a list of ints or a tensor of shape () or
            (N,) with one class per sample (a list needs exactly N entries).
        outputs: The model outputs, shape (N, C).

    Returns:
        A long tensor of shape (N,) on ``outputs.device``.

    Raises:
        TypeError: ``target`` is not one of the forms above (tuples address
            multi-dimensional outputs in Captum, which classifiers do not have).
        ValueError: Wrong number of targets, a class outside ``[0, C)``, or a tensor on
            the meta device (no data).
    """
    if not isinstance(outputs, Tensor) or outputs.dim() != 2:
        shape = tuple(outputs.shape) if isinstance(outputs, Tensor) else type(outputs).__name__
        raise ValueError(f"expected model outputs of shape (N, C), got {shape}")
    num_samples, num_classes = outputs.shape
    if target is None:
        return outputs.detach().argmax(dim=1)
    return target_indices(target, num_samples, num_classes, outputs.device)


def target_indices(
    target: Any, num_samples: int, num_classes: int | None, device: torch.device | None = None
) -> Tensor:
    """One class index per sample from a target that is not ``None``; the checks of
    :func:`resolve_targets` for a model with ``num_classes`` outputs (``None``: the form
    and the count only, not the range, for when the outputs are not known yet).

    Returns:
        A long tensor of shape (N,) on ``device`` (the CPU if ``None``).
    """
    if isinstance(target, Tensor):
        if target.device.type == "meta":
            raise ValueError("expected target to hold data, got a tensor on the meta device")
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise TypeError(f"expected an integer target tensor, got dtype {target.dtype}")
        if target.dim() > 1:
            raise ValueError(
                f"expected a target tensor of shape () or ({num_samples},), "
                f"got {tuple(target.shape)}"
            )
        indices = target.reshape(-1).to(device=device, dtype=torch.long)
    elif isinstance(target, list):
        values = [_check_index(value, "each target in the list") for value in target]
        indices = torch.tensor(values, dtype=torch.long, device=device)
    else:
        if isinstance(target, tuple):
            raise TypeError(
                "expected target to be None, an int, a list of ints or a tensor for (N, C) "
                "outputs, got a tuple (Captum uses tuples for multi-dimensional outputs)"
            )
        indices = torch.tensor([_check_index(target, "target")], device=device)
    if indices.numel() == 1 and not isinstance(target, list):
        indices = indices.expand(num_samples)
    if indices.numel() != num_samples:
        raise ValueError(
            f"expected one target per sample ({num_samples}), got {indices.numel()} targets"
        )
    if num_classes is None:
        return indices.clone()
    bad = (indices < 0) | (indices >= num_classes)
    if bad.any():
        raise ValueError(
            f"expected targets in [0, {num_classes}) for a model with {num_classes} outputs, "
            f"got {indices[bad].tolist()}"
        )
    return indices.clone()
