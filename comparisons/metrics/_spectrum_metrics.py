"""The iFIM's own description on a cell of a method with a spectrum: where its eigenvectors
lie (share of each u_k's energy on the signal and on a spurious cue) and how its eigenvalues
spread (lambda_1, trace, effective rank, K).

Both read the one decomposition the cell made of its images (``CellData.spectrum``: the
eigenvalues of eq. 8, U_K of eqs. 9 and 13, K), so they cost no model call. They apply to
the methods with a spectrum only (``MetricInfo.needs_spectrum``; ``run_metric`` skips the
others), and have no direction: they say how a model changed (a shortcut, adversarial
training), not which method is better.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import torch

from captum_ifim.metrics import eigenvector_energy, spectrum_summary
from comparisons.metrics._cell_data import CellData, MetricValue, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._regions import check_regions, region_masks
from comparisons.metrics._row_statistic import mean_of

if TYPE_CHECKING:  # the run package imports this one
    from comparisons.run._spectrum_maps import SpectrumMaps


def _spectrum(cell: CellData) -> SpectrumMaps:
    # run_metric runs these entries only on a cell with a spectrum (needs_spectrum).
    return cast("SpectrumMaps", cell.spectrum)


def _eigenvector_energy(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    """Per region and k: the mean share of u_k's energy in the region over the images that
    have the region and k <= K (eq. 13)."""
    spectrum = _spectrum(cell)
    values = []
    for region in options["regions"]:
        masked = region_masks(cell, region)
        if masked is None:
            continue
        masks, positions = masked
        basis = spectrum.basis[positions]
        shares = eigenvector_energy(basis, masks.to(basis.device))
        counts = spectrum.num_components[positions]
        for k in range(1, basis.shape[1] + 1):
            kept = counts >= k
            if bool(kept.any()):
                values.append(
                    mean_value(
                        EIGENVECTOR_ENERGY_ROW.name,
                        shares[kept, k - 1],
                        f"region={region},k={k}",
                        positions[kept],
                    )
                )
    return values


def _check_eigenvector_energy(options: Mapping[str, Any]) -> None:
    check_regions(options)


_NO_BEST = (
    "a description of the iFIM (how a model changed), not a quality of a method: never ranked"
)
EIGENVECTOR_ENERGY_ROW = RowSpec(
    "eigenvector-energy", "none", _NO_BEST, statistic=mean_of("eigenvector-energy")
)

EIGENVECTOR_ENERGY = HarnessMetric(
    name="eigenvector-energy",
    check=_check_eigenvector_energy,
    runner=_eigenvector_energy,
    defaults={"regions": ["signal", "cue"]},
    rows=(EIGENVECTOR_ENERGY_ROW,),
)


def _row(name: str) -> RowSpec:
    return RowSpec(name, "none", _NO_BEST, statistic=mean_of(name))


LAMBDA_1_ROW = _row("ifim-lambda-1")
TRACE_ROW = _row("ifim-trace")
EFFECTIVE_RANK_ROW = _row("ifim-effective-rank")
NUM_COMPONENTS_ROW = _row("ifim-num-components")


def _ifim_spectrum(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    """One row per number of :func:`~captum_ifim.metrics.spectrum_summary`, the mean over
    the cell's images (their values attached)."""
    del options
    spectrum = _spectrum(cell)
    summary = spectrum_summary(spectrum.eigenvalues, spectrum.num_components.to(torch.long))
    return [
        mean_value(LAMBDA_1_ROW.name, summary.lambda_1),
        mean_value(TRACE_ROW.name, summary.trace),
        mean_value(EFFECTIVE_RANK_ROW.name, summary.effective_rank),
        mean_value(NUM_COMPONENTS_ROW.name, summary.num_components),
    ]


IFIM_SPECTRUM = HarnessMetric(
    name="ifim-spectrum",
    runner=_ifim_spectrum,
    defaults={},
    rows=(LAMBDA_1_ROW, TRACE_ROW, EFFECTIVE_RANK_ROW, NUM_COMPONENTS_ROW),
)
