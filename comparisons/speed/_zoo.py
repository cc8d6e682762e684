"""The networks users bring, for the ``zoo`` suite: torchvision, timm and MONAI models.

Each is built with ``weights=None`` (nothing is downloaded), C classes and the input size
of the suite: 2-D networks take (N, 3, side, side) images (ViTs are built for that side),
MONAI's 3-D DenseNet121 (N, 1, side, side, side) volumes. The suite times every method
once per network, so a user sees what each costs on the architecture they use
(``docs/performance.md``); the zoo's contract tests are ``tests/test_method_zoo_contract.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch
from torch import nn

#: Image side of the suite (2-D networks) and volume side (3-D networks).
ZOO_SIDE = 64
ZOO_SIDE_3D = 32


@dataclass(frozen=True)
class ZooNetwork:
    """One network of the zoo suite.

    Attributes:
        name: The benchmark's model name (``tv-resnet50``).
        package: The package it comes from (must be installed to run the cell).
        build: ``(num_classes, side) -> nn.Module``.
        channels: Input channels.
        spatial_dims: 2 for images, 3 for volumes.
    """

    name: str
    package: str
    build: Callable[[int, int], nn.Module]
    channels: int = 3
    spatial_dims: int = 2

    @property
    def side(self) -> int:
        """The suite's input side for this network."""
        return ZOO_SIDE if self.spatial_dims == 2 else ZOO_SIDE_3D

    def input_shape(self, batch: int, side: int) -> tuple[int, ...]:
        """(batch, channels, side, ...) inputs."""
        return (batch, self.channels, *([side] * self.spatial_dims))


def _torchvision(name: str, **options: object) -> Callable[[int, int], nn.Module]:
    def build(num_classes: int, side: int) -> nn.Module:
        models = importlib.import_module("torchvision.models")
        extra = {"image_size": side} if name.startswith("vit") else {}
        return getattr(models, name)(weights=None, num_classes=num_classes, **options, **extra)

    return build


def _timm(name: str) -> Callable[[int, int], nn.Module]:
    def build(num_classes: int, side: int) -> nn.Module:
        timm = importlib.import_module("timm")
        extra = {"img_size": side} if "vit" in name or "deit" in name else {}
        return timm.create_model(name, pretrained=False, num_classes=num_classes, **extra)

    return build


def _monai_densenet121_3d(num_classes: int, side: int) -> nn.Module:
    nets = importlib.import_module("monai.networks.nets")
    return nets.DenseNet121(spatial_dims=3, in_channels=1, out_channels=num_classes)


ZOO_NETWORKS: Mapping[str, ZooNetwork] = MappingProxyType(
    {
        network.name: network
        for network in (
            ZooNetwork("tv-resnet50", "torchvision", _torchvision("resnet50")),
            ZooNetwork("tv-densenet121", "torchvision", _torchvision("densenet121")),
            ZooNetwork("tv-efficientnet_b0", "torchvision", _torchvision("efficientnet_b0")),
            ZooNetwork("tv-mobilenet_v3_large", "torchvision", _torchvision("mobilenet_v3_large")),
            ZooNetwork("tv-convnext_tiny", "torchvision", _torchvision("convnext_tiny")),
            ZooNetwork("tv-vit_b_16", "torchvision", _torchvision("vit_b_16")),
            ZooNetwork("tv-swin_t", "torchvision", _torchvision("swin_t")),
            ZooNetwork("timm-deit_small", "timm", _timm("deit_small_distilled_patch16_224")),
            ZooNetwork(
                "monai-densenet121-3d", "monai", _monai_densenet121_3d, channels=1, spatial_dims=3
            ),
        )
    }
)


def build_zoo_network(name: str, num_classes: int, side: int, seed: int) -> nn.Module:
    """The zoo network ``name`` with weights drawn from ``seed``, in eval mode.

    Zero-initialised classifier heads (torchvision's ViT) are redrawn, so that gradients and
    the methods' maps are not all zero.

    Raises:
        ValueError: An unknown name.
        ImportError: Its package is not installed.
    """
    if name not in ZOO_NETWORKS:
        raise ValueError(f"expected a zoo network among {list(ZOO_NETWORKS)}, got {name!r}")
    network = ZOO_NETWORKS[name]
    torch.manual_seed(seed)
    model = network.build(num_classes, side)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    if not last.weight.detach().any():
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            last.weight.copy_(0.02 * torch.randn(last.weight.shape, generator=generator))
    return model.eval()
