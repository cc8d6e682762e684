"""Robustness of a map to small input noise: average sensitivity (Yeh et al., 2019) and the
local Lipschitz estimate (Alvarez-Melis & Jaakkola, 2018).

Both re-run the explainer on ``x + delta_s`` for S random perturbations and compare with
the map of ``x``; beside :func:`sensitivity_max` (Captum's maximum of the same ratio as the
average sensitivity). The perturbations come from a ``torch.Generator`` (or are given), so a
run is reproducible and the same draws give the same value on any device.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from captum_ifim._validation import check_positive_int
from captum_ifim.metrics._explainer_calls import compute_maps, explain_fn
from captum_ifim.metrics._validation import (
    check_input_tensor,
    check_max_examples_per_batch,
    check_nonnegative,
    check_target_count,
)

#: ``draw(shape, dtype, generator) -> Tensor`` of perturbations on the generator's device.
Draw = Callable[[tuple[int, ...], torch.dtype, torch.Generator], Tensor]


def _checked_perturbations(perturbations: Any, inputs: Tensor) -> Tensor:
    """(S, N, ...) finite floating perturbations of the inputs' shape, on their device."""
    if not isinstance(perturbations, Tensor) or not perturbations.is_floating_point():
        what = perturbations.dtype if isinstance(perturbations, Tensor) else type(perturbations)
        raise TypeError(f"expected perturbations to be a floating torch.Tensor, got {what}")
    if perturbations.dim() != inputs.dim() + 1 or perturbations.shape[1:] != inputs.shape:
        raise ValueError(
            f"expected perturbations of shape (S, *{tuple(inputs.shape)}), "
            f"got {tuple(perturbations.shape)}"
        )
    if perturbations.shape[0] == 0 or not torch.isfinite(perturbations).all():
        raise ValueError("expected at least one finite perturbation (S > 0), got none or NaN/inf")
    return perturbations.to(device=inputs.device, dtype=inputs.dtype)


def _map_changes(
    explainer: Any,
    inputs: Tensor,
    target: Any,
    perturbations: Tensor | None,
    n_samples: int,
    draw: Draw,
    generator: torch.Generator | None,
    additional_forward_args: Any,
    max_examples_per_batch: int | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Checks, then (S, N) ``||M(x + delta_s) - M(x)||``, (S, N) ``||delta_s||`` and (N,)
    ``||M(x)||``, Euclidean norms of the flattened tensors in float64."""
    explain_fn(explainer)  # raises for something that cannot explain
    check_input_tensor(inputs)
    check_target_count(target, inputs.shape[0])
    check_max_examples_per_batch(max_examples_per_batch)
    if perturbations is None:
        check_positive_int(n_samples, "n_samples")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"expected generator to be a torch.Generator, got {type(generator)}")
    else:
        perturbations = _checked_perturbations(perturbations, inputs)
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    args = (target, additional_forward_args, max_examples_per_batch)
    clean = compute_maps(explainer, inputs, *args).double()
    changes, sizes = [], []
    for step in range(n_samples if perturbations is None else perturbations.shape[0]):
        if perturbations is None:
            delta = draw(tuple(inputs.shape), inputs.dtype, generator).to(inputs.device)
        else:
            delta = perturbations[step]
        perturbed = inputs + delta
        maps = compute_maps(explainer, perturbed, *args).double()
        if maps.shape != clean.shape:
            raise ValueError(
                f"expected maps of shape {tuple(clean.shape)}, got {tuple(maps.shape)}"
            )
        changes.append((maps - clean).flatten(1).norm(dim=1))
        sizes.append((perturbed - inputs).double().flatten(1).norm(dim=1))  # as applied
    return torch.stack(changes), torch.stack(sizes), clean.flatten(1).norm(dim=1)


def avg_sensitivity(
    explainer: Any,
    inputs: Tensor,
    target: Any = None,
    *,
    radius: float = 0.02,
    n_samples: int = 10,
    perturbations: Tensor | None = None,
    generator: torch.Generator | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> Tensor:
    """Average sensitivity (Yeh et al., 2019): the mean relative change of the map under
    uniform input noise; lower is better.

    ``(1/S) sum_s ||M(x + delta_s) - M(x)|| / ||M(x)||`` with ``delta_s`` uniform in
    ``[-radius, radius]`` per entry and Euclidean norms of the flattened maps: the mean of
    the ratio whose maximum is :func:`sensitivity_max` (Captum's, the same radius by
    default), and Quantus's ``AvgSensitivity`` (0.6: same ratio, same noise; its default
    radius is 0.2 and S = 200).

    Args:
        explainer: Anything with ``attribute(inputs, target=...)`` or such a callable.
        inputs: (N, ...) finite floating inputs.
        target: Passed to the explainer, as in :func:`compute_maps`.
        radius: Half-width of the uniform noise, finite and >= 0.
        n_samples: S, the number of perturbations (each one explainer call per input).
        perturbations: (S, N, ...) the ``delta_s`` to use instead of drawing them.
        generator: Draws the noise; ``None``: a CPU generator seeded with 0.
        additional_forward_args: Passed to the explainer, as in Captum.
        max_examples_per_batch: At most this many inputs per explainer call.

    Returns:
        (N,) float64 >= 0; ``nan`` (with a warning) where ``M(x)`` is all zero.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
        >>> times_input = lambda x, target: x * model[1].weight[target].view(-1, 1, 2, 2)
        >>> avg_sensitivity(times_input, torch.ones(3, 1, 2, 2), 0, radius=0.0).tolist()
        [0.0, 0.0, 0.0]
    """
    half = check_nonnegative(radius, "radius")

    def draw(shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator) -> Tensor:
        unit = torch.rand(shape, generator=generator, dtype=dtype, device=generator.device)
        return (2 * unit - 1) * half

    changes, _, clean_norm = _map_changes(
        explainer,
        inputs,
        target,
        perturbations,
        n_samples,
        draw,
        generator,
        additional_forward_args,
        max_examples_per_batch,
    )
    zero = clean_norm == 0
    if zero.any():
        warnings.warn(
            f"{int(zero.sum())} samples have an all-zero map; their score is nan", stacklevel=2
        )
    sensitivity = (changes / clean_norm.where(~zero, torch.ones_like(clean_norm))).mean(dim=0)
    return sensitivity.masked_fill(zero, float("nan"))


def local_lipschitz_estimate(
    explainer: Any,
    inputs: Tensor,
    target: Any = None,
    *,
    std: float = 0.1,
    n_samples: int = 10,
    perturbations: Tensor | None = None,
    generator: torch.Generator | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> Tensor:
    """Local Lipschitz estimate (Alvarez-Melis & Jaakkola, 2018): the largest ratio of
    map change to input change over sampled neighbours; lower is better.

    ``max_s ||M(x + delta_s) - M(x)|| / ||delta_s||`` with ``delta_s ~ N(0, std^2)`` per
    entry and Euclidean norms of the flattened tensors: a lower bound on the local Lipschitz
    constant of the map at x that grows with S. Quantus's ``LocalLipschitzEstimate`` (0.6)
    computes the same ratio with the same noise (S = 200 by default), but by default first
    divides each batch of maps by its largest ``|value|`` over the whole batch
    (``normalise=True``), so its value depends on the batch; here the maps are used as the
    explainer returns them. A zero perturbation is skipped.

    Args:
        std: Standard deviation of the Gaussian noise, finite and >= 0.

    The other arguments are those of :func:`avg_sensitivity`.

    Returns:
        (N,) float64 >= 0; ``nan`` (with a warning) where every perturbation is zero.

    Example:
        >>> times_three = lambda x, target: 3 * x
        >>> estimate = local_lipschitz_estimate(times_three, torch.zeros(2, 1, 2, 2))
        >>> [round(value, 5) for value in estimate.tolist()]
        [3.0, 3.0]
    """
    sigma = check_nonnegative(std, "std")

    def draw(shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator) -> Tensor:
        return sigma * torch.randn(shape, generator=generator, dtype=dtype, device=generator.device)

    changes, sizes, _ = _map_changes(
        explainer,
        inputs,
        target,
        perturbations,
        n_samples,
        draw,
        generator,
        additional_forward_args,
        max_examples_per_batch,
    )
    ratios = (changes / sizes).masked_fill(sizes == 0, float("-inf"))
    estimate = ratios.max(dim=0).values
    none = torch.isneginf(estimate)
    if none.any():
        warnings.warn(
            f"{int(none.sum())} samples had only zero perturbations; their score is nan",
            stacklevel=2,
        )
    return estimate.masked_fill(none, float("nan"))
