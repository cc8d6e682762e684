"""The report's statistics against answers known by construction.

Bootstrap intervals cover the true value at about their nominal rate over repeated seeded
draws (fixed seeds: the counts are deterministic, never flaky); the paired tests reject a
planted effect and keep the null; Holm matches a hand computation; the Friedman statistic
matches scipy's; the vectorised F1 matches scikit-learn's (the library's ``f1``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from captum_ifim.metrics._contrastive_perturbation import f1 as library_f1
from comparisons.metrics import RowStatistic, mean_of
from comparisons.reporting import (
    PairedComparison,
    ResultRow,
    RowSample,
    compare_pair,
    example_interval,
    f1_scores,
    friedman_statistic,
    holm_adjusted,
    rank_analysis,
    seed_interval,
    seeded_rng,
    two_level_interval,
)

RATIO = RowStatistic("ratio-of-f1", ("prediction-low-perturbed", "prediction-high-perturbed"))
DIFFERENCE = RowStatistic(
    "difference-of-f1", ("prediction-low-perturbed", "prediction-high-perturbed")
)


def _mean_sample(values: np.ndarray) -> RowSample:
    n = values.size
    return RowSample(mean_of("x"), np.arange(n), np.zeros(n, dtype=np.int64), 2, (values,))


def _f1_sample(
    statistic: RowStatistic, labels: np.ndarray, *parts: np.ndarray, classes: int = 2
) -> RowSample:
    return RowSample(statistic, np.arange(labels.size), labels, classes, parts)


# --- F1 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("classes", [2, 3, 4])
def test_vectorised_f1_is_scikit_learns(classes: int) -> None:
    import torch

    rng = np.random.default_rng(classes)
    for trial in range(30):
        n = int(rng.integers(1, 25))
        labels = rng.integers(0, classes, n)
        # some trials predict one class only, or never the positive class
        high = classes if trial % 5 else 1
        predictions = rng.integers(0, high, n)
        expected = library_f1(torch.tensor(labels), torch.tensor(predictions), classes)
        assert f1_scores(labels, predictions, classes) == pytest.approx(expected, abs=1e-12)
    # batched (resamples x n) equals one by one
    labels = rng.integers(0, classes, (7, 40))
    predictions = rng.integers(0, classes, (7, 40))
    batched = f1_scores(labels, predictions, classes)
    one_by_one = [f1_scores(labels[i], predictions[i], classes) for i in range(7)]
    np.testing.assert_allclose(batched, one_by_one, rtol=0, atol=0)


def test_row_samples_recompute_their_rows() -> None:
    labels = np.array([1, 1, 0, 0, 1, 0])
    low = np.array([1, 1, 0, 0, 1, 1])  # F1 = 6/7
    high = np.array([0, 1, 0, 0, 0, 0])  # F1 = 2/4
    assert _f1_sample(RATIO, labels, low, high).value() == pytest.approx((6 / 7) / 0.5)
    assert _f1_sample(DIFFERENCE, labels, low, high).value() == pytest.approx(6 / 7 - 0.5)
    zero = np.zeros(6, dtype=np.int64)  # never the positive class: F1 = 0, ratio inf
    assert math.isinf(_f1_sample(RATIO, labels, low, zero).value())
    values = np.array([0.2, np.nan, 0.4, np.inf])
    assert _mean_sample(values).value() == pytest.approx(0.3)  # the finite mean


# --- intervals ----------------------------------------------------------------------------


def test_example_intervals_cover_the_true_mean_at_the_nominal_rate() -> None:
    """200 samples of 60 draws from a skewed distribution (exponential, mean 1)."""
    covered = 0
    for trial in range(200):
        data = np.random.default_rng(1000 + trial).exponential(1.0, 60)
        sample = _mean_sample(data)
        interval = example_interval(sample.n, sample.evaluate, seeded_rng("coverage", trial))
        assert interval.resampling == "examples" and interval.low < data.mean() < interval.high
        covered += interval.low <= 1.0 <= interval.high
    # percentile intervals of a skewed mean run a little below 95 % at n = 60
    assert 176 <= covered <= 196, covered


def test_example_intervals_of_f1_cover_the_population_f1() -> None:
    """Predictions right 80 % of the time on balanced binary labels: F1 = 0.8 exactly in the
    population (precision = recall = 0.8)."""
    covered = 0
    for trial in range(150):
        rng = np.random.default_rng(5000 + trial)
        labels = rng.integers(0, 2, 200)
        predictions = np.where(rng.random(200) < 0.8, labels, 1 - labels)
        sample = _f1_sample(RowStatistic("f1", ("p",)), labels, predictions)
        interval = example_interval(sample.n, sample.evaluate, seeded_rng("f1", trial))
        covered += interval.low <= 0.8 <= interval.high
    assert 134 <= covered <= 148, covered


def test_two_level_intervals_cover_the_mean_over_seeds() -> None:
    """Seeds with their own means (sd 0.3 around 1) and examples around each (sd 1): the
    interval of the mean over 8 seeds covers the population mean 1 at about 95 %."""
    covered = 0
    for trial in range(120):
        rng = np.random.default_rng(9000 + trial)
        seeds = [_mean_sample(rng.normal(1 + 0.3 * rng.normal(), 1.0, 40)) for _ in range(8)]
        interval = two_level_interval([(s.n, s.evaluate) for s in seeds], seeded_rng(trial))
        assert interval.resampling == "seeds+examples"
        covered += interval.low <= 1.0 <= interval.high
    # two levels count the example noise twice: a little conservative with 8 seeds
    assert 108 <= covered <= 120, covered


def test_intervals_are_seeded_and_say_when_there_is_none() -> None:
    sample = _mean_sample(np.random.default_rng(0).normal(size=30))
    first = example_interval(sample.n, sample.evaluate, seeded_rng("a", 1))
    again = example_interval(sample.n, sample.evaluate, seeded_rng("a", 1))
    assert first == again
    assert not example_interval(1, sample.evaluate, seeded_rng(0)).defined
    assert not seed_interval([0.1, 0.2], seeded_rng(0)).defined  # fewer than 3 seeds
    assert seed_interval([0.1, 0.2, 0.3, 0.25], seeded_rng(0)).resampling == "seeds"
    # one seed: the two-level interval is the examples' interval
    one = two_level_interval([(sample.n, sample.evaluate)], seeded_rng("a", 1))
    assert one == first


def test_an_infinite_ratio_gives_an_unbounded_interval_not_an_error() -> None:
    labels = np.tile([0, 1], 20)
    low = labels.copy()
    high = np.zeros_like(labels)
    high[:3] = 1  # F1 of the high set near 0: some resamples have none of them
    sample = _f1_sample(RATIO, labels, low, high)
    interval = example_interval(sample.n, sample.evaluate, seeded_rng(0))
    assert interval.low > 1 and math.isinf(interval.high)


# --- paired tests -------------------------------------------------------------------------


def _pair(reference: dict[int, RowSample], other: dict[int, RowSample]) -> PairedComparison:
    return holm_adjusted([compare_pair("d", "m", "deletion-auc", "", reference, other, "other")])[0]


def test_the_wilcoxon_comparison_rejects_a_planted_effect_and_keeps_the_null() -> None:
    rejected_null, rejected_effect = 0, 0
    for trial in range(40):
        rng = np.random.default_rng(trial)
        base = {seed: rng.normal(0.5, 0.2, 50) for seed in (0, 1)}
        noise = {seed: rng.normal(0, 0.1, 50) for seed in (0, 1)}
        reference = {s: _mean_sample(base[s]) for s in base}
        same = {s: _mean_sample(base[s] + noise[s]) for s in base}
        # deletion AUC: lower is better; the other method is 0.08 worse on average
        worse = {s: _mean_sample(base[s] + noise[s] + 0.08) for s in base}
        null, effect = _pair(reference, same), _pair(reference, worse)
        assert null.test == effect.test == "wilcoxon" and effect.n_pairs == 100
        rejected_null += null.p_holm < 0.05
        rejected_effect += effect.p_holm < 0.05
        if effect.favours:
            assert effect.favours == "ifim-sensitive" and effect.difference < 0
            assert effect.ci_high < 0
    assert rejected_null <= 5  # about 5 % of 40
    assert rejected_effect == 40


def test_the_permutation_test_rejects_a_planted_f1_effect_and_keeps_the_null() -> None:
    rejected_null, rejected_effect = 0, 0
    for trial in range(12):
        rng = np.random.default_rng(100 + trial)
        labels = rng.integers(0, 2, 120)

        def outcomes(right: float, rng=rng, labels=labels) -> np.ndarray:
            return np.where(rng.random(120) < right, labels, 1 - labels)

        low = outcomes(0.9)
        reference = {0: _f1_sample(DIFFERENCE, labels, low, outcomes(0.45))}
        same = {0: _f1_sample(DIFFERENCE, labels, low, outcomes(0.45))}
        weaker = {0: _f1_sample(DIFFERENCE, labels, low, outcomes(0.8))}
        null = holm_adjusted([compare_pair("d", "m", "f1-difference", "a", reference, same, "x")])[
            0
        ]
        effect = holm_adjusted(
            [compare_pair("d", "m", "f1-difference", "a", reference, weaker, "x")]
        )[0]
        assert null.test == effect.test == "permutation"
        rejected_null += null.p_holm < 0.05
        rejected_effect += effect.p_holm < 0.05
        assert effect.difference > 0
    assert rejected_null <= 2
    assert rejected_effect == 12


def test_an_infinite_ratio_has_no_test_and_says_why() -> None:
    labels = np.tile([0, 1], 10)
    never = np.zeros(20, dtype=np.int64)
    reference = {0: _f1_sample(RATIO, labels, labels, never)}
    other = {0: _f1_sample(RATIO, labels, labels, labels)}
    result = _pair(reference, other)
    assert result.test == "" and math.isnan(result.p_value) and "infinite" in result.note


def test_holm_matches_a_hand_computation() -> None:
    p_values = [0.01, 0.04, 0.03, 0.005, math.nan]
    template = compare_pair(
        "d",
        "m",
        "deletion-auc",
        "",
        {0: _mean_sample(np.ones(3))},
        {0: _mean_sample(np.zeros(3))},
        "x",
    )
    family = [
        PairedComparison(**{**template.__dict__, "method": f"m{i}", "p_value": p})
        for i, p in enumerate(p_values)
    ]
    adjusted = [c.p_holm for c in holm_adjusted(family)]
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> 0.06 (monotone)
    np.testing.assert_allclose(adjusted[:4], [0.03, 0.06, 0.06, 0.02])
    assert math.isnan(adjusted[4])
    # deletion-auc is lower-better and the reference is higher (1 vs 0): it favours the method
    favours = [c.favours for c in holm_adjusted(family)]
    assert favours == ["m0", "", "", "m3", ""]


# --- ranks --------------------------------------------------------------------------------


def test_the_friedman_statistic_is_scipys_with_ties() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        values = rng.integers(0, 4, size=(int(rng.integers(3, 12)), int(rng.integers(3, 7))))
        if np.all(values == values[:, :1]):
            continue
        ranks = stats.rankdata(values, axis=1)
        expected = stats.friedmanchisquare(*values.T).statistic
        assert friedman_statistic(ranks) == pytest.approx(expected, rel=1e-12)


def test_rank_analysis_orients_by_direction_and_matches_scipy() -> None:
    methods = ["ifim-sensitive", "gradcam", "saliency", "deepshap"]
    rng = np.random.default_rng(0)
    rows = []
    table = {}
    for seed in range(5):
        for j, method in enumerate(methods):
            value = float(j + rng.normal(0, 0.3))  # deletion AUC: lower is better
            table[(seed, method)] = value
            rows.append(ResultRow("d", "m", seed, method, "deletion-auc", "", value, 10))
    rows.append(ResultRow("d", "m", 0, "eigencam", "deletion-auc", "", 0.0, 10))  # 1 of 5
    analysis = rank_analysis(rows, "deletion-auc", "")
    assert analysis is not None and analysis.dropped_methods == ("eigencam",)
    means = analysis.mean_ranks
    assert means.idxmin() == "ifim-sensitive"  # the lowest AUC ranks first
    matrix = np.array([[table[(s, m)] for m in analysis.methods] for s in range(5)])
    expected = stats.friedmanchisquare(*matrix.T)
    assert analysis.statistic == pytest.approx(expected.statistic)
    assert analysis.p_value == pytest.approx(expected.pvalue)
    assert analysis.nemenyi.shape == (4, 4)


# --- verdicts -----------------------------------------------------------------------------


def _comparison(metric: str, setting: str, method: str, difference: float, p: float):
    ones, zeros = {0: _mean_sample(np.ones(3))}, {0: _mean_sample(np.zeros(3))}
    base = compare_pair("d", "m", "deletion-auc", "", ones, zeros, method)
    direction = "lower" if metric == "adversarial-correlation" else "higher"
    return PairedComparison(
        **{
            **base.__dict__,
            "metric": metric,
            "setting": setting,
            "direction": direction,
            "difference": difference,
            "p_value": p,
            "test": "permutation",
        }
    )


def _summary_row(method: str, metric: str, setting: str, values: tuple[float, ...]):
    from comparisons.reporting import SummaryRow

    return SummaryRow(
        "d", "m", method, metric, setting, float(np.mean(values)), math.nan,
        len(values), len(values), tuple(range(len(values))), (10,) * len(values), values,
    )  # fmt: skip


def test_verdicts_follow_the_holm_adjusted_comparisons_and_fall_back_to_df1() -> None:
    from comparisons.reporting import claim_verdicts
    from comparisons.statistics import holm_adjusted as holm

    alphas = ("alpha=0.01", "alpha=0.02")
    rivals = ("gradcam", "saliency")
    summary = [
        _summary_row(m, metric, a, (1.0, 2.0))
        for m in ("ifim-sensitive", "gradcam", "saliency")
        for metric in ("f1-ratio", "f1-difference")
        for a in alphas
    ] + [
        _summary_row(m, "adversarial-correlation", "eps=0.1", (0.2,))
        for m in ("ifim-sensitive", "gradcam")
    ]
    # saliency's ratio is infinite in a seed at alpha=0.02: that alpha is judged by dF1
    summary = [
        _summary_row("saliency", "f1-ratio", "alpha=0.02", (1.0, math.inf))
        if (s.method, s.metric, s.setting) == ("saliency", "f1-ratio", "alpha=0.02")
        else s
        for s in summary
    ]
    comparisons = [
        *holm([_comparison("f1-ratio", "alpha=0.01", m, 0.5, 0.001) for m in rivals]),
        *holm([_comparison("f1-ratio", "alpha=0.02", m, 0.5, 0.001) for m in rivals]),
        # by dF1 at alpha=0.02 saliency is better than the iFIM
        *holm([_comparison("f1-difference", "alpha=0.02", "gradcam", 0.1, 0.001),
               _comparison("f1-difference", "alpha=0.02", "saliency", -0.2, 0.001)]),
        # the correlation: lower is better, a gap without significance
        *holm([_comparison("adversarial-correlation", "eps=0.1", "gradcam", -0.1, 0.2)]),
    ]  # fmt: skip
    verdicts = {v.claim.figure: v for v in claim_verdicts(summary, comparisons)}
    fig3 = verdicts["Fig. 3"]
    first, second = fig3.settings
    assert (first.metric, first.verdict, first.better) == (
        "f1-ratio",
        "supported",
        ("gradcam", "saliency"),
    )
    assert second.metric == "f1-difference" and "infinite" in second.reason
    assert (second.verdict, second.worse) == ("contradicted", ("saliency",))
    assert fig3.verdict == "contradicted" and len(fig3.adjusted) == 4
    fig4 = verdicts["Fig. 4"]
    assert fig4.verdict == "inconclusive" and fig4.settings[0].unresolved == ("gradcam",)
    assert "**inconclusive**" in fig4.settings[0].sentence()
