"""Input checks shared by the metrics. Each raises before anything is computed or changed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from captum_ifim._validation import check_fits_model, check_positive_int


def check_input_tensor(inputs: Any, name: str = "inputs", model: Any = None) -> None:
    """Raise unless ``inputs`` is one non-empty, finite, floating tensor with a batch dim,
    holding data (not on the ``meta`` device) and, given a model (an ``nn.Module`` or its
    bound method), of its parameters' dtype and on their device."""
    if isinstance(inputs, tuple):
        raise TypeError(f"expected {name} to be a single tensor, got a tuple (not supported)")
    check_batch_tensor(inputs, name, floating=True)
    if model is not None:
        check_fits_model(inputs, model, name)


def check_batch_tensor(value: Any, name: str, *, floating: bool = False) -> None:
    """Raise unless ``value`` is a non-empty batch (N, ...) of at least 2 dims, of real
    numbers (floating point if ``floating``; never bool or complex), finite and holding
    data (not on the ``meta`` device)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"expected {name} to be floating point, got {value.dtype}")
    if value.dtype == torch.bool or value.is_complex():
        raise TypeError(
            f"expected {name} to be real numbers (floating or integer), got {value.dtype}"
        )
    if value.dim() < 2:
        raise ValueError(
            f"expected {name} of shape (N, ...) with at least 2 dims, got {tuple(value.shape)}"
        )
    if value.shape[0] == 0:
        raise ValueError(f"expected a non-empty batch, got {name} of shape {tuple(value.shape)}")
    check_holds_data(value, name)
    if not torch.isfinite(value).all():
        raise ValueError(f"expected finite {name}, got NaN or inf")


def check_holds_data(tensor: Tensor, name: str) -> None:
    """Raise unless ``tensor`` holds data (a tensor on the ``meta`` device has none)."""
    if tensor.device.type == "meta":
        raise ValueError(f"expected {name} to hold data, got a tensor on the meta device")


def check_callable(value: Any, name: str) -> None:
    """Raise ``TypeError`` unless ``value`` is callable."""
    if not callable(value):
        raise TypeError(f"expected {name} to be callable, got {type(value).__name__}")


def check_target_count(target: Any, num_examples: int) -> None:
    """Raise unless a list or a 1-dim tensor of targets has one entry per sample and a
    tensor target holds data; an int or a 0-d tensor (one class for every sample) and
    ``None`` pass (their values are checked against the model's outputs later)."""
    if isinstance(target, Tensor):
        check_holds_data(target, "target")
    if isinstance(target, list) or (isinstance(target, Tensor) and target.dim() == 1):
        if len(target) != num_examples:
            raise ValueError(
                f"expected one target per sample ({num_examples}), got {len(target)} targets "
                "(an int or a 0-d tensor gives every sample the same class)"
            )


def resolve_spatial_dims(ndim: int, spatial_dims: int | None) -> int:
    """The number of trailing dims that index a pixel location.

    Default: 2 for (N, C, H, W) and (N, H, W), 3 for (N, C, D, H, W), 1 for (N, D);
    i.e. every dim after the first channel dim for ``ndim >= 4``, else every non-batch dim.
    """
    if spatial_dims is None:
        return ndim - 2 if ndim >= 4 else ndim - 1
    if isinstance(spatial_dims, bool) or not isinstance(spatial_dims, int):
        raise TypeError(f"expected spatial_dims to be an int or None, got {type(spatial_dims)}")
    if not 1 <= spatial_dims <= ndim - 1:
        raise ValueError(f"expected spatial_dims in [1, {ndim - 1}], got {spatial_dims}")
    return spatial_dims


def check_map(
    attributions: Any, inputs: Tensor, spatial_dims: int, name: str = "attributions"
) -> None:
    """Raise unless a map fits ``inputs``: same batch size, rank and spatial shape, finite.

    Channel dims may equal the inputs' or be 1 (e.g. a CAM of shape (N, 1, H, W)).
    """
    if isinstance(attributions, tuple):
        raise TypeError(f"expected {name} to be a single tensor, got a tuple (not supported)")
    if not isinstance(attributions, Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(attributions).__name__}")
    shape, expected = tuple(attributions.shape), tuple(inputs.shape)
    channel_dims = len(expected) - 1 - spatial_dims
    fits = (
        len(shape) == len(expected)
        and shape[0] == expected[0]
        and shape[len(shape) - spatial_dims :] == expected[len(expected) - spatial_dims :]
        and all(
            s in (1, e)
            for s, e in zip(
                shape[1 : 1 + channel_dims], expected[1 : 1 + channel_dims], strict=True
            )
        )
    )
    if not fits:
        raise ValueError(
            f"expected {name} of shape {expected} (channel dims may be 1), got {shape}"
        )
    check_holds_data(attributions, name)
    if not torch.isfinite(attributions).all():
        raise ValueError(f"expected a finite {name} map, got NaN or inf")


def check_labels(labels: Any, num_examples: int, num_classes: int, name: str = "labels") -> None:
    """Raise unless ``labels`` is an integer tensor (N,) holding data (on any device but
    ``meta``) with values in [0, num_classes)."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(labels).__name__}")
    check_holds_data(labels, name)
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"expected integer {name}, got {labels.dtype}")
    if tuple(labels.shape) != (num_examples,):
        raise ValueError(f"expected {name} of shape ({num_examples},), got {tuple(labels.shape)}")
    if num_examples and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"expected {name} in [0, {num_classes - 1}], got values in "
            f"[{labels.min().item()}, {labels.max().item()}]"
        )


def check_fraction(fraction: Any, name: str = "fraction") -> float:
    """Return ``fraction`` as a float after checking it is in (0, 1]."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise TypeError(f"expected {name} to be a float in (0, 1], got {type(fraction).__name__}")
    if not 0 < fraction <= 1:
        raise ValueError(f"expected {name} in (0, 1], got {fraction}")
    return float(fraction)


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    """Return ``fractions`` as a tuple after checking it is non-empty with values in (0, 1]."""
    if isinstance(fractions, (int, float)):
        fractions = (fractions,)
    values = tuple(check_fraction(f, "every fraction") for f in fractions)
    if not values:
        raise ValueError("expected at least one fraction, got none")
    return values


def check_max_examples_per_batch(max_examples_per_batch: Any) -> None:
    """Raise unless the chunk bound is ``None`` (the whole batch) or a positive int.

    The one check of every metric's ``max_examples_per_batch``: 0 and negative bounds are
    refused, not read as "the whole batch".
    """
    check_positive_int(max_examples_per_batch, "max_examples_per_batch", allow_none=True)


def check_nonnegative(value: Any, name: str) -> float:
    """Return ``value`` as a float after checking it is finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected {name} to be a float >= 0, got {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"expected a finite {name} >= 0, got {value}")
    return float(value)
