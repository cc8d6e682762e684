"""Axial slices of the MNI152 2009a template shipped inside nilearn's wheel (no download).

Source: the ICBM 2009a nonlinear symmetric T1 template and its white-matter probability map
(Fonov et al., NeuroImage 2011), as packaged by nilearn
(``nilearn.datasets.load_mni152_template`` / ``load_mni152_wm_template`` read
``nilearn/datasets/data/mni_icbm152_*_09a_converted.nii.gz``; ``resolution=1`` keeps the
native 1 mm grid, so nothing is resampled). Both volumes are scaled to max 1 by nilearn.

Slices are displayed axially with anterior at the top (row 0) and the subject's left at
column 0 (neurological convention). The crop is a square centred on the mid-sagittal plane
(x = 0 mm), so the brain midline is the image's central column, ``(size - 1) / 2``.

Volumes (:func:`template_volumes`) are (D, H, W) = (superior -> inferior, anterior ->
posterior, left -> right), so that ``volume[d]`` is an axial slice as above, ``volume[:, h]``
a coronal one and ``volume[:, :, w]`` a sagittal one, each displayed upright with row 0 at
the top. The mid-sagittal plane is the boundary between columns ``W / 2 - 1`` and ``W / 2``.
"""

from __future__ import annotations

import functools
import math

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


@functools.lru_cache(maxsize=1)
def _brain_bounds() -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Inclusive voxel bounds ``(lo, hi)`` along x, y, z of the T1 voxels >= ``_BRAIN_LEVEL``."""
    brain = _volumes()[0] >= _BRAIN_LEVEL
    bounds = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        indices = np.nonzero(brain.any(axis=others))[0]
        bounds.append((int(indices.min()), int(indices.max())))
    return bounds[0], bounds[1], bounds[2]


def _window(volume: np.ndarray, starts: tuple[int, ...], lengths: tuple[int, ...]) -> np.ndarray:
    """``volume[start : start + length]`` along each axis, zero where it leaves the volume."""
    out = np.zeros(lengths, dtype=np.float32)
    source, target = [], []
    for start, length, size in zip(starts, lengths, volume.shape, strict=True):
        lo, hi = max(start, 0), min(start + length, size)
        source.append(slice(lo, max(hi, lo)))
        target.append(slice(lo - start, max(hi, lo) - start))
    out[tuple(target)] = volume[tuple(source)]
    return out


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
    nz = t1.shape[2]
    if not 0 <= lo < hi <= nz:
        raise ValueError(f"expected a slice range within [0, {nz}), got [{lo}, {hi})")
    (x_min, x_max), (y_min, y_max), _ = _brain_bounds()
    y_mid = (y_min + y_max) // 2
    half = max(x0 - x_min, x_max - x0, (y_max - y_min + 1) // 2)
    half += _CROP_MARGIN
    side = 2 * half + 1

    def crop(volume: np.ndarray) -> Tensor:
        # (x, y, z) square
        out = _window(volume, (x0 - half, y_mid - half, lo), (side, side, hi - lo))
        # (z, row = anterior -> posterior, column = left -> right)
        return torch.from_numpy(np.ascontiguousarray(out[:, ::-1, :].transpose(2, 1, 0)))

    def resize(stack: Tensor) -> Tensor:
        return F.interpolate(stack[:, None], size=(size, size), mode="area")[:, 0].contiguous()

    return resize(crop(t1)), resize(crop(wm))


@functools.lru_cache(maxsize=4)
def template_volumes(voxel_mm: int) -> tuple[Tensor, Tensor]:
    """The template's brain box on an isotropic ``voxel_mm`` grid, by exact block averaging.

    Each output voxel is the mean of the 1 mm template over a ``voxel_mm``-wide cube (the
    1 mm voxels as boxes of constant value). Along x the cubes are aligned on the
    mid-sagittal plane x = 0 mm (the centre of a 1 mm voxel, split in halves), so the
    symmetric template stays exactly mirror-symmetric about the boundary between columns
    ``W / 2 - 1`` and ``W / 2``. The box holds the brain (T1 >= 0.1) plus a margin of
    4 mm, rounded up to whole voxels; voxels outside the template are 0.

    Args:
        voxel_mm: Voxel side in mm, an integer >= 1.

    Returns:
        ``(t1, wm)``, each (D, H, W) float32 (superior -> inferior, anterior -> posterior,
        left -> right, W even); T1 intensity and WM probability in [0, 1]. Cached per
        process; treat as read-only.
    """
    if isinstance(voxel_mm, bool) or not isinstance(voxel_mm, int) or voxel_mm < 1:
        raise ValueError(f"expected voxel_mm an integer >= 1, got {voxel_mm!r}")
    t1, wm, x0 = _volumes()
    (x_min, x_max), (y_min, y_max), (z_min, z_max) = _brain_bounds()
    v = voxel_mm
    # Blocks on either side of x = 0 mm, which is the middle of voxel x0.
    half_blocks = math.ceil((max(x0 - x_min, x_max - x0) + 0.5 + _CROP_MARGIN) / v)

    def span(lo: int, hi: int) -> tuple[int, int]:
        blocks = math.ceil((hi - lo + 1 + 2 * _CROP_MARGIN) / v)
        return (lo + hi + 1 - blocks * v) // 2, blocks * v

    (y_start, y_length), (z_start, z_length) = span(y_min, y_max), span(z_min, z_max)

    def resample(volume: np.ndarray) -> Tensor:
        # 1 mm voxels x0 - v h ... x0 + v h along x, halved: the plane x = 0 becomes the
        # boundary between half-voxels 2 v h - 1 and 2 v h, a block boundary.
        box = _window(
            volume,
            (x0 - v * half_blocks, y_start, z_start),
            (2 * v * half_blocks + 1, y_length, z_length),
        )
        halves = torch.from_numpy(box).repeat_interleave(2, dim=0)[1:-1]
        pooled = F.avg_pool3d(halves[None, None], kernel_size=(2 * v, v, v))[0, 0]
        # (x, y, z) -> (z superior -> inferior, y anterior -> posterior, x left -> right)
        return pooled.flip(1, 2).permute(2, 1, 0).contiguous()

    return resample(t1), resample(wm)
