"""The 3-D MNI152 SKS/BKS volumes: the resampled template, determinism, white-matter signals,
masks, hemisphere labels, class balance, and the 2-D containers holding 5-D tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from comparisons.datasets import (
    DATASETS,
    ImageSplit,
    available_datasets,
    half_max_radius,
    load_dataset,
    simulate_mni_sks_3d,
)
from comparisons.datasets._mni_template import _volumes, template_volumes
from comparisons.datasets._sampling import split_generator

SIZE = 32
SMALL = {"num_train": 12, "num_val": 6, "num_test": 6, "volume_size": SIZE}
NAMES = ("mni-sks-3d", "mni-sks-3d-3class")


def draw(num: int, seed: int = 0, **options: object):
    return simulate_mni_sks_3d(num, split_generator(seed, 99, "train"), **options)  # type: ignore[arg-type]


def centred_crop(volume: torch.Tensor, size: int) -> torch.Tensor:
    """The ``size``-cube at the centre of a template volume, computed here independently."""
    starts = [(length - size) // 2 for length in volume.shape]
    return volume[tuple(slice(s, s + size) for s in starts)]


def test_registered_embedded_with_their_options() -> None:
    assert set(NAMES) <= set(available_datasets(embedded_only=True))
    for name in NAMES:
        assert {"volume_size", "voxel_mm", "seed", "wm_threshold"} <= set(DATASETS[name].options)
    assert "hemisphere_margin" in DATASETS["mni-sks-3d-3class"].options


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_shaped_balanced(name: str) -> None:
    a = load_dataset(name, seed=3, **SMALL)
    b = load_dataset(name, seed=3, **SMALL)
    c = load_dataset(name, seed=4, **SMALL)
    assert a.image_size == (SIZE, SIZE, SIZE) and a.spatial_dims == 3 and a.in_channels == 1
    assert a.num_classes == (3 if name.endswith("3class") else 2)
    for split in ("train", "val", "test"):
        sa, sb = getattr(a, split), getattr(b, split)
        assert torch.equal(sa.images, sb.images) and torch.equal(sa.masks, sb.masks)
        assert torch.equal(sa.labels, sb.labels)
        assert not torch.equal(sa.images, getattr(c, split).images)
        assert sa.images.shape[1:] == (1, SIZE, SIZE, SIZE) and sa.images.dtype == torch.float32
        assert sa.masks.shape[1:] == (SIZE, SIZE, SIZE) and sa.masks.dtype == torch.bool
        counts = torch.bincount(sa.labels, minlength=a.num_classes)
        assert counts.max() - counts.min() <= 1 and counts.sum() == len(sa)
        assert torch.equal(sa.masks.flatten(1).any(1), sa.labels > 0)
    assert not torch.equal(a.train.images[:6], a.val.images)
    flat = a.train.images.double().flatten()
    assert a.pixel_mean == pytest.approx(float(flat.mean()))
    assert a.pixel_std == pytest.approx(float(flat.std()))


def test_template_volume_is_block_averaged_symmetric_and_oriented() -> None:
    t1_mm, wm_mm, _ = _volumes()
    for voxel in (2, 4):
        t1, wm = template_volumes(voxel)
        assert t1.shape[2] % 2 == 0 and t1.dtype == torch.float32
        # exact block means over a box holding the whole template: the mass is conserved
        assert float(t1.double().sum()) * voxel**3 == pytest.approx(float(t1_mm.sum()), rel=1e-6)
        assert float(wm.double().sum()) * voxel**3 == pytest.approx(float(wm_mm.sum()), rel=1e-6)
        # the symmetric template stays mirror-symmetric about the central column boundary
        torch.testing.assert_close(t1, t1.flip(-1), rtol=0, atol=1e-5)
        assert 0.0 <= float(wm.min()) and float(wm.max()) <= 1.0
    # at 1 mm the y and z axes are the template's own, reversed (anterior and superior first)
    t1, _ = template_volumes(1)
    for axis_out, axis_raw in ((1, 1), (0, 2)):
        profile = t1.double().sum(dim=tuple(a for a in range(3) if a != axis_out)).numpy()
        raw = t1_mm.astype(np.float64).sum(axis=tuple(a for a in range(3) if a != axis_raw))
        reversed_error = best_alignment_error(profile, raw[::-1])
        assert reversed_error < 1e-3 * profile.max() < best_alignment_error(profile, raw)


def best_alignment_error(profile: np.ndarray, reference: np.ndarray) -> float:
    """The least max-abs difference of ``profile`` and a window of zero-padded ``reference``."""
    padded = np.concatenate([np.zeros(len(profile)), reference, np.zeros(len(profile))])
    return min(
        float(np.abs(padded[lag : lag + len(profile)] - profile).max())
        for lag in range(len(padded) - len(profile) + 1)
    )


def test_backgrounds_are_template_crops_and_signals_lie_in_white_matter() -> None:
    t1, wm = template_volumes(4)
    plain = draw(
        8,
        random_crop=False,
        max_shift=0,
        flip=False,
        intensity_jitter=0.0,
        noise_std=0.0,
    )
    expected_t1, expected_wm = centred_crop(t1, SIZE), centred_crop(wm, SIZE)
    for n in range(8):
        assert torch.equal(plain.backgrounds[n, 0], expected_t1)
        assert torch.equal(plain.white_matter[n], expected_wm)
    present = plain.labels > 0
    centres = plain.centres[present].long()
    assert torch.equal(plain.centres[present], centres.float())  # on the voxel grid
    wm_at_centres = expected_wm[centres[:, 0], centres[:, 1], centres[:, 2]]
    assert (wm_at_centres >= 0.8).all()
    # with flips, every background is the crop or its left-right mirror
    flipped = draw(16, random_crop=False, max_shift=0, intensity_jitter=0.0, noise_std=0.0)
    mirrored = [torch.equal(b[0], expected_t1.flip(-1)) for b in flipped.backgrounds]
    same = [torch.equal(b[0], expected_t1) for b in flipped.backgrounds]
    assert all(m or s for m, s in zip(mirrored, same, strict=True)) and any(mirrored)


def test_default_draws_vary_and_keep_signals_in_white_matter_inside_the_volume() -> None:
    split = draw(40, num_classes=2)
    backgrounds = split.backgrounds[:, 0]
    assert not torch.equal(backgrounds[0], backgrounds[1])
    # the crop position varies: the WM maps (noise-free) differ beyond flips
    distinct = {tuple(m.flatten()[::97].tolist()) for m in split.white_matter}
    assert len(distinct) > 10
    present = split.labels > 0
    index = split.centres[present].long()
    white = split.white_matter[present]
    wm_at_centres = white[torch.arange(len(index)), index[:, 0], index[:, 1], index[:, 2]]
    assert (wm_at_centres >= 0.8).all()
    edge = math.ceil(half_max_radius(7.5 / 4))
    assert (index >= edge).all() and (index <= SIZE - 1 - edge).all()
    assert split.centres[~present].isnan().all() and (split.amplitudes[~present] == 0).all()
    assert ((split.amplitudes[present] >= 0.1) & (split.amplitudes[present] <= 0.35)).all()


def test_masks_are_the_half_maximum_balls_of_the_signals() -> None:
    split = draw(12, num_classes=2)
    sigma = 7.5 / 4
    assert torch.equal(split.images, split.backgrounds + split.signals)
    grid = torch.stack(torch.meshgrid(*[torch.arange(SIZE)] * 3, indexing="ij"), dim=-1).float()
    for n in range(12):
        signal, mask = split.signals[n, 0], split.masks[n]
        if split.labels[n] == 0:
            assert not mask.any() and not signal.any()
            continue
        centre, peak = split.centres[n], split.amplitudes[n]
        distance2 = ((grid - centre) ** 2).sum(-1)
        torch.testing.assert_close(signal, peak * torch.exp(-distance2 / (2 * sigma**2)))
        assert torch.equal(mask, distance2 <= half_max_radius(sigma) ** 2)
        # the mask is where the signal is at least half its peak (up to rounding at the rim)
        assert int((mask ^ (signal >= peak / 2)).sum()) <= 2
        assert signal[tuple(centre.long())] == signal.max()


def test_three_classes_put_the_signal_on_the_labelled_side_of_the_midline() -> None:
    split = draw(60, num_classes=3, max_shift=0)
    mid = (SIZE - 1) / 2
    margin = half_max_radius(7.5 / 4) + 1
    columns = torch.arange(SIZE)
    for n in range(60):
        label, mask = int(split.labels[n]), split.masks[n]
        if label == 0:
            assert not mask.any()
            continue
        used = columns[mask.any(dim=(0, 1))]
        column = float(split.centres[n, 2])
        if label == 1:  # image-left: smaller column, the subject's left
            assert column <= mid - margin and used.max() < mid
        else:
            assert column >= mid + margin and used.min() > mid
    counts = torch.bincount(split.labels, minlength=3)
    assert counts.tolist() == [20, 20, 20]
    # with shifts, the side is taken from the shifted midline
    shifted = draw(60, num_classes=3, seed=1)
    shift = round(3 * SIZE / 64)
    left, right = shifted.labels == 1, shifted.labels == 2
    assert (shifted.centres[left, 2] <= mid + shift - margin).all()
    assert (shifted.centres[right, 2] >= mid - shift + margin).all()


def test_every_default_crop_has_room_for_a_signal_on_both_sides() -> None:
    """Every crop position, shift and flip of the defaults, counted with integral images:
    none can fail to place a signal."""
    _, wm = template_volumes(4)
    box_d, box_h, box_w = wm.shape
    radius = half_max_radius(7.5 / 4)
    edge, margin = math.ceil(radius), radius + 1
    columns = torch.arange(SIZE, dtype=torch.float32)
    inner = (columns >= edge) & (columns <= SIZE - 1 - edge)
    shift = round(3 * SIZE / 64)
    fewest = []
    for dx in range(-shift, shift + 1):
        for flip in (False, True):
            cols = (box_w - SIZE) // 2 + torch.arange(SIZE) - dx
            cols = box_w - 1 - cols if flip else cols
            white = wm[:, :, cols] >= 0.8  # (D0, H0, S): the crop's columns
            mid = (SIZE - 1) / 2 + dx
            for side in (columns <= mid - margin, columns >= mid + margin):
                per_line = white[:, :, side & inner].sum(-1)  # (D0, H0)
                table = torch.nn.functional.pad(per_line.cumsum(0).cumsum(1), (1, 0, 1, 0))
                lo, hi = edge, SIZE - edge  # interior rows of a crop, relative to its start
                d = torch.arange(box_d - SIZE + 1)[:, None]
                h = torch.arange(box_h - SIZE + 1)[None, :]
                counts = (
                    table[d + hi, h + hi]
                    - table[d + lo, h + hi]
                    - table[d + hi, h + lo]
                    + table[d + lo, h + lo]
                )
                fewest.append(int(counts.min()))
    assert len(fewest) == (2 * shift + 1) * 2 * 2
    assert min(fewest) > 1000


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="even volume_size"):
        draw(2, volume_size=31)
    with pytest.raises(ValueError, match="voxel_mm"):
        draw(2, voxel_mm=0)
    with pytest.raises(ValueError, match="num_classes"):
        draw(2, num_classes=4)
    with pytest.raises(ValueError, match="amplitude_range"):
        draw(2, amplitude_range=(0.3, 0.1))
    with pytest.raises(ValueError, match="random_crop"):
        draw(2, random_crop=1)
    with pytest.raises(ValueError, match="unknown"):
        load_dataset("mni-sks-3d", image_size=32)


def test_image_split_holds_volumes_and_checks_their_masks() -> None:
    images, labels = torch.zeros(3, 1, 4, 5, 6), torch.zeros(3, dtype=torch.int64)
    split = ImageSplit(images, labels, torch.zeros(3, 4, 5, 6, dtype=torch.bool))
    assert split.subset(slice(0, 2)).masks.shape == (2, 4, 5, 6)
    with pytest.raises(ValueError, match=r"expected masks of shape \(3, 4, 5, 6\)"):
        ImageSplit(images, labels, torch.zeros(3, 4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(N, C, D, H, W\)"):
        ImageSplit(torch.zeros(3, 1, 2, 3, 4, 5), labels)
