"""The robustness experiment's section: what adversarial training does to the iFIM and maps.

Added to ``report.md`` when the run's config has two models of one architecture, one
trained with ``[models.training.adversarial]`` and one without (the embedded ``robust``
config), whatever the config is called. Both are trained on the same data and seeds and
evaluated on the same test images, so every comparison is paired by seed and test image.

Verdicts, fixed before any result was seen (:data:`RULES`); every interval is the report's
95 % percentile bootstrap over seeds, then the examples within each seed:

- the sensitive subspace: from the paired difference robust - standard of the iFIM's
  effective rank per image: robust training **spreads** it when the interval lies above 0,
  **concentrates** it when below 0, **leaves it unchanged** when the interval holds 0 (no
  change detected); **not judged** without an interval, or when the effective rank is the
  same constant in both (a two-class task: the iFIM has rank 1 at every image). The same
  rule says what lambda_1 and the S(x) energy on the signal did (rises / falls / no change
  detected);
- per paper metric and setting, the first-ranked method (best mean over seeds, in the
  metric's direction) **stays** when it is the same under both models; it **changes** when
  they differ and, under the robust model, the new first beats the standard's first in a
  paired test (interval of the difference excluding 0 on the new first's side); otherwise
  it **changes by the means only**.

Paired tests robust vs standard per method reuse the report's method-vs-reference test
(:func:`comparisons.statistics.contrast_with_reference`, Holm-adjusted across methods).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from comparisons.config import HarnessConfig
from comparisons.metrics import (
    EFFECTIVE_RANK_ROW,
    ENERGY_IN_MASK_ROW,
    LAMBDA_1_ROW,
    NUM_COMPONENTS_ROW,
    TRACE_ROW,
)
from comparisons.paper import RANKED_METRICS, REFERENCE
from comparisons.reporting._cell_values import (
    CellValues,
    Estimate,
    format_estimate,
    paired_difference,
)
from comparisons.reporting._exports import ReportTable
from comparisons.reporting._figure_output import FigureResult, save_figure
from comparisons.reporting._map_grid_figure import column_colormap
from comparisons.reporting._model_pairs_report import PAIR_METRICS, PairRow
from comparisons.reporting._report_section import ReportSection
from comparisons.run_folder import RunContents
from comparisons.statistics import (
    ReferenceContrast,
    RowSample,
    RunSamples,
    RunStatistics,
    SummaryRow,
    contrast_with_reference,
    format_mean_std,
    format_p,
    format_significant,
    holm_adjusted,
    metric_direction,
    order_methods,
    unique,
)

#: The iFIM spectrum rows (metric ``ifim-spectrum``) and the S(x) energy row, in table order.
SPECTRUM_ROWS: tuple[tuple[str, str, str], ...] = (
    (LAMBDA_1_ROW.name, "", "lambda_1"),
    (TRACE_ROW.name, "", "trace"),
    (EFFECTIVE_RANK_ROW.name, "", "effective rank"),
    (NUM_COMPONENTS_ROW.name, "", "K"),
    (ENERGY_IN_MASK_ROW.name, "", "S(x) energy on the signal"),
)
EFFECTIVE_RANK = EFFECTIVE_RANK_ROW.name
#: Test images per regime in the map pairs figure.
MAP_PAIR_IMAGES = 3

SPREADS, CONCENTRATES, UNCHANGED, NOT_JUDGED = (
    "spreads",
    "concentrates",
    "leaves unchanged",
    "not judged",
)
STAYS, CHANGES, CHANGES_BY_MEANS = "stays", "changes", "changes by the means only"

RULES = (
    "Rules fixed in code before any result was seen "
    "(`comparisons/reporting/_robust_report.py`); every interval is the 95 % percentile "
    "bootstrap over seeds, then the test images within each seed, of the difference robust - "
    "standard paired by seed and test image. Robust training **spreads** the sensitive "
    "subspace when the interval of the iFIM's effective rank lies above 0, **concentrates** "
    "it when below 0, **leaves it unchanged** (no change detected) when it holds 0; **not "
    "judged** without an interval or when the effective rank is one constant in both (two "
    "classes: the iFIM has rank 1 at every image). lambda_1 and the S(x) energy on the signal "
    "are read by the same rule (rises / falls / no change detected). Per paper metric and "
    "setting the first-ranked method (best mean over seeds) **stays** when it is the same "
    "under both models, **changes** when it differs and the new first beats the standard's "
    "first under the robust model in a paired test (interval of the difference excluding 0), "
    "and **changes by the means only** otherwise."
)


@dataclass(frozen=True)
class Regimes:
    """The two models compared: one architecture trained without and with attacks."""

    standard: str
    robust: str
    architecture: str
    attack: str


def _architecture(entry: Any) -> str:
    return str(getattr(entry, "architecture", None) or entry.name)


def _adversarial(entry: Any) -> Any:
    training = getattr(entry, "training", None) or {}
    return training.get("adversarial") if isinstance(training, dict) else None


def find_regimes(config: HarnessConfig | None) -> Regimes | None:
    """The first architecture with a model trained with attacks and one without, else
    ``None``."""
    if config is None:
        return None
    models = list(config.models)
    for robust in models:
        attack = _adversarial(robust)
        if not attack:
            continue
        for standard in models:
            if _adversarial(standard) or _architecture(standard) != _architecture(robust):
                continue
            described = ", ".join(f"{k} {v}" for k, v in dict(attack).items())
            return Regimes(standard.name, robust.name, _architecture(robust), described)
    return None


def subspace_verdict(difference: Estimate, constant: bool = False) -> str:
    """``spreads`` / ``concentrates`` / ``leaves unchanged`` / ``not judged`` from the paired
    interval of the effective rank's difference robust - standard."""
    if constant or not difference.interval.defined:
        return NOT_JUDGED
    if difference.interval.low > 0:
        return SPREADS
    if difference.interval.high < 0:
        return CONCENTRATES
    return UNCHANGED


def change_words(difference: Estimate) -> str:
    """``rises`` / ``falls`` / ``no change detected`` / ``not judged`` from an interval."""
    if not difference.interval.defined:
        return NOT_JUDGED
    if difference.interval.low > 0:
        return "rises"
    if difference.interval.high < 0:
        return "falls"
    return "no change detected"


def first_ranked_verdict(
    standard_first: str, robust_first: str, beats: ReferenceContrast | None
) -> str:
    """``stays`` when the two firsts agree; ``changes`` when they differ and ``beats`` (the
    robust model's new first against the standard's first, the new first as the reference)
    favours the new first with an interval excluding 0; ``changes by the means only``
    otherwise."""
    if standard_first == robust_first:
        return STAYS
    if beats is None or math.isnan(beats.ci_low) or math.isnan(beats.ci_high):
        return CHANGES_BY_MEANS
    better = beats.ci_low > 0 if beats.direction == "higher" else beats.ci_high < 0
    return CHANGES if better else CHANGES_BY_MEANS


def _spectrum_method(summary: Sequence[SummaryRow], dataset: str, model: str) -> str | None:
    methods = [
        s.method
        for s in summary
        if (s.dataset, s.model, s.metric) == (dataset, model, EFFECTIVE_RANK) and s.method
    ]
    if REFERENCE in methods:
        return REFERENCE
    return methods[0] if methods else None


def _seeds(summary: Sequence[SummaryRow], dataset: str, model: str) -> list[int]:
    return sorted(
        {seed for s in summary if (s.dataset, s.model) == (dataset, model) for seed in s.seeds}
    )


@dataclass(frozen=True)
class SpectrumComparison:
    """The spectrum table of one dataset and the verdict read from it."""

    table: ReportTable
    verdict: str
    sentence: str


def spectrum_comparison(
    summary: Sequence[SummaryRow], values: CellValues, dataset: str, regimes: Regimes
) -> SpectrumComparison | None:
    """lambda_1, trace, effective rank, K and the S(x) energy on the signal, standard vs
    robust with the paired difference, and the subspace verdict."""
    seeds = sorted(
        set(_seeds(summary, dataset, regimes.standard))
        & set(_seeds(summary, dataset, regimes.robust))
    )
    body, differences = [], {}
    constant = False
    for metric, setting, label in SPECTRUM_ROWS:
        method = REFERENCE if metric == ENERGY_IN_MASK_ROW.name else None
        method = method or _spectrum_method(summary, dataset, regimes.standard)
        if method is None:
            continue
        standard = values.by_seed(dataset, regimes.standard, seeds, method, metric, setting)
        robust = values.by_seed(dataset, regimes.robust, seeds, method, metric, setting)
        if not standard and not robust:
            continue
        a = values.estimate(dataset, regimes.standard, seeds, method, metric, setting)
        b = values.estimate(dataset, regimes.robust, seeds, method, metric, setting)
        d = paired_difference(robust, standard, "robust", dataset, method, metric, setting)
        differences[metric] = d
        if metric == EFFECTIVE_RANK:
            everything = np.concatenate(
                [s.to_numpy() for s in (*standard.values(), *robust.values())] or [np.zeros(0)]
            )
            everything = everything[np.isfinite(everything)]
            constant = everything.size > 0 and bool(np.all(everything == everything[0]))
        body.append(
            (
                label,
                method,
                format_estimate(a),
                format_estimate(b),
                format_estimate(d),
                change_words(d),
            )
        )
    if not body:
        return None
    rank = differences.get(EFFECTIVE_RANK)
    verdict = subspace_verdict(rank, constant) if rank is not None else NOT_JUDGED
    said = []
    for metric, label in (
        (LAMBDA_1_ROW.name, "lambda_1"),
        (ENERGY_IN_MASK_ROW.name, "the S(x) energy on the signal"),
    ):
        if metric in differences:
            said.append(f"{label} {change_words(differences[metric])}")
    reason = " (the effective rank is one constant in both: a rank-1 iFIM)" if constant else ""
    sentence = f"**{dataset}: robust training {verdict} the sensitive subspace**{reason}" + (
        f"; {', '.join(said)}." if said else "."
    )
    table = ReportTable(
        name=f"robust_spectrum__{_safe(dataset)}",
        title=f"{dataset}: the iFIM, {regimes.standard} vs {regimes.robust}",
        header=(
            "quantity",
            "method",
            f"{regimes.standard} [95 % CI]",
            f"{regimes.robust} [95 % CI]",
            "robust - standard, paired [95 % CI]",
            "reading",
        ),
        rows=tuple(body),
    )
    return SpectrumComparison(table, verdict, sentence)


def pair_kind(pair: PairRow, regimes: Regimes) -> str | None:
    """Which comparison a pair row is: seeds of one regime, or the two regimes."""
    a, b = pair.pair.a, pair.pair.b
    models = {a.model, b.model}
    if models == {regimes.standard}:
        return f"{regimes.standard} seed vs seed"
    if models == {regimes.robust}:
        return f"{regimes.robust} seed vs seed"
    if models == {regimes.standard, regimes.robust}:
        return (
            "standard vs robust, same seed"
            if a.seed == b.seed
            else "standard vs robust, other seeds"
        )
    return None


def pair_table(pairs: Sequence[PairRow], dataset: str, regimes: Regimes) -> ReportTable | None:
    """Subspace overlap and each method's map correlation: standard vs robust beside seed vs
    seed (mean ± sample std over the pairs of each kind)."""
    rows = [p for p in pairs if p.pair.dataset == dataset and pair_kind(p, regimes)]
    if not rows:
        return None
    kinds = [
        f"{regimes.standard} seed vs seed",
        f"{regimes.robust} seed vs seed",
        "standard vs robust, same seed",
        "standard vs robust, other seeds",
    ]
    kinds = [k for k in kinds if any(pair_kind(p, regimes) == k for p in rows)]
    body = []
    for method in order_methods(p.row.method for p in rows):
        for metric in PAIR_METRICS:
            cells = []
            for kind in kinds:
                found = np.array(
                    [
                        p.row.value
                        for p in rows
                        if (p.row.method, p.row.metric) == (method, metric)
                        and pair_kind(p, regimes) == kind
                    ],
                    dtype=np.float64,
                )
                found = found[np.isfinite(found)]
                if found.size == 0:
                    cells.append("—")
                else:
                    std = float(np.std(found, ddof=1)) if found.size > 1 else math.nan
                    cells.append(f"{format_mean_std(float(found.mean()), std)} ({found.size})")
            if any(c != "—" for c in cells):
                body.append((method, metric, *cells))
    return ReportTable(
        name=f"robust_pairs__{_safe(dataset)}",
        title=f"{dataset}: how far robust training moves the subspace and the maps",
        header=("method", "metric", *(f"{k} (pairs)" for k in kinds)),
        rows=tuple(body),
    )


@dataclass(frozen=True)
class MetricComparison:
    """One paper metric at one setting: each method's contrast, and the first-ranked."""

    metric: str
    setting: str
    contrasts: tuple[ReferenceContrast, ...]
    standard_first: str
    robust_first: str
    verdict: str


def _first(
    summary: Sequence[SummaryRow], dataset: str, model: str, metric: str, setting: str
) -> str:
    rows = [
        s
        for s in summary
        if (s.dataset, s.model, s.metric, s.setting) == (dataset, model, metric, setting)
        and s.method
        and not math.isnan(s.mean)
    ]
    if not rows:
        return ""
    lower = metric_direction(metric).direction == "lower"
    return min(rows, key=lambda s: s.mean if lower else -s.mean).method


def metric_comparisons(
    summary: Sequence[SummaryRow], samples: RunSamples, dataset: str, regimes: Regimes
) -> list[MetricComparison]:
    """The paper's metrics per setting: robust vs standard per method (paired, Holm across
    the methods) and the first-ranked method under each."""
    found = []
    for metric in RANKED_METRICS:
        settings = unique(
            s.setting
            for s in summary
            if (s.dataset, s.metric) == (dataset, metric)
            and s.model in (regimes.standard, regimes.robust)
        )
        for setting in settings:
            methods = order_methods(
                s.method
                for s in summary
                if (s.dataset, s.metric, s.setting, s.model)
                == (dataset, metric, setting, regimes.robust)
                and s.method
            )

            def by_seed(
                model: str, method: str, metric: str = metric, setting: str = setting
            ) -> dict[int, RowSample]:
                return {
                    seed: sample
                    for seed in _seeds(summary, dataset, model)
                    if (sample := samples.sample(dataset, model, seed, method, metric, setting))
                    is not None
                }

            family = []
            for method in methods:
                robust, standard = (
                    by_seed(regimes.robust, method),
                    by_seed(regimes.standard, method),
                )
                if robust and standard:
                    family.append(
                        contrast_with_reference(
                            dataset, method, metric, setting, robust, standard, "standard", "robust"
                        )
                    )
            contrasts = holm_adjusted(family)
            standard_first = _first(summary, dataset, regimes.standard, metric, setting)
            robust_first = _first(summary, dataset, regimes.robust, metric, setting)
            beats = None
            if standard_first and robust_first and standard_first != robust_first:
                new, old = (
                    by_seed(regimes.robust, robust_first),
                    by_seed(regimes.robust, standard_first),
                )
                if new and old:
                    beats = contrast_with_reference(
                        dataset,
                        regimes.robust,
                        metric,
                        setting,
                        new,
                        old,
                        standard_first,
                        robust_first,
                    )
            found.append(
                MetricComparison(
                    metric,
                    setting,
                    tuple(contrasts),
                    standard_first,
                    robust_first,
                    first_ranked_verdict(standard_first, robust_first, beats)
                    if standard_first and robust_first
                    else NOT_JUDGED,
                )
            )
    return found


def metrics_table(
    comparisons: Sequence[MetricComparison], dataset: str, regimes: Regimes
) -> ReportTable | None:
    """Per paper metric, setting and method: the two regimes, their paired difference, the
    Holm-adjusted p-value."""
    body = []
    for c in comparisons:
        name = f"{c.metric} {c.setting}".strip()
        for contrast in c.contrasts:
            interval = (
                f"[{format_significant(contrast.ci_low)}, {format_significant(contrast.ci_high)}]"
                if not math.isnan(contrast.ci_low)
                else ""
            )
            body.append(
                (
                    name,
                    contrast.model,
                    format_significant(contrast.method_value),
                    format_significant(contrast.reference_value),
                    f"{format_significant(contrast.difference)} {interval}".strip(),
                    format_p(contrast.p_holm),
                    contrast.note or contrast.test,
                )
            )
    if not body:
        return None
    return ReportTable(
        name=f"robust_metrics__{_safe(dataset)}",
        title=f"{dataset}: the paper's metrics, {regimes.standard} vs {regimes.robust}",
        header=(
            "metric",
            "method",
            regimes.standard,
            regimes.robust,
            "robust - standard [95 % CI]",
            "p (Holm)",
            "test",
        ),
        rows=tuple(body),
    )


def ranking_table(
    comparisons: Sequence[MetricComparison], dataset: str, regimes: Regimes
) -> ReportTable:
    """Per paper metric and setting, the first-ranked method under each model, the verdict."""
    return ReportTable(
        name=f"robust_first_ranked__{_safe(dataset)}",
        title=f"{dataset}: does robust training change the first-ranked method?",
        header=(
            "metric",
            f"first under {regimes.standard}",
            f"first under {regimes.robust}",
            "verdict",
        ),
        rows=tuple(
            (
                f"{c.metric} {c.setting}".strip(),
                c.standard_first or "—",
                c.robust_first or "—",
                c.verdict,
            )
            for c in comparisons
        ),
    )


def _eigenvalues(run: RunContents, dataset: str, model: str) -> dict[int, np.ndarray]:
    found = {}
    for example in run.examples:
        if (example.dataset, example.model, example.method) != (dataset, model, REFERENCE):
            continue
        try:
            values = example.load().get("eigenvalues")
        except ValueError:
            continue
        if isinstance(values, torch.Tensor) and values.dim() == 2:
            found[example.seed] = -np.sort(-values.to(torch.float64).numpy(), axis=1)
    return found


def spectra_figure(run: RunContents, dataset: str, regimes: Regimes, path: Path) -> FigureResult:
    """The iFIM spectra side by side: mean lambda_i over the evaluated images by index, one
    line per seed, standard and robust in two colours; left raw (log scale), right as a
    share of the trace."""
    spectra = {m: _eigenvalues(run, dataset, m) for m in (regimes.standard, regimes.robust)}
    if not all(spectra.values()):
        return FigureResult(
            None, "", (f"{dataset}: no {REFERENCE} eigenvalues of both models, no spectra figure",)
        )
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    raw, share = figure.subplots(1, 2)
    for model, color in ((regimes.standard, "tab:blue"), (regimes.robust, "tab:red")):
        for i, (_, values) in enumerate(sorted(spectra[model].items())):
            index = np.arange(1, values.shape[1] + 1)
            label = model if i == 0 else None
            raw.plot(index, values.mean(axis=0), marker="o", color=color, alpha=0.8, label=label)
            totals = values.sum(axis=1)
            keep = totals > 0
            if keep.any():
                share.plot(
                    index,
                    (values[keep] / totals[keep, None]).mean(axis=0),
                    marker="o",
                    color=color,
                    alpha=0.8,
                    label=label,
                )
    raw.set_yscale("log")
    rank = max(v.shape[1] for found in spectra.values() for v in found.values())
    for ax in (raw, share):
        ax.set_xticks(np.arange(1, rank + 1) if rank <= 20 else ax.get_xticks())
    for ax, title in (
        (raw, r"mean $\lambda_i$"),
        (share, r"mean $\lambda_i / \Sigma_j \lambda_j$"),
    ):
        ax.set_xlabel("i", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
    share.set_ylim(0, 1.05)
    save_figure(figure, path)
    return FigureResult(
        path,
        f"{dataset}: the iFIM's eigenvalues of every evaluated test image, {regimes.standard} "
        f"(blue) vs {regimes.robust} (red), mean over the images, one line per seed; left on a "
        "log scale, right as a share of the trace (a spread spectrum has a flatter right panel).",
    )


def map_pairs_figure(run: RunContents, dataset: str, regimes: Regimes, path: Path) -> FigureResult:
    """For a few test images, each method's map under the standard and the robust model side
    by side (the first seed both have; the figure images are the same for both)."""
    seeds = sorted(
        {e.seed for e in run.examples if (e.dataset, e.model) == (dataset, regimes.standard)}
        & {e.seed for e in run.examples if (e.dataset, e.model) == (dataset, regimes.robust)}
    )
    if not seeds:
        return FigureResult(
            None, "", (f"{dataset}: no example maps of both models, no map pairs figure",)
        )
    seed = seeds[0]
    methods = order_methods(
        e.method
        for e in run.examples
        if (e.dataset, e.model, e.seed) == (dataset, regimes.standard, seed)
    )
    loaded: dict[tuple[str, str], dict[str, Any]] = {}
    for model in (regimes.standard, regimes.robust):
        for method in methods:
            example = run.example(dataset, model, seed, method)
            if example is not None:
                try:
                    loaded[(model, method)] = example.load()
                except ValueError:
                    continue
    methods = [
        m for m in methods if (regimes.standard, m) in loaded and (regimes.robust, m) in loaded
    ]
    if not methods:
        return FigureResult(
            None, "", (f"{dataset}: no method has maps of both models, no map pairs figure",)
        )
    first = loaded[(regimes.standard, methods[0])]
    count = min(MAP_PAIR_IMAGES, int(first["inputs"].shape[0]))
    rows = [(i, model) for i in range(count) for model in (regimes.standard, regimes.robust)]
    figure = Figure(figsize=(1.3 * (len(methods) + 1), 1.3 * len(rows)), layout="constrained")
    axes = figure.subplots(len(rows), len(methods) + 1, squeeze=False)
    for r, (i, model) in enumerate(rows):
        image = first["inputs"][i].to(torch.float64).mean(dim=0).numpy()
        axes[r][0].imshow(image, cmap="gray")
        axes[r][0].set_ylabel(f"#{i} {model}", fontsize=6)
        for c, method in enumerate(methods, start=1):
            m = loaded[(model, method)]["maps"][i].to(torch.float64).sum(dim=0).numpy()
            both = [
                loaded[(x, method)]["maps"][i].to(torch.float64).sum(dim=0).numpy()
                for x in (regimes.standard, regimes.robust)
            ]
            cmap = column_colormap(both, False)
            peak = float(np.max(np.abs(m))) or 1.0
            low = -peak if cmap != "viridis" else 0.0
            axes[r][c].imshow(m, cmap=cmap, vmin=low, vmax=peak)
            if r == 0:
                axes[r][c].set_title(method, fontsize=6)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    save_figure(figure, path)
    return FigureResult(
        path,
        f"{dataset}, seed {seed}: each method's map of the same test images under "
        f"{regimes.standard} and {regimes.robust} (rows in pairs); each panel scaled to its own "
        "largest |value| (signed maps diverging around 0).",
    )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def robust_section(
    run: RunContents,
    statistics: RunStatistics,
    pairs: Sequence[PairRow],
    directory: Path,
    embed: Callable[[FigureResult, str], list[str]],
) -> ReportSection | None:
    """The section, or ``None`` when the config has no standard and adversarially trained
    model of one architecture."""
    regimes = find_regimes(run.config)
    if regimes is None:
        return None
    summary = statistics.summary
    values, samples = CellValues(run), RunSamples(run)
    datasets = [
        d
        for d in unique(s.dataset for s in summary)
        if {regimes.standard, regimes.robust} <= {s.model for s in summary if s.dataset == d}
    ]
    lines = [
        f"## Robustness: {regimes.standard} vs {regimes.robust} ({regimes.attack})",
        "",
        f"The same architecture ({regimes.architecture}), data and seeds, trained without and "
        "with adversarial attacks, evaluated on the same test images. " + RULES,
        "",
    ]
    tables: list[ReportTable] = []
    notes: list[str] = []
    if not datasets:
        lines += ["_No dataset has rows of both models: nothing to compare._", ""]
    directory.mkdir(parents=True, exist_ok=True)
    for dataset in datasets:
        lines += [f"### {dataset}", ""]
        spectrum = spectrum_comparison(summary, values, dataset, regimes)
        figure = spectra_figure(
            run, dataset, regimes, directory / f"robust_spectra__{_safe(dataset)}.png"
        )
        notes += figure.notes
        lines += embed(figure, "iFIM spectra, standard vs robust")
        verdict_lines = []
        if spectrum is not None:
            verdict_lines.append(spectrum.sentence)
            tables.append(spectrum.table)
        comparisons = metric_comparisons(summary, samples, dataset, regimes)
        ranking = ranking_table(comparisons, dataset, regimes) if comparisons else None
        lines += ["#### Robustness verdicts", ""]
        lines += (
            [*verdict_lines, ""]
            if verdict_lines
            else ["_No iFIM spectrum rows: the subspace is not judged._", ""]
        )
        if ranking is not None:
            tables.append(ranking)
            lines += [ranking.markdown(), ""]
        if spectrum is not None:
            lines += [f"#### {spectrum.table.title}", "", spectrum.table.markdown(), ""]
        for table in (
            pair_table(pairs, dataset, regimes),
            metrics_table(comparisons, dataset, regimes),
        ):
            if table is not None:
                tables.append(table)
                lines += [f"#### {table.title}", "", table.markdown(), ""]
        figure = map_pairs_figure(
            run, dataset, regimes, directory / f"robust_map_pairs__{_safe(dataset)}.png"
        )
        notes += figure.notes
        lines += embed(figure, "maps, standard vs robust")
    notes += [f"Robustness: {p}" for p in (*values.problems, *samples.problems)]
    return ReportSection(tuple(lines), tuple(tables), tuple(notes))
