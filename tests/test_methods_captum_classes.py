"""Captum's attribution classes as registry methods (issue 22, item 1).

Each entry equals the Captum class called directly with the documented defaults on a small
CNN (16 px, 2-D; a 3-D CNN for a subset); the maps have the inputs' shape, dtype and device;
the model is bit-identical and hook-free afterwards, also after a call that fails midway; a
module a class has no rule for is named in the error with the methods that work; bad options
are refused before any forward pass; the docs table is the generated one.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import captum.attr as ca
import numpy as np
import pytest
import torch
from captum._utils.models import linear_model
from torch import Tensor, nn

from captum_ifim import available_methods, build_method, default_target_layer, get_method_spec
from captum_ifim._methods._captum_factories import CaptumUnsupportedModelError
from captum_ifim._methods._captum_specs import (
    CAPTUM_ENTRIES,
    CAPTUM_SPECS,
    captum_method_markdown,
)
from captum_ifim._methods._feature_masks import grid_feature_mask
from tests._baseline_models import assert_same_state, model_state

NAMES = [entry.name for entry in CAPTUM_ENTRIES]
ENTRIES = {entry.name: entry for entry in CAPTUM_ENTRIES}
TARGETS = [0, 2]


class SmallNet(nn.Module):
    """conv-ReLU-maxpool, conv-BN-ReLU, global average pool, linear (functional flatten);
    2-D or 3-D. Nothing in place, no module called twice: Captum's hooks take it as it is."""

    def __init__(self, dims: int = 2, channels: int = 1, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        conv, bn = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d)
        pool = nn.MaxPool2d if dims == 2 else nn.MaxPool3d
        avg = nn.AdaptiveAvgPool2d if dims == 2 else nn.AdaptiveAvgPool3d
        self.conv1, self.relu1, self.pool = conv(channels, 6, 3, padding=1), nn.ReLU(), pool(2)
        self.conv2, self.bn, self.relu2 = conv(6, 8, 3, padding=1), bn(8), nn.ReLU()
        self.avg, self.fc = avg(1), nn.Linear(8, 3)
        generator = torch.Generator().manual_seed(seed)
        self.bn.running_mean.copy_(0.1 * torch.randn(8, generator=generator))
        self.bn.running_var.copy_(0.5 + torch.rand(8, generator=generator))
        self.eval()

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.relu1(self.conv1(x)))
        x = self.relu2(self.bn(self.conv2(x)))
        return self.fc(self.avg(x).flatten(1))


@functools.cache
def _net(dims: int = 2) -> SmallNet:
    return SmallNet(dims)


def _inputs(dims: int = 2, n: int = 2, seed: int = 3) -> Tensor:
    side = (16, 16) if dims == 2 else (8, 8, 8)
    return torch.randn(n, 1, *side, generator=torch.Generator().manual_seed(seed))


def _background(dims: int = 2) -> Tensor:
    return _inputs(dims, n=2, seed=7)


def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in model.modules()
    )


# Captum called directly, with the documented defaults ---------------------------------------


def _per_image(call: Callable[[Tensor, list[int]], Tensor], x: Tensor) -> Tensor:
    """What the registry does for a method that draws random numbers: each image on its own,
    from torch.manual_seed(0)."""
    rows = []
    for i in range(x.shape[0]):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            np.random.seed(0)  # noqa: NPY002 (GradientShap's path points)
            rows.append(call(x[i : i + 1], [TARGETS[i]]))
    return torch.cat(rows)


def _to_input(layer_map: Tensor, x: Tensor) -> Tensor:
    summed = layer_map.sum(1, keepdim=True)
    mode = "bilinear" if x.dim() == 4 else "trilinear"
    return ca.LayerAttribution.interpolate(summed, tuple(x.shape[2:]), mode).expand_as(x)


#: Fewer samples, steps, windows and groups than the defaults, on the entry and on Captum
#: alike (the defaults' translation is checked by test_the_defaults_as_captum_arguments).
FAST: dict[str, dict[str, Any]] = {
    "gradient-shap": {"n_samples": 4},
    "occlusion": {"window_fraction": 0.25, "stride_fraction": 0.25},
    "feature-ablation": {"grid_cells": 4},
    "shapley-value-sampling": {"grid_cells": 4, "n_samples": 2},
    "kernel-shap": {"grid_cells": 4, "n_samples": 40},
    "lime": {"grid_cells": 4, "n_samples": 40},
    "layer-integrated-gradients": {"n_steps": 8},
    "layer-conductance": {"n_steps": 8},
}


def _direct(name: str, original: nn.Module, x: Tensor) -> Tensor:
    """The entry computed with Captum's own classes (on a copy of the model: Captum's
    layer DeepLift leaves attributes on the modules), with :data:`FAST`'s options."""
    model = copy.deepcopy(original)
    layer = default_target_layer(model)
    background = _background(x.dim() - 2)
    grid = grid_feature_mask(tuple(x.shape[2:]), 4, x.device)
    sampling = {"feature_mask": grid, "baselines": 0.0, "perturbations_per_eval": 16}
    path = {"baselines": 0.0, "n_steps": 8, "method": "gausslegendre"}
    window = (1, *(s // 4 for s in x.shape[2:]))
    t = TARGETS
    calls: dict[str, Callable[[], Tensor]] = {
        "input-x-gradient": lambda: ca.InputXGradient(model).attribute(x, target=t),
        "guided-backprop": lambda: ca.GuidedBackprop(model).attribute(x, target=t),
        "deconvolution": lambda: ca.Deconvolution(model).attribute(x, target=t),
        "guided-gradcam": lambda: ca.GuidedGradCam(model, layer).attribute(x, target=t),
        "deeplift": lambda: ca.DeepLift(model).attribute(x, target=t, baselines=0.0),
        "deeplift-shap": lambda: ca.DeepLiftShap(model).attribute(
            x, target=t, baselines=background
        ),
        "gradient-shap": lambda: _per_image(
            lambda xi, ti: ca.GradientShap(model).attribute(
                xi, baselines=background, target=ti, n_samples=4, stdevs=0.0
            ),
            x,
        ),
        "occlusion": lambda: ca.Occlusion(model).attribute(
            x, sliding_window_shapes=window, strides=window, baselines=0.0, target=t
        ),
        "feature-ablation": lambda: ca.FeatureAblation(model).attribute(x, target=t, **sampling),
        "shapley-value-sampling": lambda: _per_image(
            lambda xi, ti: ca.ShapleyValueSampling(model).attribute(
                xi, target=ti, n_samples=2, **sampling
            ),
            x,
        ),
        "kernel-shap": lambda: _per_image(
            lambda xi, ti: ca.KernelShap(model).attribute(xi, target=ti, n_samples=40, **sampling),
            x,
        ),
        "lime": lambda: _per_image(
            lambda xi, ti: ca.Lime(
                model, interpretable_model=linear_model.SkLearnLinearRegression()
            ).attribute(xi, target=ti, n_samples=40, **sampling),
            x,
        ),
        "lrp": lambda: ca.LRP(model).attribute(x, target=t),
        "layer-gradcam": lambda: _to_input(ca.LayerGradCam(model, layer).attribute(x, target=t), x),
        "layer-gradient-x-activation": lambda: _to_input(
            ca.LayerGradientXActivation(model, layer).attribute(x, target=t), x
        ),
        "layer-deeplift": lambda: _to_input(
            ca.LayerDeepLift(model, layer).attribute(x, target=t, baselines=0.0), x
        ),
        "layer-integrated-gradients": lambda: _to_input(
            ca.LayerIntegratedGradients(model, layer).attribute(x, target=t, **path), x
        ),
        "layer-conductance": lambda: _to_input(
            ca.LayerConductance(model, layer).attribute(x, target=t, **path), x
        ),
    }
    return calls[name]()


def _registered(name: str, model: nn.Module, x: Tensor, **options: Any) -> Tensor:
    options = {**FAST.get(name, {}), **options}
    if get_method_spec(name).needs_background:
        options["background"] = _background(x.dim() - 2)
    return build_method(name, model, **options).attribute(x, target=TARGETS)


def test_every_entry_is_registered_in_one_block_in_order() -> None:
    assert [spec.name for spec in CAPTUM_SPECS] == NAMES
    methods = available_methods()
    start = methods.index(NAMES[0])  # one block, in this order, after the registry's own
    assert methods[start : start + len(NAMES)] == NAMES and start >= 10
    assert len(set(NAMES)) == len(NAMES)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", name) for name in NAMES)
    assert "gradcam" in available_methods() and "layer-gradcam" != "gradcam"
    classes = {entry.captum_class for entry in CAPTUM_ENTRIES}
    assert not classes & {"Saliency", "IntegratedGradients", "FeaturePermutation"}


@pytest.mark.parametrize("name", NAMES)
def test_each_entry_equals_captum_called_directly(name: str) -> None:
    model = _net()
    x = _inputs()
    before = model_state(model)
    expected = _direct(name, model, x).detach()
    got = _registered(name, model, x.clone().requires_grad_())
    assert got.shape == x.shape and got.dtype == x.dtype and not got.requires_grad
    assert torch.isfinite(got).all() and got.abs().amax() > 0
    scale = float(expected.abs().amax())
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * scale)
    assert_same_state(before, model_state(model, copy_tensors=False))
    assert _hooks(model) == 0


THREE_D = [
    "input-x-gradient",
    "guided-gradcam",
    "deeplift",
    "occlusion",
    "feature-ablation",
    "layer-gradcam",
    "layer-deeplift",
]


@pytest.mark.parametrize("name", THREE_D)
def test_volumes_equal_captum_called_directly(name: str) -> None:
    """3-D: Occlusion's window of 1/8 of 8 voxels is one voxel; trilinear upsampling."""
    model = _net(3)
    x = _inputs(3)
    before = model_state(model)
    expected = _direct(name, model, x).detach()
    got = _registered(name, model, x)
    assert got.shape == x.shape and got.dtype == x.dtype
    scale = float(expected.abs().amax())
    assert scale > 0
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * scale)
    assert_same_state(before, model_state(model, copy_tensors=False))
    assert _hooks(model) == 0


def test_flags_and_facts_are_captums() -> None:
    """NoiseTunnel reads multiplies_by_inputs: each entry's is the Captum object's."""
    model = _net()
    layer = default_target_layer(model)
    for entry in CAPTUM_ENTRIES:
        cls = getattr(ca, entry.captum_class)
        captum_object = cls(model, layer) if entry.target_layer else cls(model)
        flag = captum_object.multiplies_by_inputs
        assert entry.multiplies_by_inputs == flag, entry.name
        options = {"background": _background()} if entry.needs_background else {}
        assert build_method(entry.name, model, **options).multiplies_by_inputs == flag
        spec = get_method_spec(entry.name)
        assert spec.uses_target and not spec.normalized_maps and not spec.has_spectrum
        assert spec.needs_target_layer == entry.target_layer
        assert spec.needs_background == entry.needs_background


def test_float64_tuples_and_channels() -> None:
    """float64 in, float64 out; a tuple in, a tuple out; three channels."""
    model = SmallNet(channels=3).double()
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for name in ("deeplift", "occlusion", "layer-gradcam", "lrp", "kernel-shap"):
        method = build_method(name, model, **FAST.get(name, {}))
        maps = method.attribute(x, target=TARGETS)
        assert maps.dtype == torch.float64 and maps.shape == x.shape, name
        (as_tuple,) = method.attribute((x,), target=TARGETS)
        torch.testing.assert_close(as_tuple, maps)
    # Layer maps are repeated over the channels, as the CAMs' are.
    maps = build_method("layer-gradcam", model).attribute(x, target=TARGETS)
    assert torch.equal(maps[:, 0], maps[:, 2])


def test_noise_tunnel_option_equals_captums_noise_tunnel() -> None:
    model = _net()
    x = _inputs()
    tunnel = {"nt_type": "smoothgrad_sq", "nt_samples": 3, "stdevs": 0.2}
    got = build_method("input-x-gradient", model, noise_tunnel=tunnel).attribute(x, TARGETS)
    expected = _per_image(
        lambda xi, ti: ca.NoiseTunnel(ca.InputXGradient(model)).attribute(xi, target=ti, **tunnel),
        x,
    )
    torch.testing.assert_close(got, expected)
    plain = build_method("input-x-gradient", model).attribute(x, TARGETS)
    assert not torch.allclose(got, plain, rtol=1e-2, atol=0)
    # Another seed draws other noise; the caller's random state is left as it was.
    seeded = _registered("gradient-shap", model, x)
    state, numpy_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()  # noqa: NPY002
    other = _registered("gradient-shap", model, x, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert (np.random.get_state()[1] == numpy_state).all()  # noqa: NPY002
    assert not torch.allclose(other, seeded, rtol=1e-3, atol=0)


def test_slic_superpixels_equal_captum_with_the_slic_mask() -> None:
    segmentation = pytest.importorskip("skimage.segmentation")
    model = SmallNet(channels=3)
    x = 0.05 * torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    x[:, 0, :8] += 1.0  # four regions of their own colours
    x[:, 1, :, 8:] += 1.0
    got = build_method("feature-ablation", model, feature_mask="slic", slic_segments=9)
    maps = got.attribute(x, target=1)
    labels = segmentation.slic(
        x[0].double().permute(1, 2, 0).numpy(), n_segments=9, start_label=0, channel_axis=-1
    )
    mask = torch.unique(torch.as_tensor(labels), return_inverse=True)[1][None, None]
    expected = ca.FeatureAblation(model).attribute(x, target=1, feature_mask=mask, baselines=0.0)
    torch.testing.assert_close(maps, expected)
    assert mask.max() >= 2  # several superpixels, so the test can fail
    with pytest.raises(ValueError, match="feature_mask='grid' for volumes"):
        build_method("feature-ablation", _net(3), feature_mask="slic").attribute(
            _inputs(3), target=TARGETS
        )


# Models a class cannot attribute -------------------------------------------------------------


class _GeluNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.GELU())
        self.head = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean((2, 3)))


class _GateNet(nn.Module):
    """A squeeze-and-excitation-like gate: a product of two input-dependent tensors."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.act, self.gate = nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Sigmoid()
        self.head = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> Tensor:
        y = self.act(self.conv(x))
        y = y * self.gate(y.mean((2, 3), keepdim=True))
        return self.head(y.mean((2, 3)))


UNSUPPORTED = [
    ("lrp", _GeluNet, "GELU at 'features.1'"),
    ("deeplift", _GeluNet, "GELU at 'features.1'"),
    ("layer-deeplift", _GeluNet, "GELU at 'features.1'"),
    ("deeplift", _GateNet, "a product of two input-dependent tensors"),
    ("lrp", lambda: SmallNet(3), "Conv3d at 'conv1'"),
]


@pytest.mark.parametrize(("name", "make", "named"), UNSUPPORTED)
def test_a_module_without_a_rule_is_named_with_the_methods_that_work(
    name: str, make: Callable[[], nn.Module], named: str
) -> None:
    model = make()
    before = model_state(model)
    x = _inputs(3) if isinstance(model, SmallNet) else _inputs()
    with pytest.raises(CaptumUnsupportedModelError) as caught:
        build_method(name, model).attribute(x, target=TARGETS)
    message = str(caught.value)
    assert named in message and isinstance(caught.value, ValueError)
    works = message.split("Methods that work on this model: ")[1]
    assert "saliency" in works and "occlusion" in works and f" {name}," not in f" {works}"
    assert_same_state(before, model_state(model, copy_tensors=False))
    assert _hooks(model) == 0


def test_layer_gradcam_refuses_a_token_layer() -> None:
    from captum_ifim._baselines._target_layers import CAMTarget
    from captum_ifim._methods._captum_factories import CaptumMethod

    model = _net()
    target = CAMTarget(model.relu2, "relu2", reshape_transform=lambda t: t)
    method = CaptumMethod(model, ENTRIES["layer-gradcam"], target)
    with pytest.raises(CaptumUnsupportedModelError, match="token or channels-last layer at"):
        method.attribute(_inputs(), target=TARGETS)


class _FailsOnLargeBatches(nn.Module):
    """Raises inside Captum's pass (DeepLift runs inputs and baselines as one batch, layer
    integrated gradients its steps), after Captum hooked the modules."""

    def __init__(self) -> None:
        super().__init__()
        self.net = SmallNet()

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] > 2:
            raise RuntimeError("failed midway")
        return self.net(x)


@pytest.mark.parametrize("name", ["deeplift", "layer-deeplift", "layer-integrated-gradients"])
def test_a_call_failing_midway_leaves_the_model_as_found(name: str) -> None:
    model = _FailsOnLargeBatches().eval()
    before = model_state(model)
    with pytest.raises(RuntimeError, match="failed midway"):
        build_method(name, model).attribute(_inputs(), target=TARGETS)
    assert_same_state(before, model_state(model, copy_tensors=False))
    assert _hooks(model) == 0


# Options ---------------------------------------------------------------------------------------

BAD_OPTIONS = [
    ("deeplift", {"baselines": "mean"}, ValueError, "baselines 'zeros' or a finite number"),
    ("deeplift", {"baselines": float("inf")}, ValueError, "finite baselines"),
    ("occlusion", {"window_fraction": 0}, ValueError, r"window_fraction in \(0, 1\]"),
    ("occlusion", {"stride_fraction": 1.5}, ValueError, r"stride_fraction in \(0, 1\]"),
    ("occlusion", {"window_fraction": "1/8"}, TypeError, "window_fraction to be a number"),
    ("lime", {"feature_mask": "superpixels"}, ValueError, "feature_mask to be one of"),
    ("lime", {"grid_cells": 0}, ValueError, "grid_cells to be a positive int"),
    ("kernel-shap", {"n_samples": 0}, ValueError, "n_samples to be a positive int"),
    ("layer-integrated-gradients", {"n_steps": 20_000}, ValueError, "n_steps <= 10000"),
    ("layer-conductance", {"method": "simpson"}, ValueError, "method to be one of"),
    ("gradient-shap", {"stdevs": -1.0}, ValueError, "stdevs >= 0"),
    ("layer-gradcam", {"relu_attributions": "no"}, TypeError, "relu_attributions to be a bool"),
    ("deeplift", {"multiply_by_inputs": None}, TypeError, "multiply_by_inputs to be a bool"),
    ("saliency", {"noise_tunnel": {}}, TypeError, "expected options"),
    ("lrp", {"noise_tunnel": 3}, TypeError, "noise_tunnel to be None or a mapping"),
    ("lrp", {"noise_tunnel": {"samples": 3}}, ValueError, "noise_tunnel keys among"),
    ("lrp", {"noise_tunnel": {"nt_type": "smooth"}}, ValueError, "nt_type to be one of"),
    ("lrp", {"noise_tunnel": {"stdevs": -0.1}}, ValueError, "stdevs >= 0"),
    ("lime", {"seed": -1}, ValueError, "seed to be an int"),
    ("occlusion", {"n_samples": 4}, TypeError, "expected options of 'occlusion' among"),
]


@pytest.mark.parametrize(("name", "options", "error", "message"), BAD_OPTIONS)
def test_bad_options_are_refused_before_any_forward_pass(
    name: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    from torch.nn.modules.module import register_module_forward_pre_hook

    model = _net()
    before = model_state(model)
    calls: list[str] = []
    handle = register_module_forward_pre_hook(lambda module, args: calls.append("call"))
    try:
        with pytest.raises(error, match=message):
            get_method_spec(name).check_options(options)
        with pytest.raises(error, match=message):
            build_method(name, model, **options)
    finally:
        handle.remove()
    assert calls == []
    assert_same_state(before, model_state(model, copy_tensors=False))


def test_the_defaults_as_captum_arguments() -> None:
    """Occlusion's 1/8 window and 1/16 stride of each side; an 8 x 8 grid; zero baselines."""
    from captum_ifim._methods._captum_factories import CaptumMethod

    x = torch.zeros(1, 3, 32, 48)
    settings = {**ENTRIES["occlusion"].defaults, "noise_tunnel": None, "seed": 0}
    kwargs = CaptumMethod(_net(), ENTRIES["occlusion"])._kwargs(x, settings)
    assert kwargs["sliding_window_shapes"] == (3, 4, 6) and kwargs["strides"] == (3, 2, 3)
    assert kwargs["baselines"] == 0.0 and kwargs["perturbations_per_eval"] == 16
    settings = {**ENTRIES["lime"].defaults, "noise_tunnel": None, "seed": 0}
    mask = CaptumMethod(_net(), ENTRIES["lime"])._kwargs(x, settings)["feature_mask"]
    assert mask.shape == (1, 1, 32, 48) and mask.unique().tolist() == list(range(64))
    assert (mask[0, 0, :4, :6] == 0).all() and mask[0, 0, 31, 47] == 63
    volume = grid_feature_mask((4, 8, 8), 8, torch.device("cpu"))
    assert volume.unique().numel() == 4 * 8 * 8  # a side shorter than 8 gives fewer cells


@pytest.mark.parametrize("name", ["deeplift", "lrp", "layer-gradcam"])
def test_a_model_changed_between_calls_is_attributed_as_it_is_now(name: str) -> None:
    """The prepared copy follows the model: new weights (in place, as an optimizer step
    writes them) and a new layer give the maps of the model as it is at the call."""
    model = SmallNet(seed=4)
    method = build_method(name, model)
    x = _inputs()
    first = method.attribute(x, target=TARGETS)
    with torch.no_grad():
        model.conv2.weight.mul_(-2.0)
    fresh = build_method(name, model).attribute(x, target=TARGETS)
    torch.testing.assert_close(method.attribute(x, target=TARGETS), fresh)
    assert not torch.allclose(fresh, first)
    model.fc = nn.Linear(8, 3)
    torch.testing.assert_close(
        method.attribute(x, target=TARGETS), build_method(name, model).attribute(x, TARGETS)
    )


def test_forward_functions_for_the_classes_that_hook_no_module() -> None:
    """As Captum: the gradient and perturbation classes take any forward function; those
    that hook modules (or read a layer) refuse one."""
    model = _net()
    x = _inputs()

    def function(inputs: Tensor) -> Tensor:
        return model(inputs)

    for entry in CAPTUM_ENTRIES:
        assert get_method_spec(entry.name).needs_module == entry.hooks_modules, entry.name
    for name in ("input-x-gradient", "occlusion", "kernel-shap"):
        torch.testing.assert_close(_registered(name, function, x), _registered(name, model, x))
    with pytest.raises(TypeError, match=r"nn\.Module for 'lrp'"):
        build_method("lrp", function)


def test_deeplift_shap_needs_a_background() -> None:
    with pytest.raises(ValueError, match="background"):
        build_method("deeplift-shap", _net())


# Docs ------------------------------------------------------------------------------------------


def test_the_docs_table_is_the_generated_one() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "captum-methods.md").read_text()
    lines = page.splitlines()
    start = lines.index("| name | Captum class | family | defaults |")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    assert "\n".join(lines[start:end]) == captum_method_markdown()
    for entry in CAPTUM_ENTRIES:
        assert f"`{entry.name}` | `captum.attr.{entry.captum_class}`" in page
