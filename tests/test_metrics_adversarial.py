"""FGSM (eq. 27) and the adversarial correlation of maps (Sec. IV-F)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import Saliency
from torch import nn

from captum_ifim.metrics import (
    CorrelationSummary,
    adversarial_correlation,
    fgsm,
    pearson_per_sample,
)

from ._metrics_models import LinearLogit


def _linear_case(single_logit: bool = False):
    g = torch.Generator().manual_seed(0)
    signs = torch.randint(0, 2, (1, 2, 4, 4), generator=g).double() * 2 - 1
    weight = signs * torch.rand(1, 2, 4, 4, generator=g, dtype=torch.float64).add(0.5)
    # Dyadic inputs and eps: x +- eps is exact in floating point.
    x = torch.randint(-16, 16, (6, 2, 4, 4), generator=g).double() / 16
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    return LinearLogit(weight, single_logit).eval(), x, y, signs


def test_fgsm_moves_every_pixel_by_exactly_eps_in_the_hand_derived_direction():
    model, x, y, signs = _linear_case()
    before = x.clone()
    eps = 0.125
    x_adv = fgsm(model, x, y, eps)
    # CE of logits [0, z], z = w . x: dL/dz = p1 - y, so sign(grad_x L) = sign(p1 - y) sign(w)
    # = -sign(w) for y = 1 and +sign(w) for y = 0.
    expected = torch.where(y.view(-1, 1, 1, 1) == 1, -signs, signs)
    assert torch.equal(x_adv - x, eps * expected)
    assert torch.equal(x, before) and not x.requires_grad and x.grad is None
    assert not x_adv.requires_grad and x_adv.dtype == x.dtype


def test_fgsm_clamp_output_heads_and_batching():
    model, x, y, _ = _linear_case()
    x_adv = fgsm(model, x, y, 0.5, clamp=(-0.25, 0.25))
    assert x_adv.min() >= -0.25 and x_adv.max() <= 0.25
    plain = fgsm(model, x, y, 0.125)
    assert torch.equal(plain, fgsm(model, x, y, 0.125, max_examples_per_batch=4))
    single, *_ = _linear_case(single_logit=True)
    assert torch.equal(plain, fgsm(single, x, y, 0.125, output="sigmoid"))
    probs = nn.Sequential(model, nn.Softmax(dim=1)).eval()
    log_probs = nn.Sequential(model, nn.LogSoftmax(dim=1)).eval()
    assert torch.equal(plain, fgsm(probs, x, y, 0.125, output="probs"))
    assert torch.equal(plain, fgsm(log_probs, x, y, 0.125, output="log_probs"))


def test_fgsm_matches_autograd_of_cross_entropy_for_three_classes():
    torch.manual_seed(0)
    model = (
        nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3)).double().eval()
    )
    x, y = torch.randn(5, 3, 2, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 1, 0])
    for n in range(5):
        xn = x[n : n + 1].clone().requires_grad_(True)
        nn.functional.cross_entropy(model(xn), y[n : n + 1]).backward()
        torch.testing.assert_close(fgsm(model, x, y, 0.01)[n], x[n] + 0.01 * xn.grad[0].sign())


def test_pearson_matches_numpy_and_self_correlation_is_one():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 3, 4, 4, generator=g)
    b = 2.5 * a + torch.randn(5, 3, 4, 4, generator=g)
    r = pearson_per_sample(a, b)
    reference = [
        np.corrcoef(a[n].flatten().numpy(), b[n].flatten().numpy())[0, 1] for n in range(5)
    ]
    np.testing.assert_allclose(r.numpy(), reference, rtol=1e-6)
    torch.testing.assert_close(pearson_per_sample(a, a), torch.ones(5, dtype=torch.float64))
    torch.testing.assert_close(
        pearson_per_sample(a, -3 * a + 1), -torch.ones(5, dtype=torch.float64)
    )
    const = a.clone()
    const[1] = 7.0
    r = pearson_per_sample(const, b)
    assert torch.isnan(r[1]) and not torch.isnan(r[[0, 2, 3, 4]]).any()


def test_input_independent_map_correlates_to_exactly_one():
    model, x, y, _ = _linear_case()
    fixed = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    res = adversarial_correlation(model, lambda inp, target: fixed.expand_as(inp), x, y, 0.125)
    torch.testing.assert_close(res.per_example, torch.ones(6, dtype=torch.float64))
    assert res.mean == pytest.approx(1.0) and res.std == pytest.approx(0.0, abs=1e-12)
    assert (res.num_valid, res.num_undefined) == (6, 0)


def test_identity_map_correlation_equals_numpy_on_the_fgsm_pair():
    model, x, y, _ = _linear_case()
    res = adversarial_correlation(model, lambda inp, target: inp, x, y, 0.125)
    x_adv = fgsm(model, x, y, 0.125)
    reference = [np.corrcoef(x[n].flatten(), x_adv[n].flatten())[0, 1] for n in range(6)]
    np.testing.assert_allclose(res.per_example.numpy(), reference, rtol=1e-12)
    assert res.mean == pytest.approx(float(np.mean(reference)))
    assert res.std == pytest.approx(float(np.std(reference)))


def test_constant_maps_are_counted_and_left_out_never_zero():
    model, x, y, _ = _linear_case()

    def explainer(inp, target):
        maps = inp.clone()
        maps[:2] = 0.0  # samples 0 and 1: constant maps
        return maps

    res = adversarial_correlation(model, explainer, x, y, 0.125)
    assert torch.isnan(res.per_example[:2]).all() and (res.num_valid, res.num_undefined) == (4, 2)
    valid = res.per_example[2:]
    assert res.mean == pytest.approx(valid.mean().item())
    none = CorrelationSummary.from_values(torch.full((3,), float("nan")))
    assert np.isnan(none.mean) and none.num_undefined == 3


def test_map_target_and_captum_explainer_and_state():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 3)).double()
    model.train()  # no BatchNorm/Dropout: allowed, and left in training mode
    x, y = torch.randn(4, 2, 2, 2, dtype=torch.float64), torch.tensor([2, 0, 1, 2])
    targets: list[torch.Tensor] = []

    def recorder(inp, target):
        targets.append(target)
        return inp

    adversarial_correlation(model, recorder, x, y, 0.1)
    assert torch.equal(targets[0], y) and torch.equal(targets[1], y)
    targets.clear()
    adversarial_correlation(model, recorder, x, y, 0.1, map_target="prediction")
    assert torch.equal(targets[0], model(x).argmax(1)) and torch.equal(targets[1], targets[0])
    with pytest.warns(UserWarning, match="required_grads"):
        res = adversarial_correlation(model, Saliency(model), x, y, 0.1, max_examples_per_batch=3)
    # A linear model's saliency |W_y| does not depend on x.
    torch.testing.assert_close(res.per_example, torch.ones(4, dtype=torch.float64))
    assert model.training and not x.requires_grad


def test_precomputed_adversarial_inputs_are_used():
    model, x, y, _ = _linear_case()
    x_adv = fgsm(model, x, y, 0.125)
    a = adversarial_correlation(model, lambda inp, target: inp, x, y, 0.125)
    b = adversarial_correlation(model, lambda inp, target: inp, x, y, 0.0, adversarial_inputs=x_adv)
    torch.testing.assert_close(a.per_example, b.per_example)
