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
    sliced = tuple(
        arg[index : index + 1]
        if isinstance(arg, Tensor) and arg.dim() > 0 and arg.shape[0] == num_samples
        else arg
        for arg in additional_forward_args
    )
    per_sample = tuple(
        isinstance(arg, Tensor) and arg.dim() > 0 and arg.shape[0] == num_samples
        for arg in additional_forward_args
    )

    def forward(x: Tensor) -> Any:
        args = tuple(
            arg.expand(x.shape[0], *arg.shape[1:]) if expand else arg
            for arg, expand in zip(sliced, per_sample, strict=True)
        )
        return forward_func(x, *args)

    return forward
