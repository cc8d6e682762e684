"""Removing ranked groups of pixels one after another and scoring the model after each.

Pixel flipping removes single locations (or ``features_in_step`` of them) in rank order,
region perturbation removes square (cubic) patches, IROF removes superpixels: each is a
*removal step* per location, and the curve is the target score after steps 1, 2, ...
"""

from __future__ import annotations

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
    num_examples = inputs.shape[0]
    bound = max_examples_per_batch or num_examples
    removal_step = removal_step.to(inputs.device)
    scores = torch.empty(num_examples, num_steps + 1, dtype=torch.float64)
    predictions = torch.empty(num_examples, num_steps + 1, dtype=torch.long)
    scores[:, 0], predictions[:, 0] = scorer.clean.cpu(), scorer.clean_predictions.cpu()
    for start, stop in chunk_bounds(num_examples, bound):
        x, base = inputs[start:stop], replacement[start:stop]
        steps_here = removal_step[start:stop]
        per_pass = max(1, bound // (stop - start))
        for first in range(1, num_steps + 1, per_pass):
            last = min(first + per_pass, num_steps + 1)
            thresholds = torch.arange(first, last, device=inputs.device)
            removed = steps_here.unsqueeze(0) < thresholds.view(-1, *([1] * steps_here.dim()))
            removed = expand_to_input(removed.flatten(0, 1), inputs.dim())
            tiles = (last - first, *([1] * (x.dim() - 1)))
            perturbed = torch.where(removed, base.repeat(tiles), x.repeat(tiles))
            values, labels = scorer.score_chunk(perturbed, start, stop)
            count = stop - start
            scores[start:stop, first:last] = values.view(last - first, count).T.cpu()
            predictions[start:stop, first:last] = labels.view(last - first, count).T.cpu()
    return scores, predictions
