"""The paper's shallow CNN: three convolutions with ReLU (Sec. IV-B, the SKS/BKS task)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from torch import Tensor, nn

from comparisons.models._standardize import standardize_or_none

ShallowHead = Literal["flatten", "gap", "max"]


class ShallowCNN(nn.Module):
    """``[conv3x3 -> ReLU -> maxpool2] x 3``, then a linear head.

    The paper says only "three convolutional layers with ReLU activations"; channel
    counts, pooling and the head are this project's choice (**Decision**). The convolutions
    and ReLUs live in ``features`` (an ``nn.Sequential`` named ``conv1, relu1, pool1, ...``)
    so that ``captum_ifim.default_target_layer`` picks ``features.relu3``, the rectified
    maps of the last convolution (H/4 x W/4). Every ReLU is its own non-inplace module.

    Args:
        in_channels: Image channels.
        num_classes: Logits out.
        image_size: (H, W), each >= 8; the ``"flatten"`` head's width depends on it.
        channels: Output channels of the three convolutions.
        head: ``"flatten"``: flatten the (channels[2], H/8, W/8) maps into one linear
            layer (keeps where a signal is); ``"gap"``: global average pool, then linear
            (size-agnostic); ``"max"``: global max pool, then linear (a detector of a
            signal anywhere in the image: the SKS/BKS tasks learn in a few epochs with it,
            where ``"flatten"`` and ``"gap"`` stay at chance for longer)
            (size-agnostic).
        input_mean, input_std: When given, a :class:`Standardize` layer comes first.

    Shapes:
        (N, in_channels, H, W) in, (N, num_classes) logits out.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: tuple[int, int] = (64, 64),
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
        height, width = image_size
        if min(height, width) < 8:
            raise ValueError(f"expected an image size of at least 8 x 8, got {image_size!r}")
        self.standardize = standardize_or_none(input_mean, input_std)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        previous = in_channels
        for index, width_out in enumerate(channels, start=1):
            layers[f"conv{index}"] = nn.Conv2d(previous, width_out, 3, padding=1)
            layers[f"relu{index}"] = nn.ReLU()
            layers[f"pool{index}"] = nn.MaxPool2d(2)
            previous = width_out
        self.features = nn.Sequential(layers)
        if head == "gap":
            self.pool: nn.Module = nn.AdaptiveAvgPool2d(1)
            features = channels[2]
        elif head == "max":
            # A fixed-size MaxPool2d rather than AdaptiveMaxPool2d: shap's DeepExplainer has
            # an exact rule for the former only (DeepSHAP keeps additivity).
            self.pool = nn.MaxPool2d((height // 8, width // 8))
            features = channels[2]
        else:
            self.pool = nn.Identity()
            features = channels[2] * (height // 8) * (width // 8)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if self.standardize is not None:
            x = self.standardize(x)
        return self.classifier(self.flatten(self.pool(self.features(x))))
