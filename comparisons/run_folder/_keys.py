"""The names of the units of work and their text form in the run folder.

A *group* is one trained model, (dataset label, model name, seed); a *cell* is one method
run through every metric on a group's model; a *pair* is two groups of one dataset compared
on the same images. Keys are ``<dataset>__<model>__seed<k>``, ``<group key>__<method>`` and
``<group key a>__vs__<model b>__seed<j>``; :meth:`CellKey.parse` reads a cell key back, and
:meth:`PairKey.from_row` the pair of a result row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATOR = "__"
_PAIR_MODELS = "|"
_PAIR_SETTING = re.compile(r"^seeds=(?P<a>-?\d+)\|(?P<b>-?\d+)$")
_GROUP_KEY = re.compile(r"^(?P<dataset>.+?)__(?P<model>.+?)__seed(?P<seed>-?\d+)$")
_CELL_KEY = re.compile(r"^(?P<dataset>.+?)__(?P<model>.+?)__seed(?P<seed>-?\d+)__(?P<method>.+)$")


@dataclass(frozen=True, order=True)
class GroupKey:
    """One trained model: (dataset label, model name, seed)."""

    dataset: str
    model: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.dataset}{_SEPARATOR}{self.model}{_SEPARATOR}seed{self.seed}"

    @classmethod
    def parse(cls, text: str) -> GroupKey:
        """The group of a key such as ``mni-sks__shallow-cnn__seed0``.

        Raises:
            ValueError: ``text`` is not a group key.
        """
        match = _GROUP_KEY.match(text)
        if match is None:
            raise ValueError(f"expected a group key <dataset>__<model>__seed<k>, got {text!r}")
        return cls(match["dataset"], match["model"], int(match["seed"]))


@dataclass(frozen=True, order=True)
class CellKey:
    """One method run through every metric on one group's model."""

    group: GroupKey
    method: str

    @property
    def key(self) -> str:
        return f"{self.group.key}{_SEPARATOR}{self.method}"

    @classmethod
    def parse(cls, text: str) -> CellKey:
        """The cell of a key such as ``mni-sks__shallow-cnn__seed0__gradcam``.

        Raises:
            ValueError: ``text`` is not a cell key.
        """
        match = _CELL_KEY.match(text)
        if match is None:
            raise ValueError(
                f"expected a cell key <dataset>__<model>__seed<k>__<method>, got {text!r}"
            )
        group = GroupKey(match["dataset"], match["model"], int(match["seed"]))
        return cls(group, match["method"])


@dataclass(frozen=True, order=True)
class PairKey:
    """Two groups of one dataset compared on the same evaluated images (the model-pair stage).

    Its result rows have ``model = "<model a>|<model b>"``, ``setting = "seeds=<i>|<j>"`` and
    ``seed = i`` (the first model's seed), so that every pair is its own row group.
    """

    a: GroupKey
    b: GroupKey

    def __post_init__(self) -> None:
        if self.a.dataset != self.b.dataset:
            raise ValueError(
                f"expected two groups of one dataset, got {self.a.key} and {self.b.key}"
            )
        for group in (self.a, self.b):
            if _PAIR_MODELS in group.model:
                raise ValueError(
                    f"expected model names without {_PAIR_MODELS!r} to name a pair, got "
                    f"{group.model!r}"
                )

    @property
    def dataset(self) -> str:
        return self.a.dataset

    @property
    def key(self) -> str:
        return f"{self.a.key}{_SEPARATOR}vs{_SEPARATOR}{self.b.model}{_SEPARATOR}seed{self.b.seed}"

    @property
    def model(self) -> str:
        """The rows' ``model`` column: ``"<model a>|<model b>"``."""
        return f"{self.a.model}{_PAIR_MODELS}{self.b.model}"

    @property
    def setting(self) -> str:
        """The rows' ``setting`` column: ``"seeds=<i>|<j>"``."""
        return f"seeds={self.a.seed}{_PAIR_MODELS}{self.b.seed}"

    @classmethod
    def from_row(cls, dataset: str, model: str, setting: str) -> PairKey | None:
        """The pair a result row belongs to, ``None`` for the rows of cells and models.

        Example:
            >>> PairKey.from_row("mni-sks", "shallow-cnn|resnet18", "seeds=0|2").key
            'mni-sks__shallow-cnn__seed0__vs__resnet18__seed2'
        """
        models = model.split(_PAIR_MODELS)
        match = _PAIR_SETTING.match(setting)
        if len(models) != 2 or match is None:
            return None
        return cls(
            GroupKey(dataset, models[0], int(match["a"])),
            GroupKey(dataset, models[1], int(match["b"])),
        )
