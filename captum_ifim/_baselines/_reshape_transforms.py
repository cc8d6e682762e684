"""Token and channels-last layouts turned into the (N, K, h, w) maps a CAM weights.

pytorch-grad-cam applies a ``reshape_transform`` to the target layer's output and to its
gradient before weighting channels. A vision transformer's block gives (N, T, D) tokens,
prefix tokens (class, distillation, registers) first and then the patches row by row; a
Swin stage gives channels-last (N, H, W, C) maps. These transforms are picked
automatically by :mod:`captum_ifim._baselines._target_layers` for those families.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class TokensToGrid:
    """(N, T, D) tokens -> (N, D, h, w): drop the prefix tokens, lay the patches on a grid.

    Attributes:
        num_prefix_tokens: Tokens before the patches (1 for a class token; 2 for DeiT's
            class and distillation tokens; timm's ``num_prefix_tokens`` counts registers).
        grid: (h, w) patches; ``None`` (or a grid that does not fit the token count, as
            for another input size) takes a square grid of the remaining tokens.

    Example:
        >>> import torch
        >>> tokens = torch.arange(2 * 5 * 3.0).view(2, 5, 3)  # a class token and 2 x 2 patches
        >>> TokensToGrid(1)(tokens).shape
        torch.Size([2, 3, 2, 2])
    """

    num_prefix_tokens: int = 1
    grid: tuple[int, int] | None = None

    def __call__(self, tokens: Tensor) -> Tensor:
        if tokens.dim() != 3:
            raise ValueError(
                f"expected tokens of shape (N, T, D), got {tuple(tokens.shape)}; pass "
                "reshape_transform= for a layer with another layout"
            )
        patches = tokens[:, self.num_prefix_tokens :]
        count = patches.shape[1]
        if self.grid is not None and self.grid[0] * self.grid[1] == count:
            height, width = self.grid
        else:
            height = width = math.isqrt(count)
            if height * width != count or count == 0:
                raise ValueError(
                    f"expected the {count} tokens after {self.num_prefix_tokens} prefix "
                    f"tokens to form a grid, got {tuple(tokens.shape)}; pass "
                    "reshape_transform= for this layer"
                )
        return patches.transpose(1, 2).reshape(patches.shape[0], -1, height, width)

    def __str__(self) -> str:
        prefix = {0: "no prefix token", 1: "class token dropped"}.get(
            self.num_prefix_tokens, f"{self.num_prefix_tokens} prefix tokens dropped"
        )
        return f"tokens to a grid, {prefix}"


@dataclass(frozen=True)
class ChannelsLastToFirst:
    """(N, *spatial, C) -> (N, C, *spatial), e.g. Swin's (N, H, W, C) stage outputs.

    Example:
        >>> import torch
        >>> ChannelsLastToFirst()(torch.zeros(2, 4, 4, 8)).shape
        torch.Size([2, 8, 4, 4])
    """

    def __call__(self, maps: Tensor) -> Tensor:
        if maps.dim() < 3:
            raise ValueError(f"expected channels-last maps (N, ..., C), got {tuple(maps.shape)}")
        return maps.movedim(-1, 1)

    def __str__(self) -> str:
        return "channels-last permuted to channels-first"


@dataclass(frozen=True)
class Unchanged:
    """The layer's output as it is (``"none"``: no reshape, even where a family has one)."""

    def __call__(self, maps: Tensor) -> Tensor:
        return maps

    def __str__(self) -> str:
        return "none"


#: The reshapes a config or :func:`comparisons.compare` names (``reshape = "token-grid"``);
#: ``"token-grid:<k>"`` drops ``k`` prefix tokens (2 for DeiT's class and distillation).
RESHAPE_NAMES: dict[str, str] = {
    "token-grid": "(N, T, D) tokens to a square grid, the class token dropped",
    "token-grid:<k>": "(N, T, D) tokens to a square grid, the first k prefix tokens dropped",
    "channels-last": "(N, *spatial, C) permuted to (N, C, *spatial)",
    "none": "the layer's output as it is (no reshape, even where the family has one)",
}


def named_reshape_transform(name: str) -> TokensToGrid | ChannelsLastToFirst | Unchanged:
    """The reshape named ``name`` (one of :data:`RESHAPE_NAMES`).

    Raises:
        ValueError: An unknown name (the message lists the valid ones).
        TypeError: ``name`` is not a string.

    Example:
        >>> import torch
        >>> named_reshape_transform("token-grid:2")(torch.zeros(1, 6, 8)).shape
        torch.Size([1, 8, 2, 2])
    """
    if not isinstance(name, str):
        raise TypeError(f"expected a reshape name, got {type(name).__name__}")
    if name == "token-grid":
        return TokensToGrid(1)
    if name == "channels-last":
        return ChannelsLastToFirst()
    if name == "none":
        return Unchanged()
    prefix, _, count = name.partition(":")
    if prefix == "token-grid" and count.isdigit():
        return TokensToGrid(int(count))
    raise ValueError(
        f"expected a reshape among {sorted(RESHAPE_NAMES)} (k a number), or a "
        f"'package.module:callable' path, got {name!r}"
    )
