"""NIfTI volumes (``.nii``, ``.nii.gz``) listed in a CSV manifest, read with nibabel.

The manifest is the ``"csv"`` dataset's (``path``, ``label``, optional ``mask`` and
``split``; paths relative to its folder). Volumes become (N, 1, D, H, W): with ``reorient``
(the default) each is first turned to the closest RAS+ orientation
(``nibabel.as_closest_canonical``), so that volumes from different scanners agree; the
voxel axes (i, j, k) then become (W, H, D), i.e. D runs inferior to superior, H posterior
to anterior and W left to right. A 4-D file is accepted when its fourth axis has length 1.
Mask volumes are nonzero where the signal is. A file whose header declares more than
:data:`~comparisons.datasets._dicom.MAX_VOXELS` (2**30) voxels, or (``.nii``) more bytes
than the file holds, is refused before its data is read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from comparisons.datasets._csv_manifest import read_manifest
from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._image_files import check_declared_size
from comparisons.datasets._labelled_files import Normalize, build_file_dataset

NIFTI_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz")


def read_volume(path: Path, reorient: bool = True) -> np.ndarray:
    """One NIfTI volume as (D, H, W) float32 (see the module docstring for the axes).

    Raises:
        ValueError: Not a NIfTI file nibabel can read, not a 3-D volume, or a header that
            declares more than :data:`~comparisons.datasets._dicom.MAX_VOXELS` voxels or
            more bytes than the file holds (the message names the file).
    """
    try:
        import nibabel
    except ImportError as error:
        raise ImportError(
            f"the 'nifti' dataset needs nibabel ({error}): pip install captum-ifim[compare]"
        ) from error
    if not str(path).lower().endswith(NIFTI_SUFFIXES):
        raise ValueError(f"expected a .nii or .nii.gz file, got {path}")
    try:
        image = nibabel.load(str(path))  # the header only: the data is read on demand
    except Exception as error:  # nibabel raises many types for damaged files
        raise ValueError(
            f"expected a NIfTI volume nibabel can read, got {path}: {error}"
        ) from error
    _check_header(path, image.header)
    try:
        if reorient:
            image = nibabel.as_closest_canonical(image)
        data = np.asarray(image.get_fdata(dtype=np.float32))  # type: ignore[attr-defined]
    except Exception as error:  # nibabel raises many types for damaged files
        raise ValueError(
            f"expected a NIfTI volume nibabel can read, got {path}: {error}"
        ) from error
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"expected a 3-D volume in {path}, got an array of shape {data.shape}")
    return np.ascontiguousarray(data.transpose(2, 1, 0))


def _check_header(path: Path, header: Any) -> None:
    """Refuse a header declaring too many voxels, or more bytes than a ``.nii`` holds."""
    shape = tuple(int(n) for n in header.get_data_shape())
    dtype = np.dtype(header.get_data_dtype())
    check_declared_size(path, shape, f"{dtype} voxels")
    if str(path).lower().endswith(".nii"):  # uncompressed: the data is the file's tail
        offset = int(header.get_data_offset())
        declared = math.prod(shape) * dtype.itemsize
        held = path.stat().st_size - offset
        if declared > held:
            raise ValueError(
                f"expected {path} to hold the {declared} bytes its header declares "
                f"({' x '.join(map(str, shape))} {dtype}), got a file that holds {held}: it "
                "is truncated or its header is damaged"
            )


def load_nifti(
    manifest: str | Path,
    image_size: int | Sequence[int] | None = None,
    normalize: Normalize = "none",
    classes: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_per_class: int | Mapping[str, int] | None = None,
    reorient: bool = True,
    seed: int = 0,
) -> ImageDataset:
    """``"nifti"``: the volumes a CSV manifest lists, (N, 1, D, H, W), with their masks.

    Args:
        manifest: The CSV file (columns ``path``, ``label``; optional ``mask``, ``split``).
        image_size: Resize volumes (trilinear) and masks (nearest-neighbour) to this (an
            int: a cube, else [D, H, W]); ``None``: every volume must have the same shape.
        normalize: ``"none"`` (the stored intensities) or ``"standardize"`` (the training
            split's mean and std).
        classes: Class names in label order (default: the labels sorted); labels may also be
            indices into them.
        val_fraction, test_fraction: The stratified split without a ``split`` column.
        max_per_class: Cap per class, one int for every split or ``{split: int}``.
        reorient: Turn every volume (and mask) to the closest RAS+ orientation first.
        seed: Seed of the split and of the caps.
    """
    if not isinstance(reorient, bool):
        raise ValueError(f"expected reorient to be true or false, got {reorient!r}")
    manifest = Path(manifest).expanduser()
    files, has_masks = read_manifest(manifest)

    def read(path: Path) -> tuple[np.ndarray, bool]:
        return read_volume(path, reorient)[None], False

    def read_mask(path: Path) -> np.ndarray:
        return read_volume(path, reorient) != 0

    return build_file_dataset(
        files,
        name="nifti",
        description=f"NIfTI volumes listed in {manifest}",
        spatial_dims=3,
        read=read,
        read_mask=read_mask if has_masks else None,
        image_size=image_size,
        color=None,
        normalize=normalize,
        classes=classes,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        max_per_class=max_per_class,
        seed=seed,
    )
