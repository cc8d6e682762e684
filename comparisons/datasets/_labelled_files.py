"""Labelled image or volume files to an :class:`ImageDataset`: classes, splits, sizes, masks.

The shared part of the ``"image-folder"``, ``"csv"``, ``"nifti"`` and ``"dicom"`` datasets:
each lists its files as :class:`LabelledFile` entries and :func:`build_file_dataset` does the
rest, checking everything it can (missing files, labels outside the declared classes, split
names) before reading a pixel, then reading, converting channels, resizing (masks
nearest-neighbour), stacking and normalizing with statistics of the training split.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from comparisons.datasets._dataset import ImageDataset, ImageSplit, pixel_statistics
from comparisons.datasets._image_files import to_channels
from comparisons.datasets._splitting import (
    SPLIT_NAMES,
    cap_per_class,
    per_split_caps,
    stratified_split,
)

Color = Literal["grayscale", "rgb"]
Normalize = Literal["none", "standardize"]
#: ``read(path) -> (array (C, *spatial) float32, values_in_unit_range)``.
Reader = Callable[[Path], tuple[np.ndarray, bool]]
#: ``read_mask(path) -> array (*spatial) bool``.
MaskReader = Callable[[Path], np.ndarray]

_INTEGER = re.compile(r"^\d+$")
_SHOWN = 5


@dataclass(frozen=True)
class LabelledFile:
    """One example on disk.

    Attributes:
        path: The image or volume file.
        label: Its class as written (a folder name, a CSV cell): a class name, or an index
            into the declared classes.
        mask: Its ground-truth mask file, or ``None`` (no signal: an all-False mask when the
            dataset has masks).
        split: ``"train"``, ``"val"`` or ``"test"`` when the layout says, else ``None``.
        where: Where it was listed, for error messages (e.g. ``"row 3 of labels.csv"``).
    """

    path: Path
    label: str
    mask: Path | None = None
    split: str | None = None
    where: str = ""

    @property
    def origin(self) -> str:
        return self.where or str(self.path)


def image_shape(
    image_size: int | Sequence[int] | None, spatial_dims: int
) -> tuple[int, ...] | None:
    """``image_size`` as a spatial shape: an int is a square (cube); ``None`` stays ``None``.

    Raises:
        ValueError: Not a positive int or a list of ``spatial_dims`` positive ints.
    """
    if image_size is None:
        return None
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        values: tuple[int, ...] = (image_size,) * spatial_dims
    elif isinstance(image_size, Sequence) and not isinstance(image_size, str):
        values = tuple(image_size)
    else:
        values = ()
    if len(values) != spatial_dims or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    ):
        axes = "[H, W]" if spatial_dims == 2 else "[D, H, W]"
        raise ValueError(f"expected image_size as a positive int or {axes}, got {image_size!r}")
    return values


def class_indices(
    files: Sequence[LabelledFile], classes: Sequence[str] | None
) -> tuple[tuple[str, ...], np.ndarray]:
    """The class names in label order and each file's label index.

    Without ``classes``: the distinct labels sorted (numerically when all are integers).
    With ``classes``: each label must be one of them, or every label an index into them.

    Raises:
        ValueError: A label outside the declared classes (naming where it was listed),
            repeated class names, or fewer than two classes.
    """
    labels = [f.label for f in files]
    if classes is None:
        distinct = set(labels)
        numeric = all(_INTEGER.match(label) for label in distinct)
        names = tuple(sorted(distinct, key=int if numeric else str))
    else:
        if isinstance(classes, str) or not all(isinstance(c, str) and c for c in classes):
            raise ValueError(f"expected classes to be a list of non-empty names, got {classes!r}")
        names = tuple(classes)
        if len(set(names)) != len(names):
            raise ValueError(f"expected distinct class names, got {list(names)}")
    if len(names) < 2:
        raise ValueError(f"expected at least two classes, got {list(names)}")
    position = {name: index for index, name in enumerate(names)}
    by_index = classes is not None and not set(labels) <= set(names)
    if by_index and all(_INTEGER.match(label) for label in labels):
        outside = [f for f in files if int(f.label) >= len(names)]
        if outside:
            raise ValueError(
                f"expected labels among the declared classes {list(names)} (or indices "
                f"0..{len(names) - 1}), got {outside[0].label!r} in {outside[0].origin}"
                + _more(len(outside))
            )
        return names, np.array([int(label) for label in labels], dtype=np.int64)
    outside = [f for f in files if f.label not in position]
    if outside:
        raise ValueError(
            f"expected labels among the declared classes {list(names)}, got "
            f"{outside[0].label!r} in {outside[0].origin}" + _more(len(outside))
        )
    return names, np.array([position[label] for label in labels], dtype=np.int64)


def check_files_exist(files: Sequence[LabelledFile], folders: bool = False) -> None:
    """Every image and mask file exists (with ``folders``, a folder is one too: a series).

    Raises:
        FileNotFoundError: Naming the first missing files and how many there are.
    """
    missing = [
        (path, f.origin)
        for f in files
        for path in (f.path, f.mask)
        if path is not None and not (path.is_file() or (folders and path.is_dir()))
    ]
    if missing:
        shown = "; ".join(f"{path} (from {origin})" for path, origin in missing[:_SHOWN])
        raise FileNotFoundError(
            f"expected every listed file to exist, got {len(missing)} missing: {shown}"
            + (" ..." if len(missing) > _SHOWN else "")
        )


def split_indices(
    files: Sequence[LabelledFile],
    labels: np.ndarray,
    val_fraction: float,
    test_fraction: float,
    max_per_class: int | Mapping[str, int] | None,
    seed: int,
) -> dict[str, np.ndarray]:
    """Indices of each split: from the files' ``split`` when the layout gives one (without a
    validation split, ``val_fraction`` of the training split, stratified), else a seeded
    stratified split; then at most ``max_per_class`` per class (a seeded draw).

    Raises:
        ValueError: Some files have a split and others not, or an unknown split name.
    """
    caps = per_split_caps(max_per_class)
    given = [f.split for f in files]
    if any(s is not None for s in given):
        unknown = [f for f in files if f.split not in SPLIT_NAMES]
        if unknown:
            raise ValueError(
                f"expected a split among {list(SPLIT_NAMES)} for every file, got "
                f"{unknown[0].split!r} in {unknown[0].origin}" + _more(len(unknown))
            )
        chosen = {
            s: np.array([i for i, g in enumerate(given) if g == s], dtype=np.int64)
            for s in SPLIT_NAMES
        }
        if len(chosen["val"]) == 0 and len(chosen["train"]) > 0:
            # No validation split given: a stratified share of the training split.
            carved = stratified_split(labels[chosen["train"]], val_fraction, 0.0, seed)
            chosen["val"] = chosen["train"][carved["val"]]
            chosen["train"] = chosen["train"][carved["train"]]
    else:
        chosen = stratified_split(labels, val_fraction, test_fraction, seed)
    return {
        split: idx[cap_per_class(labels[idx], caps[split], seed + 1 + offset)]
        for offset, (split, idx) in enumerate(chosen.items())
    }


def build_file_dataset(
    files: Sequence[LabelledFile],
    *,
    name: str,
    description: str,
    spatial_dims: int,
    read: Reader,
    read_mask: MaskReader | None,
    image_size: int | Sequence[int] | None = None,
    color: Color | None = None,
    normalize: Normalize = "none",
    classes: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_per_class: int | Mapping[str, int] | None = None,
    seed: int = 0,
    folders: bool = False,
) -> ImageDataset:
    """Read labelled files into train, validation and test splits.

    Args:
        files: The examples; with ``read_mask``, those without a mask get an all-False one.
        name, description: Of the dataset.
        spatial_dims: 2 (images (N, C, H, W)) or 3 (volumes (N, 1, D, H, W)).
        read: Reads one file as (C, *spatial) float32 and whether its values lie in [0, 1].
        read_mask: Reads one mask file as (*spatial) bool; ``None``: no masks.
        image_size: Resize every image (bilinear, trilinear for volumes; antialiased when
            2-D) and mask (nearest-neighbour) to this size; ``None``: every file must have
            the same size.
        color: ``"grayscale"`` (1 channel, ITU-R 601 luma of RGB files), ``"rgb"`` (3,
            grayscale repeated), or ``None``: as the files are, which must agree.
        normalize: ``"none"`` or ``"standardize"``: ``(x - m) / s`` with the pixel mean and
            std of the training split (needs one).
        classes: Class names in label order (see :func:`class_indices`).
        val_fraction, test_fraction: Of each class, for a split not given by the layout.
        max_per_class: Cap per class, one int for every split or ``{split: int}``.
        seed: Seed of the split and the caps.
        folders: An example or a mask may be a folder (a DICOM series), read by ``read``
            and ``read_mask`` like a file.

    Raises:
        FileNotFoundError: A listed file is missing.
        ValueError: Anything else that does not fit, naming the file.
    """
    if not files:
        raise ValueError(f"expected at least one file for dataset {name!r}, got none")
    if color not in (None, "grayscale", "rgb"):
        raise ValueError(f"expected color 'grayscale', 'rgb' or none, got {color!r}")
    if normalize not in ("none", "standardize"):
        raise ValueError(f"expected normalize 'none' or 'standardize', got {normalize!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"expected an int seed, got {seed!r}")
    size = image_shape(image_size, spatial_dims)
    check_files_exist(files, folders)
    class_names, labels = class_indices(files, classes)
    splits = split_indices(files, labels, val_fraction, test_fraction, max_per_class, seed)
    if len(splits["test"]) == 0:
        raise ValueError(
            f"expected test examples in dataset {name!r}, got none (give a test split, or a "
            f"test_fraction > 0)"
        )
    if normalize == "standardize" and len(splits["train"]) == 0:
        raise ValueError(
            "expected a training split for normalize = 'standardize' (its statistics), got "
            "none; declare the model's mean and std in its preprocessing instead"
        )
    order = np.concatenate([splits[s] for s in SPLIT_NAMES])
    ordered = [files[i] for i in order]
    images, native, unit_range = _read_images(ordered, read, color, size)
    masks = None if read_mask is None else _read_masks(ordered, read_mask, native, size)
    tensors = torch.from_numpy(images)
    mask_tensors = None if masks is None else torch.from_numpy(masks)
    parts: dict[str, ImageSplit] = {}
    start = 0
    for split in SPLIT_NAMES:
        stop = start + len(splits[split])
        parts[split] = ImageSplit(
            tensors[start:stop],
            torch.from_numpy(labels[splits[split]]),
            None if mask_tensors is None else mask_tensors[start:stop],
        )
        start = stop
    value_range: tuple[float, float] | None = (0.0, 1.0) if unit_range else None
    if normalize == "standardize":
        mean, std = pixel_statistics(parts["train"].images)
        if not std > 0:
            raise ValueError(f"expected training images that are not constant, got std {std}")
        parts = {
            s: ImageSplit((p.images - mean) / std, p.labels, p.masks) for s, p in parts.items()
        }
        if value_range is not None:
            value_range = ((0.0 - mean) / std, (1.0 - mean) / std)
    reference = parts["train"] if len(parts["train"]) else parts["test"]
    pixel_mean, pixel_std = pixel_statistics(reference.images)
    return ImageDataset(
        name=name,
        class_names=class_names,
        pixel_mean=pixel_mean,
        pixel_std=pixel_std,
        value_range=value_range,
        description=description,
        **parts,
    )


def _read_images(
    files: Sequence[LabelledFile], read: Reader, color: Color | None, size: tuple[int, ...] | None
) -> tuple[np.ndarray, list[tuple[int, ...]], bool]:
    """(N, C, *size) float32, each file's own spatial shape, and whether all lie in [0, 1]."""
    arrays: list[np.ndarray] = []
    in_unit: list[bool] = []
    for f in files:
        array, unit_range = read(f.path)
        arrays.append(array)
        in_unit.append(unit_range)
    unit = all(in_unit)
    if not unit and any(in_unit):
        scaled = files[in_unit.index(True)].path
        stored = files[in_unit.index(False)].path
        warnings.warn(
            f"expected files of one kind of values, got {scaled} scaled to [0, 1] (8 bits) "
            f"and {stored} at its stored values (16 bits, float, DICOM): their scales differ "
            "by orders of magnitude; convert them to one kind",
            stacklevel=4,
        )
    channels = {"grayscale": 1, "rgb": 3}.get(color or "")
    if channels is None:
        kinds = {a.shape[0] for a in arrays}
        if len(kinds) > 1:
            gray = next(f for f, a in zip(files, arrays, strict=True) if a.shape[0] == 1)
            rgb = next(f for f, a in zip(files, arrays, strict=True) if a.shape[0] == 3)
            raise ValueError(
                f"expected files of one kind, got grayscale ({gray.path}) and RGB "
                f"({rgb.path}): set color = 'grayscale' or 'rgb'"
            )
        channels = kinds.pop()
    arrays = [to_channels(a, channels) for a in arrays]
    native = [tuple(a.shape[1:]) for a in arrays]
    if size is None:
        shapes = {a.shape[1:] for a in arrays}
        if len(shapes) > 1:
            first = arrays[0].shape[1:]
            other = next(i for i, a in enumerate(arrays) if a.shape[1:] != first)
            raise ValueError(
                f"expected images of one size, got {first} ({files[0].path}) and "
                f"{arrays[other].shape[1:]} ({files[other].path}): set image_size"
            )
        return np.stack(arrays).astype(np.float32, copy=False), native, unit
    out = np.empty((len(arrays), channels, *size), dtype=np.float32)
    for i, array in enumerate(arrays):
        out[i] = _resize(array, size, mask=False)
    return out, native, unit


def _read_masks(
    files: Sequence[LabelledFile],
    read_mask: MaskReader,
    native: Sequence[tuple[int, ...]],
    size: tuple[int, ...] | None,
) -> np.ndarray:
    """(N, *size) bool: each file's mask (all False without one), resized nearest-neighbour."""
    masks = np.zeros((len(files), *(size or native[0])), dtype=bool)
    for i, (f, shape) in enumerate(zip(files, native, strict=True)):
        if f.mask is None:
            continue
        mask = read_mask(f.mask)
        if mask.shape != shape:
            raise ValueError(
                f"expected the mask {f.mask} to have the size of its image {f.path}, {shape}, "
                f"got {mask.shape}"
            )
        masks[i] = mask if size is None else _resize(mask[None], size, mask=True)[0] > 0.5
    return masks


def _resize(array: np.ndarray, size: tuple[int, ...], *, mask: bool) -> np.ndarray:
    """(C, *spatial) to (C, *size): linear interpolation, or nearest for masks."""
    if array.shape[1:] == size:
        return array
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None]
    if mask:
        resized = F.interpolate(tensor, size=size, mode="nearest-exact")
    elif len(size) == 2:
        resized = F.interpolate(tensor, size=size, mode="bilinear", antialias=True)
    else:
        resized = F.interpolate(tensor, size=size, mode="trilinear", align_corners=False)
    return resized[0].numpy()


def _more(count: int) -> str:
    return f" ({count - 1} more)" if count > 1 else ""
