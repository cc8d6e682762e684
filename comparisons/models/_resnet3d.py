"""A 3-D ResNet-18 from scratch, for volumes (He et al. 2016's basic blocks in 3-D)."""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from comparisons.models._standardize import standardize_or_none


class BasicBlock3d(nn.Module):
    """``conv3x3x3 -> BN -> ReLU -> conv3x3x3 -> BN``, plus the (projected) input, ReLU.

    Each ReLU is its own non-inplace module and the sum is out of place, so hooks and
    shap's DeepExplainer see every operation once.

    Args:
        in_channels, out_channels: Widths in and out.
        stride: Of the first convolution; a 1 x 1 x 1 convolution with batch norm projects
            the input when the stride or the width changes.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv3d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(out_channels)
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm3d(out_channels),
            )
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.downsample(x))


class ResNet3d18(nn.Module):
    """ResNet-18 in 3-D: a 7^3 stride-2 stem, basic blocks ``[2, 2, 2, 2]``, average pool, fc.

    The layout of He et al. (2016) with 3-D kernels, as the "3D ResNet-18" of Hara et al.
    (2018), MONAI's ``resnet18`` and torchvision's ``r3d_18`` (whose stem keeps the time
    axis of videos at stride 1). **Decision**: the stem has no max pool (the ImageNet
    stem's 3^3 stride-2 pool overlaps, and shap's DeepExplainer has no exact rule for an
    overlapping max pool; ``layer2``-``layer4`` still halve the maps, so a 32^3 input gives
    2 x 2 x 2 ``layer4`` maps, as the 2-D ResNet18's 2 x 2 at 64 x 64), and the default
    widths are a quarter of ResNet-18's, (16, 32, 64, 128): 2.1 M parameters instead of
    33 M; the full widths cost ~40 x the compute, about 0.3 s per 32^3 training volume on
    two CPU cores, too much to train in minutes. ``widths=(64, 128, 256, 512)`` gives the
    standard network. Attribute names follow torchvision's ``ResNet`` (``conv1``, ``bn1``,
    ``relu``, ``layer1``-``layer4``, ``avgpool``, ``fc``); the CAM layer is
    ``layer4[-1]``.

    Args:
        in_channels: Volume channels.
        num_classes: Logits out.
        image_size: (D, H, W), each >= 16 (four stride-2 stages).
        widths: Channels of ``layer1`` to ``layer4``.
        input_mean, input_std: When given, a ``Standardize`` layer runs before the stem
            convolution (``conv1`` becomes ``Sequential(standardize, conv)``).

    Shapes:
        (N, in_channels, D, H, W) in, (N, num_classes) logits out.
    """

    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: tuple[int, ...] = (32, 32, 32),
        *,
        widths: tuple[int, int, int, int] = (16, 32, 64, 128),
        input_mean: float | None = None,
        input_std: float | None = None,
    ) -> None:
        super().__init__()
        if len(image_size) != 3:
            raise ValueError(f"expected image_size (D, H, W), got {image_size!r}")
        if min(image_size) < 16:
            raise ValueError(f"expected a volume size of at least 16 x 16 x 16, got {image_size!r}")
        widths = tuple(int(w) for w in widths)  # type: ignore[assignment]
        if len(widths) != 4 or min(widths) < 1:
            raise ValueError(f"expected four positive widths, got {widths!r}")
        conv = nn.Conv3d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
        standardize = standardize_or_none(input_mean, input_std)
        self.conv1: nn.Module = conv
        if standardize is not None:
            self.conv1 = nn.Sequential(OrderedDict(standardize=standardize, conv=conv))
        self.bn1 = nn.BatchNorm3d(widths[0])
        self.relu = nn.ReLU()
        previous = widths[0]
        for index, width in enumerate(widths, start=1):
            stride = 1 if index == 1 else 2
            blocks = nn.Sequential(
                BasicBlock3d(previous, width, stride), BasicBlock3d(width, width)
            )
            setattr(self, f"layer{index}", blocks)
            previous = width
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(widths[3], num_classes)
        for module in self.modules():  # torchvision's ResNet initialisation
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))
