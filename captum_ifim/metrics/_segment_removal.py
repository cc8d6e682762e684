"""Removing ranked groups of pixels one after another and scoring the model after each.

Pixel flipping removes single locations (or ``features_in_step`` of them) in rank order,
region perturbation removes square (cubic) patches, IROF removes superpixels: each is a
*removal step* per location, and the curve is the target score after steps 1, 2, ...
Faithfulness correlation and monotonicity correlation replace other sets of locations
(random subsets, one group at a time) through the same scoring loop,
:func:`replacement_scores`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from captum_ifim._validation import check_bool
from captum_ifim.metrics._forward import chunk_bounds
from captum_ifim.metrics._pixel_selection import expand_to_input
from captum_ifim.metrics._target_scores import TargetScorer


def location_attributions(attributions: Tensor, spatial_dims: int, absolute: bool) -> Tensor:
    """One float64 value per location: the channel sum of the map (of ``|map|`` if
    ``absolute``), shape ``(N, *spatial dims)``. For a one-channel map it is the map itself,
    Quantus's per-feature value."""
    check_bool(absolute, "absolute")
    values = attributions.detach().double()
    values = values.abs() if absolute else values
    channel_dims = tuple(range(1, attributions.dim() - spatial_dims))
    return values.sum(dim=channel_dims) if channel_dims else values


def descending_ranks(values: Tensor, descending: bool = True) -> Tensor:
    """Rank (0 = first) of each entry of every row of ``values`` (N, ...) flattened, ties
    broken by index; returned in the shape of ``values``."""
    flat = values.flatten(1)
    order = torch.argsort(flat, dim=1, descending=descending, stable=True)
    positions = torch.arange(flat.shape[1], device=flat.device).expand_as(order)
    return torch.empty_like(order).scatter_(1, order, positions).view_as(values)


def removal_curve(
    scorer: TargetScorer,
    inputs: Tensor,
    replacement: Tensor,
    removal_step: Tensor,
    num_steps: int,
    max_examples_per_batch: int | None,
) -> tuple[Tensor, Tensor]:
    """Target scores with the locations of steps ``< s`` replaced, for s = 0..num_steps.

    Args:
        scorer: The model, targets and clean scores (:func:`target_scorer`).
        inputs: ``(N, *channel dims, *spatial dims)``.
        replacement: The replacement values, the inputs' shape.
        removal_step: ``(N, *spatial dims)`` long, the step at which each location goes;
            locations with a step ``>= num_steps`` stay.
        num_steps: The number of removal steps.
        max_examples_per_batch: At most this many inputs per forward pass (``None``: N).
            Several steps of a chunk share a pass when the chunk is smaller than the bound.

    Returns:
        ``(scores, predictions)``: (N, num_steps + 1) float64 and long, column 0 the clean
        inputs'.
    """
    removal_step = removal_step.to(inputs.device)

    def removed(start: int, stop: int, first: int, last: int) -> Tensor:
        """Removal steps ``first + 1 .. last`` of examples ``start:stop``."""
        steps_here = removal_step[start:stop]
        thresholds = torch.arange(first + 1, last + 1, device=inputs.device)
        gone = steps_here.unsqueeze(0) < thresholds.view(-1, *([1] * steps_here.dim()))
        return gone.flatten(0, 1)

    def fill(start: int, stop: int, first: int, last: int) -> Tensor:
        return replacement[start:stop].repeat(last - first, *([1] * (inputs.dim() - 1)))

    removed_scores, removed_predictions = replacement_scores(
        scorer, inputs, num_steps, removed, fill, max_examples_per_batch
    )
    scores = torch.cat([scorer.clean.cpu().unsqueeze(1), removed_scores], dim=1)
    predictions = torch.cat([scorer.clean_predictions.cpu().unsqueeze(1), removed_predictions], 1)
    return scores, predictions


#: ``(start, stop, first, last) -> Tensor``: for examples ``start:stop`` and columns
#: ``first:last``, column-major (the rows of column ``first`` first, as ``score_chunk`` takes
#: repeated slices).
ColumnRows = Callable[[int, int, int, int], Tensor]


def replacement_scores(
    scorer: TargetScorer,
    inputs: Tensor,
    num_columns: int,
    removed: ColumnRows,
    fill: ColumnRows,
    max_examples_per_batch: int | None,
) -> tuple[Tensor, Tensor]:
    """Target scores of the inputs with one set of locations replaced per column.

    Args:
        scorer: The model, targets and clean scores (:func:`target_scorer`).
        inputs: ``(N, *channel dims, *spatial dims)``.
        num_columns: The number of perturbations per example.
        removed: Gives ``(columns * count, *spatial dims)`` bool, the locations each
            column replaces.
        fill: Gives what replaced locations become, broadcastable to ``(columns * count,
            *input dims[1:])``.
        max_examples_per_batch: At most this many inputs per forward pass (``None``: N).
            Several columns of a chunk share a pass when the chunk is smaller than the bound.

    Returns:
        ``(scores, predictions)``: (N, num_columns) float64 and long, on the CPU.
    """
    num_examples = inputs.shape[0]
    bound = max_examples_per_batch or num_examples
    scores = torch.empty(num_examples, num_columns, dtype=torch.float64)
    predictions = torch.empty(num_examples, num_columns, dtype=torch.long)
    for start, stop in chunk_bounds(num_examples, bound):
        count = stop - start
        x = inputs[start:stop]
        per_pass = max(1, bound // count)
        for first in range(0, num_columns, per_pass):
            last = min(first + per_pass, num_columns)
            mask = expand_to_input(removed(start, stop, first, last), inputs.dim())
            tiles = (last - first, *([1] * (x.dim() - 1)))
            perturbed = torch.where(mask, fill(start, stop, first, last), x.repeat(tiles))
            values, labels = scorer.score_chunk(perturbed, start, stop)
            scores[start:stop, first:last] = values.view(last - first, count).T.cpu()
            predictions[start:stop, first:last] = labels.view(last - first, count).T.cpu()
    return scores, predictions


def location_steps(num_locations: int, features_in_step: int) -> int:
    """``ceil(num_locations / features_in_step)``, the steps that take ``features_in_step``
    (a positive int) locations at a time; more than ``num_locations`` is refused."""
    if features_in_step > num_locations:
        raise ValueError(
            f"expected features_in_step <= the {num_locations} locations, got {features_in_step}"
        )
    return math.ceil(num_locations / features_in_step)


def segment_sums(values: Tensor, segments: Tensor, num_segments: int) -> Tensor:
    """(N, num_segments) float64: the sum of ``values`` (N, ...) over each segment, with
    ``segments`` the segment of each entry (long, broadcastable to ``values``' shape)."""
    flat = segments.expand_as(values).flatten(1)
    sums = torch.zeros(values.shape[0], num_segments, dtype=torch.float64, device=values.device)
    return sums.scatter_add_(1, flat, values.flatten(1))
