"""A fixed input standardization layer, so a model takes the dataset's raw pixels."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Standardize(nn.Module):
    """``(x - mean) / std`` with fixed scalars (buffers, not parameters).

    Putting the standardization inside the model keeps every attribution map and the iFIM
    decomposition in the dataset's own pixel space while the network sees unit-scale inputs.

    Args:
        mean: The training images' pixel mean.
        std: Their pixel standard deviation, > 0.

    Shapes:
        (N, C, H, W) in, the same out.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, mean: float, std: float) -> None:
        super().__init__()
        if not math.isfinite(mean):
            raise ValueError(f"expected a finite mean, got {mean!r}")
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"expected a finite std > 0, got {std!r}")
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={float(self.mean):.6g}, std={float(self.std):.6g}"


def standardize_or_none(mean: float | None, std: float | None) -> Standardize | None:
    """A :class:`Standardize` layer when both are given, ``None`` when neither is."""
    if mean is None and std is None:
        return None
    if mean is None or std is None:
        raise ValueError(
            f"expected input_mean and input_std together, got input_mean={mean!r}, "
            f"input_std={std!r}"
        )
    return Standardize(float(mean), float(std))
