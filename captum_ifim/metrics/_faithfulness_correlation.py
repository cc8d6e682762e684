"""Faithfulness correlation (Bhatt et al., 2020), as Quantus 0.6's ``FaithfulnessCorrelation``.

For ``nr_runs`` random subsets ``S`` of ``subset_size`` locations, the subset is replaced
by the baseline and the score drop ``f_y(x) - f_y(x_S)`` is correlated (Pearson, over the
runs) with the attribution summed over ``S``:
``mu_F = corr_S( sum_{i in S} g(x)_i , f_y(x) - f_y(x_{[x_S = baseline]}) )``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead
from captum_ifim._validation import check_positive_int
from captum_ifim.metrics._correlation import _pearson
from captum_ifim.metrics._replacement_values import Replacement, replacement_values
from captum_ifim.metrics._segment_removal import location_attributions, replacement_scores
from captum_ifim.metrics._target_scores import Score, target_scorer
from captum_ifim.metrics._validation import check_map, resolve_spatial_dims


@dataclass(frozen=True)
class FaithfulnessCorrelationResult:
    """Faithfulness correlation per example.

    Attributes:
        correlation: (N,) float64, Pearson over the runs; ``nan`` where either series is
            constant. Higher is better.
        attribution_sums: (N, nr_runs) float64, the attribution summed over each subset.
        score_drops: (N, nr_runs) float64, ``f_y(x) - f_y(x_S)`` for each subset.
    """

    correlation: Tensor
    attribution_sums: Tensor
    score_drops: Tensor


def random_subsets(
    num_examples: int, num_locations: int, subset_size: int, nr_runs: int, seed: int
) -> Tensor:
    """(N, nr_runs, subset_size) long: for every example and run, ``subset_size`` distinct
    locations drawn uniformly without replacement, from a CPU generator seeded with ``seed``
    (the same draws on every device)."""
    generator = torch.Generator().manual_seed(seed)
    # One example at a time: (nr_runs, L) keys at once, not (N, nr_runs, L).
    return torch.stack(
        [
            torch.rand(nr_runs, num_locations, generator=generator).topk(subset_size).indices
            for _ in range(num_examples)
        ]
    )


def faithfulness_correlation(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    *,
    nr_runs: int = 100,
    subset_size: int = 224,
    baseline: Replacement = "black",
    absolute: bool = False,
    score: Score = "output",
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    seed: int = 0,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> FaithfulnessCorrelationResult:
    """Faithfulness correlation (Bhatt et al., 2020); higher is better.

    Args:
        forward_func: The classifier, outputs (N, C).
        inputs: ``(N, *channel dims, *spatial dims)``.
        attributions: The map (inputs' shape, channel dims may be 1); a location's
            attribution is its channel sum (of ``|map|`` if ``absolute``).
        target: (N,) labels, an int, or ``None`` for the clean prediction.
        nr_runs: Random subsets per example (Quantus: 100); one forward pass each.
        subset_size: Locations per subset (Quantus: 224), at most the number of locations.
        baseline: What a replaced location becomes: a number, a tensor broadcastable to the
            inputs, or ``"black"`` (each example's minimum, Quantus's default), ``"white"``
            (its maximum), ``"mean"`` (its mean).
        absolute: Use ``|map|`` (Quantus's ``abs``, off by default).
        score: ``"output"``, the raw target output (Quantus's ``softmax=False``, its default
            for this metric), or its ``"probability"``.
        output: The output head.
        spatial_dims: Trailing dims that index a location.
        seed: Seeds the subsets (:func:`random_subsets`): the result is a function of it.
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: At most this many inputs per forward pass.

    Returns:
        A :class:`FaithfulnessCorrelationResult`; ``correlation`` is the per-example score.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
        >>> model = model.double().eval()
        >>> x = torch.randn(2, 1, 4, 4, dtype=torch.float64)
        >>> exact = x * model[1].weight[1].view(1, 1, 4, 4)  # logit 1's own terms
        >>> r = faithfulness_correlation(model, x, exact, 1, nr_runs=20, subset_size=4,
        ...                              baseline=0.0)
        >>> r.correlation.round(decimals=6).tolist()  # the drops are the sums: r = 1
        [1.0, 1.0]
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
    check_positive_int(nr_runs, "nr_runs")
    check_positive_int(subset_size, "subset_size")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"expected seed to be an int, got {type(seed).__name__}")
    base = replacement_values(inputs, baseline)
    values = location_attributions(attributions, spatial, absolute).flatten(1)
    num_examples, num_locations = values.shape
    if subset_size > num_locations:
        raise ValueError(
            f"expected subset_size <= the {num_locations} locations, got {subset_size}"
        )
    subsets = random_subsets(num_examples, num_locations, subset_size, nr_runs, seed)
    subsets = subsets.to(values.device)
    sums = values.gather(1, subsets.flatten(1)).view(num_examples, nr_runs, -1).sum(dim=2)
    spatial_shape = inputs.shape[inputs.dim() - spatial :]

    def removed(start: int, stop: int, first: int, last: int) -> Tensor:
        """Subsets ``first:last`` of examples ``start:stop``."""
        chosen = subsets[start:stop, first:last].transpose(0, 1).flatten(0, 1)
        gone = torch.zeros(chosen.shape[0], num_locations, dtype=torch.bool)
        gone = gone.to(inputs.device).scatter_(1, chosen, True)
        return gone.view(-1, *spatial_shape)

    def fill(start: int, stop: int, first: int, last: int) -> Tensor:
        return base[start:stop].repeat(last - first, *([1] * (inputs.dim() - 1)))

    perturbed_scores, _ = replacement_scores(
        scorer, inputs, nr_runs, removed, fill, max_examples_per_batch
    )
    drops = scorer.clean.cpu().unsqueeze(1) - perturbed_scores
    sums = sums.cpu()
    return FaithfulnessCorrelationResult(
        correlation=_pearson(sums, drops), attribution_sums=sums, score_drops=drops
    )
