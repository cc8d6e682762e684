"""Forward functions bound to Captum-style ``additional_forward_args``.

Score-CAM and DeepSHAP call the model on many copies of one sample (masked copies,
or the sample tiled against a background). Tensors among the additional arguments whose
first dimension is the batch size N belong to a sample, so they are sliced to that
sample and expanded to the size of each call; every other argument is passed unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor


def bind_forward(
    forward_func: Callable[..., Any], additional_forward_args: tuple[Any, ...]
) -> Callable[[Tensor], Any]:
    """``x -> forward_func(x, *additional_forward_args)`` for the whole batch."""

    def forward(x: Tensor) -> Any:
        return forward_func(x, *additional_forward_args)

    return forward


def sample_arguments(
    additional_forward_args: tuple[Any, ...], index: int, num_samples: int, rows: int = 1
) -> tuple[Any, ...]:
    """The extra arguments of sample ``index`` of a batch of N, for a call on ``rows`` rows:
    each tensor of shape (N, ...) becomes its row ``index`` expanded to ``rows`` rows;
    every other argument is passed unchanged."""
    return tuple(
        arg[index : index + 1].expand(rows, *arg.shape[1:])
        if _per_sample(arg, num_samples)
        else arg
        for arg in additional_forward_args
    )


def _per_sample(arg: Any, num_samples: int) -> bool:
    return isinstance(arg, Tensor) and arg.dim() > 0 and arg.shape[0] == num_samples


def bind_sample_forward(
    forward_func: Callable[..., Any],
    additional_forward_args: tuple[Any, ...],
    index: int,
    num_samples: int,
) -> Callable[[Tensor], Any]:
    """A forward function for calls made on copies of sample ``index`` of a batch of N.

    Args:
        forward_func: The model.
        additional_forward_args: The extra arguments for the whole batch.
        index: Which sample the calls are about.
        num_samples: N, the batch size of the extra arguments.

    Returns:
        ``x -> forward_func(x, *args)`` where each tensor argument of shape (N, ...) is
        replaced by its row ``index`` expanded to ``x.shape[0]`` rows.
    """

    def forward(x: Tensor) -> Any:
        args = sample_arguments(additional_forward_args, index, num_samples, x.shape[0])
        return forward_func(x, *args)

    return forward


def rows_arguments(
    additional_forward_args: tuple[Any, ...], samples: Tensor, num_samples: int
) -> tuple[Any, ...]:
    """The extra arguments of a call whose rows belong to several samples of a batch of N:
    each tensor of shape (N, ...) indexed by ``samples`` (the sample of each row, (R,));
    every other argument is passed unchanged."""
    return tuple(
        arg.index_select(0, samples.to(arg.device)) if _per_sample(arg, num_samples) else arg
        for arg in additional_forward_args
    )
