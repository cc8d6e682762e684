"""Pixel flipping (Bach et al., 2015) and region perturbation (Samek et al., 2017).

Both remove what the map ranks first, cumulatively, and follow the target score, as
Quantus 0.6's ``PixelFlipping`` and ``RegionPerturbation`` do. A *feature* is a spatial
location (all its channels at once, see docs/metrics.md); for one-channel inputs that is
Quantus's feature. Quantus's AUC is ``np.trapz(curve, dx=1)`` over the perturbed steps
only (no clean point), which grows with the number of steps; here ``auc`` is the
trapezoid over the share of locations removed, clean point included, in [0, 1] for
probabilities, and the curves hold what Quantus's do (see each result's docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead
from captum_ifim._validation import check_choice, check_positive_int
from captum_ifim.metrics._replacement_values import Replacement, replacement_values
from captum_ifim.metrics._segment_removal import (
    descending_ranks,
    location_attributions,
    location_steps,
    removal_curve,
    segment_sums,
)
from captum_ifim.metrics._target_scores import Score, target_scorer
from captum_ifim.metrics._validation import check_map, resolve_spatial_dims

Order = Literal["morf", "lerf", "random"]


@dataclass(frozen=True)
class PixelFlippingCurve:
    """Pixel-flipping curves.

    Attributes:
        fractions: (S + 1,) float64, the share of locations replaced after each step.
        scores: (N, S + 1) float64, the target score after each step (column 0: clean).
            Quantus's curve is ``scores[:, 1:]`` and its AUC
            ``torch.trapezoid(scores[:, 1:], dx=1)``.
        auc: (N,) float64, the trapezoid area of ``scores`` over ``fractions``; lower is
            better (the score falls as soon as the first-ranked pixels go).
    """

    fractions: Tensor
    scores: Tensor
    auc: Tensor


@dataclass(frozen=True)
class RegionPerturbationCurve:
    """Region-perturbation curves.

    Attributes:
        order: ``"morf"``, ``"lerf"`` or ``"random"``.
        patch_size: The side of a region in pixels (voxels).
        scores: (N, R + 1) float64, the target score after k regions (column 0: clean).
        drops: (N, R + 1) float64, ``scores[:, :1] - scores``; Quantus's curve is
            ``drops[:, 1:]`` and its AUC ``torch.trapezoid(drops[:, 1:], dx=1)``.
        aopc: (N,) float64, the area over the perturbation curve of Samek et al.,
            ``mean_k drops[:, k]`` for k = 0..R; higher is better for ``"morf"``, lower
            for ``"lerf"``.
    """

    order: str
    patch_size: int
    scores: Tensor
    drops: Tensor
    aopc: Tensor


def pixel_flipping(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    *,
    features_in_step: int = 1,
    baseline: Replacement = "black",
    absolute: bool = False,
    score: Score = "probability",
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> PixelFlippingCurve:
    """Pixel flipping (Bach et al., 2015): replace the locations in decreasing order of
    attribution, ``features_in_step`` at a time, cumulatively, and follow the target score.

    With ``r(p)`` the rank of location ``p`` by its (channel-summed) attribution and
    ``x^(s)`` the input with every ``p`` of ``r(p) < s * features_in_step`` replaced,
    the curve is ``f_y(x^(s))`` for ``s = 0..ceil(L / features_in_step)``.

    Args:
        forward_func: The classifier, outputs (N, C).
        inputs: ``(N, *channel dims, *spatial dims)``.
        attributions: The map (inputs' shape, channel dims may be 1).
        target: (N,) labels, an int, or ``None`` for the clean prediction.
        features_in_step: Locations replaced per step (Quantus's default 1: one forward
            pass per location).
        baseline: What a replaced location becomes (see
            :func:`~captum_ifim.metrics.faithfulness_correlation`); Quantus's default
            ``"black"`` is each example's minimum.
        absolute: Rank by ``|map|`` instead of the signed map (Quantus's ``abs``).
        score: ``"probability"`` of the target (Quantus's ``softmax=True``, its default
            here) or the raw ``"output"``.
        output: The output head.
        spatial_dims: Trailing dims that index a location.
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: At most this many inputs per forward pass.

    Returns:
        A :class:`PixelFlippingCurve`; ``auc`` is the per-example score (lower is better).

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> x = torch.randn(2, 1, 4, 4)
        >>> pixel_flipping(model, x, x, features_in_step=4).scores.shape
        torch.Size([2, 5])
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
    check_map(attributions, inputs, spatial)
    check_positive_int(features_in_step, "features_in_step")
    base = replacement_values(inputs, baseline)
    values = location_attributions(attributions, spatial, absolute)
    num_locations = values[0].numel()
    steps = location_steps(num_locations, features_in_step)
    removal_step = descending_ranks(values) // features_in_step
    scores, _ = removal_curve(scorer, inputs, base, removal_step, steps, max_examples_per_batch)
    counts = torch.clamp(torch.arange(steps + 1) * features_in_step, max=num_locations)
    fractions = counts.double() / num_locations
    return PixelFlippingCurve(
        fractions=fractions, scores=scores, auc=torch.trapezoid(scores, fractions, dim=1)
    )


def grid_segments(shape: tuple[int, ...], cell: int, centred: bool = True) -> Tensor:
    """The cell of a regular grid of ``cell``-sided squares (cubes) that each location of a
    ``shape`` (H, W) or (D, H, W) lies in, row-major, as a long tensor of ``shape``.

    ``centred``: where a side is not a multiple of ``cell``, the grid overhangs both ends
    by half the remainder (floor before, ceil after), as Quantus pads the image before it
    cuts patches; otherwise the last cells are cut short.
    """
    ids = torch.zeros((), dtype=torch.long)
    for size in shape:
        pad = (-size) % cell if centred else 0
        cells_here = (size + pad + cell - 1) // cell
        index = (torch.arange(size) + pad // 2) // cell
        ids = ids.unsqueeze(-1) * cells_here + index
    return ids


def region_perturbation(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    *,
    patch_size: int = 8,
    order: Order = "morf",
    regions_evaluation: int = 100,
    baseline: Replacement = "black",
    absolute: bool = False,
    score: Score = "probability",
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    seed: int = 0,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> RegionPerturbationCurve:
    """Region perturbation (Samek et al., 2017): replace non-overlapping
    ``patch_size``-sided squares (cubes in a volume) in order of their summed attribution,
    cumulatively, and report the AOPC, ``1/(R+1) sum_{k=0}^{R} (f_y(x) - f_y(x^(k)))``.

    As in Quantus, the patches tile a grid centred on the image (a side that is not a
    multiple of ``patch_size`` leaves partial patches at both ends) and the first
    ``regions_evaluation`` patches are replaced.

    Args:
        patch_size: The side of a patch in pixels (voxels).
        order: ``"morf"`` (most relevant first), ``"lerf"`` (least relevant first) or
            ``"random"`` (a permutation per example from ``seed``).
        regions_evaluation: How many patches to replace (at most all of them).
        seed: Seeds the permutation of ``order="random"``.

    The other arguments are those of :func:`pixel_flipping`.

    Returns:
        A :class:`RegionPerturbationCurve`; ``aopc`` is the per-example score.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> x = torch.randn(2, 1, 4, 4)
        >>> region_perturbation(model, x, x, patch_size=2).drops.shape
        torch.Size([2, 5])
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
    check_map(attributions, inputs, spatial)
    check_positive_int(patch_size, "patch_size")
    check_positive_int(regions_evaluation, "regions_evaluation")
    check_choice("order", order, ("morf", "lerf", "random"))
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"expected seed to be an int, got {type(seed).__name__}")
    base = replacement_values(inputs, baseline)
    values = location_attributions(attributions, spatial, absolute)
    spatial_shape = tuple(values.shape[1:])
    if patch_size > min(spatial_shape):
        raise ValueError(
            f"expected patch_size <= the smallest spatial side {min(spatial_shape)}, "
            f"got {patch_size}"
        )
    segments = grid_segments(spatial_shape, patch_size).to(values.device)
    num_regions = int(segments.max()) + 1
    flat_ids = segments.flatten().expand(values.shape[0], -1)
    sums = segment_sums(values, segments, num_regions)
    if order == "random":
        generator = torch.Generator().manual_seed(seed)
        keys = torch.rand(values.shape[0], num_regions, generator=generator, dtype=torch.float64)
        region_rank = descending_ranks(keys.to(values.device))
    else:
        region_rank = descending_ranks(sums, descending=order == "morf")
    removal_step = region_rank.gather(1, flat_ids).view_as(values)
    steps = min(regions_evaluation, num_regions)
    scores, _ = removal_curve(scorer, inputs, base, removal_step, steps, max_examples_per_batch)
    drops = scores[:, :1] - scores
    return RegionPerturbationCurve(
        order=order, patch_size=patch_size, scores=scores, drops=drops, aopc=drops.mean(dim=1)
    )
