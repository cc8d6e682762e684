"""Bad input gets a clear error, changes nothing; the caller's objects are left as found."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from captum_ifim import IFIMDecomposition


def _snapshot(model: nn.Module):
    return (
        copy.deepcopy(model.state_dict()),
        [m.training for m in model.modules()],
        [p.grad for p in model.parameters()],
        [p.requires_grad for p in model.parameters()],
        [
            (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
            for m in model.modules()
        ],
    )


def _assert_same(before, after):
    for key, value in before[0].items():
        assert torch.equal(value, after[0][key]), key
    assert before[1:] == after[1:]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"energy": 0.0}, r"energy in \(0, 1\]"),
        ({"energy": 1.5}, r"energy in \(0, 1\]"),
        ({"component": "both"}, "component to be one of"),
        ({"internal_batch_size": 0}, "internal_batch_size"),
    ],
)
def test_bad_arguments(make_net, kwargs, message):
    ifim = IFIMDecomposition(make_net())
    with pytest.raises(ValueError, match=message):
        ifim.attribute(torch.randn(2, 1, 6, 6, dtype=torch.float64), **kwargs)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_inputs(make_net, bad):
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    x[1, 0, 2, 2] = bad
    before = x.clone()
    with pytest.raises(ValueError, match="expected finite inputs"):
        IFIMDecomposition(make_net()).attribute(x)
    assert torch.equal(x.nan_to_num(), before.nan_to_num())


def test_unknown_output_head(make_net):
    with pytest.raises(ValueError, match="output to be one of"):
        IFIMDecomposition(make_net(), output="softmax")


def test_output_not_two_dimensional():
    model = nn.Sequential(nn.Linear(4, 3), nn.Unflatten(1, (3, 1))).eval()
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        IFIMDecomposition(model).attribute(torch.randn(2, 4))


def test_single_logit_with_softmax_head_points_to_sigmoid():
    with pytest.raises(ValueError, match="output='sigmoid'"):
        IFIMDecomposition(nn.Linear(4, 1).eval()).attribute(torch.randn(2, 4))


def test_probs_head_on_non_probabilities(make_net):
    with pytest.raises(ValueError, match="expected probabilities"):
        IFIMDecomposition(make_net(), output="probs").attribute(
            torch.randn(2, 1, 6, 6, dtype=torch.float64)
        )
    softplus = nn.Sequential(make_net(), nn.Softplus()).eval()
    with pytest.raises(ValueError, match="sum to 1"):
        IFIMDecomposition(lambda x: softplus(x) / 10, output="probs").attribute(
            torch.randn(2, 1, 6, 6, dtype=torch.float64)
        )


@pytest.mark.parametrize("layer", [nn.BatchNorm1d(8), nn.Dropout(0.5)])
def test_training_mode_with_batch_dependent_layers(layer):
    model = nn.Sequential(nn.Linear(4, 8), layer, nn.Linear(8, 3)).train()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        IFIMDecomposition(model).attribute(torch.randn(3, 4))
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        IFIMDecomposition(model.forward).attribute(torch.randn(3, 4))
    _assert_same(before, _snapshot(model))


def test_training_mode_without_such_layers_is_fine():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).train()
    IFIMDecomposition(model).attribute(torch.randn(3, 4))
    assert model.training


@pytest.mark.parametrize(
    ("inputs", "error", "message"),
    [
        (torch.randn(0, 1, 6, 6), ValueError, "non-empty batch"),
        (torch.ones(2, 1, 6, 6, dtype=torch.long), TypeError, "floating point"),
        ((torch.randn(2, 3), torch.randn(3, 3)), ValueError, "same batch size"),
        ([torch.randn(2, 3)], TypeError, "torch.Tensor"),
    ],
)
def test_malformed_inputs(inputs, error, message):
    model = nn.Linear(3, 3).eval()
    with pytest.raises(error, match=message):
        IFIMDecomposition(lambda *xs: model(xs[0].float())).attribute(inputs)


def test_caller_objects_left_as_found(make_net):
    model = make_net(num_classes=3)
    model.conv.register_forward_hook(lambda *args: None)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    leaf = torch.randn(2, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    leaf.grad = torch.full_like(leaf, 3.0)
    before, x_before, leaf_before = _snapshot(model), x.clone(), leaf.detach().clone()
    out_before = model(x)
    ifim = IFIMDecomposition(model)
    ifim.attribute(x)
    ifim.decompose(leaf, energy=1.0)
    _assert_same(before, _snapshot(model))
    assert torch.equal(model(x), out_before)
    assert not x.requires_grad and x.grad is None and torch.equal(x, x_before)
    assert leaf.requires_grad and torch.equal(leaf.grad, torch.full_like(leaf, 3.0))
    assert torch.equal(leaf.detach(), leaf_before)
    # The result does not hold on to the caller's graph.
    assert not ifim.attribute(leaf).requires_grad


def test_batch_of_one_and_two_classes(make_net):
    result = IFIMDecomposition(make_net(num_classes=2)).decompose(
        torch.randn(1, 1, 6, 6, dtype=torch.float64)
    )
    assert result.eigenvalues.shape == (1, 1)
    assert result.num_components.tolist() == [1]
    assert torch.isfinite(result.sensitive).all()


def test_target_is_ignored(make_net):
    model = make_net(num_classes=3)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    ifim = IFIMDecomposition(model)
    torch.testing.assert_close(ifim.attribute(x, target=0), ifim.attribute(x, target=[2, 1]))
