"""torchvision ResNet18 from scratch, adapted to the dataset's channels and classes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from torch import nn

from comparisons.models._standardize import standardize_or_none

ResNetStem = Literal["imagenet", "small"]


def resnet18(
    in_channels: int,
    num_classes: int,
    image_size: tuple[int, int] = (64, 64),
    *,
    stem: ResNetStem = "imagenet",
    input_mean: float | None = None,
    input_std: float | None = None,
) -> nn.Module:
    """torchvision's ResNet18 (``weights=None``, never a download), first conv and head replaced.

    The model stays a ``torchvision.models.ResNet``, so ``captum_ifim.default_target_layer``
    picks ``layer4[-1]``. Every ReLU is made non-inplace (torchvision's blocks still apply
    one ReLU module twice). The head is ``fc = Linear(512, num_classes)``.

    Args:
        in_channels: Image channels; ``conv1`` is rebuilt for them (7 x 7, stride 2).
        num_classes: Logits out.
        image_size: (H, W), each >= 32 for the ``"imagenet"`` stem (32 x downsampling:
            2 x 2 ``layer4`` maps at 64 x 64), >= 8 for ``"small"``.
        stem: ``"imagenet"``: torchvision's 7 x 7 stride-2 conv and max pool (the paper's
            setting); ``"small"``: a 3 x 3 stride-1 conv and no max pool (CIFAR-style,
            4 x finer maps, ~16 x the compute).
        input_mean, input_std: When given, a ``Standardize`` layer runs before ``conv1``
            (``conv1`` becomes ``Sequential(standardize, conv)``).

    Shapes:
        (N, in_channels, H, W) in, (N, num_classes) logits out.
    """
    from torchvision.models import resnet18 as torchvision_resnet18

    if stem not in ("imagenet", "small"):
        raise ValueError(f"expected stem 'imagenet' or 'small', got {stem!r}")
    smallest = 32 if stem == "imagenet" else 8
    if min(image_size) < smallest:
        raise ValueError(
            f"expected an image size of at least {smallest} x {smallest} for the {stem!r} "
            f"stem, got {image_size!r}"
        )
    model = torchvision_resnet18(weights=None, num_classes=num_classes)
    if stem == "imagenet":
        conv = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
    else:
        conv = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    standardize = standardize_or_none(input_mean, input_std)
    stem_layers: nn.Module = conv
    if standardize is not None:
        stem_layers = nn.Sequential(OrderedDict(standardize=standardize, conv=conv))
    model.conv1 = stem_layers
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return model
