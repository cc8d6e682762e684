"""The plan of a run: its groups (one trained model each) and cells (one method each), and
the share of them a ``--shard i/n`` runs.

Groups are the units of sharding, so a model is trained by one shard only.
"""

from __future__ import annotations

import re

from comparisons._config import HarnessConfig
from comparisons.run_folder import CellKey, GroupKey

_SHARD = re.compile(r"^(\d+)/(\d+)$")


def groups_of(config: HarnessConfig) -> list[GroupKey]:
    """Every (dataset, model, seed) of the config, in config order."""
    return [
        GroupKey(dataset.label, model.name, seed)
        for dataset in config.datasets
        for model in config.models
        if model.datasets is None or dataset.label in model.datasets
        for seed in config.seeds
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
