"""The paper's Fig. 1/2-style grid: test images x (input, S(x), I(x), every other method).

Volumes (N, C, D, H, W) are drawn as three orthogonal slices through the signal's centre
(the ground-truth mask's centre of mass; the volume's centre without a signal): axial
(a D index: H x W), coronal (an H index: D x W) and sagittal (a W index: D x H), one row
each, the input's slices first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor

from comparisons.paper import COMPLEMENT, REFERENCE
from comparisons.reporting._figure_output import FigureResult, save_figure
from comparisons.run_folder import RunContents
from comparisons.statistics import order_methods

#: The three orthogonal planes of a volume (D, H, W), each named by the axis it fixes.
PLANES: tuple[tuple[str, str], ...] = (("axial", "D"), ("coronal", "H"), ("sagittal", "W"))
_TITLES = {REFERENCE: f"S(x) {REFERENCE}", COMPLEMENT: f"I(x) {COMPLEMENT}"}
_FIRST = (REFERENCE, COMPLEMENT)


def select_examples(n: int, masks: Tensor | None, count: int) -> list[int]:
    """Up to ``count`` of ``n`` example indices: signal-present ones (a mask pixel set) first,
    then the rest, each in their stored order. ``masks``: (n, H, W) bool or ``None``."""
    if count < 0:
        raise ValueError(f"expected count >= 0, got {count}")
    if masks is None:
        return list(range(min(n, count)))
    present = masks.flatten(1).any(dim=1).tolist()
    order = [i for i, p in enumerate(present) if p] + [i for i, p in enumerate(present) if not p]
    return order[:count]


def bounding_box(mask: Tensor) -> tuple[int, int, int, int] | None:
    """(row0, row1, col0, col1), inclusive, of a (H, W) mask; ``None`` when it is empty."""
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    if rows.numel() == 0:
        return None
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def slice_centre(mask: Tensor | None, shape: Sequence[int]) -> tuple[int, int, int]:
    """The voxel (d, h, w) the three slices go through: the centre of mass of a (D, H, W)
    mask, rounded to the nearest voxel; the volume's centre (``size // 2``) for ``None`` or
    an empty mask."""
    if mask is None or not bool(mask.any()):
        return (shape[0] // 2, shape[1] // 2, shape[2] // 2)
    where = torch.nonzero(mask).to(torch.float64).mean(dim=0).round().to(torch.long)
    return (int(where[0]), int(where[1]), int(where[2]))


def orthogonal_slices(volume: Tensor, centre: Sequence[int]) -> list[Tensor]:
    """The axial, coronal and sagittal slices of a (D, H, W) volume through ``centre``:
    (H, W) at d, (D, W) at h and (D, H) at w (the order of :data:`PLANES`)."""
    d, h, w = centre
    return [volume[d], volume[:, h], volume[:, :, w]]


def grid_columns(methods: Sequence[str]) -> list[str]:
    """Column order after the input: S(x), I(x), then the other methods in registry order."""
    first = [m for m in _FIRST if m in methods]
    return first + [m for m in order_methods(methods) if m not in _FIRST]


def _image(x: Tensor) -> tuple[np.ndarray, str | None]:
    """A (C, H, W) input as something imshow draws: gray for one channel, RGB for three."""
    data = x.detach().to(torch.float64)
    if data.shape[0] == 3:
        low, high = data.min(), data.max()
        rgb = (data - low) / (high - low) if high > low else torch.zeros_like(data)
        return rgb.permute(1, 2, 0).numpy(), None
    return data.mean(dim=0).numpy(), "gray"


#: The colormaps of the maps: sequential for nonnegative maps, diverging for signed ones.
SEQUENTIAL, DIVERGING = "viridis", "RdBu_r"


def column_colormap(maps: Sequence[np.ndarray], normalized: bool) -> str:
    """The one colormap of a method's column, chosen from its maps in every row: diverging
    when any of them has a negative value (signed maps), sequential otherwise (nonnegative
    maps, and maps normalized to [0, 1])."""
    if normalized:
        return SEQUENTIAL
    signed = any(m.size and float(np.min(m)) < 0 for m in maps)
    return DIVERGING if signed else SEQUENTIAL


def _map_style(m: np.ndarray, normalized: bool, cmap: str) -> dict[str, Any]:
    """The limits of one panel in its column's ``cmap``: [0, 1] for normalized maps (CAMs),
    ±max|map| for a diverging column (centred at 0), [0, max|map|] for a sequential one."""
    if normalized:
        return {"cmap": cmap, "vmin": 0.0, "vmax": 1.0}
    peak = float(np.max(np.abs(m))) if m.size else 0.0
    peak = peak if peak > 0 else 1.0
    if cmap == DIVERGING:
        return {"cmap": cmap, "vmin": -peak, "vmax": peak}
    return {"cmap": cmap, "vmin": 0.0, "vmax": peak}


def _flat(m: Tensor, normalized: bool) -> Tensor:
    """A (C, ...) map as drawn: channel mean for normalized maps (they stay in [0, 1]),
    channel sum otherwise."""
    m = m.detach().to(torch.float64)
    return m.mean(dim=0) if normalized else m.sum(dim=0)


def _row_caption(
    index: int,
    labels: Tensor | None,
    predictions: Tensor | None,
    class_names: Sequence[str] | None,
) -> str:
    """``#<index> y=<class> pred=<class>``, classes by name where they are known."""

    def name(label: Tensor) -> str:
        k = int(label)
        return class_names[k] if class_names is not None and 0 <= k < len(class_names) else str(k)

    caption = f"#{index}"
    if labels is not None:
        caption += f" y={name(labels[index])}"
    if predictions is not None:
        caption += f" pred={name(predictions[index])}"
    return caption


def map_grid_figure(
    inputs: Tensor,
    maps: Mapping[str, Tensor],
    normalized: Mapping[str, bool],
    indices: Sequence[int],
    masks: Tensor | None = None,
    labels: Tensor | None = None,
    predictions: Tensor | None = None,
    title: str = "",
    class_names: Sequence[str] | None = None,
) -> Figure:
    """Draw the grid (volumes: :func:`volume_grid_figure`).

    Args:
        inputs: (n, C, H, W); (n, C, D, H, W) volumes are drawn by
            :func:`volume_grid_figure`.
        maps: Method -> (n, C, H, W); drawn channel-summed (channel mean for normalized maps,
            so they stay in [0, 1]).
        normalized: Method -> whether its maps are normalized to [0, 1].
        indices: The examples, one per row.
        masks: (n, H, W) bool; the signal's bounding box is drawn on every panel.
        labels, predictions: (n,), written beside each row.
        title: The figure's title.
        class_names: The classes' names, index = label (the labels' numbers without).

    Each method's column has one colormap, chosen from its maps in every row
    (:func:`column_colormap`); each panel's limits come from its own map.
    """
    if inputs.dim() == 5:
        return volume_grid_figure(
            inputs, maps, normalized, indices, masks, labels, predictions, title, class_names
        )
    columns = grid_columns(list(maps))
    flats = {
        method: [_flat(maps[method][i], normalized.get(method, False)).numpy() for i in indices]
        for method in columns
    }
    cmaps = {m: column_colormap(flats[m], normalized.get(m, False)) for m in columns}
    n_rows, n_cols = len(indices), 1 + len(columns)
    figure = Figure(figsize=(1.7 * n_cols, 1.7 * n_rows + 0.6), layout="constrained")
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    for r, index in enumerate(indices):
        box = bounding_box(masks[index]) if masks is not None else None
        image, cmap = _image(inputs[index])
        panels: list[tuple[Any, np.ndarray, dict[str, Any]]] = [(axes[r][0], image, {"cmap": cmap})]
        for c, method in enumerate(columns, start=1):
            flat = flats[method][r]
            style = _map_style(flat, normalized.get(method, False), cmaps[method])
            panels.append((axes[r][c], flat, style))
        for ax, data, style in panels:
            ax.imshow(data, interpolation="nearest", **style)
            if box is not None:
                r0, r1, c0, c1 = box
                ax.add_patch(
                    Rectangle(
                        (c0 - 0.5, r0 - 0.5),
                        c1 - c0 + 1,
                        r1 - r0 + 1,
                        fill=False,
                        edgecolor="red",
                        linewidth=1.2,
                    )
                )
            ax.set_xticks([])
            ax.set_yticks([])
        caption = _row_caption(index, labels, predictions, class_names)
        axes[r][0].set_ylabel(caption, fontsize=8)
    for c, name in enumerate(["input", *(_TITLES.get(m, m) for m in columns)]):
        axes[0][c].set_title(name, fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def _draw_box(ax: Any, mask: Tensor | None) -> None:
    """The bounding box of a 2-D mask (a slice of the ground truth) on a panel."""
    box = bounding_box(mask) if mask is not None else None
    if box is None:
        return
    r0, r1, c0, c1 = box
    rectangle = Rectangle(
        (c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False, edgecolor="red", linewidth=1.2
    )
    ax.add_patch(rectangle)


def volume_grid_figure(
    inputs: Tensor,
    maps: Mapping[str, Tensor],
    normalized: Mapping[str, bool],
    indices: Sequence[int],
    masks: Tensor | None = None,
    labels: Tensor | None = None,
    predictions: Tensor | None = None,
    title: str = "",
    class_names: Sequence[str] | None = None,
) -> Figure:
    """The grid of volumes: three rows per volume (axial, coronal, sagittal slices through
    :func:`slice_centre`), the input then every method in :func:`grid_columns` order.

    Args:
        inputs: (n, C, D, H, W), drawn as the channel mean.
        maps: Method -> (n, C, D, H, W) (channel dims may be 1); channel-summed (channel
            mean for normalized maps). The colour limits of a map come from its whole
            volume, so its three slices share one scale.
        normalized: Method -> whether its maps are normalized to [0, 1].
        indices: The volumes, three rows each.
        masks: (n, D, H, W) bool: the slices go through the mask's centre of mass, and the
            bounding box of the mask's cross-section is drawn on each panel.
        labels, predictions: (n,), written beside each volume's first row.
        title: The figure's title.
        class_names: The classes' names, index = label (the labels' numbers without).

    Each method's column has one colormap, chosen from its maps of every volume
    (:func:`column_colormap`).
    """
    columns = grid_columns(list(maps))
    flats = {
        method: [_flat(maps[method][i], normalized.get(method, False)) for i in indices]
        for method in columns
    }
    cmaps = {
        m: column_colormap([f.numpy() for f in flats[m]], normalized.get(m, False)) for m in columns
    }
    n_rows, n_cols = len(PLANES) * len(indices), 1 + len(columns)
    figure = Figure(figsize=(1.5 * n_cols, 1.5 * n_rows + 0.6), layout="constrained")
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    for r, index in enumerate(indices):
        mask = masks[index].bool() if masks is not None else None
        volume = inputs[index].detach().to(torch.float64).mean(dim=0)
        centre = slice_centre(mask, volume.shape)
        columns_data: list[tuple[Tensor, dict[str, Any]]] = [(volume, {"cmap": "gray"})]
        for method in columns:
            flat = flats[method][r]
            style = _map_style(flat.numpy(), normalized.get(method, False), cmaps[method])
            columns_data.append((flat, style))
        mask_slices = orthogonal_slices(mask, centre) if mask is not None else [None] * 3
        for p, ((plane, axis), position) in enumerate(zip(PLANES, centre, strict=True)):
            row = len(PLANES) * r + p
            for c, (data, style) in enumerate(columns_data):
                ax = axes[row][c]
                panel = orthogonal_slices(data, centre)[p].numpy()
                ax.imshow(panel, interpolation="nearest", **style)
                _draw_box(ax, mask_slices[p])
                ax.set_xticks([])
                ax.set_yticks([])
            caption = f"{plane} {axis}={position}"
            if p == 0:
                head = _row_caption(index, labels, predictions, class_names)
                caption = f"{head}\n{caption}"
            axes[row][0].set_ylabel(caption, fontsize=7)
    for c, name in enumerate(["input", *(_TITLES.get(m, m) for m in columns)]):
        axes[0][c].set_title(name, fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


_COLOUR_TEXT = (
    "Each method's column has one colormap, chosen from its maps in every row: diverging "
    "(blue-white-red, centred at 0, ±max|map|) where any of them has a negative value, "
    "sequential (from 0 to max|map|) where all are nonnegative, and [0, 1] for maps "
    "normalized to [0, 1] (CAMs)."
)


def write_map_grid(
    run: RunContents, dataset: str, model: str, seed: int, path: Path, rows: int = 4
) -> FigureResult:
    """The grid of one (dataset, model) at one seed from the run's example files."""
    files = {
        e.method: e for e in run.examples if (e.dataset, e.model, e.seed) == (dataset, model, seed)
    }
    notes: list[str] = []
    if not files:
        return FigureResult(
            None, "", (f"{dataset}/{model} seed {seed}: no example files, no map grid",)
        )
    loaded = {m: files[m].load() for m in grid_columns(list(files))}
    reference_method = next(iter(loaded))
    reference = loaded[reference_method]
    maps = {}
    for method, content in loaded.items():
        if content["inputs"].shape != reference["inputs"].shape or not torch.equal(
            content["inputs"], reference["inputs"]
        ):
            notes.append(
                f"{dataset}/{model}: {method}'s example inputs differ from "
                f"{reference_method}'s, left out of the grid"
            )
            continue
        if content["maps"].shape != reference["inputs"].shape:
            notes.append(
                f"{dataset}/{model}: {method}'s maps have shape "
                f"{tuple(content['maps'].shape)}, expected "
                f"{tuple(reference['inputs'].shape)}; left out"
            )
            continue
        maps[method] = content["maps"]
    masks = reference.get("masks")
    indices = select_examples(reference["inputs"].shape[0], masks, rows)
    if not indices or not maps:
        notes.append(f"{dataset}/{model}: no examples to draw")
        return FigureResult(None, "", tuple(notes))
    normalized = {m: bool(run.methods.get(m, {}).get("normalized_maps", False)) for m in maps}
    names = run.model_record(dataset, model, seed).get("class_names")
    class_names = [str(n) for n in names] if isinstance(names, list) else None
    if class_names is None:
        notes.append(
            f"{dataset}/{model}: no class names in the model's record (a run from before "
            "they were kept): rows give the class indices"
        )
    figure = map_grid_figure(
        reference["inputs"],
        maps,
        normalized,
        indices,
        masks,
        reference.get("labels"),
        reference.get("predictions"),
        title=f"{dataset} / {model}, seed {seed}",
        class_names=class_names,
    )
    save_figure(figure, path)
    missing = [m for m in _FIRST if m not in maps]
    if missing:
        notes.append(f"{dataset}/{model}: no {' or '.join(missing)} maps in the run")
    box_text = (
        "red boxes: the signal's bounding box from the ground-truth mask; signal-present "
        "images first"
        if masks is not None
        else "the dataset has no masks, so no boxes are drawn"
    )
    if reference["inputs"].dim() == 5:
        centre = (
            "the signal's centre (the ground-truth mask's centre of mass; the volume's centre "
            "without a signal)"
            if masks is not None
            else "the volume's centre"
        )
        caption = (
            f"Maps of {dataset} / {model} (seed {seed}) for {len(indices)} test volumes, each "
            f"as three orthogonal slices through {centre}: axial (fixed D), coronal (fixed H), "
            "sagittal (fixed W), the input's slices first, then S(x) and I(x) (the iFIM "
            "decomposition, eqs. 16-17) and the other methods; y = true class, pred = the "
            "model's. Maps are channel-summed (channel mean for maps normalized to [0, 1]). "
            f"{_COLOUR_TEXT} The colour limits of a map come from its whole volume; "
            f"{box_text.replace('bounding box', 'cross-section bounding box')}."
        )
        return FigureResult(path, caption, tuple(notes))
    caption = (
        f"Maps of {dataset} / {model} (seed {seed}) for {len(indices)} test images: input, "
        "S(x) and I(x) (the iFIM decomposition, eqs. 16-17), then the other methods; y = true "
        "class, pred = the model's. Maps are channel-summed (channel mean for maps normalized "
        f"to [0, 1]). {_COLOUR_TEXT} The limits are per panel; {box_text}."
    )
    return FigureResult(path, caption, tuple(notes))
