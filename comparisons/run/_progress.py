"""The run's progress bar: it moves within a cell, and its ETA comes from the estimate.

Without an estimate the bar counts cells. With one (:class:`RunEstimate`) it counts the
estimated seconds of the work done: training a model moves it by that model's estimate,
and within a cell the maps and each metric move it by theirs as they end. tqdm's rate is
then done-estimate per real second since the start (``smoothing=0``: tqdm's default, an
average weighted to the last few updates, swung the remaining time of the default run
between 6 and 28 minutes within one cell), so its remaining time is the estimate of what
is left corrected by how fast the estimate has come true so far.
"""

from __future__ import annotations

from types import TracebackType

from tqdm.auto import tqdm

from comparisons.run._estimate import RunEstimate, format_seconds
from comparisons.run_folder import CellKey, GroupKey

_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


class RunProgress:
    """One bar over the cells a run has left, in cells or in estimated seconds."""

    def __init__(self, cells: int, estimate: RunEstimate | None, enabled: bool) -> None:
        self.estimate = estimate
        if estimate is None:
            self.bar = tqdm(
                total=cells, desc="cells", unit="cell", disable=not enabled, dynamic_ncols=True
            )
        else:
            self.bar = tqdm(
                total=max(estimate.total_seconds, 1e-9),
                desc=f"run (estimate {format_seconds(estimate.total_seconds)})",
                disable=not enabled,
                dynamic_ncols=True,
                bar_format=_FORMAT,
                smoothing=0,
            )
        self._cell_done = 0.0

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.bar.close()

    def trained(self, group: GroupKey) -> None:
        """A group's model is ready (trained, or loaded)."""
        if self.estimate is not None:
            self.bar.update(self.estimate.training.get(group, 0.0))

    def start_cell(self, cell: CellKey) -> None:
        self.bar.set_postfix_str(cell.key)
        self._cell_done = 0.0

    def stage(self, cell: CellKey, stage: str) -> None:
        """A stage of ``cell`` (its maps, or a metric) ended."""
        if self.estimate is not None:
            seconds = self.estimate.stages.get(cell, {}).get(stage, 0.0)
            self._cell_done += seconds
            self.bar.update(seconds)
        else:
            self.bar.set_postfix_str(f"{cell.key}: {stage}", refresh=True)

    def end_cell(self, cell: CellKey) -> None:
        """``cell`` ended (done or failed): the bar moves by what its stages left."""
        if self.estimate is None:
            self.bar.update(1)
        else:
            self.bar.update(max(self.estimate.cell_seconds(cell) - self._cell_done, 0.0))
