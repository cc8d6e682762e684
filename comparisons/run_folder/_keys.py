"""The names of the units of work and their text form in the run folder.

A *group* is one trained model, (dataset label, model name, seed); a *cell* is one method
run through every metric on a group's model. Keys are ``<dataset>__<model>__seed<k>`` and
``<group key>__<method>``; :meth:`CellKey.parse` reads one back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATOR = "__"
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
