"""Contract tests: every registered method, on a plain CNN, ResNet18 and VGG16.

Every method gets, on every model (1 and 3 channels, 64 x 64, batch 2, per-sample
targets): the inputs' type, shape, device and dtype; finite, nonzero values; batched
equal to one by one; the target respected (or ignored, as the spec says); the model's
parameters, gradients, buffers, training flags, hooks, in-place flags and module
attributes as they were before any method ran, and its outputs identical; the inputs'
``requires_grad`` and ``.grad`` unchanged.

Cost: Score-CAM and Ablation-CAM make one forward pass per channel and image, so on the
torchvision models they run at a 64-channel layer (``layer1``, ``features.3``) on 32 x 32
inputs; the default layers are checked by ``test_default_target_layers``. Integrated
gradients uses 2 steps and DeepSHAP a background of one image (with additivity checked to
1e-4). pytorch-grad-cam's other CAMs (``CAM_VARIANT_SPECS``) get ``test_contract`` on the
plain CNNs only (``CNN_ONLY``); the zoo's contract tests run them on real networks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import matplotlib
import pytest
import torch
from torch import nn

from captum_ifim import (
    MethodSpec,
    RegisteredMethod,
    available_methods,
    build_method,
    default_target_layer,
    get_method_spec,
)
from captum_ifim._methods._cam_specs import CAM_VARIANT_SPECS
from captum_ifim._methods._captum_specs import CAPTUM_SPECS
from captum_ifim._validation import UnknownOptionError
from tests._baseline_models import (
    NUM_CLASSES,
    assert_same_state,
    images,
    model_state,
    resnet18,
    small_cnn,
    vgg16,
)

matplotlib.use("Agg")
pytest.importorskip("pytorch_grad_cam")
pytest.importorskip("shap")
pytest.importorskip("torchvision")

EXPECTED_METHODS = [
    "ifim-sensitive",
    "ifim-insensitive",
    "gradcam",
    "gradcam++",
    "scorecam",
    "xgradcam",
    "eigencam",
    "deepshap",
    "saliency",
    "integrated-gradients",
] + [spec.name for spec in CAM_VARIANT_SPECS]
#: Captum's classes (tests/test_methods_captum_classes.py compares each with Captum).
CAPTUM_METHODS = [spec.name for spec in CAPTUM_SPECS]
EXPECTED_METHODS += CAPTUM_METHODS
EXPECTED_METHODS += ["layer-ifim"]
#: Fewer samples and steps for Captum's classes (their defaults: docs/captum-methods.md).
CAPTUM_FAST = {
    "n_samples": 4,
    "n_steps": 2,
    "grid_cells": 2,
    "window_fraction": 0.25,
    "stride_fraction": 0.25,
}
#: One Captum entry per family, and a sampling one: the tests of the checks the registry's
#: wrapper makes before any method runs (inputs, targets, spectrum) and of Captum's metrics
#: on the maps run on these only; test_contract and the option tests run every entry.
CAPTUM_SAMPLE = ("input-x-gradient", "deeplift", "occlusion", "kernel-shap", "lrp", "layer-gradcam")
WRAPPER_CHECKED = [n for n in EXPECTED_METHODS if n not in CAPTUM_METHODS or n in CAPTUM_SAMPLE]
#: The CAMs that make one forward pass per channel and image (see the module docstring).
SLOW_CAMS = ("scorecam", "ablationcam")

MODELS: dict[str, Callable[[], nn.Module]] = {
    "cnn-1ch": functools.cache(lambda: small_cnn(1)),
    "cnn-3ch": functools.cache(lambda: small_cnn(3)),
    "resnet18-1ch": lambda: resnet18(1),
    "resnet18-3ch": lambda: resnet18(3),
    "vgg16-1ch": lambda: vgg16(1),
    "vgg16-3ch": lambda: vgg16(3),
}
#: Score-CAM layers with 64 channels on the torchvision models (see the module docstring).
NARROW_LAYERS = {"resnet18": "layer1", "vgg16": "features.3"}


def _channels(model_key: str) -> int:
    return int(model_key.split("-")[1][0])


def _side(model_key: str, name: str) -> int:
    return 32 if name in SLOW_CAMS and not model_key.startswith("cnn") else 64


@functools.cache
def _state_before(model_key: str) -> dict[str, Any]:
    """The model's state before any method ran on it."""
    return model_state(MODELS[model_key]())


@functools.cache
def _reference(model_key: str, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Test images and the model's outputs on them before any method ran."""
    _state_before(model_key)
    x = images(2, _channels(model_key), side=side, seed=3)
    with torch.no_grad():
        return x, MODELS[model_key]()(x)


def _build(name: str, model_key: str, model: nn.Module) -> RegisteredMethod:
    spec = get_method_spec(name)
    options: dict[str, Any] = {}
    if name == "integrated-gradients":
        options["n_steps"] = 2
    options.update({k: v for k, v in CAPTUM_FAST.items() if k in spec.options})
    if name in SLOW_CAMS:
        options["batch_size"] = 64
        family = model_key.split("-")[0]
        if family in NARROW_LAYERS:
            options["target_layer"] = NARROW_LAYERS[family]
    if spec.needs_background:
        side = _side(model_key, name)
        options["background"] = images(1, _channels(model_key), side=side, seed=7)
        if "additivity_tolerance" in spec.options:  # DeepSHAP's; shap's 1e-2 is loose here
            options["additivity_tolerance"] = 1e-4
    return build_method(name, model, **options)


def test_the_registry_lists_the_paper_methods_and_references():
    assert available_methods() == EXPECTED_METHODS
    for name in EXPECTED_METHODS:
        spec = get_method_spec(name)
        assert isinstance(spec, MethodSpec) and spec.name == name and spec.description
    assert get_method_spec("ifim-sensitive").low_map_method == "ifim-insensitive"
    assert {n for n in EXPECTED_METHODS if get_method_spec(n).needs_target_layer} == {
        "gradcam",
        "gradcam++",
        "scorecam",
        "xgradcam",
        "eigencam",
        *(spec.name for spec in CAM_VARIANT_SPECS if spec.name != "fullgrad"),
        "guided-gradcam",
        "layer-gradcam",
        "layer-gradient-x-activation",
        "layer-deeplift",
        "layer-integrated-gradients",
        "layer-conductance",
        "layer-ifim",
    }
    assert [n for n in EXPECTED_METHODS if not get_method_spec(n).uses_target] == [
        "ifim-sensitive",
        "ifim-insensitive",
        "eigencam",
        "kpca-cam",
        "fem",
        "randomcam",
        "layer-ifim",
    ]
    with pytest.raises(ValueError, match="gradcam\\+\\+"):
        get_method_spec("grad-cam")
    with pytest.raises(ValueError, match="expected a method name"):
        build_method("lime-rbf", small_cnn(1))


#: pytorch-grad-cam's other CAMs run on the plain CNNs only (about 15 s each on the
#: torchvision models); tests/test_method_zoo_contract.py runs them on ResNet18, ViT, Swin
#: and a 3-D CNN.
CNN_ONLY = {spec.name for spec in CAM_VARIANT_SPECS}
#: Captum's classes run on the plain CNNs only (ResNet18 and VGG16 would add minutes: the
#: sampling methods make hundreds of forward passes per image); the zoo contract runs every
#: one on tv-resnet18, timm-vit and monai-resnet-3d.
CNN_ONLY |= set(CAPTUM_METHODS)


@pytest.mark.parametrize(
    ("model_key", "name"),
    [(key, n) for key in MODELS for n in EXPECTED_METHODS if n not in CNN_ONLY or "cnn" in key],
)
def test_contract(model_key: str, name: str) -> None:
    model = MODELS[model_key]()
    spec = get_method_spec(name)
    method = _build(name, model_key, model)
    before = _state_before(model_key)
    reference, outputs_before = _reference(model_key, _side(model_key, name))
    x = reference.clone().requires_grad_()
    targets = [0, 2]

    maps = method.attribute(x, target=targets)
    assert type(maps) is torch.Tensor
    assert maps.shape == x.shape and maps.dtype == x.dtype and maps.device == x.device
    assert not maps.requires_grad
    assert torch.isfinite(maps).all()
    assert maps.abs().amax() > 0
    if spec.normalized_maps:
        assert maps.amin() >= 0 and maps.amax() <= 1 + 1e-6

    # Batched equals one by one (the second sample: libraries fail after the first).
    single = method.attribute(reference[1:], target=targets[1])
    scale = float(maps.abs().amax())
    torch.testing.assert_close(single, maps[1:], rtol=1e-4, atol=1e-4 * scale)
    # The target is respected, or ignored as the spec says.
    other = method.attribute(reference[1:], target=1)
    if spec.uses_target:
        assert not torch.allclose(other, single, rtol=1e-3, atol=0)
    else:
        torch.testing.assert_close(other, single, rtol=1e-5, atol=1e-7 * scale)

    assert_same_state(before, model_state(model, copy_tensors=False))
    with torch.no_grad():
        assert torch.equal(model(reference), outputs_before)
    assert x.requires_grad and x.grad is None and x.is_leaf


@pytest.mark.parametrize("name", WRAPPER_CHECKED)
def test_errors_for_targets_out_of_range_and_bad_target_layers(name: str) -> None:
    model = MODELS["cnn-1ch"]()
    method = _build(name, "cnn-1ch", model)
    x = images(2, 1, side=16)
    for target in (NUM_CLASSES, [0, -1], [0, 1, 2]):
        with pytest.raises(ValueError, match="expected"):
            method.attribute(x, target=target)
    if get_method_spec(name).needs_target_layer:
        with pytest.raises(ValueError, match="submodule"):
            build_method(name, model, target_layer=nn.Conv2d(1, 1, 1))
        with pytest.raises(ValueError, match="submodule"):
            build_method(name, model, target_layer="layer4")
    with pytest.raises(TypeError, match="expected options"):
        _build_with(name, model, not_an_option=1)


def _build_with(name: str, model: nn.Module, **options: Any) -> RegisteredMethod:
    if get_method_spec(name).needs_background:
        options["background"] = images(1, 1, side=16)
    return build_method(name, model, **options)


def test_deepshap_needs_a_background_and_training_mode_is_refused() -> None:
    model = small_cnn(1)
    with pytest.raises(ValueError, match="background"):
        build_method("deepshap", model)
    method = build_method("gradcam", model.train())
    with pytest.raises(ValueError, match="eval mode"):
        method.attribute(images(1, 1, side=16))


def test_default_target_layers() -> None:
    """ResNet: the last block; VGG16: the ReLU after the last conv; CNN: the activation
    after the last conv (behind its BatchNorm)."""
    assert default_target_layer(resnet18(3)) is resnet18(3).layer4[-1]
    features = vgg16(3).features
    assert default_target_layer(vgg16(3)) is features[29]
    assert isinstance(features[28], nn.Conv2d) and isinstance(features[29], nn.ReLU)
    cnn = small_cnn(1)
    assert default_target_layer(cnn) is cnn[5]
    bare = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    assert default_target_layer(bare) is bare[0]
    with pytest.raises(ValueError, match="Conv2d"):
        default_target_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


@pytest.mark.parametrize("name", WRAPPER_CHECKED)
def test_captum_metrics_and_visualization_accept_the_maps(name: str) -> None:
    from captum.attr import visualization
    from captum.metrics import infidelity, sensitivity_max

    model = MODELS["cnn-3ch"]()
    method = _build(name, "cnn-3ch", model)
    x = images(2, 3, side=64, seed=11)
    targets = [1, 2]
    maps = method.attribute(x, target=targets)
    generator = torch.Generator().manual_seed(0)

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = 0.01 * torch.randn(inputs.shape, generator=generator)
        return noise, inputs - noise

    scores = infidelity(model, perturb, x, maps, target=targets, n_perturb_samples=2)
    assert scores.shape == (2,) and torch.isfinite(scores).all()
    sensitivity = sensitivity_max(method.attribute, x, target=targets, n_perturb_samples=2)
    assert sensitivity.shape == (2,) and torch.isfinite(sensitivity).all()
    # Captum refuses an all-zero map, which a normalized CAM gives when every weighted
    # activation is negative; show the sample with the strongest map.
    shown = int(maps.flatten(1).abs().amax(1).argmax())
    figure, _ = visualization.visualize_image_attr(
        maps[shown].permute(1, 2, 0).numpy(),
        x[shown].permute(1, 2, 0).numpy(),
        method="blended_heat_map",
        sign="absolute_value",
        use_pyplot=False,
    )
    assert figure is not None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", EXPECTED_METHODS)
def test_cuda_maps_match_cpu(name: str) -> None:
    import copy

    cpu_model = MODELS["cnn-3ch"]()
    cuda_model = copy.deepcopy(cpu_model).cuda()
    x = images(2, 3, seed=5)
    cpu_maps = _build(name, "cnn-3ch", cpu_model).attribute(x, target=[0, 2])
    # DeepSHAP's background stays on the CPU: it follows the inputs' device.
    cuda_maps = _build(name, "cnn-3ch", cuda_model).attribute(x.cuda(), target=[0, 2])
    assert cuda_maps.device.type == "cuda" and cuda_maps.dtype == x.dtype
    scale = float(cpu_maps.abs().amax())
    # Loose: cuDNN may use TF32 convolutions.
    torch.testing.assert_close(cuda_maps.cpu(), cpu_maps, rtol=1e-2, atol=1e-2 * scale)


# Options as data: MethodSpec.check_options (issue 11) ---------------------------------------

#: A valid value of every option a registered method takes (a new option needs one here).
VALID_OPTIONS: dict[str, Any] = {
    "output": "logits",
    "eigenvalue_rtol": 1e-6,
    "eigenvalue_atol": 0.0,
    "class_mass": None,
    "backward": "auto",
    "energy": 0.5,
    "internal_batch_size": 4,
    "reshape_transform": None,
    "normalization": "none",
    "batch_size": 4,
    "precision": "bfloat16",
    "check_additivity": True,
    "additivity_tolerance": 1e-2,
    "abs": False,
    "baselines": 0.0,
    "n_steps": 2,
    "method": "riemann_trapezoid",
    "multiply_by_inputs": True,
    "kernel": "rbf",
    "gamma": 0.5,
    "k": 1.0,
    "seed": 3,
    "alpha": 0.5,
    "comparison_categories": [1],
    "window_fraction": 0.25,
    "stride_fraction": 0.25,
    "feature_mask": "grid",
    "grid_cells": 2,
    "slic_segments": 4,
    "n_samples": 4,
    "perturbations_per_eval": 4,
    "stdevs": 0.0,
    "relu_attributions": True,
    "noise_tunnel": {"nt_samples": 2, "stdevs": 0.1},
    "location_summary": "projection",
}

#: (method, options, error, message): values every method itself would refuse.
BAD_OPTIONS = [
    ("ifim-sensitive", {"energy": 0.0}, ValueError, r"energy in \(0, 1\]"),
    ("ifim-sensitive", {"energy": 1.5}, ValueError, r"energy in \(0, 1\]"),
    ("ifim-sensitive", {"energy": "0.5"}, TypeError, "energy"),
    ("ifim-insensitive", {"output": "softmax"}, ValueError, "output to be one of"),
    ("ifim-sensitive", {"class_mass": 0.0}, ValueError, r"class_mass in \(0, 1\]"),
    ("ifim-sensitive", {"class_mass": 1.5}, ValueError, r"class_mass in \(0, 1\]"),
    ("ifim-sensitive", {"class_mass": 0.9, "output": "sigmoid"}, ValueError, "class_mass=None"),
    ("ifim-sensitive", {"eigenvalue_rtol": -1e-3}, ValueError, "eigenvalue_rtol >= 0"),
    ("ifim-sensitive", {"eigenvalue_atol": -1.0}, ValueError, "eigenvalue_atol >= 0"),
    ("ifim-sensitive", {"eigenvalue_atol": None}, TypeError, "eigenvalue_atol"),
    ("ifim-sensitive", {"internal_batch_size": 0}, ValueError, "internal_batch_size"),
    ("ifim-sensitive", {"internal_batch_size": 2.0}, ValueError, "internal_batch_size"),
    ("gradcam", {"normalization": "minmax"}, ValueError, "normalization to be one of"),
    ("eigencam", {"reshape_transform": "flatten"}, TypeError, "reshape_transform"),
    ("scorecam", {"batch_size": 0}, ValueError, "batch_size to be a positive int"),
    ("scorecam", {"batch_size": True}, ValueError, "batch_size to be a positive int"),
    ("scorecam", {"precision": "float16"}, ValueError, "expected precision in"),
    ("deepshap", {"additivity_tolerance": 0.0}, ValueError, "additivity_tolerance > 0"),
    ("deepshap", {"additivity_tolerance": -1.0}, ValueError, "additivity_tolerance > 0"),
    ("deepshap", {"check_additivity": "yes"}, TypeError, "check_additivity to be a bool"),
    ("saliency", {"abs": 1}, TypeError, "abs to be a bool"),
    ("integrated-gradients", {"n_steps": 0}, ValueError, "n_steps to be a positive int"),
    ("integrated-gradients", {"n_steps": -3}, ValueError, "n_steps to be a positive int"),
    ("integrated-gradients", {"internal_batch_size": -1}, ValueError, "internal_batch_size"),
    ("integrated-gradients", {"method": "simpson"}, ValueError, "method to be one of"),
    ("integrated-gradients", {"baselines": float("nan")}, ValueError, "finite baselines"),
    ("integrated-gradients", {"baselines": "zero"}, TypeError, "baselines"),
    ("integrated-gradients", {"multiply_by_inputs": None}, TypeError, "multiply_by_inputs"),
]
#: The methods whose own classes are in this library (Captum's assert or accept instead).
OWN_CLASSES = {n for n in EXPECTED_METHODS if n not in ("saliency", "integrated-gradients")}


def test_every_option_is_declared_once_and_has_a_valid_test_value() -> None:
    for name in EXPECTED_METHODS:
        spec = get_method_spec(name)
        assert isinstance(spec.constructor_options, frozenset)
        assert isinstance(spec.attribute_options, frozenset)
        assert not spec.constructor_options & spec.attribute_options, name
        assert spec.options == spec.constructor_options | spec.attribute_options
        assert spec.options <= VALID_OPTIONS.keys(), (name, spec.options - VALID_OPTIONS.keys())
    assert get_method_spec("scorecam").options == get_method_spec("gradcam").options | {
        "batch_size",
        "precision",
    }
    with pytest.raises(ValueError, match="in both"):
        MethodSpec("x", "x", get_method_spec("saliency").factory, frozenset("a"), frozenset("a"))


@pytest.mark.parametrize("name", EXPECTED_METHODS)
def test_every_declared_option_is_taken_by_the_method(name: str) -> None:
    """Building with a valid value of every declared option, then calling, works: the sets
    name exactly what reaches the constructor and ``attribute``."""
    spec = get_method_spec(name)
    options = {option: VALID_OPTIONS[option] for option in spec.options}
    spec.check_options(options)
    model = MODELS["cnn-1ch"]()
    if spec.needs_background:
        options["background"] = images(1, 1, side=16, seed=7)
    method = build_method(name, model, **options)
    maps = method.attribute(images(2, 1, side=16), target=[0, 1])
    assert maps.shape == (2, 1, 16, 16) and torch.isfinite(maps).all()
    for option in spec.attribute_options:
        assert method.attribute_kwargs[option] == VALID_OPTIONS[option]


@pytest.mark.parametrize("name", EXPECTED_METHODS)
def test_unknown_options_raise_an_error_that_is_a_type_and_a_value_error(name: str) -> None:
    spec = get_method_spec(name)
    spec.check_options({})
    with pytest.raises(UnknownOptionError) as caught:
        spec.check_options({"enrgy": 0.5, **{o: VALID_OPTIONS[o] for o in spec.options}})
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "'enrgy'" in message and all(f"'{o}'" in message for o in spec.options)
    with pytest.raises(UnknownOptionError):
        _build_with(name, MODELS["cnn-1ch"](), enrgy=0.5)
    with pytest.raises(TypeError, match="mapping"):
        spec.check_options(["energy"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "options", "error", "message"), BAD_OPTIONS)
def test_check_options_refuses_what_the_method_refuses(
    name: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    spec = get_method_spec(name)
    with pytest.raises(error, match=message):
        spec.check_options(options)
    model = MODELS["cnn-1ch"]()
    before = model_state(model)
    with pytest.raises(error, match=message):
        _build_with(name, model, **options)
    assert_same_state(before, model_state(model, copy_tensors=False))
    if name not in OWN_CLASSES:
        return
    # The same value reaches the method's own check when the registry is bypassed.
    constructor, attribute = spec.split_options(options)
    background = images(1, 1, side=16) if spec.needs_background else None
    layer = default_target_layer(model) if spec.needs_target_layer else None
    with pytest.raises(error, match=message):
        method, fixed = spec.factory(model, layer, background, constructor)
        method.attribute(images(2, 1, side=16), target=[0, 1], **fixed, **attribute)


def test_only_ifim_sensitive_has_a_spectrum() -> None:
    assert [n for n in EXPECTED_METHODS if get_method_spec(n).has_spectrum] == ["ifim-sensitive"]


def test_eigenvalues_are_the_ifim_spectrum_batched_or_not() -> None:
    from captum_ifim import IFIMDecomposition

    model = MODELS["cnn-1ch"]()
    before = model_state(model)
    x = images(3, 1, side=16, seed=2).requires_grad_()
    method = build_method("ifim-sensitive", model)
    values = method.eigenvalues(x)
    assert values.dtype == torch.float64 and values.shape == (3, NUM_CLASSES - 1)
    torch.testing.assert_close(values, IFIMDecomposition(model).decompose(x).eigenvalues)
    assert (values[:, :-1] >= values[:, 1:]).all() and (values >= 0).all()
    chunked = build_method("ifim-sensitive", model, internal_batch_size=1).eigenvalues(x)
    torch.testing.assert_close(chunked, values)
    torch.testing.assert_close(method.eigenvalues(x[2:]), values[2:])
    assert x.requires_grad and x.grad is None
    assert_same_state(before, model_state(model, copy_tensors=False))
    with pytest.raises(ValueError, match="expected finite inputs"):
        method.eigenvalues(torch.full((1, 1, 16, 16), float("nan")))


@pytest.mark.parametrize("name", [n for n in WRAPPER_CHECKED if n != "ifim-sensitive"])
def test_eigenvalues_of_a_method_without_a_spectrum_raise(name: str) -> None:
    method = _build_with(name, MODELS["cnn-1ch"]())
    with pytest.raises(ValueError, match="has_spectrum"):
        method.eigenvalues(images(1, 1, side=16))


# Every method checks its inputs the same way, before any forward pass (issue 16) --------

BAD_INPUTS: dict[str, tuple[Callable[[], Any], type[Exception], str]] = {
    "nan": (
        lambda: images(2, 1, side=16).index_fill(2, torch.tensor([3]), float("nan")),
        ValueError,
        "expected finite inputs",
    ),
    "inf": (
        lambda: images(2, 1, side=16).index_fill(3, torch.tensor([0]), float("inf")),
        ValueError,
        "expected finite inputs",
    ),
    "integer": (
        lambda: torch.ones(2, 1, 16, 16, dtype=torch.long),
        TypeError,
        "expected input 0 to be floating point",
    ),
    "empty batch": (lambda: torch.zeros(0, 1, 16, 16), ValueError, "expected a non-empty batch"),
    "meta device": (
        lambda: torch.zeros(2, 1, 16, 16, device="meta"),
        ValueError,
        "meta device",
    ),
    "float16 for a float32 model": (
        lambda: images(2, 1, side=16).half(),
        TypeError,
        r"expected input 0 of the model's dtype torch.float32, got torch.float16",
    ),
    "float64 for a float32 model": (
        lambda: images(2, 1, side=16).double(),
        TypeError,
        "model's dtype",
    ),
    "a list": (lambda: [images(2, 1, side=16)], TypeError, "torch.Tensor or a tuple"),
    "a tuple with a non-tensor": (
        lambda: (images(2, 1, side=16), 3.0),
        TypeError,
        "expected input 1 to be a torch.Tensor",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("name", WRAPPER_CHECKED)
def test_bad_inputs_are_refused_before_any_forward_pass(name: str, case: str) -> None:
    from torch.nn.modules.module import register_module_forward_pre_hook

    make, error, message = BAD_INPUTS[case]
    model = MODELS["cnn-1ch"]()
    method = _build(name, "cnn-1ch", model)
    before = model_state(model)
    inputs = make()
    kept = inputs.clone() if isinstance(inputs, torch.Tensor) else None
    calls: list[str] = []
    handle = register_module_forward_pre_hook(
        lambda module, args: calls.append(type(module).__name__)
    )
    try:
        for target in (None, [0, 1]):
            with pytest.raises(error, match=message):
                method.attribute(inputs, target=target)
        if get_method_spec(name).has_spectrum:
            with pytest.raises(error, match=message):
                method.eigenvalues(inputs)
    finally:
        handle.remove()
    assert calls == []
    assert_same_state(before, model_state(model, copy_tensors=False))
    if kept is not None and kept.device.type != "meta":
        assert torch.equal(inputs.nan_to_num(), kept.nan_to_num())
        assert not inputs.requires_grad and inputs.grad is None


def test_inputs_on_another_device_than_the_model_are_refused() -> None:
    from captum_ifim._validation import check_inputs

    on_meta = nn.Linear(4, 2, device="meta")
    with pytest.raises(ValueError, match="on the model's device meta, got cpu"):
        check_inputs((torch.randn(2, 4),), on_meta)
    # Parameters on several devices or of several dtypes: nothing to compare with.
    mixed = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2).double())
    check_inputs((torch.randn(2, 4),), mixed)
    check_inputs((torch.randn(2, 4),), nn.Flatten())
    check_inputs((torch.randn(2, 4),), lambda x: x)
