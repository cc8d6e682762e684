"""The library at its edges (issue 21): Captum's NoiseTunnel around every registered
method, DeepSHAP refusing models it cannot attribute before any hook, and clear errors
for inputs the metrics and methods cannot take."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from captum_ifim import RegisteredMethod, available_methods, build_method, get_method_spec
from captum_ifim._methods._captum_specs import CAPTUM_ENTRIES
from tests._baseline_models import assert_same_state, images, model_state, small_cnn

pytest.importorskip("pytorch_grad_cam")
pytest.importorskip("shap")

SIDE = 16
#: Captum's classes with few samples, steps and windows (tests/test_methods_captum_classes.py
#: checks their defaults), and those whose maps multiply by the inputs (Captum's flag).
CAPTUM_FAST = {
    "n_samples": 2,
    "n_steps": 2,
    "grid_cells": 2,
    "window_fraction": 0.25,
    "stride_fraction": 0.25,
}
MULTIPLYING = {entry.name for entry in CAPTUM_ENTRIES if entry.multiplies_by_inputs}
#: The checks the registry's wrapper makes before any method runs (shapes, meta targets) run
#: on one Captum entry per family and a sampling one, not on every Captum entry.
CAPTUM_SAMPLE = ("input-x-gradient", "deeplift", "occlusion", "kernel-shap", "lrp", "layer-gradcam")
WRAPPER_CHECKED = [
    name
    for name in available_methods()
    if name in CAPTUM_SAMPLE or name not in {entry.name for entry in CAPTUM_ENTRIES}
]


def _build(name: str, model: nn.Module) -> RegisteredMethod:
    options: dict[str, Any] = {}
    if name == "integrated-gradients":
        options["n_steps"] = 2
    spec = get_method_spec(name)
    options.update({k: v for k, v in CAPTUM_FAST.items() if k in spec.options})
    if spec.needs_background:
        options["background"] = images(1, 1, side=SIDE, seed=7)
        if "additivity_tolerance" in spec.options:  # DeepSHAP's
            options["additivity_tolerance"] = 1e-4
    return build_method(name, model, **options)


# 1. NoiseTunnel(build_method(name, model)) ---------------------------------------------------


@pytest.mark.parametrize("name", available_methods())
def test_noise_tunnel_smooths_every_registered_method_with_its_fixed_options(name: str) -> None:
    """NoiseTunnel's mean over n noisy copies is the mean of the method's own maps of those
    copies (same draws), and with no noise it is the method's map: the fixed options stay
    (``ifim-insensitive`` gives I(x) = x - S(x), not S(x)). NoiseTunnel runs the method
    under ``torch.no_grad()``, so this also checks that gradient methods still work there."""
    from captum.attr import NoiseTunnel

    model = small_cnn(1)
    before = model_state(model)
    method = _build(name, model)
    x = images(2, 1, side=SIDE, seed=3).requires_grad_()
    targets = [0, 2]
    own = method.attribute(x, target=targets)
    scale = float(own.abs().amax())
    assert scale > 0
    tunnel = NoiseTunnel(method)
    assert tunnel.multiplies_by_inputs == (name == "integrated-gradients" or name in MULTIPLYING)

    still = tunnel.attribute(x, nt_samples=3, stdevs=0.0, target=targets)
    assert type(still) is torch.Tensor and still.shape == x.shape and still.dtype == x.dtype
    torch.testing.assert_close(still, own, rtol=1e-5, atol=1e-6 * scale)

    n, stdev = 3, 0.2
    torch.manual_seed(11)
    smoothed = tunnel.attribute(x, nt_samples=n, stdevs=stdev, target=targets)
    torch.manual_seed(11)  # NoiseTunnel's draws: torch.normal(0, stdev) on the global RNG
    noisy = x.detach().repeat_interleave(n, 0) + torch.normal(
        0, torch.full((2 * n, 1, SIDE, SIDE), stdev)
    )
    per_copy = method.attribute(noisy, target=torch.tensor(targets).repeat_interleave(n))
    torch.testing.assert_close(
        smoothed, per_copy.view(2, n, 1, SIDE, SIDE).mean(1), rtol=1e-4, atol=1e-5 * scale
    )
    assert not torch.allclose(smoothed, own, rtol=1e-3, atol=0)

    assert_same_state(before, model_state(model, copy_tensors=False))
    assert x.requires_grad and x.grad is None and x.is_leaf


def test_noise_tunnel_keeps_the_insensitive_component() -> None:
    """``ifim-insensitive`` through NoiseTunnel is x - S(x), with S(x) the sensitive map."""
    from captum.attr import NoiseTunnel

    model = small_cnn(1)
    x = images(2, 1, side=SIDE, seed=4)
    sensitive = build_method("ifim-sensitive", model).attribute(x)
    insensitive = NoiseTunnel(build_method("ifim-insensitive", model)).attribute(
        x, nt_samples=2, stdevs=0.0
    )
    torch.testing.assert_close(insensitive, x - sensitive, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(insensitive, sensitive, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("name", ["saliency", "integrated-gradients", "gradcam", "ifim-sensitive"])
def test_gradient_methods_work_under_no_grad(name: str) -> None:
    model = small_cnn(1)
    method = _build(name, model)
    x = images(2, 1, side=SIDE, seed=5)
    own = method.attribute(x, target=[1, 0])
    with torch.no_grad():
        quiet = method.attribute(x, target=[1, 0])
    assert torch.is_grad_enabled()
    torch.testing.assert_close(quiet, own, rtol=0, atol=0)


# 2. DeepSHAP on a model torch.fx cannot trace ----------------------------------------------


class _Untraceable(nn.Module):
    """conv-BN-ReLU, a residual conv, pool, linear; its forward branches on the channel
    count (as a Hugging Face ResNet's embedding does), so torch.fx cannot trace it. The
    residual sum is in place on the BatchNorm's output (``in_place="module output"``), in
    place on a sum no module returned (``"own tensor"``), or out of place (``None``)."""

    def __init__(self, in_place: str | None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.in_place = in_place
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.residual_act = nn.ReLU()
        self.residual = nn.Conv2d(4, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4, 3)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.conv.in_channels:
            raise ValueError("wrong channel count")
        hidden = self.norm(self.conv(x))
        branch = self.residual(self.residual_act(hidden))
        if self.in_place == "module output":
            hidden += branch
        elif self.in_place == "own tensor":
            hidden = hidden + branch
            hidden *= 0.5
        else:
            hidden = hidden + branch
        return self.head(self.pool(self.act(hidden)).flatten(1))


@pytest.fixture
def full_backward_hooks(monkeypatch: pytest.MonkeyPatch) -> list[nn.Module]:
    """Every module shap's DeepExplainer puts a full backward hook on."""
    registered: list[nn.Module] = []
    original = nn.Module.register_full_backward_hook

    def spy(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
        registered.append(module)
        return original(module, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "register_full_backward_hook", spy)
    return registered


def _refused_before_any_hook(model: nn.Module, x: torch.Tensor, hooks: list[nn.Module]) -> str:
    """The UnsupportedModelError of DeepSHAP on ``model`` (with and without the additivity
    check), after checking that shap hooked nothing and the model is as found."""
    from captum_ifim import UnsupportedModelError

    before = model_state(model)
    with torch.no_grad():
        outputs = model(x)
    messages = []
    for check in (True, False):
        method = build_method(
            "deepshap", model, background=torch.zeros(1, *x.shape[1:]), check_additivity=check
        )
        with pytest.warns(UserWarning, match="could not trace"):
            with pytest.raises(UnsupportedModelError) as caught:
                method.attribute(x, target=[0, 1])
        messages.append(str(caught.value))
    assert hooks == []
    assert_same_state(before, model_state(model, copy_tensors=False))
    with torch.no_grad():
        assert torch.equal(model(x), outputs)
    assert messages[0] == messages[1]
    return messages[0]


def test_deepshap_refuses_an_in_place_operation_on_a_module_output_before_any_hook(
    full_backward_hooks: list[nn.Module],
) -> None:
    message = _refused_before_any_hook(
        _Untraceable("module output"), images(2, 1, side=SIDE), full_backward_hooks
    )
    assert "in-place add_ on the output of 'norm' in the model's own forward" in message
    assert "Methods that work on this model: ifim-sensitive, ifim-insensitive, gradcam" in message
    assert "integrated-gradients" in message and "deepshap," not in message
    assert "check_additivity=False" not in message


@pytest.mark.parametrize("in_place", [None, "own tensor"])
def test_deepshap_runs_an_untraceable_model_without_in_place_changes_of_module_outputs(
    in_place: str | None,
) -> None:
    """Out of place, or in place on a tensor no module returned: shap runs and the
    values sum to f_t(x) - E_b f_t(b)."""
    model = _Untraceable(in_place)
    x = images(2, 1, side=SIDE, seed=1)
    background = images(3, 1, side=SIDE, seed=2)
    method = build_method("deepshap", model, background=background, additivity_tolerance=1e-4)
    with pytest.warns(UserWarning, match="could not trace"):
        maps = method.attribute(x, target=[0, 2])
    with torch.no_grad():
        expected = model(x)[[0, 1], [0, 2]] - model(background)[:, [0, 2]].mean(0)
    torch.testing.assert_close(maps.flatten(1).sum(1), expected, rtol=1e-4, atol=1e-4)


def test_deepshap_refuses_a_hugging_face_resnet_before_any_hook(
    full_backward_hooks: list[nn.Module],
) -> None:
    """A Hugging Face ResNet (random weights, built from a small config): its embedding
    branches on the channel count and each residual layer adds in place."""
    transformers = pytest.importorskip("transformers")

    config = transformers.ResNetConfig(
        num_channels=1, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
        layer_type="basic", num_labels=3,
    )  # fmt: skip
    torch.manual_seed(0)
    network = transformers.ResNetForImageClassification(config).eval()

    class Logits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.network(pixel_values=x).logits

    message = _refused_before_any_hook(Logits().eval(), images(2, 1, side=32), full_backward_hooks)
    assert "in-place add_ on the output of 'network.resnet.encoder.stages.0.layers.0." in message
    assert "Methods that work on this model: ifim-sensitive" in message


def test_an_in_place_change_of_the_model_input_is_found_on_a_copy() -> None:
    from captum_ifim._baselines._deepshap_support import in_place_operations
    from captum_ifim._baselines._model_preparation import prepare_model_for_deepshap

    class ScalesItsInput(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[1] != 4:
                raise ValueError("wrong width")
            return self.head(x.mul_(2.0))

    model = ScalesItsInput().eval()
    x = torch.randn(1, 4)
    kept = x.clone()
    with pytest.warns(UserWarning, match="could not trace"):
        prepared = prepare_model_for_deepshap(model)
    found = in_place_operations(prepared, (x,))
    assert [str(op) for op in found] == [
        "in-place mul_ on the model's input in the model's own forward"
    ]
    assert torch.equal(x, kept) and not x.requires_grad
    assert [
        str(op)
        for op in in_place_operations(
            prepare_model_for_deepshap(small_cnn(1)), (images(1, 1, side=8),)
        )
    ] == []


# 3. Clear errors for inputs the metrics and methods cannot take -----------------------------


class _ForwardCounter:
    """Counts forward passes of every module while open."""

    def __enter__(self) -> list[str]:
        from torch.nn.modules.module import register_module_forward_pre_hook

        self.calls: list[str] = []
        self.handle = register_module_forward_pre_hook(
            lambda module, args: self.calls.append(type(module).__name__)
        )
        return self.calls

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()


def _contrastive(
    model: nn.Module, inputs: torch.Tensor, attributions: torch.Tensor, **_: Any
) -> Any:
    from captum_ifim.metrics import contrastive_perturbation

    labels = torch.zeros(inputs.shape[0], dtype=torch.long)
    return contrastive_perturbation(model, inputs, labels, attributions, fractions=(0.1,))


@pytest.mark.parametrize("metric", ["deletion_auc", "insertion_auc", "contrastive_perturbation"])
def test_perturbation_metrics_refuse_another_dtype_and_the_meta_device_before_any_forward(
    metric: str,
) -> None:
    from captum_ifim import metrics

    curve = _contrastive if metric == "contrastive_perturbation" else getattr(metrics, metric)
    model = small_cnn(1)
    before = model_state(model)
    x = images(2, 1, side=SIDE, seed=1)
    dtype = "expected inputs of the model's dtype torch.float32, got torch.float{}"
    meta = "expected {} to hold data, got a tensor on the meta device"
    cases = [
        (x.double(), x, TypeError, dtype.format(64)),
        (x.half(), x, TypeError, dtype.format(16)),
        (x.to("meta"), x, ValueError, meta.format("inputs")),
        (x, x.to("meta"), ValueError, meta.format("\\w*attributions")),
    ]
    for inputs, attributions, error, message in cases:
        with _ForwardCounter() as calls:
            with pytest.raises(error, match=message):
                curve(model, inputs, attributions, steps=4)
        assert calls == []
    assert_same_state(before, model_state(model, copy_tensors=False))


@pytest.mark.parametrize("metric", ["deletion_auc", "insertion_auc"])
def test_perturbation_curves_take_float64_inputs_of_a_float64_model(metric: str) -> None:
    """A float64 model on float64 inputs (and a float64 map of float32 inputs) gives the
    curve of the float32 model, to float32 precision."""
    from captum_ifim import metrics

    curve = getattr(metrics, metric)
    model = small_cnn(1)
    x = images(3, 1, side=SIDE, seed=1)
    saliency = images(3, 1, side=SIDE, seed=2).abs()
    labels = torch.tensor([0, 1, 2])
    single = curve(model, x, saliency, target=labels, steps=8)
    double = curve(small_cnn(1).double(), x.double(), saliency.double(), target=labels, steps=8)
    torch.testing.assert_close(double.scores, single.scores, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(double.auc, single.auc, rtol=1e-5, atol=1e-6)
    mixed = curve(model, x, saliency.double(), target=labels, steps=8)
    torch.testing.assert_close(mixed.scores, single.scores, rtol=0, atol=0)


def test_f1_refuses_predictions_and_labels_outside_the_classes() -> None:
    from captum_ifim.metrics import f1

    labels = torch.tensor([0, 1, 2, 1])
    assert f1(labels, torch.tensor([0, 1, 2, 2]), 3) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    outside = r"expected {} in \[0, 2\], got values in \[{}, {}\]"
    cases = [
        (labels, torch.tensor([0, 1, 5, 1]), ValueError, outside.format("predictions", 0, 5)),
        (labels, torch.tensor([0, -1, 2, 1]), ValueError, outside.format("predictions", -1, 2)),
        (torch.tensor([0, 1, 3, 1]), labels, ValueError, outside.format("labels", 0, 3)),
        (labels, torch.tensor([0.0, 1, 2, 1]), TypeError, "expected integer predictions, got"),
        (labels, torch.tensor([0, 1, 2]), ValueError, r"predictions of shape \(4,\), got \(3,\)"),
        (labels, [0, 1, 2, 1], TypeError, "expected predictions to be a torch.Tensor, got list"),
        (labels, labels, ValueError, "expected num_classes to be a positive int, got 0"),
    ]
    for i, (true, predicted, error, message) in enumerate(cases):
        with pytest.raises(error, match=message):
            f1(true, predicted, 0 if i == len(cases) - 1 else 3)  # type: ignore[arg-type]


#: Inputs of a wrong rank or channel count for the 1-channel 2-D CNN, and what they get.
WRONG_SHAPES = {
    "rank 2": ((2, 16), r"got inputs of shape \(2, 16\)"),
    "rank 3": ((2, 16, 16), r"got inputs of shape \(2, 16, 16\)"),
    "rank 5": ((2, 1, 4, 16, 16), r"got inputs of shape \(2, 1, 4, 16, 16\)"),
    "3 channels": ((2, 3, 16, 16), r"got inputs of shape \(2, 3, 16, 16\)"),
}


@pytest.mark.parametrize("case", list(WRONG_SHAPES))
@pytest.mark.parametrize("name", WRAPPER_CHECKED)
def test_inputs_the_model_cannot_take_get_a_value_error_naming_both_shapes(
    name: str, case: str
) -> None:
    shape, given = WRONG_SHAPES[case]
    model = small_cnn(1)
    method = _build(name, model)
    before = model_state(model)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    kept = x.clone()
    for target in (None, [0, 1]):
        with pytest.raises(ValueError, match=given) as caught:
            method.attribute(x, target=target)
        message = str(caught.value)
        assert message.startswith("expected inputs the model takes, ")
        assert "its first layer '0' (Conv2d) takes (N, 1, H, W), got (" in message
    if get_method_spec(name).has_spectrum:
        with pytest.raises(ValueError, match=given):
            method.eigenvalues(x)
    assert_same_state(before, model_state(model, copy_tensors=False))
    assert torch.equal(x, kept) and not x.requires_grad and x.grad is None


def test_a_layer_past_the_first_that_cannot_take_its_input_is_named() -> None:
    model = small_cnn(1)
    method = build_method("saliency", model)
    with pytest.raises(
        ValueError, match=r"its layer '2' \(MaxPool2d\) could not take \(1, 8, 1, 1\)"
    ):
        method.attribute(torch.randn(1, 1, 1, 1), target=0)


def test_an_error_of_the_method_itself_is_not_rewritten() -> None:
    """Where the model takes the inputs, the method's own error is raised as it was."""
    method = build_method("saliency", small_cnn(1))
    with pytest.raises(ValueError, match="expected") as caught:
        method.attribute(images(2, 1, side=SIDE), target=[0, 7])
    assert "the model takes" not in str(caught.value)


# 4. target=None and targets without data ------------------------------------------------------


@pytest.mark.parametrize("name", available_methods())
def test_target_none_is_the_predicted_class_for_every_method(name: str) -> None:
    """``target=None`` gives the map of the predicted class (as the docstring says), for
    Captum's gradient methods too, which cannot take ``None`` for several outputs; a
    method whose map does not depend on the class gets no extra forward pass for it."""
    model = small_cnn(1)
    method = _build(name, model)
    offsets = torch.tensor([-3.0, 0.0, 3.0]).view(3, 1, 1, 1)  # moves each to another class
    x = images(3, 1, side=SIDE, seed=5) + offsets
    with torch.no_grad():
        predicted = model(x).argmax(dim=1)
    assert predicted.tolist() == [1, 2, 0]  # one class for all would not pass
    torch.testing.assert_close(
        method.attribute(x, target=None), method.attribute(x, target=predicted)
    )
    if not get_method_spec(name).uses_target and not getattr(method.method, "checks_targets", 0):
        with _ForwardCounter() as calls:
            method.attribute(x)
        with _ForwardCounter() as calls_with_target:
            method.attribute(x, target=predicted)
        assert len(calls) < len(calls_with_target)  # no pass to resolve or check a target


@pytest.mark.parametrize("name", WRAPPER_CHECKED)
def test_a_target_on_the_meta_device_is_refused_before_the_method_runs(name: str) -> None:
    model = small_cnn(1)
    method = _build(name, model)
    before = model_state(model)
    with pytest.raises(ValueError, match="expected target to hold data, got a tensor on the meta"):
        method.attribute(images(2, 1, side=SIDE), target=torch.tensor([0, 1]).to("meta"))
    assert_same_state(before, model_state(model, copy_tensors=False))
