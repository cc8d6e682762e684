"""The shortcut experiment's section: does a map find a spurious cue the model relies on?

Added to ``report.md`` when the rows hold ``cue-reliance`` (a dataset with a spurious cue,
e.g. ``mni-sks-shortcut``; the embedded ``shortcut`` config), whatever the config is called.
The test images are the same at every cue strength and carry the cue by a fair coin, so
each model's reliance is measured by flipping it (``cue-reliance`` = accuracy on images whose
cue agrees with the training rule minus accuracy on those where it disagrees), and each
method's maps at two strengths are compared image by image and seed by seed.

Verdicts, fixed before any result was seen (:data:`RULES`); every interval is the report's
95 % percentile bootstrap over seeds, then the examples within each seed
(:func:`comparisons.statistics.two_level_interval`):

- a model (per strength) is **reliant** when the lower bound of its cue-reliance interval
  is above :data:`RELIANT_LOW` (0.2); **not reliant** when the interval excludes that much
  reliance (upper bound below 0.2) and either holds 0 or lies below
  :data:`NOT_RELIANT_HIGH` (0.1); **partly** otherwise (a reliance between, or an interval
  too wide to tell); **not judged** without an interval;
- a method **reveals the shortcut** when, at every reliant strength, its energy on the cue
  exceeds its energy on the cue at the non-reliant strength (the least reliant one, by mean
  cue-reliance), paired per test image and seed, interval of the difference above 0, and
  its pointing game lands on the cue in at least :data:`POINTING_SHARE` (half) of the
  cue-carrying images (the strictest tolerance run); **does not** when either fails;
- a method **stays off the cue** when, at the non-reliant strength, its energy on the cue
  is below its energy on the signal on the images carrying both (paired, interval of the
  difference below 0); **does not** otherwise;
- **not judged** when no strength is reliant, or none is not reliant, or a value is missing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from comparisons.metrics import (
    CUE_ACCURACY_CONGRUENT_ROW,
    CUE_ACCURACY_INCONGRUENT_ROW,
    CUE_RELIANCE_ROW,
    CUE_SETTING,
    EIGENVECTOR_ENERGY_ROW,
    ENERGY_IN_MASK_ROW,
    POINTING_GAME_ROW,
)
from comparisons.reporting._cell_values import (
    NO_ESTIMATE,
    CellValues,
    Estimate,
    format_estimate,
    paired_difference,
)
from comparisons.reporting._exports import ReportTable
from comparisons.reporting._figure_output import FigureResult, method_colors, save_figure
from comparisons.reporting._report_section import ReportSection
from comparisons.run_folder import ResultRow, RunContents
from comparisons.statistics import (
    Interval,
    RunStatistics,
    SummaryRow,
    format_significant,
    order_methods,
    seed_interval,
    seeded_rng,
    two_level_interval,
    unique,
)

#: The model rows of a cue dataset (method ``""``).
RELIANCE = CUE_RELIANCE_ROW.name
CONGRUENT = CUE_ACCURACY_CONGRUENT_ROW.name
INCONGRUENT = CUE_ACCURACY_INCONGRUENT_ROW.name
#: The method rows the section reads, and their settings on the signal and on the cue.
ENERGY = ENERGY_IN_MASK_ROW.name
POINTING = POINTING_GAME_ROW.name
EIGENVECTOR_ENERGY = EIGENVECTOR_ENERGY_ROW.name
SIGNAL_ENERGY_SETTING = ""
CUE_ENERGY_SETTING = CUE_SETTING

#: A model is reliant when its cue-reliance interval's lower bound is above this.
RELIANT_LOW = 0.2
#: A model is not reliant when its cue-reliance interval's upper bound is below this.
NOT_RELIANT_HIGH = 0.1
#: A revealing method's pointing game lands on the cue in at least this share of the
#: cue-carrying images.
POINTING_SHARE = 0.5

RELIANT, NOT_RELIANT, PARTLY, NOT_JUDGED = "reliant", "not reliant", "partly", "not judged"
YES, NO = "yes", "no"

#: The rules as the report states them.
RULES = (
    "Rules fixed in code before any result was seen "
    "(`comparisons/reporting/_shortcut_report.py`); every interval is the 95 % percentile "
    "bootstrap over seeds, then the test images within each seed. A model is **reliant** on "
    f"the cue when the lower bound of its cue-reliance interval is above {RELIANT_LOW:g}, "
    f"**not reliant** when the upper bound is below {RELIANT_LOW:g} and the interval holds 0 "
    f"or lies below {NOT_RELIANT_HIGH:g}, **partly** otherwise (cue-reliance = accuracy "
    "on test images whose cue agrees with the training "
    "rule minus accuracy on those where it disagrees: 0 ignores the cue, 1 reads only the "
    "cue). A method **reveals the shortcut** when, at every reliant strength, its attribution "
    "energy on the cue is higher than at the non-reliant strength (the least reliant, by "
    "mean cue-reliance; paired per test image and seed, interval of the difference above 0) "
    f"and its pointing game lands on the cue in at least {POINTING_SHARE:.0%} of the "
    "cue-carrying images (the strictest tolerance run). A method **stays off the cue** when, "
    "at the non-reliant strength, its energy on the cue is below its energy on the signal on "
    "the images carrying both (paired, interval of the difference below 0). **Not judged**: "
    "no strength is reliant, none is not reliant, or a value is missing."
)


def has_cue_rows(rows: Sequence[ResultRow]) -> bool:
    """Whether the section applies: some row is a model's ``cue-reliance``."""
    return any(r.metric == RELIANCE for r in rows)


def reliance_verdict(interval: Interval) -> str:
    """``reliant``, ``not reliant``, ``partly`` or ``not judged`` from the interval of a
    model's cue-reliance (:data:`RELIANT_LOW`, :data:`NOT_RELIANT_HIGH`; module docstring)."""
    if not interval.defined:
        return NOT_JUDGED
    if interval.low > RELIANT_LOW:
        return RELIANT
    if interval.high < NOT_RELIANT_HIGH or (interval.low <= 0 and interval.high < RELIANT_LOW):
        return NOT_RELIANT
    return PARTLY


def reveals_verdict(cue_gains: Sequence[Estimate], cue_pointing: Sequence[float]) -> str:
    """``yes`` when every reliant strength's paired cue-energy gain over the non-reliant
    strength has an interval above 0 and its pointing share on the cue is at least
    :data:`POINTING_SHARE`; ``no`` when one of them fails; ``not judged`` without a reliant
    strength or with a value missing."""
    if not cue_gains or len(cue_gains) != len(cue_pointing):
        return NOT_JUDGED
    if any(not g.interval.defined for g in cue_gains) or any(math.isnan(p) for p in cue_pointing):
        return NOT_JUDGED
    gains = all(g.interval.low > 0 for g in cue_gains)
    pointing = all(p >= POINTING_SHARE for p in cue_pointing)
    return YES if gains and pointing else NO


def stays_off_verdict(cue_minus_signal: Estimate) -> str:
    """``yes`` when the paired cue-minus-signal energy at the non-reliant strength has an
    interval below 0, ``no`` when it does not, ``not judged`` without an interval."""
    if not cue_minus_signal.interval.defined:
        return NOT_JUDGED
    return YES if cue_minus_signal.interval.high < 0 else NO


@dataclass(frozen=True)
class Strength:
    """One cue dataset and one model trained on it: the model's reliance on the cue."""

    dataset: str
    model: str
    strength: float
    seeds: tuple[int, ...]
    reliance: Estimate
    congruent: float
    incongruent: float

    @property
    def verdict(self) -> str:
        return reliance_verdict(self.reliance.interval)

    @property
    def label(self) -> str:
        return (
            self.dataset
            if math.isnan(self.strength)
            else f"{self.dataset} (strength {self.strength:g})"
        )


def _model_rows(
    rows: Sequence[ResultRow], dataset: str, model: str, metric: str
) -> dict[int, ResultRow]:
    return {
        r.seed: r
        for r in rows
        if (r.dataset, r.model, r.metric) == (dataset, model, metric) and not r.method
    }


def _outcomes(row: ResultRow) -> np.ndarray | None:
    """The 0/1 outcomes an accuracy row of ``n`` images counts (k = value * n correct),
    ``None`` when its value is not a count over ``n``."""
    if row.n < 1 or math.isnan(row.value):
        return None
    correct = round(row.value * row.n)
    if abs(correct - row.value * row.n) > 1e-6 * row.n:
        return None
    return np.r_[np.ones(correct), np.zeros(row.n - correct)]


def reliance_estimate(rows: Sequence[ResultRow], dataset: str, model: str) -> Estimate:
    """The model's cue-reliance: mean over seeds, with the two-level interval over seeds and
    test images. The rows hold each seed's two accuracies (k of n correct), not each image's
    pair of outcomes, so a seed's congruent and incongruent outcomes are resampled as
    independent samples: conservative when an image's two outcomes go together. Over the
    seeds' values alone when the accuracy rows do not give the outcomes."""
    reliance = _model_rows(rows, dataset, model, RELIANCE)
    congruent = _model_rows(rows, dataset, model, CONGRUENT)
    incongruent = _model_rows(rows, dataset, model, INCONGRUENT)
    seeds = sorted(s for s, r in reliance.items() if not math.isnan(r.value))
    if not seeds:
        return NO_ESTIMATE
    mean = float(np.mean([reliance[s].value for s in seeds]))
    samples = []
    for seed in seeds:
        c = _outcomes(congruent[seed]) if seed in congruent else None
        i = _outcomes(incongruent[seed]) if seed in incongruent else None
        if c is None or i is None or not c.size or not i.size:
            samples = []
            break
        if abs(c.mean() - i.mean() - reliance[seed].value) > 1e-6:
            samples = []
            break
        outcomes, group = np.r_[c, i], np.r_[np.ones(c.size), np.zeros(i.size)]
        samples.append((outcomes.size, _difference_statistic(outcomes, group.astype(bool))))
    rng = seeded_rng(RELIANCE, dataset, model)
    if samples:
        interval = two_level_interval(samples, rng)
    else:
        interval = seed_interval([reliance[s].value for s in seeds], rng)
    n = int(sum(reliance[s].n for s in seeds))
    return Estimate(mean, interval, n, len(seeds))


def _difference_statistic(
    outcomes: np.ndarray, congruent: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """Congruent minus incongruent accuracy on resampled indices (..., n); NaN where a
    resample holds no image of one group."""

    def statistic(indices: np.ndarray) -> np.ndarray:
        o, g = outcomes[indices], congruent[indices]
        with np.errstate(all="ignore"):
            return (o * g).sum(-1) / g.sum(-1) - (o * ~g).sum(-1) / (~g).sum(-1)

    return statistic


def _strength_of(run: RunContents, dataset: str) -> float:
    if run.config is None:
        return math.nan
    for entry in run.config.datasets:
        if entry.label == dataset:
            value = entry.options.get("cue_strength", math.nan)
            return float(value) if isinstance(value, int | float) else math.nan
    return math.nan


def strengths(run: RunContents) -> list[Strength]:
    """Every (cue dataset, model) with cue-reliance rows, strongest cue first."""
    found = []
    pairs = unique((r.dataset, r.model) for r in run.rows if r.metric == RELIANCE)
    for dataset, model in pairs:
        congruent = _model_rows(run.rows, dataset, model, CONGRUENT)
        incongruent = _model_rows(run.rows, dataset, model, INCONGRUENT)
        found.append(
            Strength(
                dataset,
                model,
                _strength_of(run, dataset),
                tuple(sorted(_model_rows(run.rows, dataset, model, RELIANCE))),
                reliance_estimate(run.rows, dataset, model),
                _nanmean([r.value for r in congruent.values()]),
                _nanmean([r.value for r in incongruent.values()]),
            )
        )
    return sorted(found, key=lambda s: -s.strength if not math.isnan(s.strength) else 0.0)


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def _tolerance(setting: str) -> float:
    match = re.search(r"tolerance=([^,]+)", setting)
    try:
        return float(match.group(1)) if match else math.inf
    except ValueError:
        return math.inf


def pointing_settings(summary: Sequence[SummaryRow]) -> tuple[str, str] | None:
    """The pointing game's (signal, cue) settings at the strictest tolerance run with both."""
    settings = {s.setting for s in summary if s.metric == POINTING}
    cue = sorted((s for s in settings if s.startswith("region=cue")), key=_tolerance)
    for setting in cue:
        signal = setting.removeprefix("region=cue,")
        if signal in settings:
            return signal, setting
    return None


def _summary_index(summary: Sequence[SummaryRow]) -> dict[tuple, SummaryRow]:
    return {s.key: s for s in summary}


def _entry(s: SummaryRow | None) -> str:
    if s is None or math.isnan(s.mean):
        return "—"
    if s.has_interval:
        return (
            f"{format_significant(s.mean)} "
            f"[{format_significant(s.ci_low)}, {format_significant(s.ci_high)}]"
        )
    return format_significant(s.mean)


def _methods(summary: Sequence[SummaryRow], datasets: Sequence[str]) -> list[str]:
    return order_methods(
        s.method for s in summary if s.method and s.metric == ENERGY and s.dataset in datasets
    )


def _eigenvector_text(summary: Sequence[SummaryRow], dataset: str, model: str, method: str) -> str:
    rows = [
        s
        for s in summary
        if (s.dataset, s.model, s.method, s.metric) == (dataset, model, method, EIGENVECTOR_ENERGY)
    ]
    shares: dict[str, dict[str, float]] = {}
    for s in rows:
        fields = dict(part.split("=", 1) for part in s.setting.split(",") if "=" in part)
        if "k" in fields and "region" in fields:
            shares.setdefault(fields["k"], {})[fields["region"]] = s.mean
    parts = []
    for k in sorted(shares, key=lambda v: (len(v), v)):
        regions = shares[k]
        parts.append(
            f"k={k}: " + ", ".join(f"{r} {format_significant(regions[r])}" for r in sorted(regions))
        )
    return "; ".join(parts) if parts else "—"


def map_table(
    summary: Sequence[SummaryRow], strength: Strength, pointing: tuple[str, str] | None
) -> ReportTable | None:
    """One strength's table: per method the energy and the pointing game on the cue and on
    the signal, and for the iFIM each eigenvector's share on each region."""
    index = _summary_index(summary)
    methods = _methods(summary, [strength.dataset])
    if not methods:
        return None
    signal_pointing, cue_pointing = pointing or ("", "")
    body = []
    for method in methods:
        key = (strength.dataset, strength.model, method)
        body.append(
            (
                method,
                _entry(index.get((*key, ENERGY, CUE_ENERGY_SETTING))),
                _entry(index.get((*key, ENERGY, SIGNAL_ENERGY_SETTING))),
                _entry(index.get((*key, POINTING, cue_pointing))) if pointing else "—",
                _entry(index.get((*key, POINTING, signal_pointing))) if pointing else "—",
                _eigenvector_text(summary, strength.dataset, strength.model, method),
            )
        )
    tolerance = f" ({signal_pointing})" if pointing and signal_pointing else ""
    return ReportTable(
        name=f"shortcut_maps__{_safe(strength.dataset)}__{_safe(strength.model)}",
        title=f"{strength.label} / {strength.model}: where the maps put their energy",
        header=(
            "method",
            "energy on cue",
            "energy on signal",
            f"pointing on cue{tolerance}",
            f"pointing on signal{tolerance}",
            "iFIM eigenvector share (by k)",
        ),
        rows=tuple(body),
    )


def reliance_table(found: Sequence[Strength]) -> ReportTable:
    """The models' reliance on the cue per strength, with its verdict."""
    return ReportTable(
        name="shortcut_reliance",
        title="How much each model relies on the cue (test images with the cue flipped)",
        header=(
            "dataset",
            "model",
            "seeds",
            "cue-reliance [95 % CI]",
            "accuracy, cue agrees",
            "accuracy, cue disagrees",
            "verdict",
        ),
        rows=tuple(
            (
                s.label,
                s.model,
                str(len(s.seeds)),
                format_estimate(s.reliance),
                format_significant(s.congruent),
                format_significant(s.incongruent),
                s.verdict,
            )
            for s in found
        ),
    )


@dataclass(frozen=True)
class MethodVerdict:
    """One method's verdicts on one model, with what they were read from."""

    model: str
    method: str
    cue_gains: tuple[tuple[str, Estimate], ...]
    cue_pointing: tuple[tuple[str, float], ...]
    cue_minus_signal: Estimate
    reveals: str
    stays_off: str


def method_verdicts(
    run: RunContents,
    summary: Sequence[SummaryRow],
    found: Sequence[Strength],
    values: CellValues,
) -> tuple[list[MethodVerdict], str]:
    """Every method's verdicts per model, and a sentence on which strengths were compared."""
    pointing = pointing_settings(summary)
    index = _summary_index(summary)
    verdicts, said = [], []
    for model in unique(s.model for s in found):
        of_model = [s for s in found if s.model == model]
        reliant = [s for s in of_model if s.verdict == RELIANT]
        calm = sorted(
            (s for s in of_model if s.verdict == NOT_RELIANT), key=lambda s: s.reliance.mean
        )
        reference = calm[0] if calm else None
        said.append(
            f"{model}: reliant at {', '.join(s.label for s in reliant) or 'no strength'}; "
            f"non-reliant reference {reference.label if reference else 'none'}."
        )
        for method in _methods(summary, [s.dataset for s in of_model]):
            gains, shares = [], []
            for strong in reliant if reference else []:
                seeds = sorted(set(strong.seeds) & set(reference.seeds))
                gains.append(
                    (
                        strong.label,
                        paired_difference(
                            values.by_seed(
                                strong.dataset, model, seeds, method, ENERGY, CUE_ENERGY_SETTING
                            ),
                            values.by_seed(
                                reference.dataset, model, seeds, method, ENERGY, CUE_ENERGY_SETTING
                            ),
                            "cue-gain",
                            strong.dataset,
                            reference.dataset,
                            model,
                            method,
                        ),
                    )
                )
                row = (
                    index.get((strong.dataset, model, method, POINTING, pointing[1]))
                    if (pointing)
                    else None
                )
                shares.append((strong.label, row.mean if row is not None else math.nan))
            off = NO_ESTIMATE
            if reference is not None:
                seeds = list(reference.seeds)
                off = paired_difference(
                    values.by_seed(
                        reference.dataset, model, seeds, method, ENERGY, CUE_ENERGY_SETTING
                    ),
                    values.by_seed(
                        reference.dataset, model, seeds, method, ENERGY, SIGNAL_ENERGY_SETTING
                    ),
                    "cue-minus-signal",
                    reference.dataset,
                    model,
                    method,
                )
            judged = bool(reliant) and reference is not None
            verdicts.append(
                MethodVerdict(
                    model,
                    method,
                    tuple(gains),
                    tuple(shares),
                    off,
                    reveals_verdict([g for _, g in gains], [p for _, p in shares])
                    if judged
                    else NOT_JUDGED,
                    stays_off_verdict(off) if reference is not None else NOT_JUDGED,
                )
            )
    return verdicts, " ".join(said)


def verdict_table(verdicts: Sequence[MethodVerdict]) -> ReportTable:
    """The verdict table: per (model, method) what each verdict was read from, and it."""
    body = []
    for v in verdicts:
        gains = "; ".join(f"{label}: {format_estimate(g)}" for label, g in v.cue_gains) or "—"
        pointing = (
            "; ".join(f"{label}: {format_significant(p)}" for label, p in v.cue_pointing) or "—"
        )
        body.append(
            (
                v.model,
                v.method,
                gains,
                pointing,
                v.reveals,
                format_estimate(v.cue_minus_signal),
                v.stays_off,
            )
        )
    return ReportTable(
        name="shortcut_verdicts",
        title="Shortcut verdicts per method",
        header=(
            "model",
            "method",
            "cue energy, reliant - non-reliant [95 % CI]",
            "pointing on cue, reliant",
            "reveals the shortcut",
            "cue - signal energy, non-reliant [95 % CI]",
            "stays off the cue",
        ),
        rows=tuple(body),
    )


def energy_figure(
    summary: Sequence[SummaryRow], found: Sequence[Strength], path: Path
) -> FigureResult:
    """Cue vs signal energy per method, one panel per (strength, model), 95 % intervals as
    error bars: the figure a reader looks at first."""
    index = _summary_index(summary)
    methods = _methods(summary, [s.dataset for s in found])
    panels = [
        s
        for s in found
        if any((s.dataset, s.model, m, ENERGY, CUE_ENERGY_SETTING) in index for m in methods)
    ]
    if not methods or not panels:
        return FigureResult(None, "", ("shortcut: no energy-in-mask rows on the cue, no figure",))
    colors = method_colors(methods)
    figure = Figure(figsize=(3.2 * len(panels) + 1.5, 3.6), layout="constrained")
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, strength in zip(axes, panels, strict=True):
        for i, method in enumerate(methods):
            key = (strength.dataset, strength.model, method, ENERGY)
            for offset, setting, marker in (
                (-0.15, CUE_ENERGY_SETTING, "o"),
                (0.15, SIGNAL_ENERGY_SETTING, "s"),
            ):
                row = index.get((*key, setting))
                if row is None or math.isnan(row.mean):
                    continue
                error = None
                if row.has_interval:
                    error = [[max(row.mean - row.ci_low, 0.0)], [max(row.ci_high - row.mean, 0.0)]]
                ax.errorbar(
                    [i + offset],
                    [row.mean],
                    yerr=error,
                    fmt=marker,
                    color=colors[method],
                    markerfacecolor=colors[method] if setting == CUE_ENERGY_SETTING else "white",
                    capsize=2,
                )
        ax.set_xticks(range(len(methods)))
        ax.set_xlim(-0.6, len(methods) - 0.4)
        ax.set_xticklabels(methods, rotation=60, ha="right", fontsize=7)
        ax.set_title(
            f"{strength.label}\n{strength.model}: reliance {format_estimate(strength.reliance)}",
            fontsize=8,
        )
        ax.set_ylim(0.0, 1.0)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("share of attribution energy", fontsize=8)
    axes[0].plot([], [], "o", color="black", label="on the cue")
    axes[0].plot([], [], "s", color="black", markerfacecolor="white", label="on the signal")
    axes[0].legend(fontsize=7, loc="upper right")
    save_figure(figure, path)
    return FigureResult(
        path,
        "Share of each method's attribution energy on the cue (filled) and on the signal "
        "(open), mean over seeds with 95 % bootstrap intervals (seeds, then test images), one "
        "panel per cue strength. A map that follows the model moves its energy onto the cue "
        "where the model relies on it and off it where the model does not.",
    )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def shortcut_section(
    run: RunContents,
    statistics: RunStatistics,
    directory: Path,
    embed: Callable[[FigureResult, str], list[str]],
) -> ReportSection | None:
    """The section, or ``None`` when the rows hold no ``cue-reliance``."""
    if not has_cue_rows(run.rows):
        return None
    summary = statistics.summary
    found = strengths(run)
    values = CellValues(run)
    verdicts, compared = method_verdicts(run, summary, found, values)
    directory.mkdir(parents=True, exist_ok=True)
    figure = energy_figure(summary, found, directory / "shortcut_energy.png")
    pointing = pointing_settings(summary)
    tables = [reliance_table(found)]
    tables += [t for s in found if (t := map_table(summary, s, pointing)) is not None]
    verdict = verdict_table(verdicts)
    lines = [
        "## Shortcut: do the maps find the cue the model uses?",
        "",
        RULES,
        "",
        *embed(figure, "cue vs signal energy per method"),
        f"#### {tables[0].title}",
        "",
        tables[0].markdown(),
        "",
        f"#### {verdict.title}",
        "",
        compared,
        "",
        verdict.markdown(),
        "",
    ]
    for table in tables[1:]:
        lines += [f"#### {table.title}", "", table.markdown(), ""]
    notes = list(figure.notes) + [f"Shortcut: {p}" for p in values.problems]
    if pointing is None and verdicts:
        notes.append("Shortcut: no pointing-game rows on the cue, so no method is judged on it.")
    return ReportSection(tuple(lines), (*tables, verdict), tuple(notes))
