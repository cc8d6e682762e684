"""SKS/BKS signal detection on template anatomy, in 2-D or 3-D (paper Sec. IV-A).

One simulation for images (grid (S, S)) and volumes (grid (S, S, S)); the tasks that use it
(:mod:`comparisons.datasets._mni_sks`) only say how the template is cut and placed.

Backgrounds (signal-known-statistically / background-known-statistically):
    ``b = g * T(placement, flip) + n``: a view of the T1 template placed per image (which
    slice, crop or shift: the task's ``place``; zero fill outside the template), an optional
    left-right flip (the last axis), a gain ``g ~ U[1 - j, 1 + j]`` (intensity jitter) and
    white Gaussian noise ``n`` of std ``noise_std``. The template is mirror-symmetric about
    the centre of its last axis, so a flip only changes which side a signal lands on.
Signals:
    ``A exp(-|r - c|^2 / (2 sigma^2))`` with ``A ~ U[amplitude_range]`` (template units), the
    centre ``c`` drawn uniformly from the pixels whose (moved) WM probability is
    >= ``wm_threshold`` (with ``whole_masks``, also at least the mask radius, rounded up,
    from every face). Masks: the half-maximum disc (ball) ``|r - c| <= sigma sqrt(2 ln 2)``.
Classes:
    2: 0 absent, 1 present (balanced). 3: 0 absent, 1 signal in the image-left half (smaller
    column index), 2 in the image-right one (balanced); centres lie at least
    ``hemisphere_margin`` pixels from the midline (where the template's centre lands), so no
    mask crosses it. Detection alone does not solve it, and the iFIM has rank 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from comparisons.datasets._gaussian_signal import half_max_radius
from comparisons.datasets._sampling import balanced_labels
from comparisons.datasets._simulated_split import SimulatedSplit, with_signals

#: ``place(num, max_shift, template_shape, generator) -> (frame, starts)``: ``frame`` (N,)
#: int64, the slice of a stacked template (``None`` for one volume); ``starts``, per axis,
#: (N,) int64, the template index shown at output index 0 before the flip.
Place = Callable[
    [int, int, tuple[int, ...], torch.Generator], tuple[Tensor | None, tuple[Tensor, ...]]
]


def check_positive_int(name: str, value: int, minimum: int = 1) -> None:
    """Refuse anything but an int >= ``minimum`` (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"expected {name} an integer >= {minimum}, got {value!r}")


def _check_options(
    amplitude_range: Sequence[float],
    wm_threshold: float,
    intensity_jitter: float,
    noise_std: float,
) -> tuple[float, float]:
    """Validate the signal and noise options; the amplitude ``(low, high)``."""
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


def _gather(source: Tensor, frame: Tensor | None, index: Sequence[Tensor], valid: Tensor) -> Tensor:
    """``source[frame, index_0, index_1, ...]`` per sample (outer indexing), 0 where not ``valid``.

    Args:
        source: (Z, *box) with ``frame``, else (*box).
        frame: (N,) int64 or ``None``.
        index: Per axis k, (N, S_k) int64 in range.
        valid: (N, *grid) bool.

    Returns:
        (N, *grid), grid = (S_1, ..., S_k).
    """
    axes = len(index)
    parts = [] if frame is None else [frame.reshape(-1, *([1] * axes))]
    for axis, ix in enumerate(index):
        view = [ix.shape[0]] + [1] * axes
        view[axis + 1] = ix.shape[1]
        parts.append(ix.reshape(view))
    return source[tuple(parts)] * valid


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


def simulate_sks_bks(
    num: int,
    generator: torch.Generator,
    *,
    load_template: Callable[[], tuple[Tensor, Tensor]],
    place: Place,
    size: int,
    spatial_dims: int,
    default_sigma: float,
    num_classes: int = 2,
    amplitude_range: Sequence[float] = (0.1, 0.35),
    signal_sigma: float | None = None,
    wm_threshold: float = 0.8,
    max_shift: int | None = None,
    flip: bool = True,
    intensity_jitter: float = 0.1,
    noise_std: float = 0.02,
    hemisphere_margin: float | None = None,
    whole_masks: bool = False,
) -> SimulatedSplit:
    """Draw ``num`` SKS/BKS images or volumes (module docstring gives the model).

    Random draws, in order: labels, ``place``, flips, gains, noise, centres, amplitudes.

    Args:
        num: Number of images.
        generator: Source of all randomness.
        load_template: Called once the options are checked: ``(t1, wm)``, each (Z, *box)
            (a stack of slices) or (*box) (one volume); T1 intensity and WM probability,
            mirror-symmetric about the centre of the last axis.
        place: Where each view lies in ``template`` (:data:`Place`).
        size: Side of the output grid, ``(size,) * spatial_dims``.
        spatial_dims: 2 (images) or 3 (volumes).
        default_sigma: The signal width when ``signal_sigma`` is ``None``.
        num_classes: 2 (absent / present) or 3 (absent / image-left / image-right).
        amplitude_range: ``(low, high)`` of the uniform signal amplitude.
        signal_sigma: Signal width in pixels (voxels).
        wm_threshold: Minimum WM probability at a signal centre.
        max_shift: Largest shift in pixels handed to ``place``; default
            ``round(3 * size / 64)``.
        flip: Whether to flip left-right with probability 1/2.
        intensity_jitter: ``j`` of the gain ``U[1 - j, 1 + j]``.
        noise_std: Standard deviation of the additive white Gaussian noise.
        hemisphere_margin: 3 classes only: least distance in pixels from a centre to the
            midline; default the mask radius plus one pixel.
        whole_masks: Keep centres at least the mask radius from every face.

    Returns:
        The split with its backgrounds, signals, centres and moved WM maps; images
        (N, 1, *grid), masks (N, *grid).
    """
    check_positive_int("num", num)
    if num_classes not in (2, 3):
        raise ValueError(f"expected num_classes 2 or 3, got {num_classes!r}")
    low, high = _check_options(amplitude_range, wm_threshold, intensity_jitter, noise_std)
    sigma = default_sigma if signal_sigma is None else float(signal_sigma)
    if sigma <= 0:
        raise ValueError(f"expected signal_sigma > 0, got {signal_sigma}")
    shift = round(3 * size / 64) if max_shift is None else max_shift
    check_positive_int("max_shift", shift, 0)
    if not isinstance(flip, bool):
        raise ValueError(f"expected flip a bool, got {flip!r}")
    margin = half_max_radius(sigma) + 1 if hemisphere_margin is None else hemisphere_margin

    t1, wm = load_template()
    box = tuple(t1.shape[t1.dim() - spatial_dims :])
    grid_shape = (size,) * spatial_dims
    labels = balanced_labels(num, num_classes, generator)
    frame, starts = place(num, shift, tuple(t1.shape), generator)
    flipped = torch.rand(num, generator=generator) < 0.5
    if not flip:
        flipped[:] = False
    gain = 1 + intensity_jitter * (2 * torch.rand(num, generator=generator) - 1)
    noise = noise_std * torch.randn(num, *grid_shape, generator=generator)

    # Output index i along axis k shows the template at starts_k + i; the last axis flipped.
    grid = torch.arange(size)
    index = [start[:, None] + grid[None, :] for start in starts]
    index[-1] = torch.where(flipped[:, None], box[-1] - 1 - index[-1], index[-1])
    valid = torch.ones(num, *grid_shape, dtype=torch.bool)
    for axis, (ix, length) in enumerate(zip(index, box, strict=True)):
        view = [num] + [1] * spatial_dims
        view[axis + 1] = size
        valid = valid & ((ix >= 0) & (ix < length)).reshape(view)
    index = [ix.clamp(0, length - 1) for ix, length in zip(index, box, strict=True)]
    white = _gather(wm, frame, index, valid)
    backgrounds = gain.reshape(-1, *([1] * spatial_dims)) * _gather(t1, frame, index, valid)
    backgrounds = backgrounds + noise

    # The template's centre plane (box - 1) / 2 lands at column (box - 1) / 2 - start.
    midline = (box[-1] - 1) / 2 - starts[-1].to(torch.float32)  # (N,)
    allowed = white
    if whole_masks:
        edge = math.ceil(half_max_radius(sigma))
        inner = torch.zeros(size, dtype=torch.bool)
        inner[edge : size - edge] = True
        interior = torch.ones(grid_shape, dtype=torch.bool)
        for axis in range(spatial_dims):
            interior = interior & inner.reshape(
                [size if a == axis else 1 for a in range(spatial_dims)]
            )
        allowed = white * interior
    centres = _draw_centres(allowed, labels, midline, wm_threshold, margin, num_classes, generator)
    amplitudes = (low + (high - low) * torch.rand(num, generator=generator)) * (labels > 0)
    return with_signals(backgrounds, labels, centres, amplitudes, sigma, white)
