"""The regions a localization metric scores a cell's maps on: the signal's masks and a
spurious cue's.

``"signal"``: the dataset's ground-truth masks, on the images with a signal. ``"cue"``: the
region of the dataset's spurious cue (:class:`~comparisons.datasets.SpuriousCue`), on the
images that carry it (``ImageSplit.cue_present``). A region a cell's data lack (no signal,
no cue, no image with either) gives no rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast, get_args

import torch
from torch import Tensor

from comparisons.metrics._cell_data import CellData

Region = Literal["signal", "cue"]
REGIONS: tuple[str, ...] = get_args(Region)


def check_regions(options: Mapping[str, Any], key: str = "regions") -> None:
    """``options[key]`` is a non-empty list of distinct regions among :data:`REGIONS`."""
    value = options[key]
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(r, str) and r in REGIONS for r in value)
        or len(set(value)) != len(value)
    ):
        raise ValueError(
            f"expected {key} to be a non-empty list of distinct regions among "
            f"{list(REGIONS)}, got {value!r}"
        )


def region_setting(region: str, *rest: str) -> str:
    """The rows' setting: ``""`` (or the rest alone) for the signal, the region first for
    the others (``"region=cue,tolerance=0"``), so the signal's rows keep their settings."""
    parts = ([] if region == "signal" else [f"region={region}"]) + [r for r in rest if r]
    return ",".join(parts)


def cue_masks(cell: CellData) -> Tensor | None:
    """(N, *spatial) bool: the cue's region on the cell's images that carry it (all False on
    the others), on the maps' device; ``None`` for a dataset without a cue."""
    cue = cell.dataset.cue
    present = cell.dataset.test.cue_present
    if cue is None or present is None:
        return None
    ids = cell.example_ids
    if ids is None:  # outside a run: the inputs are the test split's first images
        ids = torch.arange(len(cell.inputs))
    carried = present[ids.detach().to(device=present.device, dtype=torch.long)]
    return cue.masks(carried).to(cell.maps.device)


def region_masks(cell: CellData, region: str) -> tuple[Tensor, Tensor] | None:
    """``(masks, positions)``: the region's masks of the cell's images that have it and
    their rows in the cell's inputs (CPU); ``None`` when no image has it."""
    if region == "signal":
        if cell.masks is None:
            return None
        masks = cast(Tensor, cell.masks)
    elif region == "cue":
        found = cue_masks(cell)
        if found is None:
            return None
        masks = found
    else:
        raise ValueError(f"expected a region among {list(REGIONS)}, got {region!r}")
    present = masks.flatten(1).any(dim=1)
    if not bool(present.any()):
        return None
    return masks[present], present.nonzero().flatten().cpu()
