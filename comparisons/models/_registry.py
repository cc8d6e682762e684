"""The registry of the harness's classifiers: every model by name, built from a seed."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from comparisons.models._resnet import resnet18
from comparisons.models._resnet3d import ResNet3d18
from comparisons.models._shallow_cnn import ShallowCNN, ShallowCNN3d
from comparisons.models._vgg import vgg16
from comparisons.models._vit import hybrid_vit, vit

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Attributes:
        name: Registry name, e.g. ``"resnet18"``.
        description: One line for reports.
        builder: ``(in_channels, num_classes, image_size, **options) -> nn.Module``; use
            :func:`build_model` rather than calling it.
        spatial_dims: 2 for images (N, C, H, W), 3 for volumes (N, C, D, H, W).
    """

    name: str
    description: str
    builder: Builder
    spatial_dims: int = 2

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options the builder accepts (besides ``seed``)."""
        parameters = inspect.signature(self.builder).parameters.values()
        return tuple(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)


MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            ModelSpec(
                "shallow-cnn",
                "Shallow CNN: 3 x (conv3x3 -> ReLU -> max pool), linear head (paper Sec. IV-B)",
                ShallowCNN,
            ),
            ModelSpec(
                "resnet18",
                "torchvision ResNet18 from scratch, first conv and head adapted",
                resnet18,
            ),
            ModelSpec(
                "vgg16",
                "torchvision VGG16 from scratch, first conv adapted, light head below 224 x 224",
                vgg16,
            ),
            ModelSpec(
                "vit",
                "Small ViT from scratch (timm): 8 x 8 px patches, pre-norm blocks, max over tokens",
                vit,
            ),
            ModelSpec(
                "hybrid-vit",
                "Hybrid ViT from scratch (timm): strided conv/BN/ReLU stem, transformer blocks",
                hybrid_vit,
            ),
            ModelSpec(
                "shallow-cnn-3d",
                "Shallow 3-D CNN: 3 x (conv3x3x3 -> ReLU -> max pool), global max-pool head",
                ShallowCNN3d,
                spatial_dims=3,
            ),
            ModelSpec(
                "resnet3d-18",
                "3-D ResNet-18 from scratch: basic blocks, quarter widths, no max pool",
                ResNet3d18,
                spatial_dims=3,
            ),
        )
    }
)


def available_models() -> tuple[str, ...]:
    """The registered model names, in registry order."""
    return tuple(MODELS)


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name``."""
    if name not in MODELS:
        raise ValueError(f"expected a model name among {list(MODELS)}, got {name!r}")
    return MODELS[name]


def build_model(
    name: str,
    in_channels: int,
    num_classes: int,
    image_size: tuple[int, ...] = (64, 64),
    *,
    seed: int | None = None,
    **options: Any,
) -> nn.Module:
    """A freshly initialised classifier from the registry, in training mode.

    Args:
        name: One of :func:`available_models`.
        in_channels: Image channels.
        num_classes: Logits out, >= 2.
        image_size: (H, W) of the inputs, or (D, H, W) for a model with
            ``spatial_dims == 3``.
        seed: Initialise from ``torch.manual_seed(seed)`` inside ``torch.random.fork_rng``,
            so the global RNG state is left as found; ``None`` draws from the global RNG.
        **options: The model's options (``get_model_spec(name).options``).

    Returns:
        The model; shapes (N, in_channels, *image_size) in, (N, num_classes) logits out.

    >>> model = build_model("shallow-cnn", 1, 2, (32, 32), seed=0)
    >>> model(torch.zeros(4, 1, 32, 32)).shape
    torch.Size([4, 2])
    """
    spec = get_model_spec(name)
    _check_positive_int("in_channels", in_channels, 1)
    _check_positive_int("num_classes", num_classes, 2)
    if (
        not isinstance(image_size, tuple | list)
        or len(image_size) != spec.spatial_dims
        or not all(isinstance(s, int) and s > 0 for s in image_size)
    ):
        axes = "(H, W)" if spec.spatial_dims == 2 else "(D, H, W)"
        raise ValueError(f"expected image_size as {axes} positive ints, got {image_size!r}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise TypeError(f"expected options of {name!r} among {list(spec.options)}, got {unknown}")
    size = tuple(int(s) for s in image_size)
    if seed is None:
        return spec.builder(in_channels, num_classes, size, **options)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"expected an int seed or None, got {type(seed).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.builder(in_channels, num_classes, size, **options)


def _check_positive_int(name: str, value: Any, smallest: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int {name}, got {type(value).__name__}")
    if value < smallest:
        raise ValueError(f"expected {name} >= {smallest}, got {value}")
