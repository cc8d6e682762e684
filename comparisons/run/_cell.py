"""One cell (a group and a method): the method's maps of the evaluated images, timed, and
every metric on them, as a :class:`CellRecord` the run folder writes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from captum_ifim import build_method
from captum_ifim.metrics import compute_maps
from comparisons.config import HarnessConfig
from comparisons.metrics import (
    METRIC_SECONDS_ROW,
    SECONDS_PER_IMAGE_ROW,
    CellData,
    MetricValue,
    run_metric,
)
from comparisons.models._model_layers import cam_options
from comparisons.run._group_data import GroupData
from comparisons.run._group_models import GroupModel
from comparisons.run._model_pairs import evaluated_maps
from comparisons.run._partial_cell import PartialCell
from comparisons.run._spectrum_maps import SpectrumMaps, shares_decomposition, spectrum_maps
from comparisons.run_folder import CellKey, ExampleBlock, GroupKey, ResultRow, per_example_table

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellRecord:
    """What one cell computed, as the run folder writes it.

    Attributes:
        rows: The tidy result rows.
        examples: The figure examples: ``inputs``, ``labels``, ``predictions``, ``masks``,
            ``maps`` (and ``eigenvalues`` for a method with a spectrum).
        per_example: The per-example values behind the rows (one table).
        maps: Every evaluated image's map (and U_K for the iFIM), for the model-pair stage.
    """

    rows: list[ResultRow]
    examples: dict[str, Any]
    per_example: pd.DataFrame
    maps: dict[str, Any]


def _method_factory(
    config: HarnessConfig, name: str, background: Tensor, model_name: str | None = None
) -> Callable[[nn.Module], Any]:
    spec = config.method_spec(name)  # a registry method or the config's own
    options = config.method_options.get(name, {})
    entry = next((m for m in config.models if m.name == model_name), None)

    def factory(model: nn.Module) -> Any:
        layers = cam_options(entry, spec, model)  # the model's own target layer and reshape
        return build_method(
            spec,
            model,
            background=background if spec.needs_background else None,
            **options,
            **layers,
        )

    return factory


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _maps_stage(
    config: HarnessConfig,
    cell: CellKey,
    data: GroupData,
    device: torch.device,
    explainer: Any,
) -> tuple[Tensor, Tensor | None, float, SpectrumMaps | None]:
    """The cell's maps of the evaluated images (timed after a warm-up on one image), its low
    maps (the contrastive test's), the maps' seconds, and an iFIM method's decomposition."""
    spec = config.method_spec(cell.method)
    # Warm-up on one image (lazy imports, allocator, kernels), then time the whole set.
    compute_maps(explainer, data.inputs[:1], data.targets[:1], None, 1)
    _synchronize(device)
    start = time.perf_counter()
    spectrum = (
        spectrum_maps(explainer, data.inputs, config.batch_size) if spec.has_spectrum else None
    )
    maps = (
        spectrum.maps
        if spectrum is not None
        else compute_maps(explainer, data.inputs, data.targets, None, config.batch_size)
    )
    _synchronize(device)
    seconds = time.perf_counter() - start
    low_maps = None
    if spec.low_map_method is not None:
        low = _method_factory(config, spec.low_map_method, data.background, cell.group.model)(
            data.model
        )
        if spectrum is not None and shares_decomposition(explainer, low):
            low_maps = spectrum.other
        else:
            low_maps = compute_maps(low, data.inputs, data.targets, None, config.batch_size)
    return maps, low_maps, seconds, spectrum


def run_cell(
    config: HarnessConfig,
    cell: CellKey,
    data: GroupData,
    device: torch.device,
    on_stage: Callable[[str], None] | None = None,
    partial: PartialCell | None = None,
) -> CellRecord:
    """Compute one cell: the method's maps of the evaluated images, timed, then every metric.

    ``on_stage`` is called with ``"maps"`` once the maps are done, then with each metric's
    name once it is done (the progress bar moves within a cell). With ``partial``, what a
    killed run saved of this cell is reused, and each stage is saved as it ends."""
    stage_done = on_stage if on_stage is not None else (lambda stage: None)
    factory = _method_factory(config, cell.method, data.background, cell.group.model)
    explainer = factory(data.model)
    if partial is not None and partial.load() and partial.has_maps:
        maps, low_maps, seconds, spectrum = partial.maps(data.inputs.device)
        logger.info("%s: resumed after its maps", cell.key)
    else:
        maps, low_maps, seconds, spectrum = _maps_stage(config, cell, data, device, explainer)
        if partial is not None:
            partial.save_maps(maps, low_maps, seconds, spectrum)
    stage_done("maps")
    cell_data = CellData(
        method=cell.method,
        model=data.model,
        dataset=data.dataset,
        inputs=data.inputs,
        labels=data.labels,
        targets=data.targets,
        masks=data.masks,
        maps=maps,
        low_maps=low_maps,
        explainer=explainer,
        explainer_factory=factory,
        noise_seed=data.noise_seed,
        batch_size=config.batch_size,
        adversarial_inputs=lambda eps: data.adversarial_inputs(eps, config.batch_size),
        example_ids=data.test_indices,
        name=cell.key,
        spectrum=spectrum,
    )
    count = len(data.inputs)
    values = [MetricValue(SECONDS_PER_IMAGE_ROW.name, seconds / count, "", count)]
    for metric in config.metrics:
        saved = partial.metric(metric) if partial is not None else None
        if saved is not None:
            values += saved
            stage_done(metric)
            continue
        started = time.perf_counter()
        produced = run_metric(metric, cell_data, config.metric_options.get(metric, {}))
        elapsed = time.perf_counter() - started
        if produced:  # what the metric cost on this cell (a metric that does not apply: none)
            produced.append(
                MetricValue(METRIC_SECONDS_ROW.name, elapsed, f"metric={metric}", count)
            )
        values += produced
        if partial is not None:
            partial.save_metric(metric, produced)
        logger.debug("%s: %s in %.2f s", cell.key, metric, elapsed)
        stage_done(metric)
    rows = [_row(cell.group, cell.method, v.metric, v.value, v.setting, v.n) for v in values]
    per_example = per_example_table(
        [
            ExampleBlock(
                v.examples.name,
                v.setting,
                (
                    np.arange(len(v.examples.values))
                    if v.examples.positions is None
                    else v.examples.positions.cpu().numpy()
                ),
                v.examples.values.detach().double().cpu().numpy(),
            )
            for v in values
            if v.examples is not None
        ],
        data.test_indices.cpu().numpy(),
        data.labels.cpu().numpy(),
        data.dataset.num_classes,
    )

    index = data.figure_index.to(data.inputs.device)
    examples: dict[str, Any] = {
        "inputs": data.inputs[index].float().cpu(),
        "labels": data.labels[index].cpu(),
        "predictions": data.predictions[index].cpu(),
        "masks": None if data.masks is None else data.masks[index].cpu(),
        "maps": maps[index].float().cpu(),
    }
    if spectrum is not None:
        examples["eigenvalues"] = spectrum.eigenvalues
    evaluated = evaluated_maps(maps, data.test_indices, spectrum)
    return CellRecord(rows, examples, per_example, evaluated)


def _row(
    group: GroupKey, method: str, metric: str, value: float, setting: str, n: int
) -> ResultRow:
    return ResultRow(
        dataset=group.dataset,
        model=group.model,
        seed=group.seed,
        method=method,
        metric=metric,
        setting=setting,
        value=float(value),
        n=int(n),
    )


def model_rows(group: GroupKey, trained: GroupModel) -> list[ResultRow]:
    return [_row(group, "", *value) for value in trained.summary_values()]
