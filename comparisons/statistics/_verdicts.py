"""The paper's two claims as verdicts per (dataset, model), from the contrasts of the
reference with every other method (paired tests).

- **Fig. 3** (Sec. IV-E): "the iFIM achieved the highest [F1] ratio among all evaluated
  methods". At each alpha, the F1 ratio as the paper defines it; where any method's ratio
  is infinite or undefined in a seed (its F1 after perturbing the high set is 0), the
  finite dF1 = F1(low perturbed) - F1(high perturbed) ranks the methods instead, and the
  verdict says so.
- **Fig. 4** (Sec. IV-F): "the task-sensitive iFIM-map exhibited the lowest
  clean/adversarial correlation", at each FGSM epsilon.

At one setting the claim is **supported** when ``ifim-sensitive`` is better than every other
method with a Holm-adjusted p (over the methods) below
:data:`comparisons.paper.ALPHA`, **contradicted** when some method is better
than it at that level, and **inconclusive** otherwise. Over the settings of a (dataset,
model) the comparisons of every setting are Holm-adjusted together (methods x settings, so
judging three alphas at once keeps the level): contradicted if some method is better at one
setting, supported if ``ifim-sensitive`` is better than every method at every setting,
inconclusive otherwise. The protocol is fixed before the verdicts are read: nothing here
changes what is measured.

A verdict whose (dataset, model) misses cells of the run's plan (a partial run, or failed
cells; :mod:`._coverage`) is **provisional**: it says from how many cells it comes and what
misses, and may change when those are run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from comparisons.paper import ALPHA, CLAIMS, REFERENCE, Claim, Outcome, Verdict, read_verdict
from comparisons.statistics._coverage import RunCoverage
from comparisons.statistics._number_format import format_p, format_significant
from comparisons.statistics._order import dataset_models, metric_settings
from comparisons.statistics._reference_contrasts import ReferenceContrast, holm_adjusted
from comparisons.statistics._summary import SummaryRow


@dataclass(frozen=True)
class SettingVerdict:
    """A claim at one setting of one (dataset, model).

    Attributes:
        claim: The claim.
        dataset, model, setting: Where.
        metric: The metric judged (the claim's, or dF1 where the ratio is infinite).
        verdict: ``"supported"``, ``"contradicted"`` or ``"inconclusive"``.
        reference_value, ci_low, ci_high: ``ifim-sensitive``'s mean over seeds and its
            interval (from the summary).
        better, worse, unresolved: The methods ``ifim-sensitive`` is significantly better
            than, worse than, and not separated from (Holm-adjusted p < alpha).
        not_compared: (method, why) for the methods of the run's plan without a contrast
            here because their cells failed or did not run yet: the claim is about every
            method, so with any of them the verdict cannot be "supported".
        contrasts: The contrasts (paired tests) behind it.
        reason: Why the claim's own metric was replaced, or why nothing was compared.
        provisional: ``""`` when every planned cell of the (dataset, model) has results,
            else what it comes from and what misses (:meth:`RunCoverage.describe`).
    """

    claim: Claim
    dataset: str
    model: str
    setting: str
    metric: str
    verdict: Verdict
    reference_value: float
    ci_low: float
    ci_high: float
    better: tuple[str, ...]
    worse: tuple[str, ...]
    unresolved: tuple[str, ...]
    contrasts: tuple[ReferenceContrast, ...]
    reason: str = ""
    provisional: str = ""
    not_compared: tuple[tuple[str, str], ...] = ()

    def sentence(self) -> str:
        """The verdict with the numbers behind it."""
        value = format_significant(self.reference_value)
        if not math.isnan(self.ci_low):
            value += f" [{format_significant(self.ci_low)}, {format_significant(self.ci_high)}]"
        where = f"{self.dataset} / {self.model}, {self.setting}"
        metric = self.metric + (f" ({self.reason})" if self.reason else "")
        text = f"{where}, {metric}: **{self.verdict}**. {REFERENCE} {value}"
        absent = "".join(f"; not compared: {m} ({why})" for m, why in self.not_compared)
        if not self.contrasts:
            return f"{text}; nothing to compare{absent}.{_provisional(self.provisional)}"
        total = len(self.contrasts)
        text += (
            f"; better than {len(self.better)} of {total} methods compared at Holm p < {ALPHA:g}"
        )
        by_method = {c.method: c for c in self.contrasts}
        if self.worse:
            text += ", worse than " + ", ".join(_versus(by_method[m]) for m in self.worse)
        if self.unresolved:
            text += "; not separated from " + ", ".join(
                _versus(by_method[m]) for m in self.unresolved
            )
        return text + absent + "." + _provisional(self.provisional)


def _provisional(provisional: str) -> str:
    """The sentence that marks a verdict from incomplete cells, ``""`` for a whole one."""
    return f" **Provisional**: its (dataset, model) has {provisional}." if provisional else ""


def _versus(c: ReferenceContrast) -> str:
    p = f"p={format_p(c.p_holm)}" if c.test else "no test"
    return f"{c.method} ({format_significant(c.method_value)}, {p})"


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim over the settings of one (dataset, model).

    Attributes:
        claim, dataset, model: Which claim, where.
        verdict: Over all settings, from :attr:`adjusted`.
        settings: The verdict at each setting (Holm over the methods of that setting).
        adjusted: Every comparison of the claim, Holm-adjusted together (methods x
            settings), so that judging several settings at once keeps the level.
        provisional: ``""`` when every planned cell of the (dataset, model) has results,
            else what it comes from and what misses.
    """

    claim: Claim
    dataset: str
    model: str
    verdict: Verdict
    settings: tuple[SettingVerdict, ...]
    adjusted: tuple[ReferenceContrast, ...] = ()
    provisional: str = ""


def _outcome(c: ReferenceContrast) -> Outcome:
    """What one comparison says: the reference or the method better, or neither."""
    if c.favours and c.favours == c.reference:
        return "reference"
    return "method" if c.favours and c.favours == c.method else ""


def _overall(settings: Sequence[SettingVerdict]) -> tuple[Verdict, tuple[ReferenceContrast, ...]]:
    """The verdict over settings, from their comparisons Holm-adjusted together
    (:func:`comparisons.paper.read_verdict`, complete when every setting had one and
    compared every method of the plan)."""
    adjusted = tuple(holm_adjusted([c for v in settings for c in v.contrasts]))
    complete = all(v.contrasts and not v.not_compared for v in settings)
    return read_verdict([_outcome(c) for c in adjusted], complete), adjusted


def _infinite_methods(summary: Sequence[SummaryRow], where: tuple[str, str, str, str]) -> list[str]:
    return [
        s.method
        for s in summary
        if (s.dataset, s.model, s.metric, s.setting) == where
        and s.method
        and any(not math.isfinite(v) for v in s.values)
    ]


def setting_verdict(
    claim: Claim,
    summary: Sequence[SummaryRow],
    contrasts: Sequence[ReferenceContrast],
    dataset: str,
    model: str,
    setting: str,
    absent: Mapping[str, str] | None = None,
) -> SettingVerdict:
    """The claim at one setting (see the module docstring).

    Args:
        absent: The methods of the (dataset, model) with planned cells that have no
            results, each with why (:meth:`RunCoverage.why_not_done`): those without a
            contrast here are not compared, so the verdict cannot be "supported".
    """
    metric, reason = claim.metric, ""
    infinite = _infinite_methods(summary, (dataset, model, claim.metric, setting))
    if infinite and claim.fallback:
        metric = claim.fallback
        reason = (
            f"ranked by {claim.fallback}: the {claim.label} is infinite or undefined in a seed for "
            f"{len(infinite)} method(s)"
        )
    chosen = tuple(
        c
        for c in contrasts
        if (c.dataset, c.model, c.metric, c.setting) == (dataset, model, metric, setting)
    )
    better = tuple(c.method for c in chosen if c.favours == c.reference)
    worse = tuple(c.method for c in chosen if c.favours == c.method)
    unresolved = tuple(c.method for c in chosen if not c.favours)
    compared = {c.method for c in chosen} | {REFERENCE}
    not_compared = tuple(
        (m, why) for m, why in (absent or {}).items() if m not in compared and m != REFERENCE
    )
    verdict = read_verdict([_outcome(c) for c in chosen], complete=not not_compared)
    if not chosen:
        reason = reason or "no paired comparison (no per-example values or no other method)"
    own = next(
        (
            s
            for s in summary
            if (s.dataset, s.model, s.method, s.metric, s.setting)
            == (dataset, model, REFERENCE, metric, setting)
        ),
        None,
    )
    return SettingVerdict(
        claim=claim,
        dataset=dataset,
        model=model,
        setting=setting,
        metric=metric,
        verdict=verdict,
        reference_value=math.nan if own is None else own.mean,
        ci_low=math.nan if own is None else own.ci_low,
        ci_high=math.nan if own is None else own.ci_high,
        better=better,
        worse=worse,
        unresolved=unresolved,
        contrasts=chosen,
        reason=reason,
        not_compared=not_compared,
    )


def claim_verdicts(
    summary: Sequence[SummaryRow],
    contrasts: Sequence[ReferenceContrast],
    coverage: RunCoverage | None = None,
) -> list[ClaimVerdict]:
    """Both claims for every (dataset, model) that has the claim's metric; provisional
    where ``coverage`` says the (dataset, model) misses planned cells."""
    result = []
    for dataset, model in dataset_models(summary):
        provisional, absent = "", {}
        if coverage is not None:
            mine = coverage.of(dataset, model)
            if not mine.complete:
                provisional = mine.describe()
            absent = {m: mine.why_not_done(m) for m in mine.methods_not_done()}
        for claim in CLAIMS:
            settings = metric_settings(summary, claim.metric, dataset, model)
            if not settings:
                continue
            per_setting = tuple(
                replace(
                    setting_verdict(claim, summary, contrasts, dataset, model, setting, absent),
                    provisional=provisional,
                )
                for setting in settings
            )
            verdict, adjusted = _overall(per_setting)
            result.append(
                ClaimVerdict(claim, dataset, model, verdict, per_setting, adjusted, provisional)
            )
    return result
