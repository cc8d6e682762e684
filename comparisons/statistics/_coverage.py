"""Which cells of a run's plan its results cover: done, failed, not run yet.

A run's plan is every (dataset, model, seed, method) its config asks for: each dataset
label with each model that runs on it (``model.datasets``), each seed and each method (as
``comparisons.run`` plans it). A folder without a readable config has no plan: the cells
expected are then inferred from the results, every seed and method seen with every
(dataset, model) seen, which finds a cell missing from the product but not a seed that no
cell reached. A cell is *done* when it has result rows, *failed* when ``failed/<cell>.txt``
says its last attempt failed. A report on a run that is not complete says so, and a verdict
whose (dataset, model) misses cells is provisional: it may change when they are run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from comparisons.config import HarnessConfig
from comparisons.run_folder import CellKey, GroupKey, ResultRow
from comparisons.run_folder._contents import NOT_APPLICABLE as _NOT_APPLICABLE
from comparisons.statistics._order import order_methods, unique

#: The dimensions of a cell, in the order of its key, with their plural in words.
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("dataset", "datasets"),
    ("model", "models"),
    ("seed", "seeds"),
    ("method", "methods"),
)


def planned_cells(config: HarnessConfig) -> list[CellKey]:
    """Every cell ``config`` plans, in config order (datasets, models, seeds, methods)."""
    return [
        CellKey(GroupKey(dataset.label, model.name, seed), method)
        for dataset in config.datasets
        for model in config.models
        if model.datasets is None or dataset.label in model.datasets
        for seed in config.seeds_of(model)
        for method in config.methods
    ]


def _value(cell: CellKey, dimension: str) -> str:
    if dimension == "method":
        return cell.method
    return str(getattr(cell.group, dimension))


@dataclass(frozen=True)
class Shortfall:
    """One value of a dimension (a seed, a method, ...) that misses cells.

    Attributes:
        dimension: ``"dataset"``, ``"model"``, ``"seed"`` or ``"method"``.
        value: Its value (a seed as text).
        done: Its cells with results.
        expected: Its cells in the plan.
    """

    dimension: str
    value: str
    done: int
    expected: int

    @property
    def missing(self) -> bool:
        """No cell of it has results."""
        return self.done == 0


@dataclass(frozen=True)
class RunCoverage:
    """The cells of a run's plan and which of them its results hold.

    Attributes:
        expected: The planned cells (config order; inferred from the results without a
            config, see :attr:`from_config`).
        done: The planned cells with result rows.
        failed: Cells whose last attempt failed, with the reason (the last line of the
            traceback); planned or not.
        from_config: Whether :attr:`expected` is the config's plan.
    """

    expected: tuple[CellKey, ...]
    done: frozenset[CellKey]
    failed: Mapping[CellKey, str] = field(default_factory=dict)
    from_config: bool = True

    @property
    def complete(self) -> bool:
        """Every planned cell has results."""
        return len(self.done) == len(self.expected)

    @property
    def not_done(self) -> tuple[CellKey, ...]:
        """The planned cells without results, in plan order (failed or not run yet)."""
        return tuple(c for c in self.expected if c not in self.done)

    def of(self, dataset: str, model: str) -> RunCoverage:
        """The coverage of one (dataset, model)'s cells."""
        return RunCoverage(
            expected=tuple(
                c for c in self.expected if (c.group.dataset, c.group.model) == (dataset, model)
            ),
            done=frozenset(
                c for c in self.done if (c.group.dataset, c.group.model) == (dataset, model)
            ),
            failed={
                c: r
                for c, r in self.failed.items()
                if (c.group.dataset, c.group.model) == (dataset, model)
            },
            from_config=self.from_config,
        )

    def shortfalls(self, dimension: str) -> list[Shortfall]:
        """The values of ``dimension`` with fewer cells done than planned, in plan order."""
        expected: dict[str, int] = {}
        done: dict[str, int] = {}
        for cell in self.expected:
            value = _value(cell, dimension)
            expected[value] = expected.get(value, 0) + 1
            done[value] = done.get(value, 0) + (cell in self.done)
        return [
            Shortfall(dimension, value, done[value], expected[value])
            for value in expected
            if done[value] < expected[value]
        ]

    def methods_not_done(self) -> list[str]:
        """The methods with planned cells without results, in plan order."""
        return unique(c.method for c in self.not_done)

    def why_not_done(self, method: str) -> str:
        """Why ``method``'s planned cells have no results, e.g. ``"failed in seeds 0, 1:
        RuntimeError: ..."`` or ``"seed 2 not run yet"``; ``""`` when all have results."""
        reasons: dict[str, list[int]] = {}
        waiting: list[int] = []
        for cell in self.not_done:
            if cell.method != method:
                continue
            if cell in self.failed:
                reasons.setdefault(self.failed[cell], []).append(cell.group.seed)
            else:
                waiting.append(cell.group.seed)
        parts = [
            f"{_NOT_APPLICABLE} in {_seeds(seeds)}: {reason.removeprefix(_NOT_APPLICABLE + ': ')}"
            if reason.startswith(_NOT_APPLICABLE)
            else f"failed in {_seeds(seeds)}: {reason}"
            for reason, seeds in reasons.items()
        ]
        return "; ".join([*parts, *([f"{_seeds(waiting)} not run yet"] if waiting else [])])

    def failed_in_plan(self) -> dict[CellKey, str]:
        """The planned cells without results whose last attempt failed, with the reason."""
        return {c: self.failed[c] for c in self.not_done if c in self.failed}

    def describe(self) -> str:
        """What is done and what misses, e.g. ``"3 of 6 cells (3 not run yet); seeds
        missing: `1`"``.

        Per dimension with more than one value: the values *missing* (none of their cells
        done), then the values *incomplete* among the cells those do not explain, with their
        counts.
        """
        text = f"{len(self.done)} of {len(self.expected)} cells"
        if self.complete:
            return text
        failed = len(self.failed_in_plan())
        waiting = len(self.not_done) - failed
        why = [f"{failed} failed" if failed else "", f"{waiting} not run yet" if waiting else ""]
        text += f" ({', '.join(w for w in why if w)})"
        if not self.done:
            return text
        parts = [text]
        several = [
            (d, p) for d, p in DIMENSIONS if len(unique(_value(c, d) for c in self.expected)) > 1
        ]
        missing = {d: [s for s in self.shortfalls(d) if s.missing] for d, _ in several}
        for dimension, plural in several:
            if missing[dimension]:
                parts.append(
                    f"{plural} missing: " + ", ".join(f"`{s.value}`" for s in missing[dimension])
                )
        explained = {(d, s.value) for d, shortfalls in missing.items() for s in shortfalls}
        residual = [
            c for c in self.not_done if not any((d, _value(c, d)) in explained for d, _ in several)
        ]
        for dimension, plural in several:
            values = {_value(c, dimension) for c in residual}
            incomplete = [
                s for s in self.shortfalls(dimension) if s.value in values and not s.missing
            ]
            if incomplete:
                parts.append(
                    f"{plural} incomplete: "
                    + ", ".join(f"`{s.value}` ({s.done} of {s.expected} cells)" for s in incomplete)
                )
        return "; ".join(parts)


def _seeds(seeds: list[int]) -> str:
    """``"seed 0"`` or ``"seeds 0, 1"`` (sorted, each once)."""
    ordered = sorted(set(seeds))
    return ("seed " if len(ordered) == 1 else "seeds ") + ", ".join(str(s) for s in ordered)


def run_coverage(
    config: HarnessConfig | None,
    rows: Iterable[ResultRow],
    failed: Mapping[CellKey, str] | None = None,
) -> RunCoverage:
    """The coverage of a run's plan by its result rows (the method rows: model-level and
    model-pair rows are not cells).

    Args:
        config: The run's config, or ``None`` (an old folder): then the plan is inferred.
        rows: The result rows.
        failed: The cells whose last attempt failed, with the reason; a reason starting
            with "not applicable" (the method refuses the model) takes the cell out of the
            plan: the report says why, and the verdicts are final without it.
    """
    failed = dict(failed or {})
    refused = {c for c, reason in failed.items() if reason.startswith(_NOT_APPLICABLE)}
    found = {CellKey(GroupKey(r.dataset, r.model, r.seed), r.method) for r in rows if r.method}
    if config is not None:
        # A cell whose method refuses its model is not part of what the run can cover.
        expected = [c for c in planned_cells(config) if c not in refused]
        return RunCoverage(tuple(expected), frozenset(found & set(expected)), failed, True)
    seen = [*found, *failed]
    pairs = list(dict.fromkeys((c.group.dataset, c.group.model) for c in sorted(seen)))
    seeds = sorted({c.group.seed for c in seen})
    methods = order_methods(c.method for c in seen)
    expected = [
        CellKey(GroupKey(dataset, model, seed), method)
        for dataset, model in pairs
        for seed in seeds
        for method in methods
        if CellKey(GroupKey(dataset, model, seed), method) not in refused
    ]
    return RunCoverage(tuple(expected), frozenset(found), failed, False)
