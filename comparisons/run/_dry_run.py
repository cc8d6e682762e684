"""``run --check``: a config checked as a run would check it, and its plan, without training.

The check asks the functions the run asks: :func:`~comparisons.config.check_config`, then
:func:`check_inputs` (the run's :func:`~comparisons.run._inputs.prepare_inputs`: datasets
read, given, factory and zoo models built and run on the images), then the run's plan.

The plan says what a run of the config into its output folder would do: the groups (one
trained model each) and their cells, how many are already done there, whether the folder
can be resumed, reused or is refused, and the size of the work (cells x metrics, training
steps). Nothing is written: not the folder, not the lock, not the cache.
"""

from __future__ import annotations

import math
from pathlib import Path

from comparisons._exit_codes import DeviceUnavailableError
from comparisons.config import ConfigCheck, HarnessConfig
from comparisons.metrics import get_harness_metric, runs_on_method
from comparisons.run._inputs import RunInputs, prepare_inputs
from comparisons.run._plan import cells_of, plan_run
from comparisons.run_folder import FolderState, RunFolder, describe_holder, is_locked, lock_holder


def _folder_state(config: HarnessConfig, output: Path) -> str:
    """One line on the output folder: what :meth:`RunFolder.create` will do with it."""
    folder = RunFolder(output)
    state = folder.state_for(config)
    if state in (FolderState.NEW, FolderState.NO_RUN, FolderState.FOREIGN):
        return state.value
    unusable = folder.unusable_files()
    note = (
        f"; {len(unusable)} unreadable file(s), moved aside and recomputed by the run"
        if unusable
        else ""
    )
    if is_locked(folder.layout):
        note += f"; LOCKED by {describe_holder(lock_holder(folder.layout))} (a run now exits 5)"
    try:
        stored: str | None = folder.fingerprint()
    except (OSError, ValueError, KeyError, TypeError):
        stored = None
    if state is FolderState.RESUME:
        return f"{state.value}{note}"
    if state is FolderState.REFUSE:
        finished, models = folder.finished()
        return (
            f"REFUSED: holds {len(finished)} finished cells and {len(models)} trained models of "
            f"another config (fingerprint {stored} != {config.fingerprint()}; a run exits 2)"
            f"{note}"
        )
    return f"reused: nothing of config {stored} finished there, this config replaces it{note}"


def _metric_runs(config: HarnessConfig, method: str) -> int:
    """How many of the config's metrics run on a cell of ``method`` (as the run decides;
    one that needs masks is counted, whether or not the data have them; one that needs an
    iFIM spectrum only for a method with one)."""
    spectrum = config.method_spec(method).has_spectrum
    return sum(
        runs_on_method(name, method, config.metric_options.get(name, {}))
        and (spectrum or not get_harness_metric(name).info.needs_spectrum)
        for name in config.metrics
    )


def check_inputs(config: HarnessConfig, output: Path, shard: tuple[int, int] | None) -> RunInputs:
    """What a run reads before its folder exists, read as the run reads it (on the CPU):
    the datasets of the shard's groups, and every model given with its weights, from a
    factory or from a zoo, built and run on the dataset's images.

    Returns:
        What the run would read (:class:`~comparisons.run._inputs.RunInputs`, on the CPU).

    Raises:
        ValueError, TypeError, ImportError, FileNotFoundError: As the run would, naming
            the entry (a factory that cannot be imported, a pickle without
            ``trust_pickle``, a model that does not take the images).
    """
    import torch

    plan = plan_run(config, RunFolder(Path(output)), shard)
    return prepare_inputs(config, plan.groups, torch.device("cpu"))


def describe_plan(
    config: HarnessConfig,
    output: Path,
    check: ConfigCheck,
    *,
    shard: tuple[int, int] | None = None,
    device_error: DeviceUnavailableError | None = None,
) -> str:
    """The plan of a run of ``config`` into ``output`` as text, one fact a line."""
    from comparisons.training import TrainingConfig

    state = _folder_state(config, Path(output))
    plan = plan_run(config, RunFolder(Path(output)), shard)
    groups = plan.groups
    device = f"{config.device}" + (
        f" -- NOT AVAILABLE here ({device_error}; a run here exits 3)" if device_error else ""
    )
    lines = [
        f"config {config.name!r} (fingerprint {config.fingerprint()}): valid",
        f"output {output}: {state}",
        f"device {device}",
        "datasets:",
    ]
    for entry in config.datasets:
        shape = check.shapes.get(entry.label)
        shape_text = "x".join(map(str, shape)) if shape else "read from disk by the run"
        count = check.num_train.get(entry.label)
        lines.append(
            f"  {entry.label} ({entry.name}): images {shape_text}, "
            f"{'?' if count is None else count} training images"
        )
    entries = {m.name: m for m in config.models}
    total_cells = done_cells = metric_runs = to_train = steps = 0
    unknown_steps = False
    lines.append(
        f"groups ({len(groups)}{'' if shard is None else f' of shard {shard[0]}/{shard[1]}'}):"
    )
    for group in groups:
        cells = cells_of(config, group)
        left = plan.todo.get(group, [])
        done = [c for c in cells if c not in left]
        trained = group in plan.trained
        total_cells += len(cells)
        done_cells += len(done)
        metric_runs += sum(_metric_runs(config, c.method) for c in cells if c not in done)
        if not trained:
            to_train += 1
            training = TrainingConfig.from_dict(entries[group.model].training)
            count = check.num_train.get(group.dataset)
            if count is None:
                unknown_steps = True
            else:
                steps += training.epochs * math.ceil(count / training.batch_size)
        lines.append(
            f"  {group.key}: model {'done' if trained else 'to train or load'}, "
            f"{len(done)}/{len(cells)} cells done"
        )
    lines += [
        f"cells: {total_cells} ({done_cells} done, {total_cells - done_cells} to run) with "
        f"{len(config.metrics)} metrics: {metric_runs} metric runs to do",
        f"models: {to_train} to train (those already in the checkpoint cache are loaded), "
        f"{steps}{'+' if unknown_steps else ''} optimizer steps at most",
    ]
    return "\n".join(lines) + "\n"
