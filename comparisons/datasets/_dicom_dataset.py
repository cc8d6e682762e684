"""``"dicom"``: DICOM images and series by class folder, or listed in a CSV manifest.

Two layouts:

- ``root/<class>/<example>`` or ``root/{train,val,test}/<class>/<example>``, where an example
  is a DICOM file (``*.dcm``, ``*.dicom`` or any file with the DICOM preamble: a 2-D image,
  or a volume when it has several frames) or a series folder (one file per slice: a volume);
  other files are ignored;
- a manifest with the ``"csv"`` dataset's columns, whose ``path`` names a DICOM file or a
  series folder (relative to the manifest's folder).

Masks: in a folder, the mask of an example ``X`` (the file ``X.dcm`` or the folder ``X``) is
the entry beside it named ``X_mask`` (a series folder) or ``X_mask.<suffix>`` (a DICOM file;
for 2-D images any image file the ``"csv"`` dataset reads; for volumes also a (D, H, W)
``.npy``); its nonzero stored values are the signal, and an example without one has none.
In a manifest, the ``mask`` column. Reading, sorting, rescale and window:
:mod:`comparisons.datasets._dicom`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from comparisons.datasets._csv_manifest import read_manifest
from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._dicom import (
    DICOM_SUFFIXES,
    Window,
    dicom_frames,
    is_dicom_file,
    parse_window,
    read_dicom_file,
    read_dicom_series,
)
from comparisons.datasets._image_files import READABLE_SUFFIXES, load_npy, read_mask_image
from comparisons.datasets._image_folder import list_image_folder
from comparisons.datasets._labelled_files import (
    Color,
    LabelledFile,
    Normalize,
    build_file_dataset,
    check_files_exist,
)

MASK_SUFFIX = "_mask"


def dicom_class_files(class_dir: Path, split: str | None) -> list[LabelledFile]:
    """The DICOM files and series folders of one class folder, with their masks beside them.

    Raises:
        ValueError: No example, two masks for one example, or a mask without its example.
    """
    examples: dict[str, Path] = {}
    masks: dict[str, list[Path]] = {}
    for entry in sorted(p for p in class_dir.iterdir() if not p.name.startswith(".")):
        base = _base(entry)
        if base.endswith(MASK_SUFFIX):
            masks.setdefault(base[: -len(MASK_SUFFIX)], []).append(entry)
        elif entry.is_dir() or is_dicom_file(entry):
            examples[base] = entry
    if not examples:
        raise ValueError(
            f"expected DICOM files (.dcm, or files with the DICOM preamble) or series folders "
            f"in the class folder {class_dir}, got none"
        )
    for owner, found in masks.items():
        if owner not in examples:
            raise ValueError(
                f"expected the example of the mask {found[0]} beside it ({owner}.dcm or the "
                f"series folder {owner}), got none"
            )
        if len(found) > 1:
            raise ValueError(
                f"expected one mask for {examples[owner]}, got {len(found)}: "
                + ", ".join(str(p) for p in found)
            )
    return [
        LabelledFile(
            path, class_dir.name, mask=masks[key][0] if key in masks else None, split=split
        )
        for key, path in examples.items()
    ]


def _base(entry: Path) -> str:
    """A folder's name; a file's without a suffix the data sources know (``.dcm``, ``.png``,
    ...), so that ``1.2.840.5`` (a file named by its UID) keeps its name."""
    if entry.is_dir() or entry.suffix.lower() not in READABLE_SUFFIXES:
        return entry.name
    return entry.stem


def load_dicom(
    root: str | Path | None = None,
    manifest: str | Path | None = None,
    window: Sequence[float] | Mapping[str, float] | str | None = None,
    image_size: int | Sequence[int] | None = None,
    color: Color | None = None,
    normalize: Normalize = "none",
    classes: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_per_class: int | Mapping[str, int] | None = None,
    seed: int = 0,
) -> ImageDataset:
    """``"dicom"``: DICOM images (N, C, H, W) or volumes (N, C, D, H, W), with masks.

    Args:
        root: Class folders of DICOM files or series folders (see the module docstring);
            give this or ``manifest``.
        manifest: A CSV file (``path``, ``label``; optional ``mask``, ``split``) whose paths
            are DICOM files or series folders.
        window: ``None``: the modality values (``RescaleSlope``/``RescaleIntercept``
            applied, e.g. Hounsfield units); ``[center, width]`` (or ``{center, width}``):
            that window onto [0, 1]; ``"file"``: each file's own first window.
        image_size: Resize to this (an int: a square or a cube; else [H, W] or [D, H, W]);
            ``None``: every example must have the same size.
        color: ``"grayscale"``, ``"rgb"`` or ``None`` (as the files are).
        normalize: ``"none"`` or ``"standardize"`` (the training split's mean and std).
        classes: Class names in label order (default: sorted); labels may be indices.
        val_fraction, test_fraction: The stratified split without one in the layout.
        max_per_class: Cap per class, one int for every split or ``{split: int}``.
        seed: Seed of the split and of the caps.

    Raises:
        ValueError: Both or neither of ``root`` and ``manifest``, a bad ``window``, 2-D images
            mixed with volumes, or any file that cannot be read (naming it).

    >>> import shutil, tempfile
    >>> from pydicom.data import get_testdata_file  # files pydicom's wheel ships
    >>> root = Path(tempfile.mkdtemp())
    >>> for label, name in [("ct", "CT_small.dcm"), ("mr", "MR_small.dcm")]:
    ...     (root / label).mkdir()
    ...     _ = shutil.copy(get_testdata_file(name, download=False), root / label)
    >>> data = load_dicom(root, window=[40, 400], image_size=64, test_fraction=1.0)
    >>> data.test.images.shape, data.class_names, data.value_range
    (torch.Size([2, 1, 64, 64]), ('ct', 'mr'), (0.0, 1.0))
    """
    if (root is None) == (manifest is None):
        raise ValueError(
            "expected exactly one of root (class folders) and manifest (a CSV file), got "
            + ("both" if root is not None else "neither")
        )
    parsed = parse_window(window)
    if root is not None:
        where = Path(root).expanduser()
        files = list_image_folder(where, dicom_class_files)
        has_masks = any(f.mask is not None for f in files)
        description = f"DICOM images by class folder in {where}"
    else:
        where = Path(manifest).expanduser()  # type: ignore[arg-type]
        files, has_masks = read_manifest(where)
        description = f"DICOM images listed in {where}"
    check_files_exist(files, folders=True)
    first = files[0].path
    dims = 3 if first.is_dir() or dicom_frames(first) > 1 else 2

    def read(path: Path) -> tuple[np.ndarray, bool]:
        return _read_example(path, parsed, dims, first)

    def read_mask(path: Path) -> np.ndarray:
        return _read_mask(path, dims)

    return build_file_dataset(
        files,
        name="dicom",
        description=description,
        spatial_dims=dims,
        read=read,
        read_mask=read_mask if has_masks else None,
        image_size=image_size,
        color=color,
        normalize=normalize,
        classes=classes,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        max_per_class=max_per_class,
        seed=seed,
        folders=True,
    )


def _read_example(path: Path, window: Window, dims: int, first: Path) -> tuple[np.ndarray, bool]:
    if path.is_dir():
        array, unit = read_dicom_series(path, window)
    else:
        array, unit = read_dicom_file(path, window)
    if array.ndim != dims + 1:
        kinds = {2: "2-D images", 3: "volumes"}
        raise ValueError(
            f"expected {kinds[dims]} like the first example {first}, got "
            f"{kinds[array.ndim - 1][:-1]} of shape {array.shape[1:]} in {path}"
        )
    return array, unit


def _read_mask(path: Path, dims: int) -> np.ndarray:
    stored: Any
    if path.is_dir():
        stored = read_dicom_series(path, stored=True)[0]
    elif path.suffix.lower() in DICOM_SUFFIXES or is_dicom_file(path):
        stored = read_dicom_file(path, stored=True)[0]
    elif dims == 2:
        return read_mask_image(path)
    elif path.suffix.lower() == ".npy":
        stored = load_npy(path)[None]  # its header checked first: no bomb is allocated
    else:
        raise ValueError(
            f"expected a volume mask (a series folder, a multi-frame DICOM file or a (D, H, W) "
            f".npy), got {path}"
        )
    mask = np.asarray(np.asarray(stored != 0).any(axis=0))
    if mask.ndim != dims:
        raise ValueError(f"expected a {dims}-D mask in {path}, got shape {mask.shape}")
    return mask
