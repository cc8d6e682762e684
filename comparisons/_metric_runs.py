"""Each registry metric run on one cell's maps, turned into rows of the tidy results table.

A *cell* is one (dataset, model, seed, method). :class:`CellData` holds what every metric
may need (the evaluated test images, their maps, the model, the explainer); each runner
below calls the library's metric as it is and returns :class:`MetricValue` rows. Options and
their defaults live in :data:`METRIC_DEFAULTS`, the harness's protocol decisions in one place
(the paper's are in ../shared/METHOD.md sections 3-4).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from captum.metrics import infidelity, sensitivity_max
from torch import Tensor, nn

from captum_ifim.metrics import (
    CorrelationSummary,
    compute_maps,
    contrastive_perturbation,
    default_layers,
    deletion_auc,
    energy_in_mask,
    insertion_auc,
    kl_fidelity,
    model_parameter_randomization,
    pearson_per_sample,
    pointing_game,
)
from comparisons.datasets import ImageDataset

#: Options of every metric runner and their defaults. ``max_examples`` evaluates only the
#: first images of the cell (``None``: all); ``methods`` restricts a metric to some methods.
METRIC_DEFAULTS: dict[str, dict[str, Any]] = {
    "contrastive-perturbation": {
        "fractions": [0.01, 0.02, 0.03],
        "low_rule": "bottomk_insensitive",
        "tie_break": "random",
    },
    "adversarial-correlation": {"epsilon_relative": 0.01, "max_examples": None},
    "deletion-auc": {"steps": 16, "baseline": "mean", "max_examples": None},
    "insertion-auc": {"steps": 16, "baseline": "blur", "max_examples": None},
    "energy-in-mask": {"magnitude": "abs"},
    "pointing-game": {"tolerance": 0},
    "kl-fidelity": {
        "epsilons": [1e-3, 1e-2, 1e-1, 1.0],
        "methods": ["ifim-sensitive"],
        "max_examples": None,
    },
    "model-parameter-randomization": {"max_examples": 4, "max_layers": 0, "methods": None},
    "infidelity": {"n_perturb_samples": 8, "noise_relative": 0.1, "max_examples": 16},
    "sensitivity-max": {"n_perturb_samples": 4, "radius_relative": 0.02, "max_examples": 8},
}
_COMMON_OPTIONS = ("methods",)


def check_metric_options(name: str, options: dict[str, Any]) -> None:
    """Raise ``ValueError`` for an option the metric runner does not know."""
    valid = set(METRIC_DEFAULTS[name]) | set(_COMMON_OPTIONS)
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for metric {name!r}: expected some of {sorted(valid)}"
        )


def resolved_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The defaults of ``name`` updated with ``options``."""
    check_metric_options(name, options)
    return {"methods": None, **METRIC_DEFAULTS[name], **options}


@dataclass(frozen=True)
class MetricValue:
    """One value of the tidy table, before the cell's keys are added."""

    metric: str
    value: float
    setting: str = ""
    n: int = 0


@dataclass
class CellData:
    """What the metrics of one cell need; tensors are on the cell's device.

    Attributes:
        method: The registry name of the method.
        model: The trained classifier (eval mode).
        dataset: The dataset (for pixel statistics and the value range).
        inputs: (N, C, H, W) the evaluated test images.
        labels: (N,) their true labels.
        targets: (N,) the classes the class-specific maps explain.
        masks: (N, H, W) ground-truth signal masks, or ``None``.
        maps: (N, C, H, W) the method's maps of ``inputs``.
        low_maps: The map the contrastive low set comes from (I(x) for S(x)), or ``None``.
        explainer: The method built for ``model`` (``attribute(inputs, target=...)``).
        explainer_factory: Builds the method for another model (randomization test).
        noise_seed: Seeds the perturbation noise: the same for every method of a model.
        batch_size: Images per explainer or model call.
        adversarial_inputs: ``epsilon -> x_adv`` (FGSM, shared by the methods of a model).
    """

    method: str
    model: nn.Module
    dataset: ImageDataset
    inputs: Tensor
    labels: Tensor
    targets: Tensor
    masks: Tensor | None
    maps: Tensor
    low_maps: Tensor | None
    explainer: Any
    explainer_factory: Callable[[nn.Module], Any]
    noise_seed: int
    batch_size: int
    adversarial_inputs: Callable[[float], Tensor]
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def data_range(self) -> float:
        """Width of the valid value range, else of the training images' values."""
        if self.dataset.value_range is not None:
            low, high = self.dataset.value_range
            return float(high - low)
        images = self.dataset.train.images
        return float(images.max() - images.min())


def _first(tensor: Tensor, count: int | None) -> Tensor:
    """The first ``count`` rows of ``tensor`` (all of them for ``None``)."""
    return tensor if count is None else tensor[:count]


def _mean(values: Tensor) -> tuple[float, int]:
    """Mean over the finite values and how many there were."""
    values = values.double().flatten()
    finite = values[torch.isfinite(values)]
    return (float(finite.mean()) if finite.numel() else math.nan), int(finite.numel())


def _contrastive(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    result = contrastive_perturbation(
        cell.model,
        cell.inputs,
        cell.labels,
        cell.maps,
        cell.low_maps,
        fractions=tuple(options["fractions"]),
        low_rule=options["low_rule"],
        noise_mean=cell.dataset.pixel_mean,
        noise_std=cell.dataset.pixel_std,
        seed=cell.noise_seed,
        tie_break=options["tie_break"],
        max_examples_per_batch=cell.batch_size,
    )
    rows = []
    n = result.num_examples
    for i, alpha in enumerate(result.fractions):
        setting = f"alpha={alpha:g}"
        rows += [
            MetricValue("f1-ratio", float(result.ratio[i]), setting, n),
            MetricValue("f1-clean", result.f1_clean, setting, n),
            MetricValue("f1-high-perturbed", float(result.f1_high[i]), setting, n),
            MetricValue("f1-low-perturbed", float(result.f1_low[i]), setting, n),
        ]
    return rows


def _adversarial(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    epsilon = options["epsilon_relative"] * cell.data_range
    adversarial = _first(cell.adversarial_inputs(epsilon), count)
    targets = _first(cell.targets, count)
    adversarial_maps = compute_maps(cell.explainer, adversarial, targets, None, cell.batch_size)
    summary = CorrelationSummary.from_values(
        pearson_per_sample(_first(cell.maps, count), adversarial_maps)
    )
    setting = f"eps={epsilon:.4g}"
    total = summary.num_valid + summary.num_undefined
    return [
        MetricValue("adversarial-correlation", summary.mean, setting, summary.num_valid),
        MetricValue("adversarial-correlation-std", summary.std, setting, summary.num_valid),
        MetricValue(
            "adversarial-correlation-undefined", float(summary.num_undefined), setting, total
        ),
    ]


def _baseline(cell: CellData, baseline: Any) -> Any:
    return cell.dataset.pixel_mean if baseline == "mean" else baseline


def _curve(metric: str, function: Callable[..., Any]) -> Callable[..., list[MetricValue]]:
    def run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
        count = options["max_examples"]
        curve = function(
            cell.model,
            _first(cell.inputs, count),
            _first(cell.maps, count),
            _first(cell.targets, count),
            baseline=_baseline(cell, options["baseline"]),
            steps=options["steps"],
            generator=torch.Generator().manual_seed(cell.noise_seed),
            max_examples_per_batch=cell.batch_size,
        )
        value, n = _mean(curve.auc)
        return [MetricValue(metric, value, f"baseline={options['baseline']}", n)]

    return run


def _signal_present(cell: CellData) -> tuple[Tensor, Tensor] | None:
    """The maps and masks of the examples with a signal, or ``None`` when there are none."""
    if cell.masks is None:
        return None
    present = cell.masks.flatten(1).any(dim=1)
    return (cell.maps[present], cell.masks[present]) if bool(present.any()) else None


def _energy(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = _signal_present(cell)
    if signal is None:
        return []
    value, n = _mean(energy_in_mask(*signal, magnitude=options["magnitude"]))
    return [MetricValue("energy-in-mask", value, "", n)]


def _pointing(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = _signal_present(cell)
    if signal is None:
        return []
    value, n = _mean(pointing_game(*signal, tolerance=options["tolerance"]))
    return [MetricValue("pointing-game", value, f"tolerance={options['tolerance']}", n)]


def _kl(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    result = kl_fidelity(
        cell.model,
        _first(cell.inputs, count),
        tuple(options["epsilons"]),
        max_examples_per_batch=cell.batch_size,
    )
    rows = []
    for j, eps in enumerate(result.epsilons.tolist()):
        value, n = _mean(result.ratio[:, j])
        rows.append(MetricValue("kl-fidelity", value, f"eps={eps:g}", n))
    return rows


def _randomization(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    layers = default_layers(cell.model)
    if options["max_layers"]:
        step = max(1, math.ceil(len(layers) / options["max_layers"]))
        layers = layers[::step]
    result = model_parameter_randomization(
        cell.model,
        cell.explainer_factory,
        _first(cell.inputs, count),
        _first(cell.targets, count),
        layers=layers,
        seed=cell.noise_seed,
        max_examples_per_batch=cell.batch_size,
    )
    rows = []
    for i, layer in enumerate(result.layers):
        value, n = _mean(result.spearman_abs[i])
        rows.append(MetricValue("randomization-similarity", value, f"layer={layer}", n))
    return rows


def _infidelity(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    std = options["noise_relative"] * cell.dataset.pixel_std
    inputs = _first(cell.inputs, count)

    def perturb(x: Tensor) -> tuple[Tensor, Tensor]:
        noise = torch.randn(x.shape, generator=generator).to(x) * std
        return noise, x - noise

    generator = torch.Generator().manual_seed(cell.noise_seed)
    values = infidelity(
        cell.model,
        perturb,
        inputs,
        _first(cell.maps, count),
        target=_first(cell.targets, count),
        n_perturb_samples=options["n_perturb_samples"],
        max_examples_per_batch=cell.batch_size * options["n_perturb_samples"],
        normalize=True,
    )
    value, n = _mean(values)
    return [MetricValue("infidelity", value, f"noise_std={std:.4g}", n)]


def _sensitivity(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    radius = options["radius_relative"] * cell.data_range
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cell.noise_seed)
        values = sensitivity_max(
            cell.explainer.attribute,
            _first(cell.inputs, count),
            perturb_radius=radius,
            n_perturb_samples=options["n_perturb_samples"],
            max_examples_per_batch=cell.batch_size,
            target=_first(cell.targets, count),
        )
    value, n = _mean(values)
    return [MetricValue("sensitivity-max", value, f"radius={radius:.4g}", n)]


RUNNERS: dict[str, Callable[[CellData, dict[str, Any]], list[MetricValue]]] = {
    "contrastive-perturbation": _contrastive,
    "adversarial-correlation": _adversarial,
    "deletion-auc": _curve("deletion-auc", deletion_auc),
    "insertion-auc": _curve("insertion-auc", insertion_auc),
    "energy-in-mask": _energy,
    "pointing-game": _pointing,
    "kl-fidelity": _kl,
    "model-parameter-randomization": _randomization,
    "infidelity": _infidelity,
    "sensitivity-max": _sensitivity,
}


def run_metric(name: str, cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    """Rows of metric ``name`` for ``cell``; ``[]`` when the metric does not apply to it."""
    resolved = resolved_options(name, options)
    if resolved["methods"] is not None and cell.method not in resolved["methods"]:
        return []
    return RUNNERS[name](cell, resolved)
