"""Axial slices of the MNI152 2009a template shipped inside nilearn's wheel (no download).

Source: the ICBM 2009a nonlinear symmetric T1 template and its white-matter probability map
(Fonov et al., NeuroImage 2011), as packaged by nilearn
(``nilearn.datasets.load_mni152_template`` / ``load_mni152_wm_template`` read
``nilearn/datasets/data/mni_icbm152_*_09a_converted.nii.gz``; ``resolution=1`` keeps the
native 1 mm grid, so nothing is resampled). Both volumes are scaled to max 1 by nilearn.

Slices are displayed axially with anterior at the top (row 0) and the subject's left at
column 0 (neurological convention). The crop is a square centred on the mid-sagittal plane
(x = 0 mm), so the brain midline is the image's central column, ``(size - 1) / 2``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

#: Voxels of the T1 template above this value count as brain (for the crop).
_BRAIN_LEVEL = 0.1
#: Margin in voxels around the brain's bounding box in the square crop.
_CROP_MARGIN = 4


@functools.lru_cache(maxsize=1)
def _volumes() -> tuple[np.ndarray, np.ndarray, int]:
    """T1 and WM volumes (X, Y, Z) float32 in [0, 1] and the voxel index of x = 0 mm."""
    from nilearn.datasets import load_mni152_template, load_mni152_wm_template

    t1 = load_mni152_template(resolution=1)
    wm = load_mni152_wm_template(resolution=1)
    t1_data = np.asarray(t1.get_fdata(), dtype=np.float32)
    wm_data = np.asarray(wm.get_fdata(), dtype=np.float32)
    if t1_data.shape != wm_data.shape:
        raise ValueError(
            f"expected T1 and WM templates on one grid, got {t1_data.shape} and {wm_data.shape}"
        )
    # The x voxel index of x = 0 mm: affine maps i -> a_00 i + a_03.
    x0 = round(-float(t1.affine[0, 3]) / float(t1.affine[0, 0]))
    return t1_data, wm_data, x0


def default_slice_range(wm_threshold: float) -> tuple[int, int]:
    """Axial slices ``[lo, hi)`` whose area of WM probability >= threshold is >= 30 % of the most.

    These are the slices where a white-matter signal can be placed with room to spare.
    """
    _, wm, _ = _volumes()
    area = (wm >= wm_threshold).sum(axis=(0, 1))
    if area.max() == 0:
        raise ValueError(f"expected a WM threshold the template reaches, got {wm_threshold}")
    keep = np.nonzero(area >= 0.3 * area.max())[0]
    return int(keep.min()), int(keep.max()) + 1


def num_axial_slices() -> int:
    """Number of axial slices (z extent) of the template."""
    return _volumes()[0].shape[2]


@functools.lru_cache(maxsize=8)
def template_slices(size: int, lo: int, hi: int) -> tuple[Tensor, Tensor]:
    """Axial slices ``z in [lo, hi)`` cropped square and resized to ``size x size``.

    Resizing is area averaging, which keeps the midline at the central column.

    Returns:
        ``(t1, wm)``, each (hi - lo, size, size) float32; T1 intensity and WM probability,
        both in [0, 1]. Cached per process; treat as read-only.
    """
    t1, wm, x0 = _volumes()
    nx, ny, nz = t1.shape
    if not 0 <= lo < hi <= nz:
        raise ValueError(f"expected a slice range within [0, {nz}), got [{lo}, {hi})")
    brain = t1 >= _BRAIN_LEVEL
    xs = np.nonzero(brain.any(axis=(1, 2)))[0]
    ys = np.nonzero(brain.any(axis=(0, 2)))[0]
    y_mid = (int(ys.min()) + int(ys.max())) // 2
    half = max(x0 - int(xs.min()), int(xs.max()) - x0, (int(ys.max()) - int(ys.min()) + 1) // 2)
    half += _CROP_MARGIN
    side = 2 * half + 1

    def crop(volume: np.ndarray) -> Tensor:
        out = np.zeros((side, side, hi - lo), dtype=np.float32)  # (x, y, z) square
        x_lo, y_lo = x0 - half, y_mid - half
        sx = slice(max(x_lo, 0), min(x_lo + side, nx))
        sy = slice(max(y_lo, 0), min(y_lo + side, ny))
        out[sx.start - x_lo : sx.stop - x_lo, sy.start - y_lo : sy.stop - y_lo] = volume[
            sx, sy, lo:hi
        ]
        # (z, row = anterior -> posterior, column = left -> right)
        return torch.from_numpy(np.ascontiguousarray(out[:, ::-1, :].transpose(2, 1, 0)))

    def resize(stack: Tensor) -> Tensor:
        return F.interpolate(stack[:, None], size=(size, size), mode="area")[:, 0].contiguous()

    return resize(crop(t1)), resize(crop(wm))
