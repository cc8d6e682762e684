"""The plan of a run: its groups (one trained model each) and cells (one method each), the
share of them a ``--shard i/n`` runs, and the work left in a run folder.

Groups are the units of sharding, so a model is trained by one shard only. The run and its
dry run (``run --check``) ask the same :func:`plan_run`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from comparisons.config import HarnessConfig
from comparisons.run_folder import CellKey, GroupKey, RunFolder

_SHARD = re.compile(r"^(\d+)/(\d+)$")


def groups_of(config: HarnessConfig) -> list[GroupKey]:
    """Every (dataset, model, seed) of the config, in config order."""
    return [
        GroupKey(dataset.label, model.name, seed)
        for dataset in config.datasets
        for model in config.models
        if model.datasets is None or dataset.label in model.datasets
        for seed in config.seeds_of(model)
    ]


def cells_of(config: HarnessConfig, group: GroupKey) -> list[CellKey]:
    """The cells of ``group``: one per method, in config order."""
    return [CellKey(group, method) for method in config.methods]


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 1 <= i <= n (SLURM: ``$SLURM_ARRAY_TASK_ID/$N``)."""
    match = _SHARD.match(text.strip())
    if not match:
        raise ValueError(f"expected --shard as i/n (e.g. 2/4), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise ValueError(f"expected 1 <= i <= n in --shard i/n, got {text!r}")
    return index, count


def shard_groups(groups: list[GroupKey], index: int, count: int) -> list[GroupKey]:
    """Round-robin share ``index`` of ``count`` (1-based) of ``groups``."""
    return [group for position, group in enumerate(groups) if position % count == index - 1]


@dataclass(frozen=True)
class RunPlan:
    """What a run of a config (or one shard of it) does in its run folder.

    Attributes:
        groups: The groups of the shard (all groups without one), in config order.
        total_groups: The config's groups, all shards together.
        todo: Per group with work left, its cells not yet done; a group whose cells are
            all done but whose model record is missing is there with no cells.
        done_cells: The shard's cells already finished in the folder.
        trained: The shard's groups whose model is already recorded in the folder.
    """

    groups: list[GroupKey]
    total_groups: int
    todo: dict[GroupKey, list[CellKey]]
    done_cells: int
    trained: frozenset[GroupKey]

    @property
    def cells_to_run(self) -> int:
        return sum(len(cells) for cells in self.todo.values())


def plan_run(
    config: HarnessConfig, folder: RunFolder, shard: tuple[int, int] | None = None
) -> RunPlan:
    """The plan of a run of ``config`` (its ``shard``) into ``folder``; an unreadable
    finished file counts as not done (the run moves it aside and redoes it), and a folder
    of another config counts as empty (the run refuses or replaces it)."""
    everything = groups_of(config)
    groups = everything if shard is None else shard_groups(everything, *shard)
    cells_done, models_done = folder.finished() if folder.holds(config) else (set(), set())
    todo = {g: [c for c in cells_of(config, g) if c.key not in cells_done] for g in groups}
    done = sum(len(cells_of(config, g)) - len(todo[g]) for g in groups)
    todo = {g: cells for g, cells in todo.items() if cells or g.key not in models_done}
    trained = frozenset(g for g in groups if g.key in models_done)
    return RunPlan(groups, len(everything), todo, done, trained)
