"""Contrastive pixel perturbation and the F1 ratio (eqs. 23-26) on hand-derived cases."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import f1_score

from captum_ifim import IFIMDecomposition
from captum_ifim.metrics import (
    ContrastivePredictions,
    contrastive_perturbation,
    contrastive_perturbation_predictions,
    f1,
    f1_ratio,
    gaussian_noise,
)

from ._metrics_models import BlockModel, block_data, block_indicator

BLOCK_FRACTION = 4 / 64  # the 2 x 2 block of an 8 x 8 image: k = 4


def test_f1_matches_hand_counts_and_sklearn():
    labels = torch.tensor([1, 1, 1, 0, 0, 0])
    preds = torch.tensor([1, 1, 0, 1, 0, 0])
    # Binary, positive class 1: TP = 2, FP = 1, FN = 1 -> 2 TP / (2 TP + FP + FN) = 2/3.
    assert f1(labels, preds, 2) == pytest.approx(2 / 3)
    labels3 = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    preds3 = torch.tensor([0, 1, 1, 1, 2, 0, 2])
    # Per class: c0 TP1 FP1 FN1 -> 1/2; c1 TP2 FP1 FN0 -> 4/5; c2 TP2 FP0 FN1 -> 4/5.
    assert f1(labels3, preds3, 3) == pytest.approx((1 / 2 + 4 / 5 + 4 / 5) / 3)
    assert f1(labels3, preds3, 3) == pytest.approx(
        f1_score(labels3.numpy(), preds3.numpy(), average="macro")
    )
    # No positive predicted and none true: 0 rather than a warning.
    assert f1(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long), 2) == 0.0


def test_block_map_gives_ratio_above_one_and_reversed_map_its_inverse():
    model = BlockModel().double().eval()
    x, y = block_data()
    perfect = block_indicator(x.shape)
    # Noise centred on the threshold: a perturbed block is a coin flip.
    kwargs = {"fractions": (BLOCK_FRACTION,), "noise_mean": 0.5, "seed": 7}
    good = contrastive_perturbation(model, x, y, perfect, **kwargs)
    bad = contrastive_perturbation(model, x, y, 1.0 - perfect, **kwargs)
    assert good.num_pixels == (4,) and good.low_rule == "bottomk_same_map"
    assert good.f1_clean == 1.0
    # The model ignores every pixel outside the block: perturbing them changes nothing.
    assert good.f1_low.item() == 1.0 and bad.f1_high.item() == 1.0
    assert good.f1_high.item() < 0.8
    assert good.ratio.item() > 1.0 > bad.ratio.item()
    # The same noise field at the same block pixels: the two ratios are exact inverses.
    assert bad.f1_low.item() == good.f1_high.item()
    assert bad.ratio.item() == pytest.approx(1.0 / good.ratio.item())


def test_constant_map_ratio_is_exactly_one():
    model = BlockModel().double().eval()
    x, y = block_data()
    res = contrastive_perturbation(model, x, y, torch.zeros_like(x), fractions=(0.05, 0.3))
    torch.testing.assert_close(res.ratio, torch.ones(2, dtype=torch.float64))


def test_ifim_maps_and_the_two_low_rules():
    model = BlockModel().double().eval()
    x, y = block_data()
    x[..., :2, :2] = 0.25 + 0.5 * y.view(-1, 1, 1, 1).double()  # a flat block, never 0
    ifim = IFIMDecomposition(model)
    sens, insens = ifim.attribute(x), ifim.attribute(x, component="insensitive")
    kwargs = {"fractions": (BLOCK_FRACTION,), "noise_mean": 0.5, "seed": 1}
    top = contrastive_perturbation(model, x, y, sens, insens, low_rule="topk_insensitive", **kwargs)
    printed = contrastive_perturbation(model, x, y, sens, insens, **kwargs)
    assert top.low_rule == "topk_insensitive" and printed.low_rule == "bottomk_insensitive"
    assert top.ratio.item() > 1.0
    # S(x) lives on the block, where the flat block makes I(x) = 0: eq. 24 as printed
    # then selects the block itself as the "low" set, and the ratio is exactly 1.
    assert printed.ratio.item() == 1.0


def test_same_seed_same_numbers_and_explicit_noise_equals_seeded_noise():
    model = BlockModel().double().eval()
    x, y = block_data()
    m = torch.rand(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    kwargs = {"fractions": (0.05, 0.1), "noise_mean": 0.3, "noise_std": 0.7}
    a = contrastive_perturbation_predictions(
        model, x, y, m + block_indicator(x.shape), seed=4, **kwargs
    )
    b = contrastive_perturbation_predictions(
        model, x, y, m + block_indicator(x.shape), seed=4, **kwargs
    )
    assert torch.equal(a.high, b.high) and torch.equal(a.low, b.low)
    eta = gaussian_noise(x, 0.3, 0.7, torch.Generator().manual_seed(4))
    c = contrastive_perturbation_predictions(
        model, x, y, m + block_indicator(x.shape), noise=eta, seed=4, fractions=(0.05, 0.1)
    )
    assert torch.equal(a.high, c.high) and torch.equal(a.low, c.low)


def test_gaussian_noise_is_seeded_and_has_the_requested_moments():
    like = torch.zeros(400, 3, 8, 8)
    mean, std = (
        torch.tensor([0.5, -1.0, 2.0]).view(3, 1, 1),
        torch.tensor([1.0, 0.1, 3.0]).view(3, 1, 1),
    )
    a = gaussian_noise(like, mean, std, torch.Generator().manual_seed(0))
    b = gaussian_noise(like, mean, std, torch.Generator().manual_seed(0))
    c = gaussian_noise(like, mean, std, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == like.dtype and a.shape == like.shape
    torch.testing.assert_close(a.mean(dim=(0, 2, 3)), mean.flatten(), atol=0.05, rtol=0.02)
    torch.testing.assert_close(a.std(dim=(0, 2, 3)), std.flatten(), atol=0.01, rtol=0.02)
    with pytest.raises(ValueError, match="expected noise mean broadcastable"):
        gaussian_noise(like, torch.zeros(4, 1, 1), 1.0)
    with pytest.raises(ValueError, match="std >= 0"):
        gaussian_noise(like, 0.0, -1.0)


def test_multichannel_location_is_perturbed_in_every_channel():
    seen: list[torch.Tensor] = []

    class Spy(BlockModel):
        def forward(self, x):
            seen.append(x.clone())
            return super().forward(x)

    model = Spy().double().eval()
    x, y = block_data(num=4, channels=3)
    contrastive_perturbation_predictions(model, x, y, torch.rand_like(x), fractions=(3 / 64,))
    for perturbed in seen[1:]:
        changed = perturbed != x  # (N, 3, 8, 8)
        assert torch.equal(changed.sum(dim=(2, 3)), torch.full((4, 3), 3))
        assert torch.equal(changed.all(dim=1), changed.any(dim=1))


def test_batching_gives_identical_predictions_and_bounded_calls():
    model = BlockModel().double().eval()
    x, y = block_data(num=10)
    m = torch.rand_like(x)
    whole = contrastive_perturbation_predictions(model, x, y, m, fractions=(0.05, 0.2))
    model.calls, model.batch_sizes = 0, []
    chunked = contrastive_perturbation_predictions(
        model, x, y, m, fractions=(0.05, 0.2), max_examples_per_batch=3
    )
    assert model.calls == 4 * (1 + 2 * 2) and max(model.batch_sizes) == 3
    assert torch.equal(whole.high, chunked.high) and torch.equal(whole.low, chunked.low)
    # Pooling batches one by one gives the whole-set F1.
    parts = [
        contrastive_perturbation_predictions(
            model,
            x[s],
            y[s],
            m[s],
            fractions=(0.05, 0.2),
            noise=gaussian_noise(x, 0, 1, torch.Generator().manual_seed(0))[s],
        )
        for s in (slice(0, 6), slice(6, 10))
    ]
    pooled = f1_ratio(ContrastivePredictions.cat(parts))
    direct = f1_ratio(whole)
    torch.testing.assert_close(pooled.ratio, direct.ratio, equal_nan=True)
    assert pooled.num_examples == 10


def test_single_sigmoid_logit_equals_two_class_softmax():
    x, y = block_data()
    m = torch.rand_like(x)
    two = contrastive_perturbation(BlockModel().double().eval(), x, y, m, fractions=(0.05,))
    one = contrastive_perturbation(
        BlockModel(single_logit=True).double().eval(), x, y, m, fractions=(0.05,), output="sigmoid"
    )
    assert one.f1_clean == two.f1_clean
    torch.testing.assert_close(one.ratio, two.ratio)


def test_zero_high_set_f1_gives_inf_or_nan_with_a_warning():
    model = BlockModel().double().eval()
    x, y = block_data()
    perfect = block_indicator(x.shape)
    # Noise far below the threshold: perturbing the block predicts class 0 everywhere.
    with pytest.warns(UserWarning, match="ratio is inf"):
        res = contrastive_perturbation(
            model, x, y, perfect, fractions=(BLOCK_FRACTION, 1.0), noise_mean=-10.0, noise_std=0.0
        )
    assert res.f1_high.tolist() == [0.0, 0.0]
    assert res.ratio[0].item() == float("inf")  # F1 low = 1, F1 high = 0
    assert torch.isnan(res.ratio[1])  # every pixel perturbed in both sets: 0 / 0


def test_macro_average_for_three_classes_is_reported():
    class Three(torch.nn.Module):
        def forward(self, x):
            s = x[:, 0, :2, :2].mean(dim=(1, 2))  # class c has its centre at c - 1
            return -10 * torch.stack([(s + 1) ** 2, s**2, (s - 1) ** 2], dim=1)

    x, _ = block_data(num=12)
    x[:, :, :2, :2] = torch.tensor([-1.0, 0.0, 1.0]).repeat(4).view(12, 1, 1, 1)
    y = torch.tensor([0, 1, 2] * 4)
    res = contrastive_perturbation(
        Three(), x, y, block_indicator(x.shape), fractions=(BLOCK_FRACTION,)
    )
    assert res.average == "macro" and res.f1_clean == 1.0 and res.f1_low.item() == 1.0
