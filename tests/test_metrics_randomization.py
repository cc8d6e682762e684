"""Cascading model-parameter randomization (Adebayo et al., 2018)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from captum.attr import Saliency
from scipy.stats import spearmanr
from torch import nn

from captum_ifim.metrics import (
    model_parameter_randomization,
    pearson_per_sample,
    spearman_per_sample,
)
from captum_ifim.metrics._randomization import default_reinit

pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


def _model():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).double().eval()


def test_spearman_matches_scipy_with_ties():
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 4, (5, 30), generator=g).double()  # many ties
    b = a + torch.randint(0, 3, (5, 30), generator=g).double()
    ours = spearman_per_sample(a, b)
    for n in range(5):
        assert ours[n].item() == pytest.approx(spearmanr(a[n].numpy(), b[n].numpy()).statistic)
    assert torch.isnan(spearman_per_sample(torch.ones(1, 4), torch.rand(1, 4))).all()


def test_callers_model_is_untouched_and_layers_go_top_down():
    model = _model()
    before = copy.deepcopy(model.state_dict())
    x = torch.randn(4, 6, dtype=torch.float64)
    res = model_parameter_randomization(model, Saliency, x, 0)
    assert res.layers == ("2", "0") and res.spearman_abs.shape == (2, 4)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    assert not model.training and not x.requires_grad
    # A one-hidden-layer net: randomizing all of it changes the saliency map.
    assert (res.spearman_abs[-1] < 0.99).all()


def test_model_independent_explainer_stays_perfectly_similar():
    x = torch.randn(3, 6, dtype=torch.float64)
    res = model_parameter_randomization(_model(), lambda m: lambda inp, target: inp, x)
    for values in (res.spearman_abs, res.spearman, res.pearson):
        torch.testing.assert_close(values, torch.ones(2, 3, dtype=torch.float64))


def test_cascading_and_independent_steps_match_manual_randomization():
    model = _model()
    x = torch.randn(4, 6, dtype=torch.float64)
    original = Saliency(model).attribute(x, target=1, abs=False)

    def signed(m):
        return lambda inp, target: Saliency(m).attribute(inp, target=target, abs=False)

    for order in ("cascading", "independent"):
        res = model_parameter_randomization(model, signed, x, 1, order=order, seed=11)
        manual = copy.deepcopy(model)
        g = torch.Generator().manual_seed(11)
        default_reinit(manual[2], g)
        first = Saliency(manual).attribute(x, target=1, abs=False)
        if order == "independent":
            manual = copy.deepcopy(model)
        default_reinit(manual[0], g)
        second = Saliency(manual).attribute(x, target=1, abs=False)
        torch.testing.assert_close(res.pearson[0], pearson_per_sample(original, first))
        torch.testing.assert_close(res.pearson[1], pearson_per_sample(original, second))
        torch.testing.assert_close(res.spearman[1], spearman_per_sample(original, second))


def test_same_seed_same_numbers_and_default_reinit_bounds():
    model, x = _model(), torch.randn(3, 6, dtype=torch.float64)
    a = model_parameter_randomization(model, Saliency, x, 0, seed=5)
    b = model_parameter_randomization(model, Saliency, x, 0, seed=5)
    c = model_parameter_randomization(model, Saliency, x, 0, seed=6)
    assert torch.equal(a.spearman_abs, b.spearman_abs)
    assert not torch.equal(a.spearman_abs, c.spearman_abs)
    layer = nn.Linear(25, 4).double()
    default_reinit(layer, torch.Generator().manual_seed(0))
    for p in layer.parameters():
        assert p.abs().max() <= 1 / np.sqrt(25)


def test_custom_layers_reinit_and_errors():
    model, x = _model(), torch.randn(2, 6, dtype=torch.float64)
    calls: list[str] = []

    def reinit(module, generator):
        calls.append(type(module).__name__)
        default_reinit(module, generator)

    res = model_parameter_randomization(model, Saliency, x, 0, layers=["0"], reinit=reinit)
    assert res.layers == ("0",) and calls == ["Linear"]
    with pytest.raises(ValueError, match="unknown"):
        model_parameter_randomization(model, Saliency, x, 0, layers=["fc"])
    with pytest.raises(ValueError, match="order"):
        model_parameter_randomization(model, Saliency, x, 0, order="bottom-up")
    bn = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4)).train()
    with pytest.raises(ValueError, match="eval mode"):
        model_parameter_randomization(bn, Saliency, x, 0)
