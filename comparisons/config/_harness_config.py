"""The resolved config of a run (:class:`HarnessConfig`), its TOML layout and fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from captum_ifim import MethodSpec, get_method_spec
from comparisons.config._custom_methods import CustomMethodEntry
from comparisons.config._entries import DatasetEntry, ModelEntry
from comparisons.metrics._custom_metric import CustomMetric

MAP_TARGETS = ("label", "prediction")
RUN_KEYS = {
    "name": str,
    "seeds": list,
    "device": str,
    "eval_examples": int,
    "batch_size": int,
    "figure_examples": int,
    "background_examples": int,
    "map_target": str,
    "num_threads": int,
}
#: ModelEntry fields added after the first configs, left out of ``to_dict`` at their
#: defaults so that the fingerprints of older configs do not change.
OPTIONAL_MODEL_FIELDS: dict[str, Any] = {
    "factory": None,
    "zoo": None,
    "weights": None,
    "trust_pickle": False,
    "preprocessing": {},
    "python_object": None,
    "output_key": None,
    "target_layer": None,
    "reshape": None,
    "architecture": None,
    "seeds": None,
}


@dataclass(frozen=True)
class HarnessConfig:
    """A resolved harness config.

    Attributes:
        name: Run name (the default output folder is ``runs/<name>``).
        seeds: Model initialisations (and training shuffles); one model per seed.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``... or ``"auto"``.
        eval_examples: Test images every cell evaluates (the same images for every method).
        batch_size: Images per attribution call.
        figure_examples: Test images whose maps are stored for the figure grid.
        background_examples: Training images DeepSHAP uses as its background.
        map_target: The class every class-specific map explains: ``"label"`` or
            ``"prediction"``.
        num_threads: ``torch.set_num_threads``; 0 keeps torch's default.
        datasets, models: What to run.
        methods: Registry names of ``captum_ifim.available_methods()`` and the names of
            ``custom_methods``, in run order.
        method_options: Per method, options for ``captum_ifim.build_method``.
        metrics: Registry names of ``captum_ifim.metrics.available_metrics()``.
        metric_options: Per metric, options of the harness's metric runner.
        custom_methods: Your own methods (``[[methods.custom]]``).
        custom_metrics: Your own metrics (``[[metrics.custom]]``), installed in the
            registries when the config is parsed.
    """

    name: str
    seeds: tuple[int, ...]
    datasets: tuple[DatasetEntry, ...]
    models: tuple[ModelEntry, ...]
    methods: tuple[str, ...]
    metrics: tuple[str, ...]
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str = "cpu"
    eval_examples: int = 64
    batch_size: int = 16
    figure_examples: int = 4
    background_examples: int = 16
    map_target: str = "label"
    num_threads: int = 0
    custom_methods: tuple[CustomMethodEntry, ...] = ()
    custom_metrics: tuple[CustomMetric, ...] = ()

    def seeds_of(self, model: ModelEntry) -> tuple[int, ...]:
        """The seeds ``model`` runs at: its own (some of the run's), else the run's."""
        return self.seeds if model.seeds is None else model.seeds

    def method_spec(self, name: str) -> MethodSpec:
        """The spec of method ``name``: the config's own (``[[methods.custom]]``) or the
        registry's."""
        for entry in self.custom_methods:
            if entry.name == name:
                return entry.method_spec()
        return get_method_spec(name)

    def to_dict(self) -> dict[str, Any]:
        """The TOML layout of this config (``parse_config(c.to_dict()) == c``)."""
        data = asdict(replace(self, custom_methods=(), custom_metrics=()))  # not data
        run = {key: data[key] for key in RUN_KEYS}
        models = [
            {
                k: v
                for k, v in m.items()
                if k not in OPTIONAL_MODEL_FIELDS or v != OPTIONAL_MODEL_FIELDS[k]
            }
            for m in data["models"]
        ]
        methods: dict[str, Any] = {"names": list(self.methods), "options": data["method_options"]}
        if self.custom_methods:
            methods["custom"] = [entry.to_dict() for entry in self.custom_methods]
        metrics: dict[str, Any] = {"names": list(self.metrics), "options": data["metric_options"]}
        if self.custom_metrics:
            metrics["custom"] = [entry.to_dict() for entry in self.custom_metrics]
        return {
            "run": run,
            "datasets": data["datasets"],
            "models": models,
            "methods": methods,
            "metrics": metrics,
        }

    def fingerprint(self) -> str:
        """A hash of everything that determines the results (not the run's name)."""
        data = self.to_dict()
        data["run"] = {k: v for k, v in data["run"].items() if k != "name"}
        return stable_hash(data)


def stable_hash(data: Any) -> str:
    """A short SHA-256 of a JSON-serialisable value (keys sorted)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
