"""Small models with hand-derived answers for the metric tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class BlockModel(nn.Module):
    """Two-class logits ``[0, scale * (mean of the block - threshold)]``.

    The block is ``rows x cols`` of the channel-summed input; every other pixel is ignored.
    """

    def __init__(
        self,
        rows: slice = slice(0, 2),
        cols: slice = slice(0, 2),
        scale: float = 10.0,
        threshold: float = 0.5,
        single_logit: bool = False,
    ) -> None:
        super().__init__()
        self.rows, self.cols = rows, cols
        self.scale, self.threshold = scale, threshold
        self.single_logit = single_logit
        self.calls = 0
        self.batch_sizes: list[int] = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        self.batch_sizes.append(x.shape[0])
        block = x[..., self.rows, self.cols].sum(dim=1).flatten(1).mean(dim=1)
        z = self.scale * (block - self.threshold)
        if self.single_logit:
            return z.unsqueeze(1)
        return torch.stack([torch.zeros_like(z), z], dim=1)


def block_indicator(shape: tuple[int, ...], rows: slice = slice(0, 2), cols: slice = slice(0, 2)):
    """A map (N, C, H, W) that is 1 on the block and 0 elsewhere."""
    m = torch.zeros(shape, dtype=torch.float64)
    m[..., rows, cols] = 1.0
    return m


def block_data(num: int = 40, side: int = 8, channels: int = 1, seed: int = 12345):
    """Inputs with block value 1 (label 1) or 0 (label 0) per channel mean, background N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(num) % 2
    x = torch.randn(num, channels, side, side, generator=g, dtype=torch.float64)
    x[..., :2, :2] = labels.view(-1, 1, 1, 1).double() / channels
    return x, labels


class LinearLogit(nn.Module):
    """Logits ``[0, w . x]`` (or the single logit ``w . x``) for a fixed weight map w."""

    def __init__(self, weight: Tensor, single_logit: bool = False) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.single_logit = single_logit

    def forward(self, x: Tensor) -> Tensor:
        z = (x * self.weight).flatten(1).sum(dim=1)
        return z.unsqueeze(1) if self.single_logit else torch.stack([torch.zeros_like(z), z], 1)
