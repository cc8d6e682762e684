"""DeepSHAP on a prepared copy: closed forms, additivity on ResNet18/VGG16, the copy itself."""

from __future__ import annotations

import operator
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import fx, nn

from captum_ifim import DeepSHAP
from captum_ifim._baselines._model_preparation import prepare_model_for_deepshap
from captum_ifim._baselines._rescale_modules import MaxPool2dAsReLUs
from tests._baseline_models import (
    assert_same_state,
    images,
    model_state,
    resnet18,
    small_cnn,
)
from tests._scaled_model import Scaled

pytest.importorskip("shap")


def test_linear_model_gets_weight_times_difference_from_the_background_mean():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).double().eval()
    background = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64)
    values = DeepSHAP(model, background).attribute(x, target=[1, 2])
    weight = model[1].weight.detach().reshape(3, 3, 2, 2)
    expected = torch.stack([weight[t] * (x[n] - background.mean(0)) for n, t in enumerate([1, 2])])
    torch.testing.assert_close(values, expected)


def test_one_relu_unit_follows_the_rescale_rule():
    """f_t = v_t relu(w.x + b) + c_t: phi = mean_r v_t (relu(z_x) - relu(z_r)) / (z_x - z_r)
    w (x - r) over the background references r (DeepLIFT rescale, averaged)."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 1), nn.ReLU(), nn.Linear(1, 2))
    model = model.double().eval()
    background = torch.randn(4, 1, 2, 3, dtype=torch.float64)
    x = torch.randn(3, 1, 2, 3, dtype=torch.float64)
    w, b = model[1].weight.detach()[0], model[1].bias.detach()[0]
    v = model[3].weight.detach()[:, 0]
    targets = [0, 1, 1]
    z_ref = background.flatten(1) @ w + b
    expected = []
    for n, t in enumerate(targets):
        z = x[n].flatten() @ w + b
        multiplier = (z.clamp(min=0) - z_ref.clamp(min=0)) / (z - z_ref)
        terms = multiplier[:, None] * w * (x[n].flatten() - background.flatten(1))
        expected.append(v[t] * terms.mean(0).reshape(1, 2, 3))
    values = DeepSHAP(model, background).attribute(x, target=targets)
    torch.testing.assert_close(values, torch.stack(expected))


@pytest.mark.parametrize(
    ("kernel", "stride", "padding"),
    [(3, 2, 1), (3, 1, 1), (2, 1, 0), (3, 2, 0), ((3, 2), (2, 1), (1, 0)), (2, 2, 0)],
)
def test_max_pool_as_relus_is_max_pool(kernel, stride, padding):
    pool = nn.MaxPool2d(kernel, stride, padding)
    x = torch.randn(2, 3, 11, 10, dtype=torch.float64)
    torch.testing.assert_close(MaxPool2dAsReLUs(pool)(x), pool(x), rtol=0, atol=1e-12)


def test_additivity_holds_on_resnet18_and_the_model_is_left_as_found():
    """The failure of the issue: shap on ResNet18 (in-place and reused ReLUs, ``+=``,
    the overlapping stem max pool) and hooks left behind that break Captum's Saliency.
    VGG16 (in-place ReLUs) gets the same checks in the registry contract tests."""
    from captum.attr import Saliency

    model = resnet18(3)
    x, background = images(2, 3, seed=1), images(2, 3, seed=2)
    before = model_state(model)
    with torch.no_grad():
        outputs_before = model(x)
    values = DeepSHAP(model, background).attribute(x, target=[2, 0])
    with torch.no_grad():
        expected = model(x)[[0, 1], [2, 0]] - model(background)[:, [2, 0]].mean(0)
    torch.testing.assert_close(values.sum((1, 2, 3)), expected, rtol=1e-4, atol=1e-5)
    assert_same_state(before, model_state(model))
    with torch.no_grad():
        assert torch.equal(model(x), outputs_before)
    saliency = Saliency(model).attribute(x.clone().requires_grad_(), target=0)
    assert saliency.shape == x.shape


def test_prepared_resnet_runs_each_leaf_once_without_in_place_ops_on_shared_storage():
    model = resnet18(1)
    prepared = prepare_model_for_deepshap(model)
    x = images(2, 1)
    with torch.no_grad():
        torch.testing.assert_close(prepared(x), model(x), rtol=1e-5, atol=1e-6)
    calls: dict[str, int] = {}
    handles = [
        module.register_forward_hook(
            lambda m, i, o, name=name: calls.update({name: calls.get(name, 0) + 1})
        )
        for name, module in prepared.named_modules()
        if not list(module.children())
    ]
    try:
        with torch.no_grad():
            prepared(x)
    finally:
        for handle in handles:
            handle.remove()
    assert calls and set(calls.values()) == {1}
    assert not any(getattr(m, "inplace", False) for m in prepared.modules())
    assert isinstance(prepared, fx.GraphModule)
    assert not any(node.target is operator.iadd for node in prepared.graph.nodes)
    assert prepared.conv1.weight.data_ptr() == model.conv1.weight.data_ptr()
    assert not any(p.requires_grad for p in prepared.parameters())
    assert all(p.requires_grad for p in model.parameters())


class _Functional(nn.Module):
    """Functional ReLU/sigmoid, a reused ReLU, ``+=`` and an in-place method."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.conv(x))
        h += 0.5
        h = F.relu(h - 0.7, inplace=True)
        h = self.act(h - 0.1)
        pooled = h.mean((2, 3))
        pooled.mul_(2.0)
        return torch.sigmoid(self.fc(pooled)) + pooled.relu().sum(1, keepdim=True)


def test_functional_nonlinearities_and_in_place_ops_are_rewritten_exactly():
    torch.manual_seed(2)
    model = _Functional().double().eval()
    prepared = prepare_model_for_deepshap(model)
    x = torch.randn(3, 2, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(prepared(x), model(x), rtol=0, atol=0)
    functions = {node.target for node in prepared.graph.nodes if node.op == "call_function"}
    methods = {node.target for node in prepared.graph.nodes if node.op == "call_method"}
    assert not functions & {F.relu, torch.sigmoid, operator.iadd}
    assert not methods & {"relu", "mul_"}
    background = torch.randn(3, 2, 5, 5, dtype=torch.float64)
    values = DeepSHAP(model, background, additivity_tolerance=1e-8).attribute(x, target=[0, 1, 2])
    assert values.shape == x.shape


def test_in_place_op_on_a_view_is_left_alone_with_a_warning():
    class ViewInPlace(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = x.flatten(1) * 1.0
            h[:, :2].mul_(3.0)
            return self.fc(h)

    model = ViewInPlace().eval()
    with pytest.warns(UserWarning, match="in-place mul_ on a view"):
        prepared = prepare_model_for_deepshap(model)
    x = torch.randn(2, 1, 2, 2)
    torch.testing.assert_close(prepared(x), model(x), rtol=0, atol=0)


def test_untraceable_model_falls_back_with_a_warning_and_stays_additive():
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = small_cnn(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[-1] > 0 and bool(x.sum() > -1e9):  # data-dependent: fx cannot trace
                return self.body(x)
            return -self.body(x)

    model = Branchy().eval()
    x, background = torch.randn(2, 1, 8, 8), torch.randn(3, 1, 8, 8)
    with pytest.warns(UserWarning, match="could not trace"):
        values = DeepSHAP(model, background).attribute(x, target=[1, 2])
    with torch.no_grad():
        expected = model(x)[[0, 1], [1, 2]] - model(background)[:, [1, 2]].mean(0)
    torch.testing.assert_close(values.sum((1, 2, 3)), expected, rtol=1e-4, atol=1e-5)


def test_an_operation_without_an_exact_rule_is_refused_before_any_hook():
    """A product of two input-dependent tensors has no DeepLIFT rule: an error naming it,
    raised before shap hooks anything; ``check_additivity=False`` warns and goes on."""

    class Product(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(8, 2), nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.flatten(1)
            return self.a(x) * self.b(x)  # a product: not a DeepLIFT-supported op

    torch.manual_seed(4)
    model = Product().eval()
    before = model_state(model)
    x, background = 3 * torch.randn(2, 2, 2, 2), torch.zeros(2, 2, 2, 2)
    hooked: list[str] = []
    original = nn.Module.register_full_backward_hook

    def spy(self: nn.Module, *args: object, **kwargs: object) -> object:
        hooked.append(type(self).__name__)
        return original(self, *args, **kwargs)

    nn.Module.register_full_backward_hook = spy  # type: ignore[method-assign]
    try:
        with pytest.raises(ValueError, match="product of two input-dependent tensors") as caught:
            DeepSHAP(model, background).attribute(x, target=0)
    finally:
        nn.Module.register_full_backward_hook = original  # type: ignore[method-assign]
    assert hooked == []
    message = str(caught.value)
    assert "in the model's own forward" in message and "saliency" in message
    assert "check_additivity=False" in message
    with pytest.warns(UserWarning, match="approximate DeepSHAP values"):
        values = DeepSHAP(model, background, check_additivity=False).attribute(x, target=0)
    assert torch.isfinite(values).all()
    assert_same_state(before, model_state(model, copy_tensors=False))


def test_additional_forward_args_are_sliced_per_sample():
    """DeepSHAP of x -> net(x * s) against b equals s times that of net at x s against
    b s, i.e. DeepSHAP of net on (x s; b s)."""

    net = small_cnn(1)
    model = Scaled(net).eval()
    x, background = torch.randn(2, 1, 8, 8), torch.randn(3, 1, 8, 8)
    scale = torch.tensor([0.5, 2.0])
    values = DeepSHAP(model, background).attribute(x, target=[2, 1], additional_forward_args=scale)
    for n, t in enumerate([2, 1]):
        s = float(scale[n])
        expected = DeepSHAP(net, background * s).attribute(x[n : n + 1] * s, target=t)
        torch.testing.assert_close(values[n : n + 1], expected, rtol=1e-4, atol=1e-6)


def test_bad_background_and_targets_are_refused():
    model = small_cnn(1)
    with pytest.raises(TypeError, match="background"):
        DeepSHAP(model, background=[[0.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="additivity_tolerance"):
        DeepSHAP(model, torch.zeros(1, 1, 8, 8), additivity_tolerance=0)
    explainer = DeepSHAP(model, torch.zeros(2, 1, 8, 8))
    # What is expected (the background's shape per sample), then what came (the inputs).
    expected = r"expected inputs shaped like the background, \(N, 1, 8, 8\), got inputs of "
    with pytest.raises(ValueError, match=expected + r"shape \(2, 1, 4, 4\)"):
        explainer.attribute(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"expected targets in \[0, 3\)"):
        explainer.attribute(torch.zeros(2, 1, 8, 8), target=[0, 5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explainer.attribute(torch.randn(1, 1, 8, 8))
