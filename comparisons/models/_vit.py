"""Small vision transformers from scratch: a plain ViT and a hybrid with a convolutional stem.

Both are timm ``VisionTransformer`` instances (timm's attention, blocks and initialisation,
built from arguments, never a download), so ``captum_ifim.default_target_layer`` picks the
last block's ``norm1`` tokens and reshapes them to the patch grid, the prefix tokens dropped
(the "timm ViT" family rule). :func:`vit` embeds ``patch_size`` patches; :func:`hybrid_vit`
embeds the cells of a small CNN's feature map (timm's ``HybridEmbed``). Both are pre-norm,
with a learned position embedding; the head reads the elementwise maximum of the patch tokens
(``"max"``, the default), their mean (``"avg"``) or a class token (``"token"``).

Defaults (**Decision**, measured on ``mni-sks`` at 64 px, 1000 training images, 20 epochs of
AdamW, docs/harness.md): with the max pool both learn the task (test accuracy 0.90 for the
ViT, 0.98 for the hybrid); with a class token both stay near chance (0.54, 0.60). A
maximum over tokens is the detector the shallow CNN's ``"max"`` head is.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any, Literal

from timm.layers import HybridEmbed
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor, nn

from comparisons.models._standardize import Standardize, standardize_or_none

ViTPool = Literal["token", "avg", "max"]


class SmallViT(VisionTransformer):
    """timm's ``VisionTransformer`` with an optional :class:`Standardize` layer before the
    embedding (``standardize``; ``None`` without one). Built by :func:`vit` and
    :func:`hybrid_vit`.

    Shapes:
        (N, C, H, W) in, (N, num_classes) logits out.
    """

    standardize: Standardize | None

    def __init__(self, standardize: Standardize | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.standardize = standardize

    def forward(self, x: Tensor) -> Tensor:
        if self.standardize is not None:
            x = self.standardize(x)
        return super().forward(x)


def vit(
    in_channels: int,
    num_classes: int,
    image_size: tuple[int, int] = (64, 64),
    *,
    patch_size: int = 8,
    embed_dim: int = 64,
    depth: int = 4,
    num_heads: int = 4,
    mlp_ratio: float = 2.0,
    dropout: float = 0.0,
    pool: ViTPool = "max",
    input_mean: float | None = None,
    input_std: float | None = None,
) -> SmallViT:
    """A small Vision Transformer: ``patch_size`` x ``patch_size`` patches, pre-norm blocks.

    Args:
        in_channels: Image channels.
        num_classes: Logits out.
        image_size: (H, W), each a multiple of ``patch_size`` (64 x 64 at the default
            patch size of 8 gives 8 x 8 tokens).
        patch_size: Side of the square patches (the patch embedding's stride).
        embed_dim: Token width, a multiple of ``num_heads``.
        depth: Transformer blocks.
        num_heads: Attention heads per block.
        mlp_ratio: Hidden width of each block's MLP over ``embed_dim``.
        dropout: Dropout after the position embedding, in the MLPs and projections, and
            before the head.
        pool: ``"max"``: the head reads the elementwise maximum of the patch tokens (a
            detector of a signal anywhere, as the shallow CNN's ``"max"`` head); ``"avg"``:
            their mean; ``"token"``: a class token, read by the head. Only ``"token"`` adds a
            prefix token.
        input_mean, input_std: When given, a :class:`Standardize` layer runs first.

    Shapes:
        (N, in_channels, H, W) in, (N, num_classes) logits out.

    >>> import torch
    >>> model = vit(1, 2, (32, 32), patch_size=8, embed_dim=32, depth=1, num_heads=2)
    >>> model(torch.zeros(3, 1, 32, 32)).shape, model.patch_embed.grid_size
    (torch.Size([3, 2]), (4, 4))
    """
    _check_patch_size(image_size, patch_size)
    return _build(
        in_channels, num_classes, image_size, patch_size, None,
        embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
        dropout=dropout, pool=pool, input_mean=input_mean, input_std=input_std,
    )  # fmt: skip


def hybrid_vit(
    in_channels: int,
    num_classes: int,
    image_size: tuple[int, int] = (64, 64),
    *,
    stem_channels: tuple[int, ...] = (16, 32, 64),
    embed_dim: int = 64,
    depth: int = 4,
    num_heads: int = 4,
    mlp_ratio: float = 2.0,
    dropout: float = 0.0,
    pool: ViTPool = "max",
    input_mean: float | None = None,
    input_std: float | None = None,
) -> SmallViT:
    """A hybrid ViT: a convolutional stem, then transformer blocks on its feature map's cells.

    The stem (``patch_embed.backbone``) is one ``conv3x3 (stride 2) -> BatchNorm -> ReLU``
    per entry of ``stem_channels``, so three entries turn 64 x 64 images into an 8 x 8 grid
    of tokens; a 1 x 1 convolution (``patch_embed.proj``) embeds each cell.

    Args:
        in_channels: Image channels.
        num_classes: Logits out.
        image_size: (H, W), each a multiple of ``2 ** len(stem_channels)``.
        stem_channels: Output channels of the stem's convolutions (1 to 4 of them).
        embed_dim, depth, num_heads, mlp_ratio, dropout, pool, input_mean, input_std:
            As for :func:`vit`.

    Shapes:
        (N, in_channels, H, W) in, (N, num_classes) logits out.

    >>> import torch
    >>> model = hybrid_vit(1, 2, (32, 32), stem_channels=(8, 16), embed_dim=32, depth=1,
    ...                    num_heads=2)
    >>> model(torch.zeros(3, 1, 32, 32)).shape, model.patch_embed.grid_size
    (torch.Size([3, 2]), (8, 8))
    """
    channels = tuple(stem_channels)
    if not (
        1 <= len(channels) <= 4
        and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in channels)
    ):
        raise ValueError(f"expected stem_channels as 1 to 4 positive ints, got {stem_channels!r}")
    _check_patch_size(image_size, 2 ** len(channels), "2 ** len(stem_channels)")
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    previous = in_channels
    for index, width in enumerate(channels, start=1):
        layers[f"conv{index}"] = nn.Conv2d(previous, width, 3, stride=2, padding=1, bias=False)
        layers[f"bn{index}"] = nn.BatchNorm2d(width)
        layers[f"relu{index}"] = nn.ReLU()
        previous = width
    stem = nn.Sequential(layers)
    for module in stem.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    embed = functools.partial(HybridEmbed, stem)
    return _build(
        in_channels, num_classes, image_size, 1, embed,
        embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
        dropout=dropout, pool=pool, input_mean=input_mean, input_std=input_std,
    )  # fmt: skip


def _check_patch_size(image_size: tuple[int, int], side: Any, what: str = "patch_size") -> None:
    if isinstance(side, bool) or not isinstance(side, int) or side < 1:
        raise ValueError(f"expected {what} to be a positive int, got {side!r}")
    if len(image_size) != 2 or any(s % side or s < side for s in image_size):
        raise ValueError(
            f"expected an image size (H, W) of multiples of {what} = {side}, got {image_size!r}"
        )


def _build(
    in_channels: int,
    num_classes: int,
    image_size: tuple[int, int],
    patch_size: int,
    embed_layer: Any,
    *,
    embed_dim: int,
    depth: int,
    num_heads: int,
    mlp_ratio: float,
    dropout: float,
    pool: ViTPool,
    input_mean: float | None,
    input_std: float | None,
) -> SmallViT:
    """The shared transformer (checks the shared options)."""
    for name, value in (("embed_dim", embed_dim), ("depth", depth), ("num_heads", num_heads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected {name} to be a positive int, got {value!r}")
    if embed_dim % num_heads:
        raise ValueError(
            f"expected embed_dim to be a multiple of num_heads ({num_heads}), got {embed_dim}"
        )
    if not (
        isinstance(mlp_ratio, int | float) and not isinstance(mlp_ratio, bool) and mlp_ratio > 0
    ):
        raise ValueError(f"expected mlp_ratio > 0, got {mlp_ratio!r}")
    if not (
        isinstance(dropout, int | float) and not isinstance(dropout, bool) and 0 <= dropout < 1
    ):
        raise ValueError(f"expected dropout in [0, 1), got {dropout!r}")
    if pool not in ("token", "avg", "max"):
        raise ValueError(f"expected pool 'token', 'avg' or 'max', got {pool!r}")
    standardize = standardize_or_none(input_mean, input_std)
    options: dict[str, Any] = {}
    if embed_layer is not None:
        options["embed_layer"] = embed_layer
    return SmallViT(
        standardize,
        img_size=tuple(image_size),
        patch_size=patch_size,
        in_chans=in_channels,
        num_classes=num_classes,
        global_pool=pool,
        class_token=pool == "token",
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=float(mlp_ratio),
        drop_rate=float(dropout),
        pos_drop_rate=float(dropout),
        proj_drop_rate=float(dropout),
        **options,
    )
