"""The stages of a run, in one place: its plan (groups, cells, shards, work left), its inputs
(datasets read, given models checked), each group's model and shared data, each cell, the
model pairs, the merge of shards and the dry run (``run --check``), which asks the same
functions the run uses.

:func:`run` runs (or resumes) a loaded :class:`~comparisons.config.HarnessConfig` into a run
folder; :func:`merge` joins shard folders; :func:`describe_plan` says what a run would do.
"""

from comparisons.run._cell import CellRecord, run_cell
from comparisons.run._dry_run import check_inputs, describe_plan
from comparisons.run._group_data import GroupData, evaluation_indices, figure_indices
from comparisons.run._merge import merge
from comparisons.run._plan import RunPlan, cells_of, groups_of, parse_shard, plan_run
from comparisons.run._runner import run

__all__ = [
    "CellRecord",
    "GroupData",
    "RunPlan",
    "cells_of",
    "check_inputs",
    "describe_plan",
    "evaluation_indices",
    "figure_indices",
    "groups_of",
    "merge",
    "parse_shard",
    "plan_run",
    "run",
    "run_cell",
]
