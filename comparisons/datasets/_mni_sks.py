"""SKS/BKS signal detection on real anatomy: MNI152 axial slices with Gaussian WM signals.

Offline stand-in for the HCP-based task of Sengupta & Anastasio, Sec. IV-A (their images are
not released; nilearn's wheel ships the MNI152 template): "Gaussian signals with amplitudes
ranging from 0.1 to 0.35 were randomly embedded within white matter regions ..., with each
image containing at most one signal".

Backgrounds (signal-known-statistically / background-known-statistically):
    ``b = g * T[z](shift, flip) + n``: a random axial slice ``z`` of the MNI152 2009a T1
    template (max 1; white matter is ~0.86), a random integer shift of up to ``max_shift``
    pixels per axis (zero fill), an optional left-right flip, a gain ``g ~ U[1 - j, 1 + j]``
    (intensity jitter) and white Gaussian noise ``n`` of std ``noise_std``. The 2009a *sym*
    template is mirror-symmetric, so a flip only changes which side a signal lands on.
Signals:
    ``A exp(-|r - c|^2 / (2 sigma^2))`` with ``A ~ U[amplitude_range]`` (template units), the
    centre ``c`` drawn uniformly from the pixels whose (moved) WM probability is
    >= ``wm_threshold``. Masks: the half-maximum disc ``|r - c| <= sigma sqrt(2 ln 2)``.
Classes:
    ``mni-sks``: 0 absent, 1 present (balanced).
    ``mni-sks-3class``: 0 absent, 1 signal in the image-left hemisphere, 2 in the image-right
    one (balanced). The side is that of the centre relative to the brain's midline (the
    central column plus the shift), with centres at least ``hemisphere_margin`` pixels from it
    so that no mask crosses the midline. Detection alone does not solve it: the network has to
    know where the signal is, and the iFIM of a 3-class model has rank 2.

``value_range`` is ``None``: additive Gaussian noise has no bounds and clipping would distort
the signal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from comparisons.datasets._dataset import ImageDataset, pixel_statistics
from comparisons.datasets._gaussian_signal import half_max_radius
from comparisons.datasets._mni_template import (
    default_slice_range,
    num_axial_slices,
    template_slices,
)
from comparisons.datasets._sampling import balanced_labels, split_generator
from comparisons.datasets._simulated_split import SimulatedSplit, with_signals

_SALT = 152  # MNI152


def _check_positive_int(name: str, value: int, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"expected {name} an integer >= {minimum}, got {value!r}")


def _moved(stack: Tensor, z: Tensor, rows: Tensor, cols: Tensor, valid: Tensor) -> Tensor:
    return stack[z[:, None, None], rows[:, :, None], cols[:, None, :]] * valid


def _check_signal_options(
    amplitude_range: Sequence[float],
    wm_threshold: float,
    intensity_jitter: float,
    noise_std: float,
) -> tuple[float, float]:
    """Validate the options the 2-D and 3-D MNI tasks share; the amplitude ``(low, high)``."""
    low, high = (float(v) for v in amplitude_range)
    if not 0 < low <= high:
        raise ValueError(
            f"expected amplitude_range (low, high) with 0 < low <= high, got {amplitude_range}"
        )
    if not 0 <= wm_threshold < 1:
        raise ValueError(f"expected wm_threshold in [0, 1), got {wm_threshold}")
    if not 0 <= intensity_jitter < 1:
        raise ValueError(f"expected intensity_jitter in [0, 1), got {intensity_jitter}")
    if noise_std < 0:
        raise ValueError(f"expected noise_std >= 0, got {noise_std}")
    return low, high


def _draw_centres(
    white: Tensor,
    labels: Tensor,
    midline: Tensor,
    wm_threshold: float,
    margin: float,
    num_classes: int,
    generator: torch.Generator,
) -> Tensor:
    """Signal centres drawn uniformly from the pixels (voxels) with WM >= ``wm_threshold``.

    With 3 classes, label 1 draws only from pixels at least ``margin`` left of the
    midline (smaller column), label 2 from those ``margin`` right of it.

    Args:
        white: (N, *grid) moved WM probability, grid (H, W) or (D, H, W).
        labels: (N,) int64; 0 means absent (its centre is a dummy draw).
        midline: (N,) float32, the midline's column in each image.
        wm_threshold, margin, num_classes, generator: As above.

    Returns:
        (N, len(grid)) float32 centres in grid order.
    """
    grid = white.shape[1:]
    allowed = white >= wm_threshold
    if num_classes == 3:
        columns = torch.arange(grid[-1]).to(torch.float32)
        offset = columns[None, :] - midline[:, None]  # (N, W)
        view = (-1, *([1] * (len(grid) - 1)), grid[-1])
        left = (offset <= -margin).reshape(view)
        right = (offset >= margin).reshape(view)
        side = (labels == 1).reshape(-1, *([1] * len(grid)))
        allowed = allowed & torch.where(side, left, right)
    present = labels > 0
    weights = allowed.flatten(1).to(torch.float32)
    empty = present & (weights.sum(1) == 0)
    if empty.any():
        raise ValueError(
            f"expected white matter above wm_threshold={wm_threshold} in every image, got none "
            f"in {int(empty.sum())} draws; lower wm_threshold or change the field of view"
        )
    weights[~present] = 1.0
    flat = torch.multinomial(weights, 1, generator=generator)[:, 0]
    return torch.stack(torch.unravel_index(flat, grid), dim=1).to(torch.float32)


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
    """Draw ``num`` MNI SKS/BKS images (module docstring gives the model).

    Args:
        num: Number of images.
        generator: Source of all randomness.
        num_classes: 2 (absent / present) or 3 (absent / image-left / image-right).
        image_size: Images are ``image_size x image_size``.
        amplitude_range: ``(low, high)`` of the uniform signal amplitude.
        signal_sigma: Signal width in pixels; default ``2.5 * image_size / 64``.
        wm_threshold: Minimum WM probability at a signal centre.
        max_shift: Largest shift per axis in pixels; default ``round(3 * image_size / 64)``.
        flip: Whether to flip left-right with probability 1/2.
        intensity_jitter: ``j`` of the gain ``U[1 - j, 1 + j]``.
        noise_std: Standard deviation of the additive white Gaussian noise.
        slice_range: ``(lo, hi)`` axial template slices to draw from; default: those where the
            area above ``wm_threshold`` is >= 30 % of its maximum.
        hemisphere_margin: 3 classes only: least distance in pixels from a centre to the
            midline; default the mask radius plus one pixel.

    Returns:
        The split with its backgrounds, signals, centres and moved WM maps.
    """
    _check_positive_int("num", num)
    _check_positive_int("image_size", image_size, 8)
    if num_classes not in (2, 3):
        raise ValueError(f"expected num_classes 2 or 3, got {num_classes!r}")
    low, high = _check_signal_options(amplitude_range, wm_threshold, intensity_jitter, noise_std)
    sigma = 2.5 * image_size / 64 if signal_sigma is None else float(signal_sigma)
    if sigma <= 0:
        raise ValueError(f"expected signal_sigma > 0, got {signal_sigma}")
    shift = round(3 * image_size / 64) if max_shift is None else max_shift
    _check_positive_int("max_shift", shift, 0)
    lo, hi = default_slice_range(wm_threshold) if slice_range is None else map(int, slice_range)
    if not 0 <= lo < hi <= num_axial_slices():
        raise ValueError(
            f"expected slice_range (lo, hi) within [0, {num_axial_slices()}], got {slice_range}"
        )
    margin = half_max_radius(sigma) + 1 if hemisphere_margin is None else hemisphere_margin

    t1, wm = template_slices(image_size, lo, hi)
    labels = balanced_labels(num, num_classes, generator)
    z = torch.randint(0, hi - lo, (num,), generator=generator)
    dy, dx = torch.randint(-shift, shift + 1, (2, num), generator=generator)
    flipped = torch.rand(num, generator=generator) < 0.5
    if not flip:
        flipped[:] = False
    gain = 1 + intensity_jitter * (2 * torch.rand(num, generator=generator) - 1)
    noise = noise_std * torch.randn(num, image_size, image_size, generator=generator)

    # Output pixel (r, c) shows the flipped slice at (r - dy, c - dx).
    grid = torch.arange(image_size)
    rows = grid[None, :] - dy[:, None]
    cols = grid[None, :] - dx[:, None]
    cols = torch.where(flipped[:, None], image_size - 1 - cols, cols)
    valid = ((rows >= 0) & (rows < image_size))[:, :, None] & ((cols >= 0) & (cols < image_size))[
        :, None, :
    ]
    rows, cols = rows.clamp(0, image_size - 1), cols.clamp(0, image_size - 1)
    white = _moved(wm, z, rows, cols, valid)
    backgrounds = gain[:, None, None] * _moved(t1, z, rows, cols, valid) + noise

    midline = (image_size - 1) / 2 + dx.to(torch.float32)  # (N,)
    centres = _draw_centres(white, labels, midline, wm_threshold, margin, num_classes, generator)
    amplitudes = (low + (high - low) * torch.rand(num, generator=generator)) * (labels > 0)
    return with_signals(backgrounds, labels, centres, amplitudes, sigma, white)


def _build(
    name: str,
    num_classes: int,
    class_names: tuple[str, ...],
    description: str,
    num_train: int,
    num_val: int,
    num_test: int,
    seed: int,
    *,
    simulate: Callable[..., SimulatedSplit] | None = None,
    salt: int = _SALT,
    **signal: object,
) -> ImageDataset:
    """The three splits from disjoint streams of ``seed`` (salt ``salt + num_classes``).

    ``simulate(num, generator, num_classes=..., **signal)`` draws one split; default
    :func:`simulate_mni_sks`.
    """
    simulate = simulate_mni_sks if simulate is None else simulate
    splits = {
        split: simulate(
            num,
            split_generator(seed, salt + num_classes, split),
            num_classes=num_classes,
            **signal,  # type: ignore[arg-type]
        ).to_split()
        for split, num in (("train", num_train), ("val", num_val), ("test", num_test))
    }
    mean, std = pixel_statistics(splits["train"].images)
    return ImageDataset(
        name=name,
        class_names=class_names,
        pixel_mean=mean,
        pixel_std=std,
        value_range=None,
        description=description,
        **splits,
    )


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
    return _build(
        "mni-sks",
        2,
        ("absent", "present"),
        "MNI152 axial slices, Gaussian signal in white matter: absent vs present (SKS/BKS)",
        num_train,
        num_val,
        num_test,
        seed,
        image_size=image_size,
        amplitude_range=amplitude_range,
        signal_sigma=signal_sigma,
        wm_threshold=wm_threshold,
        max_shift=max_shift,
        flip=flip,
        intensity_jitter=intensity_jitter,
        noise_std=noise_std,
        slice_range=slice_range,
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
    return _build(
        "mni-sks-3class",
        3,
        ("absent", "left", "right"),
        "MNI152 axial slices, Gaussian WM signal: absent vs image-left vs image-right hemisphere",
        num_train,
        num_val,
        num_test,
        seed,
        image_size=image_size,
        amplitude_range=amplitude_range,
        signal_sigma=signal_sigma,
        wm_threshold=wm_threshold,
        max_shift=max_shift,
        flip=flip,
        intensity_jitter=intensity_jitter,
        noise_std=noise_std,
        slice_range=slice_range,
        hemisphere_margin=hemisphere_margin,
    )
