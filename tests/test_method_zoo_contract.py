"""Contract tests over a zoo of real architectures: every registered method, drop-in.

Every zoo model (``tests/_zoo_models.py``: torchvision ResNet18, ResNeXt, VGG16, DenseNet,
EfficientNet-B0, MobileNet v2 and v3-small, ConvNeXt, RegNet-Y, ViT, Swin v1/v2; timm
ResNet, ConvNeXt, EfficientNet (timm's ``test_*`` variants), ViT, distilled DeiT; MONAI
DenseNet 2-D/3-D, ResNet 3-D, SENet; the harness's 3-D shallow CNN and 3-D ResNet-18;
Hugging Face ViT, DeiT, DeiT with teacher, Swin, ConvNeXt, ResNet built from small configs,
whose forward returns a ``ModelOutput``) with
``weights=None``, batch 2, per-sample targets, built with ``build_method(name, model)`` and
no other argument than the options below: the default CAM layer is the family's (its map has
as many channels as the classifier reads); every map has the inputs' type, shape, dtype and
device, is finite and detached, CAMs in [0, 1], DeepSHAP additive; the model is
bit-identical, hook-free and gives the same outputs afterwards. Where DeepSHAP has no exact
rule (LayerNorm, attention, squeeze-and-excitation products) the call raises an error naming
the first such module, where it sits and the methods that work, and the model is untouched
too. Two failures midway (shap raising inside its backward pass, pytorch-grad-cam raising
after the hook ran) leave nothing behind either.

Cost (about 2 minutes on two quiet CPU cores, most of it DeepSHAP's tracing and the first
calls' imports): inputs are 32 px (64 px where the network downsamples 32 times, so that
every map is at least 2 x 2) or 16^3-32^3 volumes; families are represented by a small
configuration of their own class where the smallest standard variant is large (ResNeXt,
DenseNet, ConvNeXt, RegNet-Y, ViT, Swin, MONAI DenseNet and ResNet; MobileNet v2 at width
0.35), since the rules match on the class (DenseNet121 itself is built for the failure test,
and its default layer is checked in ``tests/test_target_layers.py``). Score-CAM makes one
forward pass per channel and image (512 on ResNet18, 2048 on ResNeXt), so it runs only where
it proves a point: token and channels-last reshapes (ViT, DeiT, Swin), volumes (its
trilinear masks) and a light CNN (ConvNeXt); its other models use the same layers as Grad-CAM,
checked here for every model. pytorch-grad-cam's other CAMs run on tv-resnet18, tv-vit,
tv-swin and shallow-cnn-3d (``CAM_VARIANT_MODELS``: Ablation-CAM on ViT and Swin only, the
two that refuse volumes not on the 3-D CNN). Integrated gradients uses 2 steps, DeepSHAP a
background of one input. The Hugging Face models run the paper's methods only
(:data:`HF_METHODS`: the ModelOutput rule and their default layers are what they add;
Score-CAM on the ViT), so that the methods other entries register do not multiply their
cost. Captum's classes run on tv-resnet18, timm-vit and monai-resnet-3d (``CAPTUM_ZOO``,
with 2 samples or steps and coarse windows; the classes whose work depends on the network);
where a class has no rule for a
module (LRP and DeepLift on the ViT, LRP in 3-D) or needs channels-first maps (Layer
Grad-CAM, Guided Grad-CAM on tokens), the error names the module (``CAPTUM_REFUSALS``).
"""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from typing import Any

import pytest
import torch
from torch import nn

from captum_ifim import PAPER_METHODS, available_methods, build_method, get_method_spec, logits_of
from captum_ifim._baselines._deepshap_support import UnsupportedModelError
from captum_ifim._baselines._target_layers import default_cam_target
from captum_ifim._methods._cam_specs import CAM_VARIANT_SPECS, takes_volumes
from captum_ifim._methods._captum_factories import CaptumUnsupportedModelError
from captum_ifim._methods._captum_specs import CAPTUM_SPECS
from tests._baseline_models import assert_same_state, model_state
from tests._zoo_models import ZOO, ZooModel

pytest.importorskip("pytorch_grad_cam")
pytest.importorskip("shap")

#: The methods that attribute through a rule per module: a refusal of one offers none of them.
RULE_BASED = {"deepshap", "deeplift", "deeplift-shap", "layer-deeplift", "lrp"}
#: Score-CAM's models (see the module docstring).
SCORE_CAM_MODELS = {
    "tv-vit",
    "tv-swin",
    "timm-deit-distilled",
    "tv-convnext",
    "monai-densenet-3d",
    "shallow-cnn-3d",
    "hf-vit",
}
TARGETS = [0, 2]
#: pytorch-grad-cam's other CAMs (``CAM_VARIANT_SPECS``) run on one model per layout: a CNN,
#: ViT tokens, Swin's channels-last maps and a volume (those that take volumes); their maps
#: equal the library's in tests/test_methods_cam_variants.py. Ablation-CAM, one pass per
#: channel like Score-CAM (512 at ResNet18's layer), runs on ViT and Swin only.
CAM_VARIANTS = {spec.name: takes_volumes(spec.name) for spec in CAM_VARIANT_SPECS}
CAM_VARIANT_MODELS = {"tv-resnet18", "tv-vit", "tv-swin", "shallow-cnn-3d"}
#: The methods the Hugging Face models run (see the module docstring).
HF_METHODS = set(PAPER_METHODS)


def _require(zoo: ZooModel) -> None:
    if zoo.package != "torch":
        pytest.importorskip(
            zoo.package, reason=f"{zoo.package} is not installed (the dev extra installs it)"
        )


@functools.cache
def _reference(name: str) -> tuple[dict[str, Any], torch.Tensor, torch.Tensor, torch.Tensor]:
    """The model's state, the inputs, its outputs and a background, before any method ran."""
    zoo = _ZOO[name]
    model = zoo.build()
    state = model_state(model)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2, *zoo.input_shape, generator=generator)
    background = torch.randn(1, *zoo.input_shape, generator=generator)
    with torch.no_grad():
        outputs = logits_of(model(x))  # a Hugging Face ModelOutput gives its logits
    return state, x, outputs, background


_ZOO = {zoo.name: zoo for zoo in ZOO}


def _assert_untouched(zoo: ZooModel) -> None:
    model = zoo.build()
    state, x, outputs, _ = _reference(zoo.name)
    assert_same_state(state, model_state(model, copy_tensors=False))
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks and not module._backward_pre_hooks
    with torch.no_grad():
        assert torch.equal(logits_of(model(x)), outputs)


@pytest.mark.parametrize("zoo", ZOO, ids=lambda zoo: zoo.name)
def test_the_default_cam_layer_is_the_familys_pooled_map(zoo: ZooModel) -> None:
    _require(zoo)
    model = zoo.build()
    target = default_cam_target(model)
    assert target.name == zoo.layer
    if zoo.package != "torch":
        assert target.rule != "general rule"
    _, x, _, _ = _reference(zoo.name)
    maps: list[torch.Tensor] = []
    handle = target.layer.register_forward_hook(lambda m, i, o: maps.append(o))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    grid = target.reshape_transform(maps[0]) if target.reshape_transform else maps[0]
    assert grid.dim() == x.dim() and grid.shape[1] == zoo.channels
    assert min(grid.shape[2:]) >= 2  # a map that can localize something
    _assert_untouched(zoo)


def _cases() -> list[Any]:
    return [
        pytest.param(zoo, name, id=f"{zoo.name}-{name}")
        for zoo in ZOO
        for name in available_methods()
        if (name != "scorecam" or zoo.name in SCORE_CAM_MODELS)
        and (name not in CAM_VARIANTS or _variant_case(zoo, name))
        and (zoo.package != "transformers" or name in HF_METHODS)
        and (name not in CAPTUM_METHODS or _captum_case(zoo, name))
        and (name != "layer-ifim" or zoo.name in LAYER_IFIM_MODELS)
    ]


#: The layer iFIM runs on a CNN, the token layouts (ViT, Swin's channels-last) and a 3-D
#: CNN: its layer is the CAMs' (checked for every model above), its map the location scores
#: laid on that layer's grid (23 zoo models took 68 s; these four make the point).
LAYER_IFIM_MODELS = ("tv-resnet18", "tv-vit", "tv-swin", "monai-densenet-3d")


def _variant_case(zoo: ZooModel, name: str) -> bool:
    if name == "ablationcam" and zoo.name == "tv-resnet18":
        return False
    return zoo.name in CAM_VARIANT_MODELS and (CAM_VARIANTS[name] or len(zoo.input_shape) == 3)


def _options(name: str, background: torch.Tensor) -> dict[str, Any]:
    return {
        "integrated-gradients": {"n_steps": 2},
        "scorecam": {"batch_size": 64},
        "ablationcam": {"batch_size": 64},
        "deepshap": {"background": background, "additivity_tolerance": 1e-3},
    }.get(name, _captum_options(name, background))


#: Captum's classes run on a CNN, a ViT and a 3-D CNN only, with few samples, steps and
#: windows, and there only those whose work depends on the network: the classes that hook
#: modules or read a layer (the prepared copy, the rules, token and 3-D layers), input x
#: gradient and occlusion (the sampling classes make forward passes only, the same for
#: every model; tests/test_methods_captum_classes.py compares every class with Captum and
#: the registry contract runs them on the plain CNNs). On timm-vit: the refusals, and the
#: layer classes that read tokens; on monai-resnet-3d: LRP's refusal and one class of each
#: kind in 3-D.
CAPTUM_ZOO = {
    "tv-resnet18": (
        "input-x-gradient", "guided-backprop", "deconvolution", "guided-gradcam",
        "deeplift", "deeplift-shap", "occlusion", "lrp", "layer-gradcam",
        "layer-gradient-x-activation", "layer-deeplift", "layer-integrated-gradients",
        "layer-conductance",
    ),
    "timm-vit": (
        "input-x-gradient", "guided-gradcam", "deeplift", "deeplift-shap", "lrp",
        "layer-gradcam", "layer-gradient-x-activation", "layer-deeplift",
        "layer-integrated-gradients",
    ),
    "monai-resnet-3d": (
        "guided-gradcam", "deeplift", "occlusion", "lrp", "layer-gradcam",
        "layer-integrated-gradients",
    ),
}  # fmt: skip


def _captum_case(zoo: ZooModel, name: str) -> bool:
    return name in CAPTUM_ZOO.get(zoo.name, ())


CAPTUM_METHODS = {spec.name: spec for spec in CAPTUM_SPECS}
CAPTUM_FAST = {
    "n_samples": 2,
    "n_steps": 2,
    "grid_cells": 2,
    "window_fraction": 0.5,
    "stride_fraction": 0.5,
}
#: What a Captum class has no rule for, named in its error: (zoo model, method) -> module.
CAPTUM_REFUSALS = {
    ("timm-vit", "lrp"): "LayerNorm at 'blocks.0.norm1'",
    ("timm-vit", "deeplift"): "layer_norm at 'blocks.0.norm1'",
    ("timm-vit", "deeplift-shap"): "layer_norm at 'blocks.0.norm1'",
    ("timm-vit", "layer-deeplift"): "layer_norm at 'blocks.0.norm1'",
    ("timm-vit", "layer-gradcam"): "a token or channels-last layer at 'blocks.1.norm1'",
    ("timm-vit", "guided-gradcam"): "a token or channels-last layer at 'blocks.1.norm1'",
    ("monai-resnet-3d", "lrp"): "Conv3d at 'conv1'",
}


def _captum_options(name: str, background: torch.Tensor) -> dict[str, Any]:
    spec = CAPTUM_METHODS.get(name)
    if spec is None:
        return {}
    options = {k: v for k, v in CAPTUM_FAST.items() if k in spec.options}
    return {**options, "background": background} if spec.needs_background else options


@pytest.mark.parametrize(("zoo", "name"), _cases())
def test_contract(zoo: ZooModel, name: str) -> None:
    _require(zoo)
    model = zoo.build()
    spec = get_method_spec(name)
    _, x, outputs, background = _reference(zoo.name)
    inputs = x.clone().requires_grad_()
    method = build_method(name, model, **_options(name, background))
    if name == "deepshap" and zoo.deepshap_refuses is not None:
        with pytest.raises(UnsupportedModelError) as caught:
            method.attribute(inputs, target=TARGETS)
        message = str(caught.value)
        assert re.search(zoo.deepshap_refuses + ".* at '", message), message
        others = [n for n in available_methods() if n not in RULE_BASED]
        assert f"Methods that work on this model: {', '.join(others)}." in message
        assert isinstance(caught.value, ValueError)
        _assert_untouched(zoo)
        return
    if (zoo.name, name) in CAPTUM_REFUSALS:
        with pytest.raises(CaptumUnsupportedModelError) as refused:
            method.attribute(inputs, target=TARGETS)
        assert f"got one with {CAPTUM_REFUSALS[zoo.name, name]} (" in str(refused.value)
        assert "Methods that work on this model: " in str(refused.value)
        _assert_untouched(zoo)
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*gives a 1 x 1")
        maps = method.attribute(inputs, target=TARGETS)
    assert type(maps) is torch.Tensor
    assert maps.shape == x.shape and maps.dtype == x.dtype and maps.device == x.device
    assert not maps.requires_grad and torch.isfinite(maps).all()
    if spec.normalized_maps:
        assert maps.amin() >= 0 and maps.amax() <= 1 + 1e-6
    if name == "deepshap":  # additivity: each map sums to f_t(x) - f_t(b)
        with torch.no_grad():
            gap = outputs[[0, 1], TARGETS] - logits_of(model(background))[0, TARGETS]
        torch.testing.assert_close(maps.flatten(1).sum(1), gap, rtol=1e-3, atol=1e-3)
    assert inputs.requires_grad and inputs.grad is None
    _assert_untouched(zoo)


def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks)
        for m in model.modules()
    )


@pytest.mark.parametrize("rows", ["paired", "shap's layout"])
def test_a_deepshap_call_failing_inside_a_rule_leaves_the_model_as_found(monkeypatch, rows):
    """The issue's failure: shap's own explainer left hundreds of hooks on DenseNet121 after
    an error. Here a rule fails inside the gradient call, after every rule module of the
    copy was swapped for its twin (the paired rows) or every leaf of the copy was hooked
    (shap's layout, DenseNet121's 700-odd hooks), and the model has no hook and no twin,
    its weights and flags as found."""
    torchvision = pytest.importorskip("torchvision")
    deep_pytorch = importlib.import_module("shap.explainers._deep.deep_pytorch")
    from captum_ifim._baselines import _deepshap_attribution, _paired_rules

    torch.manual_seed(0)
    model = torchvision.models.densenet121(weights=None, num_classes=3).eval()
    modules = list(model.modules())
    x, background = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
    seen: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a rule failed midway")

    if rows == "paired":
        enter = _paired_rules.PairedRules.__enter__

        def counted(self: Any) -> Any:
            entered = enter(self)
            seen.append(len(self._twins))
            return entered

        monkeypatch.setattr(_paired_rules.PairedRules, "__enter__", counted)
        monkeypatch.setattr(_paired_rules, "rescale", failing)
    else:
        enter = _deepshap_attribution._ShapHooks.__enter__

        def counted(self: Any) -> Any:
            entered = enter(self)
            seen.append(len(self._handles))
            return entered

        monkeypatch.setattr(_deepshap_attribution, "_pairs_rows", lambda *args: False)
        monkeypatch.setattr(_deepshap_attribution._ShapHooks, "__enter__", counted)
        monkeypatch.setattr(deep_pytorch, "deeplift_grad", failing)
    method = build_method("deepshap", model, background=background)
    before = model_state(model)
    with pytest.raises(RuntimeError, match="a rule failed midway"):
        method.attribute(x, target=1)
    # ReLUs and pools swapped (DenseNet121 has 121), or shap's two hooks on 374 leaves.
    assert seen and seen[0] > (100 if rows == "paired" else 700)
    assert _hooks(model) == 0
    assert list(model.modules()) == modules
    assert_same_state(before, model_state(model, copy_tensors=False))


def test_a_cam_call_failing_while_hooked_leaves_the_model_as_found(monkeypatch) -> None:
    from captum_ifim import GradCAM
    from captum_ifim._baselines import _cam_attribution

    zoo = _ZOO["tv-resnet18"]
    _require(zoo)
    model = zoo.build().train()  # the CAM runs it in eval mode; the flags must come back
    try:
        _, x, _, _ = _reference(zoo.name)

        def failing(*args: Any, **kwargs: Any) -> Any:
            assert _hooks(model) == 1 and not model.training  # inside the hooked pass
            raise RuntimeError("failed midway")

        monkeypatch.setattr(_cam_attribution, "resolve_targets", failing)
        with pytest.raises(RuntimeError, match="failed midway"):
            GradCAM(model).attribute(x, target=TARGETS)
        assert _hooks(model) == 0
        assert all(m.training for m in model.modules())
    finally:
        model.eval()
    _assert_untouched(zoo)
