"""The layer a CAM weights: the single place where target layers are chosen and resolved.

:func:`default_target_layer` picks one when the caller gives none, :func:`resolve_target_layer`
checks a given one (a module or its name) against the model, and :func:`choose_target_layer`
does whichever applies; the registry and the CAM classes go through these three only.
"""

from __future__ import annotations

import sys

from torch import nn

#: Modules taken as the activation after the last convolution (default target layer).
ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
    nn.PReLU,
    nn.ReLU6,
)
#: Normalization layers allowed between the last convolution and its activation.
NORMALIZATIONS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
)


def default_target_layer(model: nn.Module) -> nn.Module:
    """The layer a CAM uses when none is given.

    * torchvision ResNet: ``model.layer4[-1]``, the last residual block's output.
    * Otherwise the last ``nn.Conv2d``; when it sits in an ``nn.Sequential`` followed,
      possibly after normalization layers, by an activation module, that activation
      (the rectified feature maps of Grad-CAM's paper). For torchvision VGG16 this is
      ``features[29]``, the ReLU after the last convolution (before the last max pool,
      so 4 x 4 maps at 64 x 64 inputs rather than 2 x 2).

    Raises:
        ValueError: The model has no ``nn.Conv2d``.

    Example:
        >>> import torch
        >>> from captum_ifim import default_target_layer
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        ...     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> default_target_layer(model) is model[2]
        True
    """
    resnet = sys.modules.get("torchvision.models.resnet")
    if resnet is not None and isinstance(model, resnet.ResNet):
        return model.layer4[-1]
    convolutions = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convolutions:
        raise ValueError(
            f"expected a model with an nn.Conv2d to pick a default target layer, got a "
            f"{type(model).__name__} without one; pass target_layer="
        )
    name = convolutions[-1]
    parent_name, _, _ = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    layer = model.get_submodule(name)
    if isinstance(parent, nn.Sequential):
        siblings = list(parent.children())
        position = next(i for i, m in enumerate(siblings) if m is layer)
        for following in siblings[position + 1 :]:
            if isinstance(following, ACTIVATIONS):
                return following
            if not isinstance(following, NORMALIZATIONS):
                break
    return layer


def resolve_target_layer(model: nn.Module, target_layer: nn.Module | str) -> nn.Module:
    """The target layer as a submodule of ``model``; a name is looked up with ``get_submodule``.

    Raises:
        ValueError: The layer is not a submodule of ``model`` (or the name does not exist).
        TypeError: ``target_layer`` is neither an ``nn.Module`` nor a string.
    """
    if isinstance(target_layer, str):
        try:
            return model.get_submodule(target_layer)
        except AttributeError as error:
            raise ValueError(
                f"expected target_layer to name a submodule of the model, got {target_layer!r}"
            ) from error
    if not isinstance(target_layer, nn.Module):
        raise TypeError(
            f"expected target_layer to be an nn.Module or its name, got {type(target_layer)}"
        )
    if not any(module is target_layer for module in model.modules()):
        raise ValueError(
            f"expected target_layer to be a submodule of the model, got a "
            f"{type(target_layer).__name__} that is not part of it"
        )
    return target_layer


def choose_target_layer(model: nn.Module, target_layer: nn.Module | str | None) -> nn.Module:
    """The given layer checked by :func:`resolve_target_layer`, or :func:`default_target_layer`."""
    if target_layer is None:
        return default_target_layer(model)
    return resolve_target_layer(model, target_layer)
