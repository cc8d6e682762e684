"""Simulated datasets: determinism, shapes, labels, signal placement, formulas, registry."""

from __future__ import annotations

import math

import pytest
import torch

from comparisons.datasets import (
    DATASETS,
    available_datasets,
    gaussian_blobs,
    half_max_masks,
    half_max_radius,
    load_dataset,
    lumpy_backgrounds,
    simulate_lumpy_sks,
    simulate_mni_sks,
)
from comparisons.datasets._sampling import split_generator

SMALL = {"num_train": 12, "num_val": 6, "num_test": 6, "image_size": 32}
EMBEDDED = ("lumpy-sks", "mni-sks", "mni-sks-3class")


def test_registry_lists_every_dataset_and_marks_embedded() -> None:
    assert available_datasets() == (
        "chestxray8",
        "csv",
        "dicom",
        "image-folder",
        "kermany-oct",
        "lumpy-sks",
        "medmnist",
        "mni-sks",
        "mni-sks-3class",
        "mni-sks-3d",
        "mni-sks-3d-3class",
        "mni-sks-shortcut",
        "nifti",
    )
    # the 3-D sets have their own tests (tests/test_comparisons_datasets_3d.py)
    assert available_datasets(embedded_only=True) == (
        *EMBEDDED,
        "mni-sks-3d",
        "mni-sks-3d-3class",
        "mni-sks-shortcut",  # tests/test_comparisons_shortcut_data.py
    )
    assert DATASETS["kermany-oct"].required == ("root",)
    assert "wm_threshold" in DATASETS["mni-sks"].options


def test_unknown_name_and_option_are_refused() -> None:
    with pytest.raises(ValueError, match="mni-sks-3class"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="num_train"):
        load_dataset("lumpy-sks", num_trian=3)
    with pytest.raises(ValueError, match="root"):
        load_dataset("chestxray8")


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_sets_are_deterministic_shaped_and_balanced(name: str) -> None:
    a = load_dataset(name, seed=3, **SMALL)
    b = load_dataset(name, seed=3, **SMALL)
    c = load_dataset(name, seed=4, **SMALL)
    for split in ("train", "val", "test"):
        sa, sb = getattr(a, split), getattr(b, split)
        assert torch.equal(sa.images, sb.images) and torch.equal(sa.masks, sb.masks)
        assert not torch.equal(sa.images, getattr(c, split).images)
        assert sa.images.dtype == torch.float32 and sa.labels.dtype == torch.int64
        assert sa.masks is not None and sa.masks.dtype == torch.bool
        assert sa.images.shape[1:] == (1, 32, 32) and sa.masks.shape[1:] == (32, 32)
        counts = torch.bincount(sa.labels, minlength=a.num_classes)
        assert counts.max() - counts.min() <= 1 and counts.sum() == len(sa)
        # masks empty exactly for signal-absent images
        assert torch.equal(sa.masks.flatten(1).any(1), sa.labels > 0)
    # disjoint streams: the splits are not copies of each other
    assert not torch.equal(a.train.images[:6], a.val.images)
    assert not torch.equal(a.val.images, a.test.images)
    assert a.value_range is None and a.in_channels == 1
    flat = a.train.images.double().flatten()
    assert a.pixel_mean == pytest.approx(float(flat.mean()))
    assert a.pixel_std == pytest.approx(float(flat.std()))
    assert len(a.class_names) == a.num_classes == (3 if name.endswith("3class") else 2)


def test_streams_differ_by_split_and_seed() -> None:
    draws = {
        (seed, split): torch.rand(4, generator=split_generator(seed, 7, split))
        for seed in (0, 1)
        for split in ("train", "val", "test")
    }
    values = list(draws.values())
    assert all(not torch.equal(x, y) for i, x in enumerate(values) for y in values[i + 1 :])
    with pytest.raises(ValueError, match="split"):
        split_generator(0, 7, "validation")


def test_gaussian_blob_and_half_max_mask_match_their_formulas() -> None:
    centres = torch.tensor([[5.0, 7.0], [0.0, 0.0]])
    blobs = gaussian_blobs(centres, torch.tensor([0.3, 0.0]), 2.0, 12)
    assert blobs[0, 5, 7] == pytest.approx(0.3)
    assert blobs[0, 5, 9] == pytest.approx(0.3 * math.exp(-4 / 8))
    assert blobs[0, 8, 3] == pytest.approx(0.3 * math.exp(-(9 + 16) / 8))
    assert torch.count_nonzero(blobs[1]) == 0
    masks = half_max_masks(centres, torch.tensor([True, False]), 2.0, 12)
    assert torch.equal(masks[0], blobs[0] >= 0.15 - 1e-7)
    assert not masks[1].any()
    assert half_max_radius(1.0) == pytest.approx(math.sqrt(2 * math.log(2)))  # FWHM / 2


def _check_signals(draw, sigma: float) -> None:  # type: ignore[no-untyped-def]
    present = draw.labels > 0
    size = draw.images.shape[-1]
    # image = background + one Gaussian: the difference is exactly the blob formula
    expected = gaussian_blobs(torch.nan_to_num(draw.centres), draw.amplitudes, sigma, size)
    diff = (draw.images - draw.backgrounds)[:, 0]
    torch.testing.assert_close(diff, expected, atol=1e-5, rtol=0)
    # ... and, beyond 4 sigma of the mask centre, below the Gaussian's exp(-8) tail
    far = ~half_max_masks(torch.nan_to_num(draw.centres), present, 4 * sigma / 1.1774, size)
    assert (diff.abs() * far).max() <= draw.amplitudes.max() * math.exp(-8) + 1e-5
    assert torch.all(draw.amplitudes[~present] == 0) and torch.all(draw.centres[~present].isnan())
    assert torch.equal(draw.masks.flatten(1).any(1), present)


def test_mni_signals_are_in_white_matter_within_amplitude_range() -> None:
    gen = torch.Generator().manual_seed(0)
    draw = simulate_mni_sks(40, gen, image_size=32, wm_threshold=0.7, amplitude_range=(0.1, 0.35))
    sigma = 2.5 * 32 / 64
    _check_signals(draw, sigma)
    present = draw.labels == 1
    rc = draw.centres[present].long()
    wm = draw.white_matter[present.nonzero()[:, 0], rc[:, 0], rc[:, 1]]
    assert torch.all(wm >= 0.7)
    amps = draw.amplitudes[present]
    assert torch.all((amps >= 0.1) & (amps <= 0.35))
    # the mask is the half-maximum disc around the centre
    assert torch.all(draw.masks[present.nonzero()[:, 0], rc[:, 0], rc[:, 1]])


def test_mni_backgrounds_are_shifted_jittered_template_slices() -> None:
    gen = torch.Generator().manual_seed(1)
    plain = simulate_mni_sks(
        6, gen, image_size=32, max_shift=0, flip=False, intensity_jitter=0.0, noise_std=0.0
    )
    # no variation but the slice: background max is the template's (<= 1), air is exactly 0
    assert plain.backgrounds.max() <= 1.0 and plain.backgrounds.min() == 0.0
    torch.testing.assert_close(plain.backgrounds, plain.backgrounds.flip(-1), atol=1e-5, rtol=0)
    noisy = simulate_mni_sks(400, torch.Generator().manual_seed(2), image_size=32, noise_std=0.05)
    corner = noisy.backgrounds[:, 0, :2, :2].flatten()  # air: only noise
    assert corner.std() == pytest.approx(0.05, rel=0.1)


def test_mni_3class_signal_side_matches_label() -> None:
    draw = simulate_mni_sks(60, torch.Generator().manual_seed(5), num_classes=3, image_size=32)
    # the flip-and-shift-invariant midline: where the moved WM map is mirror-symmetric
    for n in range(60):
        label = int(draw.labels[n])
        if label == 0:
            assert not draw.masks[n].any()
            continue
        wm = draw.white_matter[n]
        cols = wm.sum(0).nonzero()[:, 0]
        midline = (cols.min() + cols.max()).item() / 2
        column = draw.centres[n, 1].item()
        assert (column < midline) if label == 1 else (column > midline)
        mask_cols = draw.masks[n].any(0).nonzero()[:, 0].float()
        assert torch.all(mask_cols < midline) if label == 1 else torch.all(mask_cols > midline)


def test_lumpy_background_mean_matches_formula_and_signal_is_the_blob() -> None:
    gen = torch.Generator().manual_seed(0)
    fields, counts = lumpy_backgrounds(3000, 16, gen, mean_lumps=25, b0=20, lump_sigma=4)
    area = (16 + 2 * 3 * 4) ** 2
    expected = 20 + 25 * 1.0 * 2 * math.pi * 16 / area
    assert counts.double().mean() == pytest.approx(25, abs=0.3)
    assert fields.double().mean() == pytest.approx(expected, abs=0.03)
    # one seeded field, rebuilt lump by lump from its own draws
    gen = torch.Generator().manual_seed(9)
    one, k = lumpy_backgrounds(1, 8, gen, mean_lumps=3, b0=2.0, lump_amplitude=0.5, lump_sigma=2)
    gen = torch.Generator().manual_seed(9)
    torch.poisson(torch.full((1,), 3.0), generator=gen)
    centres = torch.rand(1, max(int(k[0]), 1), 2, generator=gen)[0] * (8 + 12) - 6.5
    grid = torch.arange(8.0)
    ref = torch.full((8, 8), 2.0)
    for cy, cx in centres[: int(k[0])]:
        ref += 0.5 * torch.exp(-((grid[:, None] - cy) ** 2 + (grid[None, :] - cx) ** 2) / 8)
    torch.testing.assert_close(one[0], ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("location", ["random", "center"])
def test_lumpy_signals(location: str) -> None:
    draw = simulate_lumpy_sks(
        30, torch.Generator().manual_seed(3), image_size=32, signal_location=location
    )
    _check_signals(draw, 3.0 * 32 / 64)
    present = draw.labels == 1
    torch.testing.assert_close(draw.amplitudes[present], torch.full((15,), 0.1))
    if location == "center":
        assert torch.all(draw.centres[present] == 16.0)
    else:
        assert draw.centres[present].min() >= 5 and draw.centres[present].max() <= 26


def test_bad_simulation_options_raise() -> None:
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="amplitude_range"):
        simulate_mni_sks(4, gen, image_size=32, amplitude_range=(0.3, 0.1))
    with pytest.raises(ValueError, match="num_classes"):
        simulate_mni_sks(4, gen, image_size=32, num_classes=4)
    with pytest.raises(ValueError, match="wm_threshold"):
        simulate_mni_sks(4, gen, image_size=32, wm_threshold=1.0)
    with pytest.raises(ValueError, match="signal_location"):
        simulate_lumpy_sks(4, gen, signal_location="corner")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        load_dataset("lumpy-sks", seed=-1, **SMALL)
