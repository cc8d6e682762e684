"""How long a run will take on this machine, from a short calibration at its current load.

For each (dataset, model) of the groups to run, the calibration does on this machine what
the run does, only smaller, twice, so that what a part costs once (first calls, a model
built) is told apart from what it costs per step or per image:

- training: a model of the group's architecture trained on one batch, then on three; the
  difference is the seconds of two optimizer steps. The run's training is that times
  ``epochs x ceil(num_train / batch_size)`` steps, plus its validation and test passes (a
  forward of a batch is counted as a third of a step), for every group whose model the run
  folder does not hold yet (one in the checkpoint cache is loaded instead, so the figure is
  an upper bound there);
- a cell: every method's maps and metrics on one evaluated image, then on three. Each stage
  is fitted as ``a + b x images it sees`` (a metric sees ``min(images, max_examples)``) and
  evaluated at the run's number of images.

Seeds change the weights, not the work, so one calibration serves every seed of a
(dataset, model). It runs with the run's torch threads (``run.num_threads``). The figures
hold for the load the machine had during the calibration: a run that shares the machine
later takes longer, and the progress bar corrects its ETA as work ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from comparisons.config import HarnessConfig, ModelEntry
from comparisons.datasets import ImageDataset, ImageSplit
from comparisons.metrics import METRIC_SECONDS_ROW, SECONDS_PER_IMAGE_ROW, get_harness_metric
from comparisons.run._cell import run_cell
from comparisons.run._group_data import prepare_group_data
from comparisons.run._group_models import GroupModel, group_model
from comparisons.run._inputs import RunInputs
from comparisons.run._plan import RunPlan
from comparisons.run_folder import CellKey, GroupKey, ResultRow
from comparisons.training import TrainingConfig

logger = logging.getLogger(__name__)

#: Training batches of the two calibration trainings.
CALIBRATION_BATCHES = (1, 3)
#: Evaluated images of the two calibration cells.
CALIBRATION_IMAGES = (1, 3)
#: A cell's stage before its metrics: the maps of the evaluated images.
MAPS = "maps"
#: The loggers of the work the calibration repeats (quiet while it runs).
_CALIBRATION_LOGGERS = ("comparisons.training", "comparisons.metrics", "comparisons.run._cell")
#: An evaluation forward pass, in optimizer steps (forward + backward + update).
FORWARD_SHARE = 1 / 3


@dataclass(frozen=True)
class RunEstimate:
    """Expected seconds of the work a run has left, and what the calibration measured.

    Attributes:
        training: Seconds of training per group to train.
        stages: Seconds per cell and stage (``"maps"`` or a metric name), for every cell
            to run, in the order the cell runs them.
        calibration_seconds: What the calibration itself took.
        load: The 1-minute load average when it ran (``None`` where the OS has none).
    """

    training: dict[GroupKey, float]
    stages: dict[CellKey, dict[str, float]]
    calibration_seconds: float
    load: float | None = None
    notes: list[str] = field(default_factory=list)

    def cell_seconds(self, cell: CellKey) -> float:
        return sum(self.stages.get(cell, {}).values())

    @property
    def training_seconds(self) -> float:
        return sum(self.training.values())

    @property
    def total_seconds(self) -> float:
        return self.training_seconds + sum(self.cell_seconds(cell) for cell in self.stages)

    def describe(self) -> str:
        """One line per part, then the total, as ``run --check`` and ``run`` print it."""
        by_method: dict[str, float] = {}
        for cell in self.stages:
            by_method[cell.method] = by_method.get(cell.method, 0.0) + self.cell_seconds(cell)
        load = "" if self.load is None else f", load {self.load:.1f}"
        lines = [
            f"estimated time: {format_seconds(self.total_seconds)} (calibrated here in "
            f"{format_seconds(self.calibration_seconds)}{load}):",
            f"  training {len(self.training)} model(s): {format_seconds(self.training_seconds)}",
        ]
        for method, seconds in sorted(by_method.items(), key=lambda item: -item[1]):
            lines.append(f"  {method}: {format_seconds(seconds)}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def format_seconds(seconds: float) -> str:
    """``"1 h 02 min"``, ``"3 min 20 s"`` or ``"12.3 s"``."""
    if seconds >= 3600:
        hours, rest = divmod(round(seconds), 3600)
        return f"{hours} h {rest // 60:02d} min"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    return f"{seconds:.1f} s"


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _calibration_dataset(dataset: ImageDataset, batch_size: int, batches: int) -> ImageDataset:
    """The dataset with its training split cut to ``batches`` batches, its validation and
    test splits to one batch each (what the training evaluates)."""

    def first(split: ImageSplit, count: int) -> ImageSplit:
        return split.subset(torch.arange(min(len(split), count)))

    return dataclasses.replace(
        dataset,
        train=first(dataset.train, batches * batch_size),
        val=first(dataset.val, batch_size),
        test=first(dataset.test, batch_size),
    )


def _images_seen(config: HarnessConfig, stage: str, count: int) -> int:
    """How many of ``count`` evaluated images a stage handles (a metric's ``max_examples``)."""
    if stage == MAPS:
        return count
    options = get_harness_metric(stage).resolved_options(config.metric_options.get(stage, {}))
    limit = options.get("max_examples")
    return count if limit is None else min(count, int(limit))


def fit_and_scale(
    config: HarnessConfig, stage: str, small: tuple[float, float], count: int
) -> float:
    """A stage's seconds at ``count`` images from its seconds at ``CALIBRATION_IMAGES``.

    ``a + b x seen`` through the two points (``seen``: the images the stage handles); where
    they see as many images, or noise makes the slope negative, the larger point's seconds
    per image, with no fixed part.
    """
    seen_one, seen_two = (_images_seen(config, stage, n) for n in CALIBRATION_IMAGES)
    seen = _images_seen(config, stage, count)
    one, two = small
    slope = (two - one) / (seen_two - seen_one) if seen_two > seen_one else -1.0
    if slope <= 0:
        return two / max(seen_two, 1) * seen
    fixed = max(one - slope * seen_one, 0.0)
    return fixed + slope * seen


def estimate_run(
    config: HarnessConfig,
    plan: RunPlan,
    inputs: RunInputs,
    device: torch.device,
    *,
    progress: Callable[[str], None] | None = None,
) -> RunEstimate:
    """Calibrate the groups ``plan`` has left to run on this machine and scale to the run.

    Args:
        config: The run's config.
        plan: The run's plan (:func:`~comparisons.run._plan.plan_run`).
        inputs: The run's datasets and given models (:func:`prepare_inputs`).
        device: Where the run computes.
        progress: Called with a line before each (dataset, model)'s calibration.

    Returns:
        A :class:`RunEstimate` of the work left (nothing for groups already done).
    """
    started = time.perf_counter()
    load = _load()
    models = {m.name: m for m in config.models}
    per_kind: dict[tuple[str, str], tuple[float, dict[str, dict[str, tuple[float, float]]]]] = {}
    training: dict[GroupKey, float] = {}
    stages: dict[CellKey, dict[str, float]] = {}
    with (
        _quiet(),
        _run_threads(config),
        tempfile.TemporaryDirectory(prefix="captum-ifim-calibration-") as cache,
    ):
        for group, cells in plan.todo.items():
            kind = (group.dataset, group.model)
            if kind not in per_kind:
                if progress is not None:
                    progress(f"calibrating {group.dataset}/{group.model}")
                per_kind[kind] = _calibrate(
                    config, models[group.model], inputs, group, cells, Path(cache), device
                )
            step_seconds, measured = per_kind[kind]
            dataset = inputs.datasets[group.dataset]
            if group not in plan.trained and not models[group.model].is_given:
                protocol = TrainingConfig.from_dict(models[group.model].training)
                steps = math.ceil(len(dataset.train) / protocol.batch_size)
                validation = FORWARD_SHARE * len(dataset.val) / protocol.batch_size
                test = FORWARD_SHARE * len(dataset.test) / protocol.batch_size
                training[group] = step_seconds * ((steps + validation) * protocol.epochs + test)
            count = min(config.eval_examples, len(dataset.test))
            for cell in cells:
                if cell.method in measured:
                    stages[cell] = {
                        stage: fit_and_scale(config, stage, small, count)
                        for stage, small in measured[cell.method].items()
                    }
    notes = ["a model already in the checkpoint cache is loaded, not trained"] if training else []
    return RunEstimate(training, stages, time.perf_counter() - started, load, notes)


@contextlib.contextmanager
def _run_threads(config: HarnessConfig) -> Iterator[None]:
    """The run's torch threads (``run.num_threads``) while the calibration times its work,
    as ``run --check`` calibrates before anything has set them; the caller's afterwards."""
    threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The calibration's own logs and warnings (its models' training, a metric's note on
    three images) are not the run's: kept out of the log."""
    loggers = [logging.getLogger(name) for name in _CALIBRATION_LOGGERS]
    levels = [quieted.level for quieted in loggers]
    for quieted in loggers:
        quieted.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for quieted, level in zip(loggers, levels, strict=True):
            quieted.setLevel(level)


def _training_step_seconds(
    entry: ModelEntry, dataset: ImageDataset, group: GroupKey, cache: Path, device: torch.device
) -> tuple[float, GroupModel]:
    """Seconds of one optimizer step (trained on 1 then 3 batches), and the last model."""
    protocol = TrainingConfig.from_dict(entry.training)
    one_epoch = dataclasses.replace(
        entry, training={**entry.training, "epochs": 1, "min_epoch_for_best": 1}
    )
    seconds = []
    for batches in CALIBRATION_BATCHES:
        small = _calibration_dataset(dataset, protocol.batch_size, batches)
        begun = time.perf_counter()
        trained = group_model(one_epoch, small, group.seed, cache / str(batches), device, False)
        seconds.append(time.perf_counter() - begun)
    extra_steps = CALIBRATION_BATCHES[1] - CALIBRATION_BATCHES[0]
    step = (seconds[1] - seconds[0]) / extra_steps
    return (step if step > 0 else seconds[1] / CALIBRATION_BATCHES[1]), trained


def _calibrate(
    config: HarnessConfig,
    entry: ModelEntry,
    inputs: RunInputs,
    group: GroupKey,
    cells: list[CellKey],
    cache: Path,
    device: torch.device,
) -> tuple[float, dict[str, dict[str, tuple[float, float]]]]:
    """(seconds per training step, {method: {stage: (seconds at 1 image, at 3 images)}})."""
    dataset = inputs.datasets[group.dataset]
    if entry.is_given:
        given = inputs.given.get((group.model, group.dataset))
        step_seconds = 0.0
        trained = group_model(entry, dataset, group.seed, cache, device, False, given)
    else:
        step_seconds, trained = _training_step_seconds(entry, dataset, group, cache, device)
    data = [
        prepare_group_data(
            dataclasses.replace(
                config,
                eval_examples=min(images, config.eval_examples),
                figure_examples=min(images, config.figure_examples),
            ),
            group,
            dataset,
            trained,
            device,
        )
        for images in CALIBRATION_IMAGES
    ]
    measured: dict[str, dict[str, tuple[float, float]]] = {}
    for cell in cells:
        try:
            small = [_stage_seconds(run_cell(config, cell, part, device).rows) for part in data]
        except Exception as error:  # the run records the failure; here the cell costs 0
            logger.debug("calibration of %s failed: %s", cell.key, error)
            continue
        measured[cell.method] = {
            stage: (small[0].get(stage, 0.0), seconds) for stage, seconds in small[1].items()
        }
    return step_seconds, measured


def _stage_seconds(rows: list[ResultRow]) -> dict[str, float]:
    """``{"maps": seconds of the maps, metric: seconds}`` of one cell's rows."""
    seconds: dict[str, float] = {}
    for row in rows:
        if row.metric == SECONDS_PER_IMAGE_ROW.name:
            seconds[MAPS] = row.value * row.n
        elif row.metric == METRIC_SECONDS_ROW.name:
            seconds[row.setting.removeprefix("metric=")] = row.value
    return seconds
