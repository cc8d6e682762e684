"""Models and state snapshots shared by the baseline and registry tests.

torchvision models are built once per process (``functools.cache``), with weights=None
(no download), 3 classes and BatchNorm running statistics drawn at random so that
BatchNorm is not the identity. Tests must leave them as found, which is what they check.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import torch
from torch import Tensor, nn

NUM_CLASSES = 3


def _randomize_batchnorm(model: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            size = module.num_features
            module.running_mean.copy_(0.1 * torch.randn(size, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
            module.weight.data.copy_(1 + 0.1 * torch.randn(size, generator=generator))
            module.bias.data.copy_(0.1 * torch.randn(size, generator=generator))
    return model


def small_cnn(in_channels: int, seed: int = 0) -> nn.Module:
    """A plain CNN: conv-ReLU-pool, conv-BN-ReLU, global average pool, linear."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(in_channels, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 12, 3, padding=1),
        nn.BatchNorm2d(12),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(12, NUM_CLASSES),
    )
    return _randomize_batchnorm(model, seed).eval()


@functools.cache
def resnet18(in_channels: int) -> nn.Module:
    """torchvision ResNet18, weights=None, first conv adapted to ``in_channels``."""
    from torchvision.models import resnet18 as build

    torch.manual_seed(1)
    model = build(weights=None, num_classes=NUM_CLASSES)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
    return _randomize_batchnorm(model, 1).eval()


@functools.cache
def _vgg16_rgb() -> nn.Module:
    from torchvision.models import vgg16 as build

    torch.manual_seed(2)
    return build(weights=None, num_classes=NUM_CLASSES).eval()


@functools.cache
def vgg16(in_channels: int) -> nn.Module:
    """torchvision VGG16, weights=None, first conv adapted to ``in_channels``."""
    if in_channels == 3:
        return _vgg16_rgb()
    model = copy.deepcopy(_vgg16_rgb())
    torch.manual_seed(3)
    model.features[0] = nn.Conv2d(in_channels, 64, 3, padding=1)
    return model.eval()


def _hooks(module: nn.Module) -> dict[str, Any]:
    names = (
        "_forward_hooks",
        "_forward_hooks_with_kwargs",
        "_forward_hooks_always_called",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_state_dict_hooks",
        "_load_state_dict_pre_hooks",
    )
    found = {name: dict(getattr(module, name, {})) for name in names}
    found["_is_full_backward_hook"] = module._is_full_backward_hook
    return found


def model_state(model: nn.Module, copy_tensors: bool = True) -> dict[str, Any]:
    """Everything a method could change on a model; tensors copied unless told not to
    (a snapshot to compare with later needs copies, the live state to compare does not)."""
    from torch.nn.modules import module as module_globals

    def keep(tensor: Tensor | None) -> Tensor | None:
        if tensor is None or not copy_tensors:
            return tensor
        return tensor.detach().clone()

    return {
        "parameters": {n: keep(p) for n, p in model.named_parameters()},
        "grads": {n: keep(p.grad) for n, p in model.named_parameters()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "buffers": {n: keep(b) for n, b in model.named_buffers()},
        "training": {n: m.training for n, m in model.named_modules()},
        "inplace": {n: m.inplace for n, m in model.named_modules() if hasattr(m, "inplace")},
        "hooks": {n: _hooks(m) for n, m in model.named_modules()},
        "attributes": {n: sorted(vars(m)) for n, m in model.named_modules()},
        "modules": {n: type(m) for n, m in model.named_modules()},
        "global_hooks": (
            dict(module_globals._global_forward_hooks),
            dict(module_globals._global_forward_pre_hooks),
            dict(module_globals._global_backward_hooks),
            dict(module_globals._global_backward_pre_hooks),
        ),
    }


def assert_same_state(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Assert two :func:`model_state` results are equal, tensors bit for bit."""
    assert before.keys() == after.keys()
    for key in before:
        old, new = before[key], after[key]
        if key in ("parameters", "buffers", "grads"):
            assert old.keys() == new.keys(), key
            for name in old:
                if old[name] is None or new[name] is None:
                    assert old[name] is new[name], (key, name)
                else:
                    assert torch.equal(old[name], new[name]), (key, name)
        else:
            assert old == new, key


def images(batch: int, channels: int, side: int = 64, seed: int = 0) -> Tensor:
    return torch.randn(batch, channels, side, side, generator=torch.Generator().manual_seed(seed))
