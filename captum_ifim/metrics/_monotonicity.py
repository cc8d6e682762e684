"""Monotonicity correlation (Nguyen & Martinez, 2020), as Quantus 0.6's
``MonotonicityCorrelation``.

The locations are taken in increasing order of attribution, ``features_in_step`` at a
time. Each group ``G_s`` alone is replaced by a baseline (``nr_samples`` draws) and the
mean squared change of the target score, ``v_s = E[(f_y(x_{G_s}) - f_y(x))^2] / f_y(x)^2``
(divided by ``f_y(x)^2`` only where ``|f_y(x)| >= eps``), is rank-correlated (Spearman)
with the group's attribution ``a_s = sum_{i in G_s} g(x)_i``: a faithful map gives the
largest attributions to the groups whose removal changes the prediction most, so the
correlation is high. Quantus's default ranks ``|map|`` (``absolute=True``) and draws each
replacement value from U(0, 1), one per example and draw for the whole group.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead
from captum_ifim._validation import check_positive_int
from captum_ifim.metrics._correlation import _pearson, average_ranks
from captum_ifim.metrics._replacement_values import Replacement, replacement_values
from captum_ifim.metrics._segment_removal import (
    descending_ranks,
    location_attributions,
    location_steps,
    replacement_scores,
    segment_sums,
)
from captum_ifim.metrics._target_scores import Score, target_scorer
from captum_ifim.metrics._validation import check_map, check_nonnegative, resolve_spatial_dims


@dataclass(frozen=True)
class MonotonicityResult:
    """Monotonicity correlation per example.

    Attributes:
        correlation: (N,) float64, Spearman of ``attribution_sums`` and ``variances``;
            ``nan`` where either is constant. Higher is better.
        attribution_sums: (N, S) float64, the attribution of each group, in increasing
            order of attribution.
        variances: (N, S) float64, the scaled mean squared score change of each group.
    """

    correlation: Tensor
    attribution_sums: Tensor
    variances: Tensor


def _uniform_draws(
    num_examples: int, steps: int, samples: int, low: float, high: float, seed: int
) -> Tensor:
    """(N, steps, samples) float64 values from U(low, high), from a CPU generator."""
    generator = torch.Generator().manual_seed(seed)
    draws = torch.rand(num_examples, steps, samples, generator=generator, dtype=torch.float64)
    return low + (high - low) * draws


def monotonicity_correlation(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    *,
    nr_samples: int = 100,
    features_in_step: int = 1,
    baseline: Replacement | Literal["uniform"] = "uniform",
    uniform_range: tuple[float, float] = (0.0, 1.0),
    eps: float = 1e-5,
    absolute: bool = True,
    score: Score = "probability",
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    seed: int = 0,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> MonotonicityResult:
    """Monotonicity correlation (Nguyen & Martinez, 2020); higher is better.

    Args:
        forward_func: The classifier, outputs (N, C).
        inputs: ``(N, *channel dims, *spatial dims)``.
        attributions: The map (inputs' shape, channel dims may be 1).
        target: (N,) labels, an int, or ``None`` for the clean prediction.
        nr_samples: Draws per group (Quantus: 100). A baseline that is not ``"uniform"``
            draws nothing, so one pass per group is made.
        features_in_step: Locations per group (Quantus: 1). The model runs
            ``ceil(L / features_in_step) * nr_samples`` times per example.
        baseline: ``"uniform"`` (one value per example, group and draw from
            U(``uniform_range``)), or a fixed replacement as in
            :func:`~captum_ifim.metrics.faithfulness_correlation`.
        uniform_range: ``(low, high)`` of the uniform draws.
        eps: Scores below this in magnitude are not divided by.
        absolute: Use ``|map|`` (Quantus's default for this metric).
        score: ``"probability"`` (Quantus's ``softmax=True``) or ``"output"``.
        output: The output head.
        spatial_dims: Trailing dims that index a location.
        seed: Seeds the uniform draws.
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: At most this many inputs per forward pass.

    Returns:
        A :class:`MonotonicityResult`; ``correlation`` is the per-example score.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> x = torch.randn(2, 1, 4, 4)
        >>> monotonicity_correlation(model, x, x, nr_samples=3).variances.shape
        torch.Size([2, 16])
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
    check_positive_int(nr_samples, "nr_samples")
    check_positive_int(features_in_step, "features_in_step")
    check_nonnegative(eps, "eps")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"expected seed to be an int, got {type(seed).__name__}")
    values = location_attributions(attributions, spatial, absolute)
    num_examples = values.shape[0]
    steps = location_steps(values[0].numel(), features_in_step)
    group = descending_ranks(values, descending=False) // features_in_step
    sums = segment_sums(values, group, steps)

    names = ("uniform", "black", "white", "mean")
    if isinstance(baseline, str) and baseline not in names:
        raise ValueError(
            f"expected baseline to be a number, a tensor or one of {names}, got {baseline!r}"
        )
    uniform = isinstance(baseline, str) and baseline == "uniform"
    if uniform:
        low, high = uniform_range
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ValueError(
                f"expected a finite uniform_range with low <= high, got {uniform_range}"
            )
        samples = nr_samples
        draws = _uniform_draws(num_examples, steps, samples, low, high, seed)
        draws = draws.to(device=inputs.device, dtype=inputs.dtype)
    else:
        samples = 1  # a fixed replacement gives the same score at every draw
        base = replacement_values(inputs, baseline)  # type: ignore[arg-type]

    group = group.to(inputs.device)
    pairs = torch.arange(steps).repeat_interleave(samples).tolist()  # column s * samples + j

    def removed(start: int, stop: int, first: int, last: int) -> Tensor:
        """Group ``s`` of examples ``start:stop`` for each column ``(s, j)`` of the block."""
        step_ids = torch.tensor(pairs[first:last], device=inputs.device)
        gone = group[start:stop].unsqueeze(0) == step_ids.view(-1, *([1] * group.dim()))
        return gone.flatten(0, 1)

    def fill(start: int, stop: int, first: int, last: int) -> Tensor:
        if uniform:
            drawn = draws.flatten(1)[start:stop, first:last].T.flatten()
            return drawn.view(-1, *([1] * (inputs.dim() - 1)))
        return base[start:stop].repeat(last - first, *([1] * (inputs.dim() - 1)))

    scores, _ = replacement_scores(
        scorer, inputs, steps * samples, removed, fill, max_examples_per_batch
    )
    clean = scorer.clean
    squared = (scores - clean.cpu().unsqueeze(1)).square().view(num_examples, steps, samples)
    magnitude = clean.abs().cpu()
    inverse = torch.where(magnitude >= eps, 1.0 / magnitude, torch.ones_like(magnitude))
    variances = squared.mean(dim=2) * inverse.square().unsqueeze(1)
    sums = sums.cpu()
    correlation = _pearson(average_ranks(sums), average_ranks(variances))
    return MonotonicityResult(correlation=correlation, attribution_sums=sums, variances=variances)
