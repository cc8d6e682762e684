"""A cell in progress, saved after its maps and after each metric, so that a killed run
resumes inside the cell: at most the one stage that was running is computed again.

``partial/<cell>.pt`` (written atomically) holds the config's fingerprint, the evaluated
images' test indices, the maps (and the low maps, the iFIM decomposition, the maps' time)
and every finished metric's values. It is used only by a run of the same config on the same
images; anything else (another config, a file that cannot be read) is ignored, removed and
computed again. The file is removed once the cell is written.
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from comparisons._atomic import write_torch
from comparisons.metrics import ExampleValues, MetricValue
from comparisons.run._spectrum_maps import SpectrumMaps

logger = logging.getLogger(__name__)

_FORMAT = 1


class PartialCell:
    """The saved progress of one cell (``partial/<cell>.pt``)."""

    def __init__(self, path: Path, fingerprint: str, test_indices: Tensor) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.test_indices = test_indices.detach().to(torch.long).cpu()
        self.state: dict[str, Any] | None = None

    def load(self) -> bool:
        """Read a saved state of this cell, if one of the same config and images is there."""
        if not self.path.is_file():
            return False
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile):
            state = None
        usable = (
            isinstance(state, dict)
            and state.get("format") == _FORMAT
            and state.get("fingerprint") == self.fingerprint
            and torch.equal(state.get("test_indices", torch.empty(0)), self.test_indices)
        )
        if not usable:
            logger.warning("%s: not this run's cell in progress, computed again", self.path)
            self.remove()
            return False
        self.state = state
        return True

    @property
    def has_maps(self) -> bool:
        return self.state is not None and "maps" in self.state

    def maps(self, device: torch.device) -> tuple[Tensor, Tensor | None, float, Any]:
        """``(maps, low maps or None, seconds of the maps, SpectrumMaps or None)``, the maps
        on ``device`` (the spectrum's CPU tensors stay on the CPU, as the cell keeps them)."""
        assert self.state is not None
        state = self.state
        low = state["low_maps"]
        spectrum = None
        if state["spectrum"] is not None:
            saved = dict(state["spectrum"])
            saved["maps"], saved["other"] = saved["maps"].to(device), saved["other"].to(device)
            spectrum = SpectrumMaps(**saved)
        maps = state["maps"].to(device)
        return maps, None if low is None else low.to(device), float(state["seconds"]), spectrum

    def save_maps(
        self, maps: Tensor, low_maps: Tensor | None, seconds: float, spectrum: SpectrumMaps | None
    ) -> None:
        self.state = {
            "format": _FORMAT,
            "fingerprint": self.fingerprint,
            "test_indices": self.test_indices,
            "maps": maps.detach().cpu(),
            "low_maps": None if low_maps is None else low_maps.detach().cpu(),
            "seconds": float(seconds),
            "spectrum": None
            if spectrum is None
            else {k: v.detach().cpu() for k, v in asdict(spectrum).items()},
            "metrics": {},
        }
        self._write()

    def metric(self, name: str) -> list[MetricValue] | None:
        """A finished metric's values (its seconds row included), or ``None``."""
        if self.state is None or name not in self.state["metrics"]:
            return None
        return [_value(record) for record in self.state["metrics"][name]]

    def save_metric(self, name: str, values: list[MetricValue]) -> None:
        if self.state is None:
            return
        self.state["metrics"][name] = [_record(value) for value in values]
        self._write()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        try:
            write_torch(self.path, self.state)
        except OSError as error:  # progress not saved: the cell itself goes on
            logger.warning("%s not saved (%s): a kill now redoes the cell", self.path, error)


def _record(value: MetricValue) -> dict[str, Any]:
    examples = value.examples
    return {
        "metric": value.metric,
        "value": float(value.value),
        "setting": value.setting,
        "n": int(value.n),
        "examples": None
        if examples is None
        else {
            "name": examples.name,
            "values": examples.values.detach().cpu(),
            "positions": None if examples.positions is None else examples.positions.detach().cpu(),
        },
    }


def _value(record: dict[str, Any]) -> MetricValue:
    examples = record["examples"]
    return MetricValue(
        metric=record["metric"],
        value=record["value"],
        setting=record["setting"],
        n=record["n"],
        examples=None if examples is None else ExampleValues(**examples),
    )
