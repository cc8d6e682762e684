"""Rank-based localization against a ground-truth mask: relevance rank accuracy and the
ROC AUC of the map as a detector of the mask.

Like :func:`energy_in_mask` and :func:`pointing_game`, both score the channel-summed
``|map|`` (s, see :func:`spatial_saliency`) per location against a binary mask of the same
locations, in 2-D or 3-D. Where they differ from Quantus (0.6) is said per function.
"""

from __future__ import annotations

import torch
from torch import Tensor

from captum_ifim.metrics._correlation import average_ranks
from captum_ifim.metrics._localization import _check, _warn_empty
from captum_ifim.metrics._validation import check_batch_tensor


def relevance_rank_accuracy(
    attributions: Tensor, masks: Tensor, *, spatial_dims: int | None = None
) -> Tensor:
    """Relevance rank accuracy (Arras et al., 2022): the share of the mask among the map's
    top K locations, K = the mask's size; higher is better.

    ``|{top-K locations of s} ∩ mask| / K``. Ties at the K-th score are shared: the tied
    locations count with the probability that a uniformly random order puts each of them in
    the top K, so a flat map scores the mask's share of the image, not 1 by luck (for a map
    without ties this is Quantus's ``RelevanceRankAccuracy``, which breaks ties by the
    order of ``argsort``). Quantus ranks the signed map by default (``abs=False``); here
    s is ``|map|``, as in :func:`energy_in_mask`.

    Args:
        attributions: ``(N, *channel dims, *spatial dims)``.
        masks: ``(N, *spatial dims)`` or ``(N, 1, ..., *spatial dims)``, bool or {0, 1}.
        spatial_dims: Trailing dims that index a location; see :func:`spatial_saliency`.

    Returns:
        (N,) float64 in [0, 1]; ``nan`` (with a warning) for an empty mask.

    Example:
        >>> m = torch.tensor([[[[4.0, 3.0], [1.0, 2.0]]]])
        >>> relevance_rank_accuracy(m, torch.tensor([[[[1, 0], [1, 0]]]])).tolist()
        [0.5]
    """
    check_batch_tensor(attributions, "attributions")
    scores, mask = _check(attributions, masks, spatial_dims)
    flat, inside = scores.flatten(1), mask.flatten(1)
    k = inside.sum(dim=1)
    ordered = flat.sort(dim=1, descending=True).values
    kth = ordered.gather(1, (k - 1).clamp(min=0).unsqueeze(1))
    above, tied = flat > kth, flat == kth
    n_above, n_tied = above.sum(dim=1), tied.sum(dim=1)
    hits = (above & inside).sum(dim=1) + (tied & inside).sum(dim=1) * (k - n_above) / n_tied
    empty = k == 0
    _warn_empty(empty, "an empty mask")
    accuracy = hits.double() / k.clamp(min=1)
    return accuracy.masked_fill(empty, float("nan"))


def mask_roc_auc(attributions: Tensor, masks: Tensor, *, spatial_dims: int | None = None) -> Tensor:
    """Area under the ROC curve of s as a score that separates mask locations from the
    rest (Fawcett, 2006; Quantus's localisation ``AUC``); higher is better, 0.5 is chance.

    ``AUC = (sum_{p in mask} r(p) - P (P + 1) / 2) / (P Q)`` with r the 1-based ranks of s
    (ties share their average rank), P the mask's size and Q the rest: the probability that
    a random mask location outscores a random other one, ties counting 1/2 (the trapezoid
    of scikit-learn's ``roc_curve``, which Quantus calls). Quantus scores the signed map
    by default (``abs=False``); here s is ``|map|``.

    Args:
        attributions: ``(N, *channel dims, *spatial dims)``.
        masks: ``(N, *spatial dims)`` or ``(N, 1, ..., *spatial dims)``, bool or {0, 1}.
        spatial_dims: Trailing dims that index a location; see :func:`spatial_saliency`.

    Returns:
        (N,) float64 in [0, 1]; ``nan`` (with a warning) for a mask that is empty or covers
        every location (no ROC curve).

    Example:
        >>> m = torch.tensor([[[[4.0, 3.0], [1.0, 2.0]]]])
        >>> mask_roc_auc(m, torch.tensor([[[[1, 0], [1, 0]]]])).tolist()
        [0.5]
    """
    check_batch_tensor(attributions, "attributions")
    scores, mask = _check(attributions, masks, spatial_dims)
    flat, inside = scores.flatten(1), mask.flatten(1)
    positives = inside.sum(dim=1).double()
    negatives = inside.shape[1] - positives
    ranks = average_ranks(flat)
    rank_sum = (ranks * inside).sum(dim=1)
    undefined = (positives == 0) | (negatives == 0)
    _warn_empty(undefined, "a mask that is empty or covers every location")
    auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives).clamp(min=1)
    return torch.where(undefined, torch.full_like(auc, float("nan")), auc)
