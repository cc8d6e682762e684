"""SKS/BKS signal detection on real anatomy: MNI152 slices (2-D) and sub-volumes (3-D).

Offline stand-in for the HCP-based task of Sengupta & Anastasio, Sec. IV-A (their images are
not released; nilearn's wheel ships the MNI152 2009a template): "Gaussian signals with
amplitudes ranging from 0.1 to 0.35 were randomly embedded within white matter regions ...,
with each image containing at most one signal". The model (backgrounds, signals, masks,
classes) is :mod:`comparisons.datasets._sks_bks`; this module says how the template is cut.

2-D (``mni-sks``, ``mni-sks-3class``): a random axial slice ``z`` of the template
    (:func:`~comparisons.datasets._mni_template.template_slices`, max 1, white matter ~0.86;
    anterior at row 0, the subject's left at column 0) shifted by a random integer of up to
    ``max_shift`` pixels per axis. The brain's midline is the central column plus the shift.
3-D (``mni-sks-3d``, ``mni-sks-3d-3class``): a ``volume_size``-cube sub-volume of the
    template resampled to ``voxel_mm`` voxels
    (:func:`~comparisons.datasets._mni_template.template_volumes`; (D, H, W) = (superior ->
    inferior, anterior -> posterior, left -> right)) whose position along D and H is uniform
    over the brain's box (``random_crop``), centred on the mid-sagittal plane along W up to a
    shift of at most ``max_shift`` voxels. Centres lie at least the mask radius from every
    face, so that no mask is cut by the crop.

3-D size (**Decision**): 32^3 voxels of 4 mm, a 128 mm cube. The brain's box is 164 x 192 x
160 mm (41 x 48 x 40 voxels), so crops differ in position by up to 36 mm along D and 64 mm
along H and always hold both hemispheres' deep white matter: every possible crop, shift
and flip has more than a thousand admissible centres on each side of the midline. 4 mm
keeps the signal of the 2-D task (sigma 7.5 mm = 1.9 voxels; 2.5 pixels of 2.95 mm there)
several voxels wide, with a half-maximum ball of 33 voxels; 3 mm voxels (43^3 for the same
view) cost 2.4 x the compute, and 5-8 mm voxels leave the signal about one voxel wide. 32^3 is
8 x a 64 x 64 slice. At the defaults the task is as hard as the 2-D one by the simplest
statistic: thresholding the brightest voxel classifies 83 % of the volumes correctly (84 %
of the 2-D slices).

``value_range`` is ``None``: additive Gaussian noise has no bounds and clipping would distort
the signal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._mni_template import (
    default_slice_range,
    num_axial_slices,
    template_slices,
    template_volumes,
)
from comparisons.datasets._simulated_split import SimulatedSplit, simulated_dataset
from comparisons.datasets._sks_bks import check_positive_int, simulate_sks_bks

_SALT_2D = 152  # MNI152
_SALT_3D = 1523  # MNI152, 3-D
#: The 3-D default signal width in mm (that of the 2-D task: 2.5 pixels of 2.95 mm).
_SIGMA_MM = 7.5
_TWO_CLASSES = ("absent", "present")
_THREE_CLASSES = ("absent", "left", "right")


def _place_slice(
    num: int, shift: int, shape: tuple[int, ...], generator: torch.Generator
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """A random slice of the (Z, S, S) stack, shifted by ``(dy, dx)``: output (r, c) shows
    the slice at (r - dy, c - dx)."""
    z = torch.randint(0, shape[0], (num,), generator=generator)
    dy, dx = torch.randint(-shift, shift + 1, (2, num), generator=generator)
    return z, (-dy, -dx)


def _crop_starts(box: int, size: int, num: int, random: bool, generator: torch.Generator) -> Tensor:
    """(N,) first box index of each crop along one axis: uniform over the positions where
    the crop fits in the box (``random``), else centred."""
    if random and box > size:
        return torch.randint(0, box - size + 1, (num,), generator=generator)
    return torch.full((num,), (box - size) // 2, dtype=torch.int64)


def _place_crop(
    num: int,
    shift: int,
    box: tuple[int, ...],
    generator: torch.Generator,
    *,
    size: int,
    random_crop: bool,
) -> tuple[None, tuple[Tensor, Tensor, Tensor]]:
    """A ``size``-cube crop of the (D, H, W) box at ``(d0, h0)`` along D and H, centred
    along W up to a shift ``dx``."""
    d0 = _crop_starts(box[0], size, num, random_crop, generator)
    h0 = _crop_starts(box[1], size, num, random_crop, generator)
    dx = torch.randint(-shift, shift + 1, (num,), generator=generator)
    return None, (d0, h0, (box[2] - size) // 2 - dx)


def simulate_mni_sks(
    num: int,
    generator: torch.Generator,
    *,
    num_classes: int = 2,
    image_size: int = 64,
    amplitude_range: Sequence[float] = (0.1, 0.35),
    signal_sigma: float | None = None,
    wm_threshold: float = 0.8,
    max_shift: int | None = None,
    flip: bool = True,
    intensity_jitter: float = 0.1,
    noise_std: float = 0.02,
    slice_range: Sequence[int] | None = None,
    hemisphere_margin: float | None = None,
) -> SimulatedSplit:
    """Draw ``num`` MNI SKS/BKS slices; images (N, 1, S, S), masks (N, S, S).

    Args:
        num, generator, num_classes, amplitude_range, wm_threshold, flip, intensity_jitter,
            noise_std, hemisphere_margin: As :func:`.simulate_sks_bks`.
        image_size: Images are ``image_size x image_size`` (>= 8).
        signal_sigma: Signal width in pixels; default ``2.5 * image_size / 64``.
        max_shift: Largest shift per axis in pixels; default ``round(3 * image_size / 64)``.
        slice_range: ``(lo, hi)`` axial template slices to draw from; default: those where the
            area above ``wm_threshold`` is >= 30 % of its maximum.
    """
    check_positive_int("num", num)
    check_positive_int("image_size", image_size, 8)

    def load_template() -> tuple[Tensor, Tensor]:
        lo, hi = default_slice_range(wm_threshold) if slice_range is None else map(int, slice_range)
        if not 0 <= lo < hi <= num_axial_slices():
            raise ValueError(
                f"expected slice_range (lo, hi) within [0, {num_axial_slices()}], got {slice_range}"
            )
        return template_slices(image_size, lo, hi)

    return simulate_sks_bks(
        num,
        generator,
        load_template=load_template,
        place=_place_slice,
        size=image_size,
        spatial_dims=2,
        default_sigma=2.5 * image_size / 64,
        num_classes=num_classes,
        amplitude_range=amplitude_range,
        signal_sigma=signal_sigma,
        wm_threshold=wm_threshold,
        max_shift=max_shift,
        flip=flip,
        intensity_jitter=intensity_jitter,
        noise_std=noise_std,
        hemisphere_margin=hemisphere_margin,
    )


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
    """Draw ``num`` MNI SKS/BKS volumes; images (N, 1, S, S, S), masks (N, S, S, S).

    Args:
        num, generator, num_classes, amplitude_range, wm_threshold, flip, intensity_jitter,
            noise_std, hemisphere_margin: As :func:`.simulate_sks_bks`.
        volume_size: Volumes are ``volume_size^3`` voxels; even (>= 8), so that the
            mid-sagittal plane is a voxel boundary at the centre of the crop.
        voxel_mm: Voxel side in mm (integer).
        signal_sigma: Signal width in voxels; default 7.5 mm / ``voxel_mm``.
        max_shift: Largest left-right shift in voxels; default ``round(3 * volume_size / 64)``.
        random_crop: Draw the crop's position along D and H uniformly over the brain's box;
            ``False`` centres it.

    Raises:
        ValueError: A crop without a voxel where a signal may go (too small a volume or
            too high a ``wm_threshold``); with the defaults every possible crop has more
            than a thousand on each side of the midline.
    """
    check_positive_int("num", num)
    check_positive_int("volume_size", volume_size, 8)
    if volume_size % 2:
        raise ValueError(f"expected an even volume_size, got {volume_size}")
    check_positive_int("voxel_mm", voxel_mm)
    if not isinstance(random_crop, bool):
        raise ValueError(f"expected random_crop a bool, got {random_crop!r}")
    return simulate_sks_bks(
        num,
        generator,
        load_template=functools.partial(template_volumes, voxel_mm),
        place=functools.partial(_place_crop, size=volume_size, random_crop=random_crop),
        size=volume_size,
        spatial_dims=3,
        default_sigma=_SIGMA_MM / voxel_mm,
        num_classes=num_classes,
        amplitude_range=amplitude_range,
        signal_sigma=signal_sigma,
        wm_threshold=wm_threshold,
        max_shift=max_shift,
        flip=flip,
        intensity_jitter=intensity_jitter,
        noise_std=noise_std,
        hemisphere_margin=hemisphere_margin,
        whole_masks=True,
    )


def _dataset(
    name: str,
    class_names: tuple[str, ...],
    description: str,
    simulate: Callable[..., SimulatedSplit],
    salt: int,
    num_train: int,
    num_val: int,
    num_test: int,
    seed: int,
    **options: Any,
) -> ImageDataset:
    """The three splits of ``simulate(num, generator, num_classes=..., **options)`` from
    disjoint streams of ``seed``, salt ``salt + num_classes``."""
    num_classes = len(class_names)
    return simulated_dataset(
        name,
        class_names,
        description,
        functools.partial(simulate, num_classes=num_classes, **options),
        (num_train, num_val, num_test),
        seed,
        salt + num_classes,
    )


# The builders below differ only in their names and signatures (the registry reads their
# options from these); each hands all its arguments (``locals()``) to ``_dataset``.


def make_mni_sks(
    num_train: int = 2000,
    num_val: int = 200,
    num_test: int = 200,
    image_size: int = 64,
    seed: int = 0,
    amplitude_range: Sequence[float] = (0.1, 0.35),
    signal_sigma: float | None = None,
    wm_threshold: float = 0.8,
    max_shift: int | None = None,
    flip: bool = True,
    intensity_jitter: float = 0.1,
    noise_std: float = 0.02,
    slice_range: Sequence[int] | None = None,
) -> ImageDataset:
    """``"mni-sks"``: signal absent (0) vs present (1) on MNI152 slices (paper Sec. IV-A).

    Options are those of :func:`simulate_mni_sks`; the three splits come from disjoint
    random streams of ``seed``.

    >>> ds = make_mni_sks(num_train=4, num_val=2, num_test=2, image_size=32)
    >>> ds.train.images.shape, ds.class_names
    (torch.Size([4, 1, 32, 32]), ('absent', 'present'))
    """
    return _dataset(
        "mni-sks",
        _TWO_CLASSES,
        "MNI152 axial slices, Gaussian signal in white matter: absent vs present (SKS/BKS)",
        simulate_mni_sks,
        _SALT_2D,
        **locals(),
    )


def make_mni_sks_3class(
    num_train: int = 2000,
    num_val: int = 200,
    num_test: int = 200,
    image_size: int = 64,
    seed: int = 0,
    amplitude_range: Sequence[float] = (0.1, 0.35),
    signal_sigma: float | None = None,
    wm_threshold: float = 0.8,
    max_shift: int | None = None,
    flip: bool = True,
    intensity_jitter: float = 0.1,
    noise_std: float = 0.02,
    slice_range: Sequence[int] | None = None,
    hemisphere_margin: float | None = None,
) -> ImageDataset:
    """``"mni-sks-3class"``: absent (0), image-left (1), image-right (2) white-matter signal.

    Options are those of :func:`simulate_mni_sks`.

    >>> ds = make_mni_sks_3class(num_train=6, num_val=3, num_test=3, image_size=32)
    >>> ds.num_classes, sorted(ds.train.labels.tolist())
    (3, [0, 0, 1, 1, 2, 2])
    """
    return _dataset(
        "mni-sks-3class",
        _THREE_CLASSES,
        "MNI152 axial slices, Gaussian WM signal: absent vs image-left vs image-right hemisphere",
        simulate_mni_sks,
        _SALT_2D,
        **locals(),
    )


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
    return _dataset(
        "mni-sks-3d",
        _TWO_CLASSES,
        "MNI152 sub-volumes, Gaussian signal in white matter: absent vs present (SKS/BKS, 3-D)",
        simulate_mni_sks_3d,
        _SALT_3D,
        **locals(),
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
    return _dataset(
        "mni-sks-3d-3class",
        _THREE_CLASSES,
        "MNI152 sub-volumes, Gaussian WM signal: absent vs image-left vs image-right (3-D)",
        simulate_mni_sks_3d,
        _SALT_3D,
        **locals(),
    )
