"""Calling an explainer in bounded chunks: a Captum-style ``attribute`` or a plain callable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from captum_ifim.metrics._forward import chunk_bounds, slice_args
from captum_ifim.metrics._validation import (
    check_input_tensor,
    check_max_examples_per_batch,
    check_target_count,
)


def explain_fn(explainer: Any) -> Callable[..., Any]:
    """``explainer.attribute`` for a Captum-style explainer, else the callable itself."""
    attribute = getattr(explainer, "attribute", None)
    if callable(attribute):
        return attribute
    if callable(explainer):
        return explainer
    raise TypeError(
        f"expected an explainer with .attribute(inputs, target=...) or a callable, got "
        f"{type(explainer).__name__}"
    )


def compute_maps(
    explainer: Any,
    inputs: Tensor,
    target: Any,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> Tensor:
    """Maps of ``inputs`` from an explainer, in chunks; checked to be finite tensors (N, ...).

    Args:
        explainer: Anything with ``attribute(inputs, target=...)`` or such a callable.
        inputs: (N, ...) finite floating inputs, N > 0.
        target: Passed on per chunk: a list or a tensor (N,) of one class per input
            (sliced), or one class for every input (an int or a 0-d tensor), or ``None``.
        additional_forward_args: Passed on per chunk, as in Captum.
        max_examples_per_batch: At most this many inputs per explainer call; ``None`` does
            the whole batch at once.

    Returns:
        The detached maps, N rows.

    Raises:
        ValueError: A list or a tensor (N,) of targets with another N than the inputs', or
            a target tensor on the meta device; and the inputs' checks.
    """
    check_input_tensor(inputs)
    check_max_examples_per_batch(max_examples_per_batch)
    check_target_count(target, inputs.shape[0])
    explain = explain_fn(explainer)
    maps = []
    for start, stop in chunk_bounds(inputs.shape[0], max_examples_per_batch):
        sliceable = isinstance(target, list) or (isinstance(target, Tensor) and target.dim() > 0)
        chunk_target = target[start:stop] if sliceable else target
        kwargs: dict[str, Any] = {"target": chunk_target}
        if additional_forward_args is not None:
            kwargs["additional_forward_args"] = slice_args(additional_forward_args, start, stop)
        result = explain(inputs[start:stop], **kwargs)
        if not isinstance(result, Tensor) or result.dim() == 0 or result.shape[0] != stop - start:
            shape = tuple(result.shape) if isinstance(result, Tensor) else type(result).__name__
            raise ValueError(
                f"expected the explainer to return a tensor with {stop - start} rows, got {shape}"
            )
        maps.append(result.detach())
    out = torch.cat(maps)
    if not torch.isfinite(out).all():
        raise ValueError("expected finite maps from the explainer, got NaN or inf")
    return out
