"""SKS/BKS signal detection in 3-D: MNI152 sub-volumes with Gaussian white-matter signals.

The volumetric counterpart of :mod:`comparisons.datasets._mni_sks` (paper Sec. IV-A, there
on 2-D slices), on the same MNI152 2009a template shipped with nilearn (nothing
downloaded), resampled to isotropic ``voxel_mm`` voxels by exact block averaging
(:func:`~comparisons.datasets._mni_template.template_volumes`). Volumes are (D, H, W) =
(superior -> inferior, anterior -> posterior, subject's left -> right).

Backgrounds (signal-known-statistically / background-known-statistically):
    ``b = g * T(crop, shift, flip) + n``: a ``volume_size``-cube sub-volume of the template
    whose position along D and H is uniform over the brain's box (``random_crop``; each
    volume shows another part of the brain), centred on the mid-sagittal plane along W up
    to an integer shift of at most ``max_shift`` voxels (zero fill outside the box), an
    optional left-right flip, a gain ``g ~ U[1 - j, 1 + j]`` and white Gaussian noise
    ``n`` of std ``noise_std``. The 2009a *sym* template is mirror-symmetric, so a flip
    only changes which side a signal lands on.
Signals:
    ``A exp(-|r - c|^2 / (2 sigma^2))`` with ``A ~ U[amplitude_range]`` (template units), the
    centre ``c`` drawn uniformly from the voxels whose (moved) WM probability is
    >= ``wm_threshold`` and that lie at least the mask radius (rounded up) from every face
    of the volume, so that no mask is cut by the crop. Masks: the half-maximum ball
    ``|r - c| <= sigma sqrt(2 ln 2)``.
Classes:
    ``mni-sks-3d``: 0 absent, 1 present (balanced).
    ``mni-sks-3d-3class``: 0 absent, 1 signal in the image-left hemisphere (smaller W
    index, the subject's left), 2 in the image-right one (balanced). Centres are at least
    ``hemisphere_margin`` voxels from the midline ``(volume_size - 1) / 2 + shift``, so no
    mask crosses it.

Size (**Decision**): 32^3 voxels of 4 mm, a 128 mm cube. The brain's box is 164 x 192 x
160 mm (41 x 48 x 40 voxels), so crops differ in position by up to 36 mm along D and 64 mm
along H and always hold both hemispheres' deep white matter: every possible crop, shift
and flip has more than a thousand admissible centres on each side of the midline. 4 mm
keeps the signal of the 2-D task (sigma 7.5 mm = 1.9 voxels; 2.5 pixels of 2.95 mm there)
several voxels wide, with a half-maximum ball of 33 voxels; 3 mm voxels (43^3 for the same
view) cost 2.4 x the compute, and 5-8 mm voxels leave the signal about one voxel wide. 32^3 is
8 x a 64 x 64 slice. At the defaults the task is as hard as the 2-D one by the simplest
statistic: thresholding the brightest voxel classifies 83 % of the volumes correctly (84 %
of the 2-D slices).

``value_range`` is ``None``: additive Gaussian noise has no bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._gaussian_signal import half_max_radius
from comparisons.datasets._mni_sks import _build, _check_positive_int, _check_signal_options
from comparisons.datasets._mni_sks import _draw_centres as draw_centres
from comparisons.datasets._mni_template import template_volumes
from comparisons.datasets._sampling import balanced_labels
from comparisons.datasets._simulated_split import SimulatedSplit, with_signals

_SALT = 1523  # MNI152, 3-D
#: The default signal width in mm (that of the 2-D task: 2.5 pixels of 2.95 mm).
_SIGMA_MM = 7.5


def _moved(volume: Tensor, depth: Tensor, rows: Tensor, cols: Tensor, valid: Tensor) -> Tensor:
    """``volume[depth, rows, cols]`` per sample (outer indexing), zero where not ``valid``."""
    return volume[depth[:, :, None, None], rows[:, None, :, None], cols[:, None, None, :]] * valid


def _crop_starts(box: int, size: int, num: int, random: bool, generator: torch.Generator) -> Tensor:
    """(N,) first box index of each crop along one axis: uniform over the positions where
    the crop fits in the box (``random``), else centred."""
    if random and box > size:
        return torch.randint(0, box - size + 1, (num,), generator=generator)
    return torch.full((num,), (box - size) // 2, dtype=torch.int64)


def simulate_mni_sks_3d(
    num: int,
    generator: torch.Generator,
    *,
    num_classes: int = 2,
    volume_size: int = 32,
    voxel_mm: int = 4,
    amplitude_range: Sequence[float] = (0.1, 0.35),
    signal_sigma: float | None = None,
    wm_threshold: float = 0.8,
    max_shift: int | None = None,
    random_crop: bool = True,
    flip: bool = True,
    intensity_jitter: float = 0.1,
    noise_std: float = 0.02,
    hemisphere_margin: float | None = None,
) -> SimulatedSplit:
    """Draw ``num`` MNI SKS/BKS volumes (module docstring gives the model).

    Args:
        num: Number of volumes.
        generator: Source of all randomness.
        num_classes: 2 (absent / present) or 3 (absent / image-left / image-right).
        volume_size: Volumes are ``volume_size^3`` voxels; even (>= 8), so that the
            mid-sagittal plane is a voxel boundary at the centre of the crop.
        voxel_mm: Voxel side in mm (integer).
        amplitude_range: ``(low, high)`` of the uniform signal amplitude.
        signal_sigma: Signal width in voxels; default 7.5 mm / ``voxel_mm``.
        wm_threshold: Minimum WM probability at a signal centre.
        max_shift: Largest left-right shift in voxels; default
            ``round(3 * volume_size / 64)`` (as the 2-D task's).
        random_crop: Draw the crop's position along D and H uniformly over the brain's box;
            ``False`` centres it.
        flip: Whether to flip left-right with probability 1/2.
        intensity_jitter: ``j`` of the gain ``U[1 - j, 1 + j]``.
        noise_std: Standard deviation of the additive white Gaussian noise.
        hemisphere_margin: 3 classes only: least distance in voxels from a centre to the
            midline; default the mask radius plus one voxel.

    Raises:
        ValueError: A crop without a voxel where a signal may go (too small a volume or
            too high a ``wm_threshold``); with the defaults every possible crop has more
            than a thousand on each side of the midline.

    Returns:
        The split with its backgrounds, signals, centres (depth, row, column) and moved WM
        maps; images (N, 1, S, S, S), masks (N, S, S, S).
    """
    _check_positive_int("num", num)
    _check_positive_int("volume_size", volume_size, 8)
    if volume_size % 2:
        raise ValueError(f"expected an even volume_size, got {volume_size}")
    _check_positive_int("voxel_mm", voxel_mm)
    if num_classes not in (2, 3):
        raise ValueError(f"expected num_classes 2 or 3, got {num_classes!r}")
    low, high = _check_signal_options(amplitude_range, wm_threshold, intensity_jitter, noise_std)
    sigma = _SIGMA_MM / voxel_mm if signal_sigma is None else float(signal_sigma)
    if sigma <= 0:
        raise ValueError(f"expected signal_sigma > 0, got {signal_sigma}")
    shift = round(3 * volume_size / 64) if max_shift is None else max_shift
    _check_positive_int("max_shift", shift, 0)
    for name, value in (("random_crop", random_crop), ("flip", flip)):
        if not isinstance(value, bool):
            raise ValueError(f"expected {name} a bool, got {value!r}")
    margin = half_max_radius(sigma) + 1 if hemisphere_margin is None else hemisphere_margin

    t1, wm = template_volumes(voxel_mm)
    box_d, box_h, box_w = t1.shape
    size = volume_size
    labels = balanced_labels(num, num_classes, generator)
    d0 = _crop_starts(box_d, size, num, random_crop, generator)
    h0 = _crop_starts(box_h, size, num, random_crop, generator)
    dx = torch.randint(-shift, shift + 1, (num,), generator=generator)
    flipped = torch.rand(num, generator=generator) < 0.5
    if not flip:
        flipped[:] = False
    gain = 1 + intensity_jitter * (2 * torch.rand(num, generator=generator) - 1)
    noise = noise_std * torch.randn(num, size, size, size, generator=generator)

    # Output voxel (i, j, c) shows the (flipped) box at (d0 + i, h0 + j, w0 + c - dx); the
    # box is symmetric about its central boundary, which lands at column (size - 1) / 2 + dx.
    grid = torch.arange(size)
    depth = d0[:, None] + grid[None, :]
    rows = h0[:, None] + grid[None, :]
    cols = (box_w - size) // 2 + grid[None, :] - dx[:, None]
    cols = torch.where(flipped[:, None], box_w - 1 - cols, cols)
    inside = [
        (index >= 0) & (index < length)
        for index, length in ((depth, box_d), (rows, box_h), (cols, box_w))
    ]
    valid = inside[0][:, :, None, None] & inside[1][:, None, :, None] & inside[2][:, None, None, :]
    depth, rows, cols = (
        depth.clamp(0, box_d - 1),
        rows.clamp(0, box_h - 1),
        cols.clamp(0, box_w - 1),
    )
    white = _moved(wm, depth, rows, cols, valid)
    backgrounds = gain[:, None, None, None] * _moved(t1, depth, rows, cols, valid) + noise

    midline = (size - 1) / 2 + dx.to(torch.float32)  # (N,)
    # Centres at least the mask radius from every face: the whole mask lies in the volume.
    edge = math.ceil(half_max_radius(sigma))
    interior = torch.zeros(size, dtype=torch.bool)
    interior[edge : size - edge] = True
    interior = interior[:, None, None] & interior[None, :, None] & interior[None, None, :]
    centres = draw_centres(
        white * interior, labels, midline, wm_threshold, margin, num_classes, generator
    )
    amplitudes = (low + (high - low) * torch.rand(num, generator=generator)) * (labels > 0)
    return with_signals(backgrounds, labels, centres, amplitudes, sigma, white)


def make_mni_sks_3d(
    num_train: int = 600,
    num_val: int = 100,
    num_test: int = 100,
    volume_size: int = 32,
    voxel_mm: int = 4,
    seed: int = 0,
    amplitude_range: Sequence[float] = (0.1, 0.35),
    signal_sigma: float | None = None,
    wm_threshold: float = 0.8,
    max_shift: int | None = None,
    random_crop: bool = True,
    flip: bool = True,
    intensity_jitter: float = 0.1,
    noise_std: float = 0.02,
) -> ImageDataset:
    """``"mni-sks-3d"``: signal absent (0) vs present (1) in MNI152 sub-volumes.

    Options are those of :func:`simulate_mni_sks_3d`; the three splits come from disjoint
    random streams of ``seed``.

    >>> ds = make_mni_sks_3d(num_train=4, num_val=2, num_test=2, volume_size=16)
    >>> ds.train.images.shape, ds.train.masks.shape, ds.class_names
    (torch.Size([4, 1, 16, 16, 16]), torch.Size([4, 16, 16, 16]), ('absent', 'present'))
    """
    return _build(
        "mni-sks-3d",
        2,
        ("absent", "present"),
        "MNI152 sub-volumes, Gaussian signal in white matter: absent vs present (SKS/BKS, 3-D)",
        num_train,
        num_val,
        num_test,
        seed,
        simulate=simulate_mni_sks_3d,
        salt=_SALT,
        volume_size=volume_size,
        voxel_mm=voxel_mm,
        amplitude_range=amplitude_range,
        signal_sigma=signal_sigma,
        wm_threshold=wm_threshold,
        max_shift=max_shift,
        random_crop=random_crop,
        flip=flip,
        intensity_jitter=intensity_jitter,
        noise_std=noise_std,
    )


def make_mni_sks_3d_3class(
    num_train: int = 600,
    num_val: int = 100,
    num_test: int = 100,
    volume_size: int = 32,
    voxel_mm: int = 4,
    seed: int = 0,
    amplitude_range: Sequence[float] = (0.1, 0.35),
    signal_sigma: float | None = None,
    wm_threshold: float = 0.8,
    max_shift: int | None = None,
    random_crop: bool = True,
    flip: bool = True,
    intensity_jitter: float = 0.1,
    noise_std: float = 0.02,
    hemisphere_margin: float | None = None,
) -> ImageDataset:
    """``"mni-sks-3d-3class"``: absent (0), image-left (1), image-right (2) WM signal, 3-D.

    Options are those of :func:`simulate_mni_sks_3d`.

    >>> ds = make_mni_sks_3d_3class(num_train=6, num_val=3, num_test=3)
    >>> ds.num_classes, ds.image_size, sorted(ds.train.labels.tolist())
    (3, (32, 32, 32), [0, 0, 1, 1, 2, 2])
    """
    return _build(
        "mni-sks-3d-3class",
        3,
        ("absent", "left", "right"),
        "MNI152 sub-volumes, Gaussian WM signal: absent vs image-left vs image-right (3-D)",
        num_train,
        num_val,
        num_test,
        seed,
        simulate=simulate_mni_sks_3d,
        salt=_SALT,
        volume_size=volume_size,
        voxel_mm=voxel_mm,
        amplitude_range=amplitude_range,
        signal_sigma=signal_sigma,
        wm_threshold=wm_threshold,
        max_shift=max_shift,
        random_crop=random_crop,
        flip=flip,
        intensity_jitter=intensity_jitter,
        noise_std=noise_std,
        hemisphere_margin=hemisphere_margin,
    )
