"""Run a config: train each (dataset, model, seed) once, run every method through every
metric on it, and write each cell to the run folder as it finishes.

Nothing is lost when a run is killed: every cell is written to the run folder
(:class:`comparisons.run_folder.RunFolder`) the moment it is done, and a restarted run skips
the cells it finds; a cell in progress saves its maps and each metric as they end
(``partial/<cell>.pt``), so a restarted run redoes at most the stage that was running. A run
folder belongs to one config: restarting with another is refused once a cell finished.
Nothing is done twice: the run holds the folder's lock from start to end (a second run into
it refuses), and the checkpoint cache trains each model once. Nothing fails late: the device
and every option are checked before the first training step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn
from tqdm.contrib.logging import logging_redirect_tqdm

from captum_ifim import UnsupportedModelError
from comparisons._exit_codes import one_line
from comparisons.config import HarnessConfig, check_config, resolve_device
from comparisons.datasets import ImageDataset
from comparisons.run._cell import model_rows, run_cell
from comparisons.run._cue_reliance import cue_reliance_rows
from comparisons.run._estimate import RunEstimate, estimate_run
from comparisons.run._group_data import GroupData, prepare_group_data
from comparisons.run._group_models import group_model
from comparisons.run._inputs import RunInputs, check_given_identities, prepare_inputs
from comparisons.run._model_pairs import compare_model_pairs
from comparisons.run._partial_cell import PartialCell
from comparisons.run._plan import RunPlan, plan_run
from comparisons.run._progress import RunProgress
from comparisons.run_folder import CellKey, RunFolder, RunLayout, RunLock, check_not_locked

logger = logging.getLogger(__name__)


def run(
    config: HarnessConfig,
    output: Path,
    *,
    shard: tuple[int, int] | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    python_datasets: Mapping[str, ImageDataset] | None = None,
    python_models: Mapping[str, nn.Module] | None = None,
    estimate: bool = False,
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
        estimate: First calibrate the work left on this machine and log the expected
            time (:func:`~comparisons.run._estimate.estimate_run`); the progress bar then
            counts estimated seconds and moves within each cell.

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
    RunFolder(Path(output)).check_usable_for(config)  # a folder of user files: untouched
    check_not_locked(RunLayout(Path(output)))  # before reading any data; taken below
    # Datasets read and given models checked before the folder exists: nothing half-written.
    plan = plan_run(config, RunFolder(Path(output)), shard)
    inputs = prepare_inputs(config, plan.todo, device, python_datasets, python_models)
    check_given_identities(config, RunFolder(Path(output)), plan.groups, inputs.given)
    with RunLock(RunLayout(Path(output))):
        folder = RunFolder.create(output, config)
        plan = plan_run(config, folder, shard)  # the lock is held: the folder is as it stays
        expected = None
        if estimate and plan.todo:
            expected = estimate_run(config, plan, inputs, device, progress=logger.info)
            logger.info("%s", expected.describe().rstrip())
        _run_groups(config, folder, device, plan, shard, cache_dir, progress, inputs, expected)
        compare_model_pairs(folder, config)  # every two models of a dataset, once both are done
    return folder


def _run_groups(
    config: HarnessConfig,
    folder: RunFolder,
    device: torch.device,
    plan: RunPlan,
    shard: tuple[int, int] | None,
    cache_dir: Path | None,
    progress: bool,
    inputs: RunInputs,
    expected: RunEstimate | None = None,
) -> None:
    cache = cache_dir if cache_dir is not None else folder.path.parent / ".cache"
    if shard is not None:
        logger.info("shard %d/%d: %d of %d groups", *shard, len(plan.groups), plan.total_groups)
    total = plan.cells_to_run
    logger.info("%d cells to run (%d already done)", total, folder.count_cells())
    models = {m.name: m for m in config.models}
    with logging_redirect_tqdm(), RunProgress(total, expected, progress) as bar:
        for group, cells in plan.todo.items():
            dataset = inputs.datasets[group.dataset]
            given = inputs.given.get((group.model, group.dataset))
            trained = group_model(
                models[group.model], dataset, group.seed, cache, device, progress, given
            )
            bar.trained(group)
            rows = model_rows(group, trained)
            rows += cue_reliance_rows(group, trained.model, dataset, device)
            folder.write_model(group.key, rows, trained.record())
            data = prepare_group_data(config, group, dataset, trained, device)
            for cell in cells:
                bar.start_cell(cell)
                _run_and_write_cell(
                    config, cell, data, device, folder, lambda stage, c=cell: bar.stage(c, stage)
                )
                bar.end_cell(cell)


def _run_and_write_cell(
    config: HarnessConfig,
    cell: CellKey,
    data: GroupData,
    device: torch.device,
    folder: RunFolder,
    on_stage: Callable[[str], None] | None = None,
) -> None:
    """One cell, computed then written; a failure of either is recorded, never raised."""
    started = time.perf_counter()
    partial = PartialCell(folder.layout.partial(cell.key), config.fingerprint(), data.test_indices)
    try:
        record = run_cell(config, cell, data, device, on_stage, partial)
    except UnsupportedModelError as error:  # the method refuses this model: not a failure
        logger.warning("%s: not applicable, %s", cell.key, one_line(error))
        try:
            folder.write_not_applicable(cell.key, str(error))
        except OSError as write_error:  # a full disk: as for a cell, retried on the next run
            logger.error("cell %s not recorded, retried on the next run: %s", cell.key, write_error)
            folder.record_failure(cell.key, write_error)
            return
        partial.remove()
        return
    except Exception as error:  # a failed cell must not lose the others
        logger.exception("cell %s failed", cell.key)
        folder.record_failure(cell.key, error)
        return
    try:
        folder.write_cell(cell.key, record.rows, record.examples, record.per_example, record.maps)
    except OSError as error:  # a full disk: the cell is not done, the next run retries it
        logger.error("cell %s not written, retried on the next run: %s", cell.key, one_line(error))
        folder.record_failure(cell.key, error)
        return
    partial.remove()
    logger.info("%s done in %.1f s", cell.key, time.perf_counter() - started)
