"""A model with an additional forward argument, for ``additional_forward_args`` tests."""

from __future__ import annotations

import torch
from torch import nn


class Scaled(nn.Module):
    """``net(x * scale)`` with a per-sample scale (N,) passed as an additional forward argument."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return self.net(x * scale[:, None, None, None])
