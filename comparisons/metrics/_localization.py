"""Energy in the ground-truth mask and the pointing game, on a cell's signal-present images."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from captum_ifim.metrics import energy_in_mask, pointing_game
from comparisons.metrics._cell_data import CellData, MetricValue, finite_mean
from comparisons.metrics._entry import HarnessMetric, RowSpec


def signal_present(cell: CellData) -> tuple[Tensor, Tensor] | None:
    """The maps and masks of the examples with a signal, or ``None`` when there are none."""
    if cell.masks is None:
        return None
    present = cell.masks.flatten(1).any(dim=1)
    return (cell.maps[present], cell.masks[present]) if bool(present.any()) else None


def _energy(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = signal_present(cell)
    if signal is None:
        return []
    value, n = finite_mean(energy_in_mask(*signal, magnitude=options["magnitude"]))
    return [MetricValue("energy-in-mask", value, "", n)]


def _pointing(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = signal_present(cell)
    if signal is None:
        return []
    value, n = finite_mean(pointing_game(*signal, tolerance=options["tolerance"]))
    return [MetricValue("pointing-game", value, f"tolerance={options['tolerance']}", n)]


ENERGY_IN_MASK = HarnessMetric(
    name="energy-in-mask",
    runner=_energy,
    defaults={"magnitude": "abs"},
    rows=(RowSpec("energy-in-mask"),),
)

POINTING_GAME = HarnessMetric(
    name="pointing-game",
    runner=_pointing,
    defaults={"tolerance": 0},
    rows=(RowSpec("pointing-game"),),
)
