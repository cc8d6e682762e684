"""torchvision VGG16 from scratch, with a light head for small images."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from comparisons.models._standardize import standardize_or_none

VGGHead = Literal["auto", "light", "torchvision"]


def vgg16(
    in_channels: int,
    num_classes: int,
    image_size: tuple[int, int] = (64, 64),
    *,
    head: VGGHead = "auto",
    batch_norm: bool = False,
    input_mean: float | None = None,
    input_std: float | None = None,
) -> nn.Module:
    """torchvision's VGG16 (``weights=None``, never a download), first conv and head adapted.

    Every ReLU is made non-inplace (hooks on in-place outputs fail). The model stays a
    ``torchvision.models.VGG`` whose ``features`` end in conv -> ReLU ->
    max pool, so ``captum_ifim.default_target_layer`` picks the ReLU after the last
    convolution (``features[29]``; ``features[30]`` with a ``Standardize`` layer first,
    ``features[42]``/``[43]`` with batch norm).

    Args:
        in_channels: Image channels; ``features[0]`` (or ``[1]``) is rebuilt for them.
        num_classes: Logits out.
        image_size: (H, W), each >= 32 (five 2 x 2 max pools).
        head: ``"torchvision"``: adaptive average pool to 7 x 7 and the 25088 -> 4096 ->
            4096 -> C classifier with dropout (the paper's setting, ~120 M parameters);
            ``"light"``: adaptive average pool to 1 x 1 and ``Linear(512, C)``
            (~15 M parameters); ``"auto"`` (default): ``"torchvision"`` when both sides are
            >= 224, else ``"light"`` (at 64 x 64 the 7 x 7 pool only replicates 2 x 2 maps).
        batch_norm: ``vgg16_bn`` instead of ``vgg16``.
        input_mean, input_std: When given, a ``Standardize`` layer is ``features[0]``.

    Shapes:
        (N, in_channels, H, W) in, (N, num_classes) logits out.
    """
    from torchvision.models import vgg16 as torchvision_vgg16
    from torchvision.models import vgg16_bn as torchvision_vgg16_bn

    if head not in ("auto", "light", "torchvision"):
        raise ValueError(f"expected head 'auto', 'light' or 'torchvision', got {head!r}")
    if min(image_size) < 32:
        raise ValueError(f"expected an image size of at least 32 x 32, got {image_size!r}")
    if head == "auto":
        head = "torchvision" if min(image_size) >= 224 else "light"
    if head == "torchvision":
        build = torchvision_vgg16_bn if batch_norm else torchvision_vgg16
        model = build(weights=None, num_classes=num_classes)
    else:
        model = _light_vgg16(num_classes, batch_norm)
    first = nn.Conv2d(in_channels, 64, 3, padding=1)
    _initialise(first)
    layers = [first, *list(model.features.children())[1:]]
    standardize = standardize_or_none(input_mean, input_std)
    if standardize is not None:
        layers.insert(0, standardize)
    model.features = nn.Sequential(*layers)
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return model


def _light_vgg16(num_classes: int, batch_norm: bool) -> nn.Module:
    """A torchvision ``VGG`` with VGG16's features and a ``Linear(512, C)`` head.

    The 25088 x 4096 classifier torchvision's constructor always builds (~100 M weights,
    a second to initialise) is built on the meta device and replaced, so it costs nothing.
    The features get torchvision's initialisation.
    """
    from torchvision.models.vgg import VGG, cfgs, make_layers

    features = make_layers(cfgs["D"], batch_norm=batch_norm)
    for module in features.modules():
        _initialise(module)
    with torch.device("meta"):
        model = VGG(nn.Sequential(), num_classes=num_classes, init_weights=False)
    model.features = features
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    linear = nn.Linear(512, num_classes)
    _initialise(linear)
    model.classifier = nn.Sequential(linear)
    return model


def _initialise(module: nn.Module) -> None:
    """torchvision's VGG initialisation for one module."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0, 0.01)
        nn.init.zeros_(module.bias)
