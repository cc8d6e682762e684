"""The paper's shallow CNN: three convolutions with ReLU (Sec. IV-B, the SKS/BKS task).

The same network in 3-D (``Conv3d``, ``MaxPool3d``) is :class:`ShallowCNN3d`, for volumes.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Literal

from torch import Tensor, nn

from comparisons.models._standardize import standardize_or_none

ShallowHead = Literal["flatten", "gap", "max"]


class ShallowCNN(nn.Module):
    """``[conv3x3 -> ReLU -> maxpool2] x 3``, then a linear head (3 x 3 x 3 kernels in 3-D).

    The paper says only "three convolutional layers with ReLU activations"; channel
    counts, pooling and the head are this project's choice (**Decision**). The convolutions
    and ReLUs live in ``features`` (an ``nn.Sequential`` named ``conv1, relu1, pool1, ...``)
    so that ``captum_ifim.default_target_layer`` picks ``features.relu3``, the rectified
    maps of the last convolution (H/4 x W/4). Every ReLU is its own non-inplace module.
    A three-entry ``image_size`` builds the same network in 3-D (see :class:`ShallowCNN3d`).

    Args:
        in_channels: Image channels.
        num_classes: Logits out.
        image_size: (H, W), or (D, H, W) for volumes, each >= 8; the ``"flatten"`` head's
            width depends on it.
        channels: Output channels of the three convolutions.
        head: ``"flatten"``: flatten the (channels[2], H/8, W/8) maps into one linear
            layer (keeps where a signal is); ``"gap"``: global average pool, then linear
            (size-agnostic); ``"max"``: global max pool, then linear (a detector of a
            signal anywhere in the image: the SKS/BKS tasks learn in a few epochs with it,
            where ``"flatten"`` and ``"gap"`` stay at chance for longer). The max pool has
            a fixed window of the last maps' size, so this head is not size-agnostic.
        input_mean, input_std: When given, a :class:`Standardize` layer comes first.

    Shapes:
        (N, in_channels, H, W) in, or (N, in_channels, D, H, W); (N, num_classes) logits out.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: tuple[int, ...] = (64, 64),
        *,
        channels: tuple[int, int, int] = (16, 32, 64),
        head: ShallowHead = "flatten",
        input_mean: float | None = None,
        input_std: float | None = None,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)  # type: ignore[assignment]
        if len(channels) != 3 or min(channels) < 1:
            raise ValueError(f"expected three positive channel counts, got {channels!r}")
        if head not in ("flatten", "gap", "max"):
            raise ValueError(f"expected head 'flatten', 'gap' or 'max', got {head!r}")
        if len(image_size) not in (2, 3):
            raise ValueError(f"expected image_size (H, W) or (D, H, W), got {image_size!r}")
        if min(image_size) < 8:
            side = " x ".join(["8"] * len(image_size))
            raise ValueError(f"expected an image size of at least {side}, got {image_size!r}")
        conv: type[nn.Conv2d | nn.Conv3d] = nn.Conv2d if len(image_size) == 2 else nn.Conv3d
        max_pool: type[nn.MaxPool2d | nn.MaxPool3d] = (
            nn.MaxPool2d if len(image_size) == 2 else nn.MaxPool3d
        )
        average_pool: type[nn.AdaptiveAvgPool2d | nn.AdaptiveAvgPool3d] = (
            nn.AdaptiveAvgPool2d if len(image_size) == 2 else nn.AdaptiveAvgPool3d
        )
        last_maps = tuple(s // 8 for s in image_size)
        self.standardize = standardize_or_none(input_mean, input_std)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        previous = in_channels
        for index, width_out in enumerate(channels, start=1):
            layers[f"conv{index}"] = conv(previous, width_out, 3, padding=1)
            layers[f"relu{index}"] = nn.ReLU()
            layers[f"pool{index}"] = max_pool(2)
            previous = width_out
        self.features = nn.Sequential(layers)
        if head == "gap":
            self.pool: nn.Module = average_pool(1)
            features = channels[2]
        elif head == "max":
            # A fixed-size MaxPool2d/3d rather than AdaptiveMaxPool2d/3d: shap's
            # DeepExplainer has an exact rule for the former only (DeepSHAP keeps additivity).
            self.pool = max_pool(last_maps)
            features = channels[2]
        else:
            self.pool = nn.Identity()
            features = channels[2] * math.prod(last_maps)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if self.standardize is not None:
            x = self.standardize(x)
        return self.classifier(self.flatten(self.pool(self.features(x))))


class ShallowCNN3d(ShallowCNN):
    """The shallow CNN for volumes: ``[conv3x3x3 -> ReLU -> maxpool2] x 3``, then a head.

    :class:`ShallowCNN` built with a (D, H, W) ``image_size``; the defaults suit the
    32^3 ``"mni-sks-3d"`` volumes on a CPU (**Decision**): channels (8, 16, 32), a quarter
    of the 2-D ones' compute per voxel of the first layer, and the ``"max"`` head, a fixed
    ``MaxPool3d`` over the (D/8, H/8, W/8) maps, for which shap's DeepExplainer has the
    same exact rule as for ``MaxPool2d`` (``AdaptiveMaxPool3d`` has none). The CAM layer is
    ``features.relu3`` (D/4 x H/4 x W/4 maps).

    Args: as :class:`ShallowCNN`, with ``image_size`` (D, H, W), each >= 8.

    Shapes:
        (N, in_channels, D, H, W) in, (N, num_classes) logits out.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: tuple[int, ...] = (32, 32, 32),
        *,
        channels: tuple[int, int, int] = (8, 16, 32),
        head: ShallowHead = "max",
        input_mean: float | None = None,
        input_std: float | None = None,
    ) -> None:
        if len(image_size) != 3:
            raise ValueError(f"expected image_size (D, H, W), got {image_size!r}")
        super().__init__(
            in_channels,
            num_classes,
            image_size,
            channels=channels,
            head=head,
            input_mean=input_mean,
            input_std=input_std,
        )
