"""What a run was: datasets, models, seeds, methods and metrics (from the config, checked
against the rows), the environment, and the methods' facts, as markdown."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from comparisons.config import HarnessConfig
from comparisons.reporting._exports import markdown_table
from comparisons.run_folder import GroupKey, ResultRow
from comparisons.statistics import order_methods, unique


def configured(config: HarnessConfig | None) -> dict[str, list[str]]:
    """The names the config lists: its seeds, dataset labels, models, methods and metrics
    (``"all"`` already expanded when it loaded); empty without a config."""
    if config is None:
        return {}
    return {
        "seeds": [str(s) for s in config.seeds],
        "datasets": [d.label for d in config.datasets],
        "models": [m.name for m in config.models],
        "methods": list(config.methods),
        "metrics": list(config.metrics),
    }


def measured(rows: Sequence[ResultRow]) -> dict[str, list[str]]:
    """The names that have rows: datasets, models, seeds, methods, row metrics."""
    return {
        "datasets": unique(r.dataset for r in rows),
        "models": unique(r.model for r in rows),
        "seeds": [str(s) for s in sorted({r.seed for r in rows})],
        "methods": order_methods(r.method for r in rows),
        "metrics": unique(r.metric for r in rows),
    }


def _code(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "none"


def run_markdown(config: HarnessConfig | None, rows: Sequence[ResultRow]) -> str:
    """What was run: per kind, the config's names and the names with result rows.

    The config's metrics are registry names (``contrastive-perturbation``), the rows'
    metrics are result names (``f1-ratio``), so both lists are shown.
    """
    listed, found = configured(config), measured(rows)
    lines = []
    for key in ("datasets", "models", "seeds", "methods"):
        line = f"- **{key.capitalize()}**: "
        if key in listed:
            line += _code(listed[key])
            absent = [n for n in listed[key] if n not in found[key]]
            extra = [n for n in found[key] if n not in listed[key]]
            if absent:
                line += f" (no result rows for {_code(absent)})"
            if extra:
                line += f" (rows but not in the config: {_code(extra)})"
        else:
            line += f"{_code(found[key])} (from the rows; the config does not list them)"
        lines.append(line)
    if "metrics" in listed:
        lines.append(f"- **Metrics** (config): {_code(listed['metrics'])}")
    lines.append(f"- **Result metrics** (rows): {_code(found['metrics'])}")
    if config is not None:
        others = {k: v for k, v in config.to_dict()["run"].items() if k not in ("seeds",)}
        if others:
            lines.append(
                "- **Run settings**: "
                + ", ".join(f"{k} = `{json.dumps(v, sort_keys=True)}`" for k, v in others.items())
            )
    return "\n".join(lines) + "\n"


def metrics_without_rows(config: HarnessConfig | None, rows: Sequence[ResultRow]) -> list[str]:
    """Notes for the config's metrics that wrote no row for a (dataset, model) with method
    rows; for a metric that needs ground-truth masks (energy in mask, pointing game) the
    note says so: the data have no masks, or no evaluated image has a signal."""
    from comparisons.metrics import get_harness_metric

    listed = configured(config).get("metrics", [])
    cells = list(dict.fromkeys((r.dataset, r.model) for r in rows if r.method))
    notes = []
    for name in listed:
        try:
            entry = get_harness_metric(name)
        except ValueError:  # a metric this version does not know
            continue
        produced = {spec.name for spec in entry.rows}
        found = {(r.dataset, r.model) for r in rows if r.method and r.metric in produced}
        missing = [f"{d} / {m}" for d, m in cells if (d, m) not in found]
        if not missing:
            continue
        reason = (
            "it needs ground-truth masks: the data have none, or no evaluated image has a "
            "signal in its mask"
            if entry.info.needs_mask
            else "it applied to no method of the run there"
        )
        notes.append(f"`{name}` has no rows for {_code(missing)}: {reason}.")
    return notes


def given_weights_markdown(
    model_records: Mapping[GroupKey, Mapping[str, Any]], dataset: str
) -> str | None:
    """The models of ``dataset`` given with their weights (not trained), with what identifies
    the weights: the file's name, size and SHA-256 (or, for a model given in Python, its
    class and the SHA-256 of its tensors); ``None`` when no model of the dataset was given.

    ``model_records``: ``models/<group>.json``'s records by group
    (:attr:`comparisons.run_folder.RunContents.model_records`).
    """
    found: dict[tuple[str, str, str], list[int]] = {}
    for group, record in model_records.items():
        if group.dataset != dataset or record.get("given") is not True:
            continue
        identity = record.get("identity") or {}
        weights = identity.get("weights") or {}
        if "file" in weights:
            source = f"`{weights['file']}` ({weights.get('bytes', '?')} bytes)"
        else:
            source = f"in Python: `{weights.get('class', '?')}` (hash of its tensors)"
        digest = f"`{weights.get('sha256', 'not recorded')}`"
        found.setdefault((group.model, source, digest), []).append(group.seed)
    if not found:
        return None
    rows = [
        [f"`{model}`", ", ".join(str(s) for s in sorted(seeds)), source, digest]
        for (model, source, digest), seeds in found.items()
    ]
    return markdown_table(["model", "seeds", "weights", "SHA-256"], rows)


def environment_markdown(environment: Mapping[str, Any]) -> str:
    """``environment.json`` as a two-column table."""
    if not environment:
        return "No `environment.json` in the run folder.\n"
    rows = [
        [str(key), value if isinstance(value, str) else json.dumps(value, sort_keys=True)]
        for key, value in environment.items()
    ]
    return markdown_table(["", "value"], rows) + "\n"


def methods_markdown(methods: Mapping[str, Mapping[str, Any]], used: Sequence[str]) -> str:
    """The facts of ``methods.json`` for the methods of the run (registry order)."""
    names = order_methods([*methods, *used])
    if not names:
        return "No methods in the run.\n"

    def flag(facts: Mapping[str, Any], key: str) -> str:
        value = facts.get(key)
        return "yes" if value is True else "no" if value is False else "?"

    rows = []
    for name in names:
        facts = methods.get(name)
        if facts is None:
            rows.append([f"`{name}`", "(not in methods.json)", "?", "?"])
            continue
        rows.append(
            [
                f"`{name}`",
                str(facts.get("description", "")),
                flag(facts, "normalized_maps"),
                flag(facts, "uses_target"),
            ]
        )
    table = markdown_table(["method", "description", "normalized maps", "uses target"], rows)
    normalized = [n for n in names if methods.get(n, {}).get("normalized_maps") is True]
    note = (
        f"Normalized maps (rescaled per image to [0, 1], so their magnitudes are not comparable "
        f"across images or with the other methods): {_code(normalized)}."
        if normalized
        else "No method in the run normalizes its maps."
    )
    return f"{table}\n\n{note}\n"
