"""Running a model over a batch in bounded chunks (``max_examples_per_batch``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from captum_ifim._captum_compat import (
    _format_additional_forward_args,
    _run_forward,
    _tuple_splice_range,
)
from captum_ifim._model_outputs import logits_of
from captum_ifim._validation import explained_forward_failures
from captum_ifim.metrics._validation import check_max_examples_per_batch


def chunk_bounds(num_examples: int, max_examples_per_batch: int | None) -> list[tuple[int, int]]:
    """``(start, stop)`` pairs covering ``range(num_examples)`` in chunks of at most the bound
    (``None``: one chunk); a bound that is not a positive int is refused here, at once."""
    check_max_examples_per_batch(max_examples_per_batch)
    step = max_examples_per_batch or num_examples
    return [(start, min(start + step, num_examples)) for start in range(0, num_examples, step)]


def slice_args(additional_forward_args: Any, start: int, stop: int) -> Any:
    """The rows ``start:stop`` of every tensor in Captum-style additional forward args."""
    extra = _format_additional_forward_args(additional_forward_args)
    if extra is None:
        return None
    return _tuple_splice_range(extra, start, stop)


def model_outputs(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> Tensor:
    """Detached model outputs for ``inputs`` (N, ...), computed without gradients in chunks.

    Returns:
        The outputs of shape (N, C): the logits of an output holding them (a
        ``ModelOutput``, a dict, a tuple; :func:`~captum_ifim.logits_of`).

    Raises:
        TypeError: An output without logits (the message says to pass ``output_key=`` to
            :class:`~captum_ifim.LogitsModel`).

    Raises:
        ValueError: Outputs of another shape, or inputs the model cannot take (a
            :class:`~captum_ifim._validation.ModelInputError` naming the layer).
    """
    outputs = []
    explained = explained_forward_failures(forward_func, (inputs,), additional_forward_args)
    with torch.no_grad(), explained:
        for start, stop in chunk_bounds(inputs.shape[0], max_examples_per_batch):
            out = logits_of(
                _run_forward(
                    forward_func,
                    inputs[start:stop],
                    None,
                    slice_args(additional_forward_args, start, stop),
                )
            )
            if not isinstance(out, Tensor) or out.dim() != 2:
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(f"expected model outputs of shape (N, C), got {shape}")
            outputs.append(out.detach())
    return torch.cat(outputs)
