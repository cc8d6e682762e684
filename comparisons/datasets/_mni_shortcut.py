"""The shortcut task: ``mni-sks`` plus a spurious cue outside the anatomy (issue 24).

The images, signals, masks and labels of every split are those of ``make_mni_sks`` with the
same ``seed`` and options (bit for bit); a :class:`~comparisons.datasets.SpuriousCue` is then
added to some of them. Which ones is drawn from a stream of its own (salt ``_SALT_CUE``):
in training and validation the cue follows the label (on iff ``present``) with probability
``cue_strength`` and is a fair coin otherwise, so at strength ``s`` it agrees with the label
on ``(1 + s) / 2`` of the images in expectation; at test it is a fair coin whatever the
strength. Datasets of one seed at strengths 1.0, 0.9 and 0.0 therefore share their test
images exactly (cue included) and differ in training only in which images carry the cue.
The dataset's masks stay the signal masks; :attr:`ImageDataset.cue` is the cue and its
region the cue's ground-truth mask (``cue.masks(split.cue_present)``).

Cue (**Decision**): ``"marker"`` a bright square (``cue_size`` 6 px at 64 px, 3 at 32) at a
corner, 2 px (1 px below 48 px) from its edges; ``"texture"`` a one-pixel checkerboard of
``+-cue_amplitude`` on the same square; ``"border"`` the ``cue_size`` leftmost and
rightmost columns (2 px at 64, 1 at 32) brightened. The border is not a full frame because
a shifted brain reaches the top and bottom rows (at 64 px every shift of 3 px along the rows
puts brain on row 0 or 63), while the columns stay free: the brain spans columns 4-59 at
64 px and 1-30 at 32 px, every slice, shift and flip included. ``cue_amplitude`` 0.3 is the
top of the signal's amplitudes (0.1-0.35, template units, white matter ~0.86): 15 x the noise
std on an empty background, so a small CNN learns it at once, yet no brighter than what the
anatomy holds.

The cue may touch neither the brain nor any possible signal: its region is checked against
the union, over the slices in use, every integer shift up to ``max_shift`` and the
left-right flip, of the template's pixels above 0.05 of its maximum and of every half-maximum
signal disc a white-matter centre can give. The template is skull-stripped (78 % of its
voxels are exactly 0 and 99.9 % of the others are above 0.17), so 0.05 only drops resampled
edge pixels that hold a few per cent of brain: 2.5 x the noise std, below what the noise
lets anyone see. The corners stay free up to 9 px at 64 px (4 at 32); the defaults fit from
24 px up (checked at 24-128 px). At 16 px only a 1 px marker or texture fits, and no border.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

from comparisons.datasets._dataset import ImageDataset, ImageSplit, pixel_statistics
from comparisons.datasets._gaussian_signal import half_max_radius
from comparisons.datasets._mni_sks import make_mni_sks
from comparisons.datasets._mni_template import default_slice_range, template_slices
from comparisons.datasets._sampling import SPLITS, split_generator
from comparisons.datasets._spurious_cue import (
    CUE_KINDS,
    CUE_POSITIONS,
    SpuriousCue,
    cue_pattern,
    cue_region,
    draw_cue_present,
)

_SALT_CUE = 24  # issue 24: the cue draws' own stream
#: The class the cue marks in training: "present".
CUE_CLASS = 1
#: Template pixels above this fraction of its maximum count as brain (module docstring).
BRAIN_FRACTION = 0.05


def default_cue_size(kind: str, image_size: int) -> int:
    """6 px at 64 px for a marker or texture, 2 px for the border, scaled with the image."""
    return max(1, round((2 if kind == "border" else 6) * image_size / 64))


def cue_margin(image_size: int) -> int:
    """Pixels between a marker or texture patch and the image's edges: 2 at 64 px."""
    return max(1, round(2 * image_size / 64))


@functools.lru_cache(maxsize=16)
def anatomy_support(
    image_size: int,
    slice_range: tuple[int, int] | None = None,
    wm_threshold: float = 0.8,
    max_shift: int | None = None,
    flip: bool = True,
    signal_sigma: float | None = None,
) -> Tensor:
    """(S, S) bool: every pixel an ``mni-sks`` image with these options can show brain on
    (template > ``BRAIN_FRACTION`` of its max) or a signal mask on, over every slice in
    ``slice_range``, integer shift up to ``max_shift`` per axis and (with ``flip``) the
    left-right flip. Defaults as :func:`~comparisons.datasets.simulate_mni_sks`."""
    lo, hi = default_slice_range(wm_threshold) if slice_range is None else slice_range
    t1, wm = template_slices(image_size, lo, hi)
    sigma = 2.5 * image_size / 64 if signal_sigma is None else float(signal_sigma)
    brain = (t1 > BRAIN_FRACTION * float(t1.max())).any(0)
    # A signal centre lies on WM >= threshold; its mask reaches the half-maximum radius.
    radius = math.ceil(half_max_radius(sigma))
    centres = (wm >= wm_threshold).any(0).float()[None, None]
    signal = F.max_pool2d(centres, 2 * radius + 1, 1, radius)[0, 0] > 0
    support = brain | signal
    if flip:
        support = support | support.flip(-1)
    shift = round(3 * image_size / 64) if max_shift is None else max_shift
    moved = F.max_pool2d(support.float()[None, None], 2 * shift + 1, 1, shift)[0, 0]
    return moved > 0


def _check_number(name: str, value: object, low: float, high: float, closed: bool) -> None:
    """Refuse anything but a number in [low, high] (``closed``) or in (low, high)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected {name} a number, got {value!r}")
    if not (low <= value <= high if closed else low < value < high):
        interval = f"[{low:g}, {high:g}]" if closed else f"({low:g}, {high:g})"
        raise ValueError(f"expected {name} in {interval}, got {value!r}")


def _check_cue_options(
    kind: object, strength: object, amplitude: object, size: object, position: object
) -> None:
    if kind not in CUE_KINDS:
        raise ValueError(f"expected cue_kind in {CUE_KINDS}, got {kind!r}")
    _check_number("cue_strength", strength, 0.0, 1.0, closed=True)
    _check_number("cue_amplitude", amplitude, 0.0, math.inf, closed=False)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"expected cue_size an integer >= 1 (pixels), got {size!r}")
    if position not in CUE_POSITIONS:
        raise ValueError(f"expected cue_position in {CUE_POSITIONS}, got {position!r}")


def _check_clear(kind: str, size: int, position: str, image_size: int, support: Tensor) -> None:
    """Refuse a cue region that leaves the image or touches ``support``, suggesting what fits."""
    margin = cue_margin(image_size)
    room = image_size // 2 if kind == "border" else image_size - margin
    where = "at each side" if kind == "border" else f"at {position}"
    if size > room:
        raise ValueError(
            f"expected a cue_size that fits the {image_size} px image ({kind} {where}: at "
            f"most {room} px), got {size}"
        )

    def overlap(s: int, p: str) -> int:
        return int((cue_region(kind, image_size, s, p, margin) & support).sum())

    touched = overlap(size, position)
    if not touched:
        return
    fits = [s for s in range(size - 1, 0, -1) if not overlap(s, position)]
    advice = [f"a cue_size of at most {fits[0]}"] if fits else []
    if kind != "border":
        others = [p for p in CUE_POSITIONS if p != position and not overlap(size, p)]
        if others:
            advice.append(f"cue_position in {others}")
    if not advice:
        advice = ["a larger image_size, a smaller max_shift or another cue_kind (no cue_size fits)"]
    raise ValueError(
        f"expected the {kind} cue ({size} px {where}) outside the anatomy and every possible "
        f"signal (all slices, shifts and flips) of the {image_size} px images, got "
        f"{touched} of its pixels on them; use {' or '.join(advice)}"
    )


def make_mni_sks_shortcut(
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
    cue_kind: str = "marker",
    cue_strength: float = 1.0,
    cue_amplitude: float = 0.3,
    cue_size: int | None = None,
    cue_position: str = "top-left",
) -> ImageDataset:
    """``"mni-sks-shortcut"``: ``mni-sks`` with a spurious cue that marks ``present`` in
    training with probability ``cue_strength`` and is a fair coin at test (module docstring).

    Args:
        num_train ... slice_range: As :func:`~comparisons.datasets.make_mni_sks` (same
            defaults; the same images for the same values).
        cue_kind: ``"marker"`` (a bright square), ``"border"`` (the left and right edge
            columns brightened) or ``"texture"`` (a checkerboard square).
        cue_strength: In [0, 1]: the probability that the cue follows the label in training
            and validation (1: on iff present; 0: independent of it).
        cue_amplitude: The pattern's value (the texture's is +-), > 0; 0.3 by default.
        cue_size: Pixels: the square's side or the border's width; default 6 (marker,
            texture) or 2 (border) at 64 px, scaled with ``image_size``.
        cue_position: The corner of the marker or texture (``"top-left"``, ``"top-right"``,
            ``"bottom-left"``, ``"bottom-right"``); the border has none and ignores it.

    Raises:
        ValueError: A cue option out of range, or a cue that leaves the image or touches
            the brain or a possible signal.

    >>> ds = make_mni_sks_shortcut(num_train=8, num_val=4, num_test=4, image_size=32)
    >>> ds.cue.kind, int(ds.cue.region.sum()), ds.train.cue_present.tolist() == (
    ...     ds.train.labels == 1).tolist()
    ('marker', 9, True)
    """
    size = default_cue_size(str(cue_kind), image_size) if cue_size is None else cue_size
    _check_cue_options(cue_kind, cue_strength, cue_amplitude, size, cue_position)
    base = make_mni_sks(
        num_train=num_train,
        num_val=num_val,
        num_test=num_test,
        image_size=image_size,
        seed=seed,
        amplitude_range=amplitude_range,
        signal_sigma=signal_sigma,
        wm_threshold=wm_threshold,
        max_shift=max_shift,
        flip=flip,
        intensity_jitter=intensity_jitter,
        noise_std=noise_std,
        slice_range=slice_range,
    )
    support = anatomy_support(
        image_size,
        None if slice_range is None else (int(slice_range[0]), int(slice_range[1])),
        float(wm_threshold),
        max_shift,
        flip,
        None if signal_sigma is None else float(signal_sigma),
    )
    _check_clear(cue_kind, size, cue_position, image_size, support)
    region = cue_region(cue_kind, image_size, size, cue_position, cue_margin(image_size))
    cue = SpuriousCue(
        kind=cue_kind,
        pattern=cue_pattern(cue_kind, region, float(cue_amplitude)),
        region=region,
        cue_class=CUE_CLASS,
        strength=float(cue_strength),
    )
    splits = {}
    for name in SPLITS:
        split: ImageSplit = getattr(base, name)
        strength = 0.0 if name == "test" else cue.strength
        generator = split_generator(seed, _SALT_CUE, name)
        present = draw_cue_present(split.labels, CUE_CLASS, strength, generator)
        images = cue.added(split.images, present)
        splits[name] = ImageSplit(images, split.labels, split.masks, present)
    mean, std = pixel_statistics(splits["train"].images)
    where = "left and right edges" if cue_kind == "border" else cue_position
    return ImageDataset(
        name="mni-sks-shortcut",
        class_names=base.class_names,
        pixel_mean=mean,
        pixel_std=std,
        value_range=None,
        description=(
            f"{base.description}; a spurious {cue_kind} cue ({size} px, {where}, amplitude "
            f"{float(cue_amplitude):g}) follows 'present' in training with strength "
            f"{float(cue_strength):g}, a fair coin at test"
        ),
        cue=cue,
        **splits,
    )
