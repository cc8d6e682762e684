"""Input checks shared by the attribution classes. Each raises before anything is changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

#: Layers whose training-mode behaviour mixes samples or changes state.
_BATCH_DEPENDENT_LAYERS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.dropout._DropoutNd,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


def check_inputs(inputs: tuple[Any, ...]) -> None:
    """Raise unless inputs are non-empty floating tensors with one batch size, all finite."""
    if len(inputs) == 0:
        raise ValueError("expected at least one input tensor, got an empty tuple")
    for position, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"expected input {position} to be a torch.Tensor, got {type(x)}")
        if not x.is_floating_point():
            raise TypeError(f"expected input {position} to be floating point, got {x.dtype}")
        if x.dim() == 0:
            raise ValueError(f"expected input {position} to have a batch dimension, got a scalar")
        if x.shape[0] == 0:
            raise ValueError(
                f"expected a non-empty batch, got input {position} of shape {tuple(x.shape)}"
            )
        if not torch.isfinite(x).all():
            raise ValueError(f"expected finite inputs, got NaN or inf in input {position}")
    sizes = {x.shape[0] for x in inputs}
    if len(sizes) > 1:
        raise ValueError(f"expected every input to have the same batch size, got {sorted(sizes)}")


def check_energy(energy: float) -> None:
    """Raise unless the energy threshold rho of eq. 13 is in (0, 1]."""
    if isinstance(energy, bool) or not isinstance(energy, (int, float)):
        raise TypeError(f"expected energy to be a float in (0, 1], got {type(energy)}")
    if not 0 < energy <= 1:
        raise ValueError(f"expected energy in (0, 1], got {energy}")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"expected {name} to be one of {choices}, got {value!r}")


def owning_module(forward_func: Callable[..., Any]) -> nn.Module | None:
    """The ``nn.Module`` behind a forward function (the module or a bound method), if any."""
    if isinstance(forward_func, nn.Module):
        return forward_func
    owner = getattr(forward_func, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


def check_eval_mode(forward_func: Callable[..., Any]) -> None:
    """Raise if a module in training mode has BatchNorm or Dropout layers.

    In training mode these mix samples in a batch (batch statistics) or change state
    (running statistics), so per-sample gradients would be wrong and the model would
    be modified.
    """
    module = owning_module(forward_func)
    if module is None:
        return
    offenders = sorted(
        {
            type(layer).__name__
            for layer in module.modules()
            if layer.training and isinstance(layer, _BATCH_DEPENDENT_LAYERS)
        }
    )
    if offenders:
        raise ValueError(
            "expected the model in eval mode, got training mode with "
            f"{', '.join(offenders)} layers (batch statistics mix samples and running "
            "statistics would change); call model.eval() first"
        )
