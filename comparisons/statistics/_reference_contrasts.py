"""Contrasts of the reference method with every other method on the same examples.

The reference is the paper's (:data:`comparisons.paper.REFERENCE`, ``ifim-sensitive``).
Every method of a (dataset, model, seed) is scored on the same test images with the same
noise and FGSM inputs, so each contrast is a paired comparison, matched by example (the
file it writes is ``paired.csv``). Per (dataset, model, metric, setting) and other method:

- **difference**: reference minus method, the mean over seeds of each seed's difference of
  the row's statistic on the examples both have (examples with an undefined value dropped);
- **interval**: 95 % percentile bootstrap of that difference, seeds then examples (the same
  example indices for both methods; :mod:`._bootstrap`);
- **p-value**, two-sided: a Wilcoxon signed-rank test of the per-example differences pooled
  over seeds for per-example metrics; a paired permutation test for the set-level F1 rows
  (each example's predictions swapped between the two methods at random, the statistic the
  absolute mean-over-seeds difference, :func:`scipy.stats.permutation_test`; a permuted
  statistic that is undefined counts as extreme). An F1 ratio that is infinite in a seed
  has no test: its row says so and the claim's stand-in (dF1) carries the comparison; so has
  a contrast of fewer than :data:`MIN_PAIRS` paired examples (one evaluated image), and
  one whose test cannot be computed: the note says why, the p-value is NaN;
- **Holm**: the p-values of one (dataset, model, metric, setting) are adjusted together
  across the methods compared (statsmodels ``multipletests``, ``method="holm"``).
"""

from __future__ import annotations

import csv
import gc
import io
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

from comparisons.metrics import row_statistic
from comparisons.paper import ALPHA, REFERENCE
from comparisons.statistics._bootstrap import (
    N_RESAMPLES,
    NO_INTERVAL,
    seeded_rng,
    two_level_interval,
)
from comparisons.statistics._directions import metric_direction
from comparisons.statistics._order import dataset_models, metric_settings, order_methods, unique
from comparisons.statistics._samples import RowSample, RunSamples, paired_positions
from comparisons.statistics._summary import SummaryRow

#: The fewest paired examples (over all seeds) a test is run on: a permutation test
#: cannot permute one example, and a signed-rank test of one difference says nothing.
MIN_PAIRS = 2

#: The columns of ``paired.csv``, in order.
PAIRED_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "metric",
    "setting",
    "reference",
    "method",
    "direction",
    "reference_value",
    "method_value",
    "difference",
    "ci_low",
    "ci_high",
    "ci_resampling",
    "test",
    "p_value",
    "p_holm",
    "favours",
    "n_seeds",
    "seeds_favouring_reference",
    "n_pairs",
    "note",
)


@dataclass(frozen=True)
class ReferenceContrast:
    """The reference against one other method on one (dataset, model, metric, setting).

    Attributes:
        dataset, model, metric, setting: What was compared.
        reference, method: The two methods; ``difference`` is reference minus method.
        direction: The metric's direction (``"higher"`` or ``"lower"``).
        reference_value, method_value: Each one's mean over seeds on the paired examples.
        difference, ci_low, ci_high, ci_resampling: The difference and its interval.
        test: ``"wilcoxon"``, ``"permutation"`` or ``""`` (none possible).
        p_value: Two-sided, NaN without a test; ``p_holm`` Holm-adjusted.
        favours: The method the difference favours when ``p_holm < ALPHA``, else ``""``.
        n_seeds: Seeds with both methods; ``seeds_favouring_reference`` of them favour it.
        n_pairs: Examples matched in both methods, over all seeds.
        note: Why there is no test, when there is none.
    """

    dataset: str
    model: str
    metric: str
    setting: str
    reference: str
    method: str
    direction: str
    reference_value: float
    method_value: float
    difference: float
    ci_low: float
    ci_high: float
    ci_resampling: str
    test: str
    p_value: float
    p_holm: float
    favours: str
    n_seeds: int
    seeds_favouring_reference: int
    n_pairs: int
    note: str

    @property
    def significant(self) -> bool:
        return bool(self.favours)


def _better(difference: float, direction: str) -> bool | None:
    """Whether a reference-minus-method difference favours the reference (None: a tie)."""
    if math.isnan(difference) or difference == 0:
        return None
    return difference > 0 if direction == "higher" else difference < 0


def _permutation_p(
    matched: Sequence[tuple[RowSample, RowSample]], rng: np.random.Generator
) -> float:
    """Two-sided p of the paired permutation test of the mean-over-seeds difference: each
    example's code (its label and the method's predictions) swapped between the methods."""
    bounds = np.cumsum([0] + [a.n for a, _ in matched])

    def statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
        differences = []
        with np.errstate(all="ignore"):
            for i, (a, b) in enumerate(matched):
                window = slice(bounds[i], bounds[i + 1])
                differences.append(
                    a.statistic_of_codes(x[..., window]) - b.statistic_of_codes(y[..., window])
                )
            mean = np.mean(np.stack(differences, axis=-1), axis=-1)
        # An undefined permuted statistic (an F1 ratio 0/0) counts as extreme: conservative.
        return np.where(np.isfinite(mean), np.abs(mean), np.inf)

    x = np.concatenate([a.codes for a, _ in matched])
    y = np.concatenate([b.codes for _, b in matched])
    result = stats.permutation_test(
        (x, y),
        statistic,
        permutation_type="samples",
        vectorized=True,
        n_resamples=N_RESAMPLES,
        alternative="greater",
        rng=rng,
    )
    return float(result.pvalue)


def _wilcoxon_p(matched: Sequence[tuple[RowSample, RowSample]]) -> float:
    differences = np.concatenate([a.parts[0] - b.parts[0] for a, b in matched])
    if differences.size == 0:
        return math.nan
    if np.all(differences == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.wilcoxon(differences).pvalue)


def contrast_with_reference(
    dataset: str,
    model: str,
    metric: str,
    setting: str,
    reference: dict[int, RowSample],
    other: dict[int, RowSample],
    method: str,
    reference_name: str = REFERENCE,
) -> ReferenceContrast:
    """The contrast of the reference with one method (``p_holm`` and ``favours`` are set by
    :func:`reference_contrasts`).

    Args:
        reference, other: The two methods' samples by seed.
    """
    direction = metric_direction(metric).direction
    seeds = sorted(set(reference) & set(other))
    matched = []
    for seed in seeds:
        common = paired_positions(reference[seed], other[seed])
        if common.size:
            matched.append((reference[seed].restricted(common), other[seed].restricted(common)))
    base = ReferenceContrast(
        dataset=dataset,
        model=model,
        metric=metric,
        setting=setting,
        reference=reference_name,
        method=method,
        direction=direction,
        reference_value=math.nan,
        method_value=math.nan,
        difference=math.nan,
        ci_low=math.nan,
        ci_high=math.nan,
        ci_resampling="",
        test="",
        p_value=math.nan,
        p_holm=math.nan,
        favours="",
        n_seeds=len(matched),
        seeds_favouring_reference=0,
        n_pairs=int(sum(a.n for a, _ in matched)),
        note="",
    )
    if not matched:
        return replace(base, note="no examples in common")
    values = np.array([[a.value(), b.value()] for a, b in matched])
    with np.errstate(all="ignore"):
        seed_differences = values[:, 0] - values[:, 1]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        reference_value, method_value = np.nanmean(values, axis=0)
        difference = float(np.nanmean(seed_differences))
    favouring = sum(bool(_better(float(d), direction)) for d in seed_differences)

    def statistic_of(a: RowSample, b: RowSample) -> Callable[[np.ndarray], np.ndarray]:
        return lambda indices: a.evaluate(indices) - b.evaluate(indices)

    rng = seeded_rng("paired", dataset, model, metric, setting, method)
    finite = bool(np.all(np.isfinite(values)))
    interval = (
        two_level_interval([(a.n, statistic_of(a, b)) for a, b in matched], rng)
        if finite
        else NO_INTERVAL
    )
    note, test, p_value = "", "", math.nan
    n_pairs = int(sum(a.n for a, _ in matched))
    if not finite:
        note = "infinite or undefined in a seed (F1 after perturbing the high set is 0): no test"
    elif n_pairs < MIN_PAIRS:
        note = f"fewer than {MIN_PAIRS} paired examples ({n_pairs}), so no test"
    else:
        set_level = matched[0][0].statistic.set_level
        test = "permutation" if set_level else "wilcoxon"
        try:
            p_value = _permutation_p(matched, rng) if set_level else _wilcoxon_p(matched)
        except (ValueError, FloatingPointError, ZeroDivisionError) as error:
            note = f"the {test} test could not be computed ({error}), so no test"
            test, p_value = "", math.nan
    return replace(
        base,
        reference_value=float(reference_value),
        method_value=float(method_value),
        difference=difference,
        ci_low=interval.low,
        ci_high=interval.high,
        ci_resampling=interval.resampling,
        test=test,
        p_value=p_value,
        seeds_favouring_reference=favouring,
        note=note,
    )


def holm_adjusted(contrasts: Sequence[ReferenceContrast]) -> list[ReferenceContrast]:
    """``p_holm`` and ``favours`` set within one family (one dataset, model, metric,
    setting); comparisons without a p-value keep NaN."""
    tested = [i for i, c in enumerate(contrasts) if not math.isnan(c.p_value)]
    adjusted = [math.nan] * len(contrasts)
    if tested:
        # statsmodels' Holm branch calls gc.collect() on every call, which scans every live
        # object (a third of a second in a report); frozen objects are not scanned.
        gc.freeze()
        try:
            _, corrected, _, _ = multipletests(
                [contrasts[i].p_value for i in tested], alpha=ALPHA, method="holm"
            )
        finally:
            gc.unfreeze()
        for i, p in zip(tested, corrected, strict=True):
            adjusted[i] = float(p)
    result = []
    for comparison, p in zip(contrasts, adjusted, strict=True):
        favours = ""
        better = _better(comparison.difference, comparison.direction)
        if not math.isnan(p) and p < ALPHA and better is not None:
            favours = comparison.reference if better else comparison.method
        result.append(replace(comparison, p_holm=p, favours=favours))
    return result


def contrasted_metrics(summary: Sequence[SummaryRow]) -> list[str]:
    """The result-row metrics a contrast applies to: a direction (higher or lower) and
    per-example values."""
    return unique(
        s.metric
        for s in summary
        if s.method
        and metric_direction(s.metric).direction in ("higher", "lower")
        and row_statistic(s.metric) is not None
    )


def reference_contrasts(
    summary: Sequence[SummaryRow], samples: RunSamples, reference: str = REFERENCE
) -> list[ReferenceContrast]:
    """Every contrast of ``reference`` with another method in the run, Holm-adjusted per
    family, in table order ((dataset, model)s, metrics, settings, methods in registry
    order)."""
    result: list[ReferenceContrast] = []
    metrics = contrasted_metrics(summary)
    for dataset, model in dataset_models(summary):
        for metric in metrics:
            for setting in metric_settings(summary, metric, dataset, model):
                if metric_direction(metric, setting).direction not in ("higher", "lower"):
                    continue  # a descriptive setting (region=cue): nothing to favour
                rows = [
                    s
                    for s in summary
                    if (s.dataset, s.model, s.metric, s.setting)
                    == (dataset, model, metric, setting)
                ]
                methods = order_methods(s.method for s in rows)
                if reference not in methods:
                    continue
                by_method = {
                    m: {
                        seed: sample
                        for s in rows
                        if s.method == m
                        for seed in s.seeds
                        if (sample := samples.sample(dataset, model, seed, m, metric, setting))
                        is not None
                    }
                    for m in methods
                }
                if not by_method[reference]:
                    continue
                family = [
                    contrast_with_reference(
                        dataset,
                        model,
                        metric,
                        setting,
                        by_method[reference],
                        by_method[m],
                        m,
                        reference,
                    )
                    for m in methods
                    if m != reference and by_method[m]
                ]
                result += holm_adjusted(family)
    return result


def paired_csv(contrasts: Sequence[ReferenceContrast]) -> str:
    """``paired.csv`` with :data:`PAIRED_COLUMNS` (NaN written empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PAIRED_COLUMNS)
    for c in contrasts:
        writer.writerow(
            [
                ""
                if isinstance(v, float) and math.isnan(v)
                else (repr(v) if isinstance(v, float) else v)
                for v in (getattr(c, column) for column in PAIRED_COLUMNS)
            ]
        )
    return buffer.getvalue()
