"""ROAD: remove and debias (Rong, Leemann et al., ICML 2022), with noisy linear imputation.

For each percentage ``p``, the ``k = ceil(p L / 100)`` locations that the map ranks first
(MoRF) or last (LeRF) are *imputed*: each removed value becomes the weighted mean of its
neighbours, ``x_i = sum_j w_ij x_j / sum_j w_ij`` over the in-image neighbours ``j``
(known or imputed), with ``w = 1/6`` for the 4 edge neighbours and ``1/12`` for the 4
corner ones (Rong et al.'s weights; in a volume ``w ∝ 1 / |offset|^2`` over the 26
neighbours, which gives the same ratio 2 : 1 in a plane), plus Gaussian noise of standard
deviation ``noise_std`` (0.01, theirs). This sparse linear system is solved per channel
with preconditioned conjugate gradients on the inputs' device, in float64.

The curve is the target score after imputation; as in pytorch-grad-cam's
``ROADMostRelevantFirstAverage`` the per-example score is its mean change,
``mean_p (f_y(x^(p)) - f_y(x))`` (lower is better for MoRF, higher for LeRF), and
``ROADCombined``'s is ``(LeRF - MoRF) / 2`` (higher is better).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead
from captum_ifim._validation import check_choice
from captum_ifim.metrics._forward import chunk_bounds
from captum_ifim.metrics._pixel_selection import num_selected_pixels
from captum_ifim.metrics._segment_removal import descending_ranks, location_attributions
from captum_ifim.metrics._target_scores import Score, target_scorer
from captum_ifim.metrics._validation import (
    check_batch_tensor,
    check_map,
    check_nonnegative,
    resolve_spatial_dims,
)

Order = Literal["morf", "lerf"]
#: Rong et al.'s percentages of removed pixels (pytorch-grad-cam's averagers).
ROAD_PERCENTAGES: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90)


@dataclass(frozen=True)
class ROADCurve:
    """ROAD curves for one order.

    Attributes:
        order: ``"morf"`` or ``"lerf"``.
        percentages: (P,) float64, the percentages of locations imputed.
        clean: (N,) float64, the target score of the clean inputs.
        scores: (N, P) float64, the target score after imputation.
        predictions: (N, P) long, the predicted class after imputation (Quantus's ROAD
            counts ``predictions == label``).
        score: (N,) float64, ``mean_p (scores - clean)``; lower is better for MoRF,
            higher for LeRF.
    """

    order: str
    percentages: Tensor
    clean: Tensor
    scores: Tensor
    predictions: Tensor
    score: Tensor


@dataclass(frozen=True)
class ROADCombinedResult:
    """Both ROAD curves and ``score = (lerf.score - morf.score) / 2``; higher is better."""

    morf: ROADCurve
    lerf: ROADCurve
    score: Tensor


def _neighbour_kernel(spatial_dims: int) -> Tensor:
    """(1, 1, 3, 3[, 3]) float64 weights, ``∝ 1/|offset|^2``, summing to 1, centre 0."""
    kernel = torch.zeros((3,) * spatial_dims, dtype=torch.float64)
    for offset in itertools.product((-1, 0, 1), repeat=spatial_dims):
        distance = sum(o * o for o in offset)
        if distance:
            kernel[tuple(o + 1 for o in offset)] = 1.0 / distance
    return (kernel / kernel.sum()).view(1, 1, *kernel.shape)


def _smooth_121(field: Tensor, dim: int) -> Tensor:
    """``[1, 2, 1]`` along ``dim`` with zero padding (2.5x faster than a 3 x 3 convolution
    in float64 on a CPU)."""
    out = 2 * field
    size = field.shape[dim]
    out.narrow(dim, 1, size - 1).add_(field.narrow(dim, 0, size - 1))
    out.narrow(dim, 0, size - 1).add_(field.narrow(dim, 1, size - 1))
    return out


def noisy_linear_imputation(
    inputs: Tensor,
    removed: Tensor,
    noise_std: float = 0.01,
    *,
    spatial_dims: int | None = None,
    noise: Tensor | None = None,
    seed: int = 0,
    tolerance: float = 1e-10,
    max_iterations: int | None = None,
) -> Tensor:
    """Impute the removed locations of each channel from their neighbours (Rong et al.).

    Args:
        inputs: ``(N, *channel dims, *spatial dims)`` with 2 or 3 spatial dims.
        removed: ``(N, *spatial dims)`` bool, the locations to impute (every channel).
        noise_std: Standard deviation of the Gaussian noise added to imputed values.
        spatial_dims: Trailing dims that index a location.
        noise: Standard normal draws of the inputs' shape, scaled by ``noise_std`` where a
            location is imputed; ``None`` draws them from ``seed``.
        seed: Seeds the noise (a CPU generator: the same draws on every device).
        tolerance: Conjugate gradients stop at this residual relative to the right side.
        max_iterations: At most this many iterations (default ``50 * max side + 100``); a
            warning says if the tolerance was not reached.

    Returns:
        The inputs with removed locations imputed, same shape, dtype and device.

    Example:
        >>> x = torch.arange(9.0).view(1, 1, 3, 3)  # a linear ramp is its own imputation
        >>> hole = torch.zeros(1, 3, 3, dtype=torch.bool)
        >>> hole[0, 1, 1] = True
        >>> noisy_linear_imputation(x, hole, noise_std=0.0)[0, 0, 1, 1].item()
        4.0
    """
    check_batch_tensor(inputs, "inputs", floating=True)
    spatial = resolve_spatial_dims(inputs.dim(), spatial_dims)
    if spatial not in (2, 3):
        raise ValueError(f"expected 2 or 3 spatial dims to impute, got {spatial}")
    spatial_shape = tuple(inputs.shape[inputs.dim() - spatial :])
    expected = (inputs.shape[0], *spatial_shape)
    if not isinstance(removed, Tensor) or removed.dtype != torch.bool:
        raise TypeError(f"expected removed to be a bool tensor, got {type(removed).__name__}")
    if tuple(removed.shape) != expected:
        raise ValueError(f"expected removed of shape {expected}, got {tuple(removed.shape)}")
    check_nonnegative(noise_std, "noise_std")
    check_nonnegative(tolerance, "tolerance")
    conv = F.conv2d if spatial == 2 else F.conv3d
    kernel = _neighbour_kernel(spatial).to(inputs.device)
    channels = math.prod(inputs.shape[1 : inputs.dim() - spatial])
    x = inputs.detach().double().reshape(-1, 1, *spatial_shape)
    unknown = removed.to(inputs.device).repeat_interleave(channels, dim=0).unsqueeze(1).double()
    known = 1.0 - unknown

    def neighbours(field: Tensor) -> Tensor:
        """sum_j w_ij field_j over the in-image neighbours (zero padding)."""
        if spatial == 2:  # the kernel is ([1 2 1] x [1 2 1] - 4 delta) / 12: two 1-D passes
            return (_smooth_121(_smooth_121(field, -1), -2) - 4 * field) / 12
        return conv(field, kernel, padding=1)

    degree = neighbours(torch.ones_like(x[:1]))  # the in-image neighbours' weight sum
    rhs = unknown * neighbours(x * known)

    def apply(u: Tensor) -> Tensor:
        return unknown * (degree * u - neighbours(u))

    def dot(a: Tensor, b: Tensor) -> Tensor:
        return (a * b).flatten(1).sum(dim=1).view(-1, *([1] * (a.dim() - 1)))

    solution = torch.zeros_like(x)
    residual = rhs.clone()
    preconditioned = residual / degree
    direction = preconditioned.clone()
    rz = dot(residual, preconditioned)
    limit = max_iterations if max_iterations is not None else 50 * max(spatial_shape) + 100
    target = tolerance * dot(rhs, rhs).sqrt()
    converged = False
    for _ in range(limit):
        if bool((dot(residual, residual).sqrt() <= target).all()):
            converged = True
            break
        image = apply(direction)
        curvature = dot(direction, image)
        step = torch.where(curvature > 0, rz / curvature.clamp(min=1e-300), 0.0)
        solution = solution + step * direction
        residual = residual - step * image
        preconditioned = residual / degree
        rz_next = dot(residual, preconditioned)
        direction = (
            preconditioned + torch.where(rz > 0, rz_next / rz.clamp(min=1e-300), 0.0) * direction
        )
        rz = rz_next
    if not converged and not bool((dot(residual, residual).sqrt() <= target).all()):
        warnings.warn(
            f"noisy linear imputation stopped after {limit} conjugate-gradient iterations "
            "above its tolerance (raise max_iterations)",
            stacklevel=2,
        )
    if noise is None:
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(inputs.shape, generator=generator, dtype=torch.float64)
    elif not isinstance(noise, Tensor) or tuple(noise.shape) != tuple(inputs.shape):
        shape = tuple(noise.shape) if isinstance(noise, Tensor) else type(noise).__name__
        raise ValueError(f"expected noise of the inputs' shape {tuple(inputs.shape)}, got {shape}")
    field = noise.detach().to(device=inputs.device, dtype=torch.float64).reshape_as(x)
    imputed = known * x + unknown * (solution + noise_std * field)
    return imputed.reshape(inputs.shape).to(inputs.dtype)


def road(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    *,
    order: Order = "morf",
    percentages: Sequence[float] = ROAD_PERCENTAGES,
    noise_std: float = 0.01,
    absolute: bool = False,
    score: Score = "probability",
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    seed: int = 0,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> ROADCurve:
    """ROAD's curve for one order (Rong et al., 2022).

    Args:
        forward_func: The classifier, outputs (N, C).
        inputs: ``(N, *channel dims, *spatial dims)``, 2 or 3 spatial dims.
        attributions: The map (inputs' shape, channel dims may be 1).
        target: (N,) labels, an int, or ``None`` for the clean prediction.
        order: ``"morf"`` imputes the first-ranked locations, ``"lerf"`` the last.
        percentages: Percentages of locations to impute, each in (0, 100); at least one
            location is imputed and one kept.
        noise_std: The imputation noise (Rong et al.: 0.01).
        absolute: Rank by ``|map|`` (Quantus's ``abs``, off by default).
        score: ``"probability"`` (pytorch-grad-cam's ``ClassifierOutputSoftmaxTarget``) or
            the raw ``"output"`` (its ``ClassifierOutputTarget``).
        output: The output head.
        spatial_dims: Trailing dims that index a location.
        seed: Seeds the noise: percentage ``i`` draws one standard normal field of the
            inputs' shape from ``seed + i`` (so chunking does not change the draws).
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: At most this many inputs per forward pass and imputation.

    Returns:
        A :class:`ROADCurve`; ``score`` is the per-example value.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> x = torch.randn(2, 1, 4, 4)
        >>> road(model, x, x, percentages=(25, 50)).scores.shape
        torch.Size([2, 2])
    """
    scorer = target_scorer(
        forward_func,
        inputs,
        target,
        score=score,
        output=output,
        additional_forward_args=additional_forward_args,
        max_examples_per_batch=max_examples_per_batch,
    )
    spatial = resolve_spatial_dims(inputs.dim(), spatial_dims)
    if spatial not in (2, 3):
        raise ValueError(f"expected 2 or 3 spatial dims for ROAD, got {spatial}")
    check_map(attributions, inputs, spatial)
    check_choice("order", order, ("morf", "lerf"))
    values = _check_percentages(percentages)
    check_nonnegative(noise_std, "noise_std")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"expected seed to be an int, got {type(seed).__name__}")
    ranks = descending_ranks(
        location_attributions(attributions, spatial, absolute), descending=order == "morf"
    ).to(inputs.device)
    num_examples = inputs.shape[0]
    num_locations = ranks[0].numel()
    scores = torch.empty(num_examples, len(values), dtype=torch.float64)
    predictions = torch.empty(num_examples, len(values), dtype=torch.long)
    for column, percentage in enumerate(values):
        generator = torch.Generator().manual_seed(seed + column)
        noise = torch.randn(inputs.shape, generator=generator, dtype=torch.float64)
        k = min(num_selected_pixels(percentage / 100, num_locations), num_locations - 1)
        for start, stop in chunk_bounds(num_examples, max_examples_per_batch):
            imputed = noisy_linear_imputation(
                inputs[start:stop],
                ranks[start:stop] < k,
                noise_std,
                spatial_dims=spatial,
                noise=noise[start:stop],
            )
            chunk_scores, chunk_predictions = scorer.score_chunk(imputed, start, stop)
            scores[start:stop, column] = chunk_scores.cpu()
            predictions[start:stop, column] = chunk_predictions.cpu()
    clean = scorer.clean.cpu()
    return ROADCurve(
        order=order,
        percentages=torch.tensor(values, dtype=torch.float64),
        clean=clean,
        scores=scores,
        predictions=predictions,
        score=(scores - clean.unsqueeze(1)).mean(dim=1),
    )


def _check_percentages(percentages: Sequence[float]) -> tuple[float, ...]:
    if isinstance(percentages, (int, float)):
        percentages = (percentages,)
    values = tuple(percentages)
    if not values:
        raise ValueError("expected at least one percentage, got none")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected percentages to be numbers, got {type(value).__name__}")
        if not 0 < value < 100:
            raise ValueError(f"expected percentages in (0, 100), got {value}")
    return tuple(float(v) for v in values)


def road_morf(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    **options: Any,
) -> ROADCurve:
    """ROAD, most relevant first (:func:`road` with ``order="morf"``); lower is better."""
    return road(forward_func, inputs, attributions, target, order="morf", **options)


def road_lerf(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    **options: Any,
) -> ROADCurve:
    """ROAD, least relevant first (:func:`road` with ``order="lerf"``); higher is better."""
    return road(forward_func, inputs, attributions, target, order="lerf", **options)


def road_combined(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    **options: Any,
) -> ROADCombinedResult:
    """pytorch-grad-cam's ``ROADCombined``: ``(LeRF - MoRF) / 2`` of the mean score
    changes; higher is better. Options as :func:`road` (but ``order``)."""
    if "order" in options:
        raise TypeError("expected no order for road_combined (it runs both), got one")
    morf = road(forward_func, inputs, attributions, target, order="morf", **options)
    lerf = road(forward_func, inputs, attributions, target, order="lerf", **options)
    return ROADCombinedResult(morf=morf, lerf=lerf, score=(lerf.score - morf.score) / 2)
