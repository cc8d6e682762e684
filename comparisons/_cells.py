"""The units of work: a cell is one (dataset, model, seed, method); cells of one
(dataset, model, seed) share a trained model and form a *group*.

Groups are the units of sharding (``--shard i/n``), so a model is trained by one shard only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from comparisons._config import HarnessConfig

_SHARD = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True, order=True)
class Group:
    """One trained model: (dataset label, model name, seed)."""

    dataset: str
    model: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.dataset}__{self.model}__seed{self.seed}"


@dataclass(frozen=True, order=True)
class Cell:
    """One method run through every metric on one trained model."""

    group: Group
    method: str

    @property
    def key(self) -> str:
        return f"{self.group.key}__{self.method}"


def groups_of(config: HarnessConfig) -> list[Group]:
    """Every (dataset, model, seed) of the config, in config order."""
    return [
        Group(dataset.label, model.name, seed)
        for dataset in config.datasets
        for model in config.models
        if model.datasets is None or dataset.label in model.datasets
        for seed in config.seeds
    ]


def cells_of(config: HarnessConfig, group: Group) -> list[Cell]:
    """The cells of ``group``: one per method, in config order."""
    return [Cell(group, method) for method in config.methods]


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 1 <= i <= n (SLURM: ``$SLURM_ARRAY_TASK_ID/$N``)."""
    match = _SHARD.match(text.strip())
    if not match:
        raise ValueError(f"expected --shard as i/n (e.g. 2/4), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= index <= count:
        raise ValueError(f"expected 1 <= i <= n in --shard i/n, got {text!r}")
    return index, count


def shard_groups(groups: list[Group], index: int, count: int) -> list[Group]:
    """Round-robin share ``index`` of ``count`` (1-based) of ``groups``."""
    return [group for position, group in enumerate(groups) if position % count == index - 1]
