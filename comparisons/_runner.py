"""Run a config: train each (dataset, model, seed) once, run every method through every
metric on it, and write each cell to the run folder as it finishes.

Nothing is lost when a run is killed: every cell is written to the run folder
(:class:`comparisons.run_folder.RunFolder`) the moment it is done, and a restarted run skips
the cells it finds. A run folder belongs to one config: restarting with another is refused
once a cell finished. Nothing is done twice: the run holds the folder's lock from start to
end (a second run into it refuses), and the checkpoint cache trains each model once.
Nothing fails late: the device and every option are checked before the first training step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from captum_ifim import build_method, get_method_spec
from captum_ifim.metrics import compute_maps, fgsm
from comparisons._config import HarnessConfig, check_device_name, stable_hash
from comparisons._config_check import check_config
from comparisons._exit_codes import DeviceUnavailableError, one_line
from comparisons._group_models import GroupModel, group_model
from comparisons._model_pairs import compare_model_pairs, evaluated_maps
from comparisons._run_inputs import (
    RunInputs,
    check_given_identities,
    evaluation_and_background,
    prepare_inputs,
)
from comparisons._run_plan import cells_of, groups_of, shard_groups
from comparisons.datasets import ImageDataset
from comparisons.metrics import CellData, MetricValue, run_metric
from comparisons.run_folder import (
    CellKey,
    ExampleBlock,
    GroupKey,
    ResultRow,
    RunFolder,
    RunLayout,
    RunLock,
    check_not_locked,
    per_example_table,
)

logger = logging.getLogger(__name__)


@dataclass
class GroupData:
    """What the cells of one group share: the model, the evaluated images, FGSM inputs."""

    group: GroupKey
    dataset: ImageDataset
    trained: GroupModel
    inputs: Tensor
    labels: Tensor
    predictions: Tensor
    targets: Tensor
    masks: Tensor | None
    figure_index: Tensor
    background: Tensor
    noise_seed: int
    test_indices: Tensor
    _adversarial: dict[float, Tensor] = field(default_factory=dict)

    @property
    def model(self) -> nn.Module:
        return self.trained.model

    def adversarial_inputs(self, epsilon: float, batch_size: int) -> Tensor:
        """FGSM inputs (eq. 27) at ``epsilon``, computed once per group."""
        if epsilon not in self._adversarial:
            self._adversarial[epsilon] = fgsm(
                self.model,
                self.inputs,
                self.labels,
                epsilon,
                clamp=self.dataset.value_range,
                max_examples_per_batch=batch_size,
            )
        return self._adversarial[epsilon]


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU.

    Raises:
        ValueError: Not a device name (``"tpu0"``).
        DeviceUnavailableError: A device this machine does not have (``"cuda"`` without
            CUDA, ``"cuda:3"`` with two GPUs, ``"mps"`` off Apple silicon).
    """
    check_device_name(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceUnavailableError(
                f"expected an available device, got {device!r}: CUDA is not available on this "
                f"machine (torch {torch.__version__}); use device = 'cpu' or 'auto'"
            )
        if resolved.index is not None and resolved.index >= count:
            raise DeviceUnavailableError(
                f"expected an available device, got {device!r}: this machine has {count} "
                "CUDA device(s)"
            )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailableError(f"expected an available device, got {device!r}: no MPS")
    return resolved


def evaluation_indices(num_test: int, count: int) -> Tensor:
    """The test images every cell evaluates: a fixed seeded permutation, first ``count``."""
    order = torch.randperm(num_test, generator=torch.Generator().manual_seed(0))
    return order[: min(count, num_test)]


def figure_indices(labels: Tensor, count: int) -> Tensor:
    """Up to ``count`` positions in ``labels``, taking the classes in turn (for the grid)."""
    per_class = [torch.nonzero(labels == c).flatten().tolist() for c in labels.unique().tolist()]
    chosen: list[int] = []
    for rank in range(len(labels)):
        for positions in per_class:
            if len(chosen) < count and rank < len(positions):
                chosen.append(positions[rank])
    return torch.tensor(chosen, dtype=torch.long)


def _predict(model: nn.Module, inputs: Tensor, batch_size: int) -> Tensor:
    with torch.no_grad():
        return torch.cat([model(chunk).argmax(dim=1) for chunk in inputs.split(batch_size)])


def _group_data(
    config: HarnessConfig,
    group: GroupKey,
    dataset: ImageDataset,
    trained: GroupModel,
    device: torch.device,
) -> GroupData:
    test_indices, background = evaluation_and_background(
        dataset,
        evaluation_indices(len(dataset.test), config.eval_examples),
        config.background_examples,
    )
    test = dataset.test.subset(test_indices)
    inputs = test.images.to(device)
    labels = test.labels.to(device)
    predictions = _predict(trained.model, inputs, config.batch_size)
    background = background.to(device)
    return GroupData(
        group=group,
        dataset=dataset,
        trained=trained,
        inputs=inputs,
        labels=labels,
        predictions=predictions,
        targets=labels if config.map_target == "label" else predictions,
        masks=None if test.masks is None else test.masks.to(device),
        figure_index=figure_indices(test.labels, config.figure_examples),
        background=background,
        noise_seed=int(stable_hash(group.key), 16) % 2**31,
        test_indices=test_indices,
    )


def _method_factory(
    config: HarnessConfig, name: str, background: Tensor
) -> Callable[[nn.Module], Any]:
    needs_background = get_method_spec(name).needs_background
    options = config.method_options.get(name, {})

    def factory(model: nn.Module) -> Any:
        return build_method(
            name, model, background=background if needs_background else None, **options
        )

    return factory


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_cell(config: HarnessConfig, cell: CellKey, data: GroupData, device: torch.device) -> dict:
    """Compute one cell: the method's maps of the evaluated images, timed, then every metric.

    Returns:
        The cell record: ``rows`` (tidy results), ``examples`` (for the figures),
        ``per_example`` (the per-example values behind the rows, a table) and ``maps``
        (every evaluated image's map, and U_K for the iFIM, for the model-pair stage).
    """
    spec = get_method_spec(cell.method)
    factory = _method_factory(config, cell.method, data.background)
    explainer = factory(data.model)
    # Warm-up on one image (lazy imports, allocator, kernels), then time the whole set.
    compute_maps(explainer, data.inputs[:1], data.targets[:1], None, 1)
    _synchronize(device)
    start = time.perf_counter()
    maps = compute_maps(explainer, data.inputs, data.targets, None, config.batch_size)
    _synchronize(device)
    seconds = time.perf_counter() - start
    low_maps = None
    if spec.low_map_method is not None:
        low = _method_factory(config, spec.low_map_method, data.background)(data.model)
        low_maps = compute_maps(low, data.inputs, data.targets, None, config.batch_size)

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
    )
    count = len(data.inputs)
    values = [MetricValue("seconds-per-image", seconds / count, "", count)]
    for metric in config.metrics:
        started = time.perf_counter()
        produced = run_metric(metric, cell_data, config.metric_options.get(metric, {}))
        elapsed = time.perf_counter() - started
        values += produced
        if produced:  # what the metric cost on this cell (a metric that does not apply: none)
            values.append(MetricValue("metric-seconds", elapsed, f"metric={metric}", count))
        logger.debug("%s: %s in %.2f s", cell.key, metric, elapsed)
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
    if spec.has_spectrum:
        examples["eigenvalues"] = _eigenvalues(explainer, data.inputs, config.batch_size)
    evaluated = evaluated_maps(
        explainer, spec.has_spectrum, data.inputs, maps, data.test_indices, config.batch_size
    )
    return {"rows": rows, "examples": examples, "per_example": per_example, "maps": evaluated}


def _eigenvalues(explainer: Any, inputs: Tensor, batch_size: int) -> Tensor:
    """(N, R) float64 iFIM spectra of ``inputs`` from a method with a spectrum."""
    parts = [explainer.eigenvalues(chunk).cpu() for chunk in inputs.split(batch_size)]
    return torch.cat(parts).double()


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


def _model_rows(group: GroupKey, trained: GroupModel) -> list[ResultRow]:
    return [_row(group, "", *value) for value in trained.summary_values()]


def run(
    config: HarnessConfig,
    output: Path,
    *,
    shard: tuple[int, int] | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    python_datasets: Mapping[str, ImageDataset] | None = None,
    python_models: Mapping[str, nn.Module] | None = None,
) -> RunFolder:
    """Run (or resume) ``config`` into the run folder ``output``.

    Args:
        config: The resolved config.
        output: The run folder (created; an existing one must hold the same config).
        shard: ``(i, n)`` runs only the i-th of n round-robin shares of the groups.
        cache_dir: Where trained checkpoints are cached (``None``: ``<output>/../.cache``).
        progress: Show progress bars.
        python_datasets, python_models: The data and models of the config's entries given
            in Python (by dataset label and model name), as :func:`comparisons.compare`
            passes them.

    Returns:
        The :class:`RunFolder`. Cells that failed (an error, or a write of the cell that
        failed: a full disk) are logged and listed in ``RunFolder.failed``; a rerun
        retries them.

    Raises:
        ValueError, TypeError, FileNotFoundError: A bad option value or data path, found
            before anything is trained or written (:func:`check_config`).
        DeviceUnavailableError: ``config.device`` is not on this machine.
        RunFolderLockedError: Another process is running into ``output``.
        OSError: ``output`` cannot be written (read-only, full disk) outside a cell.
    """
    device = resolve_device(config.device)
    check_config(config)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)  # before environment.json records it
    groups = _shard_of(config, shard)
    check_not_locked(RunLayout(Path(output)))  # before reading any data; taken below
    # Datasets read and given models checked before the folder exists: nothing half-written.
    inputs = prepare_inputs(
        config,
        _groups_to_run(config, RunFolder(Path(output)), groups),
        device,
        python_datasets,
        python_models,
    )
    check_given_identities(config, RunFolder(Path(output)), groups, inputs.given)
    with RunLock(RunLayout(Path(output))):
        folder = RunFolder.create(output, config)
        _run_groups(config, folder, device, shard, cache_dir, progress, inputs)
        compare_model_pairs(folder, config)  # every two models of a dataset, once both are done
    return folder


def _shard_of(config: HarnessConfig, shard: tuple[int, int] | None) -> list[GroupKey]:
    groups = groups_of(config)
    return groups if shard is None else shard_groups(groups, *shard)


def _groups_to_run(config: HarnessConfig, folder: RunFolder, groups: list[GroupKey]) -> dict:
    """Per group with work left, its cells not yet done (all when the folder is new); an
    unreadable finished file counts as not done (the run moves it aside and redoes it)."""
    cells_done, models_done = folder.finished()
    todo = {g: [c for c in cells_of(config, g) if c.key not in cells_done] for g in groups}
    return {g: cells for g, cells in todo.items() if cells or g.key not in models_done}


def _run_groups(
    config: HarnessConfig,
    folder: RunFolder,
    device: torch.device,
    shard: tuple[int, int] | None,
    cache_dir: Path | None,
    progress: bool,
    inputs: RunInputs,
) -> None:
    cache = cache_dir if cache_dir is not None else folder.path.parent / ".cache"
    groups = _shard_of(config, shard)
    if shard is not None:
        logger.info("shard %d/%d: %d of %d groups", *shard, len(groups), len(groups_of(config)))
    todo = _groups_to_run(config, folder, groups)
    total = sum(len(cells) for cells in todo.values())
    logger.info("%d cells to run (%d already done)", total, folder.count_cells())
    models = {m.name: m for m in config.models}
    with (
        logging_redirect_tqdm(),
        tqdm(
            total=total, desc="cells", unit="cell", disable=not progress, dynamic_ncols=True
        ) as bar,
    ):
        for group, cells in todo.items():
            dataset = inputs.datasets[group.dataset]
            given = inputs.given.get((group.model, group.dataset))
            trained = group_model(
                models[group.model], dataset, group.seed, cache, device, progress, given
            )
            folder.write_model(group.key, _model_rows(group, trained), trained.record())
            data = _group_data(config, group, dataset, trained, device)
            for cell in cells:
                bar.set_postfix_str(cell.key)
                _run_and_write_cell(config, cell, data, device, folder)
                bar.update(1)


def _run_and_write_cell(
    config: HarnessConfig, cell: CellKey, data: GroupData, device: torch.device, folder: RunFolder
) -> None:
    """One cell, computed then written; a failure of either is recorded, never raised."""
    started = time.perf_counter()
    try:
        record = run_cell(config, cell, data, device)
    except Exception as error:  # a failed cell must not lose the others
        logger.exception("cell %s failed", cell.key)
        folder.record_failure(cell.key, error)
        return
    try:
        folder.write_cell(
            cell.key, record["rows"], record["examples"], record["per_example"], record["maps"]
        )
    except OSError as error:  # a full disk: the cell is not done, the next run retries it
        logger.error("cell %s not written, retried on the next run: %s", cell.key, one_line(error))
        folder.record_failure(cell.key, error)
        return
    logger.info("%s done in %.1f s", cell.key, time.perf_counter() - started)
