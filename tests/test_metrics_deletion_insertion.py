"""Deletion and insertion AUC (Petsiuk et al., 2018) with hand-derived curves."""

from __future__ import annotations

import pytest
import torch

from captum_ifim.metrics import deletion_auc, gaussian_blur, insertion_auc

from ._metrics_models import BlockModel, block_data, block_indicator


def _positives():
    x, _ = block_data(num=8)
    x[..., :2, :2] = 1.0  # every example has the signal
    return BlockModel().double().eval(), x


def test_perfect_map_curves_and_auc_match_the_hand_derived_values():
    model, x = _positives()
    perfect = block_indicator(x.shape)
    steps = 16  # 64 locations: 4 per step, the block is exactly the first step
    p1 = torch.sigmoid(torch.tensor(10.0 * (1 - 0.5), dtype=torch.float64))  # block = 1
    p0 = torch.sigmoid(torch.tensor(10.0 * (0 - 0.5), dtype=torch.float64))  # block = 0
    deletion = deletion_auc(model, x, perfect, 1, steps=steps)
    expected = torch.full((8, steps + 1), p0.item(), dtype=torch.float64)
    expected[:, 0] = p1
    torch.testing.assert_close(deletion.scores, expected)
    torch.testing.assert_close(
        deletion.fractions, torch.arange(steps + 1) / steps, check_dtype=False
    )
    auc = (p1 + p0) / 2 / steps + (steps - 1) / steps * p0
    torch.testing.assert_close(deletion.auc, auc.expand(8))
    insertion = insertion_auc(model, x, perfect, 1, baseline=0.0, steps=steps)
    auc = (p1 + p0) / 2 / steps + (steps - 1) / steps * p1
    torch.testing.assert_close(insertion.auc, auc.expand(8))


def test_perfect_map_beats_random_maps():
    model, x = _positives()
    perfect = block_indicator(x.shape) + 0.01 * torch.rand(x.shape, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    random_map = torch.rand(x.shape, generator=g, dtype=torch.float64)
    kwargs = {"steps": 16}
    assert (
        deletion_auc(model, x, perfect, **kwargs).auc
        < deletion_auc(model, x, random_map, **kwargs).auc
    ).all()
    assert (
        insertion_auc(model, x, perfect, baseline=0.0, **kwargs).auc
        > insertion_auc(model, x, random_map, baseline=0.0, **kwargs).auc
    ).all()


def test_curve_endpoints_batching_and_target_default():
    model, x = _positives()
    m = torch.rand(x.shape, dtype=torch.float64)
    base = deletion_auc(model, x, m, steps=5)
    assert base.scores.shape == (8, 6)
    # 64 locations in 5 steps: k = round(i * 64 / 5).
    assert (base.fractions * 64).tolist() == [0, 13, 26, 38, 51, 64]
    p_base = torch.sigmoid(torch.tensor(-5.0, dtype=torch.float64))
    torch.testing.assert_close(base.scores[:, -1], p_base.expand(8))  # everything deleted
    chunked = deletion_auc(model, x, m, steps=5, max_examples_per_batch=3)
    torch.testing.assert_close(chunked.scores, base.scores)
    # target=None tracks the clean prediction (class 1 here); an explicit 0 tracks 1 - p.
    torch.testing.assert_close(deletion_auc(model, x, m, 0, steps=5).scores, 1 - base.scores)
    ins = insertion_auc(model, x, m, torch.ones(8, dtype=torch.long), steps=5)
    p_clean = torch.sigmoid(torch.tensor(5.0, dtype=torch.float64))
    torch.testing.assert_close(ins.scores[:, -1], p_clean.expand(8))


def test_blur_baseline():
    x = torch.full((2, 3, 9, 9), 0.7, dtype=torch.float64)
    torch.testing.assert_close(gaussian_blur(x), x)  # a constant image is its own blur
    impulse = torch.zeros(1, 1, 21, 21, dtype=torch.float64)
    impulse[0, 0, 10, 10] = 1.0
    blurred = gaussian_blur(impulse, kernel_size=11, sigma=5.0)
    assert blurred.sum().item() == pytest.approx(1.0)
    assert blurred[0, 0, 10, 10] == blurred.max()
    torch.testing.assert_close(blurred[0, 0], blurred[0, 0].T)
    model, xp = _positives()
    res = insertion_auc(model, xp, torch.rand_like(xp), steps=4)  # default: blur baseline
    assert res.scores.shape == (8, 5)
    with pytest.raises(ValueError, match="2 spatial dims"):
        insertion_auc(lambda t: torch.zeros(t.shape[0], 2), torch.rand(2, 5), torch.rand(2, 5))
