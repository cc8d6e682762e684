"""pytorch-grad-cam's other CAM variants by name (issue 22 item 2).

For each variant, on small CNNs (16 px images, 6^3 volumes): the registry's map equals
pytorch-grad-cam's own class called directly on the same model, layer and targets (one
target per image); volumes work (and equal the library there) or are refused with an error
naming the variant; the model is bit-identical and hook-free afterwards; RandomCAM is a
function of its seed; the options are checked; the CAM table of ``docs/baselines.md`` is
the code's.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from captum_ifim import build_method, get_method_spec
from captum_ifim._methods._cam_specs import CAM_VARIANT_SPECS, cam_variant_rows, takes_volumes
from tests._baseline_models import assert_same_state, model_state

pytorch_grad_cam = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

NAMES = [spec.name for spec in CAM_VARIANT_SPECS]
#: The library class of each variant called with (model, [layer]) and one target per image.
PLAIN = {
    "hirescam": "HiResCAM",
    "gradcam-elementwise": "GradCAMElementWise",
    "ablationcam": "AblationCAM",
    "eigengradcam": "EigenGradCAM",
    "layercam": "LayerCAM",
    "kpca-cam": "KPCA_CAM",
    "shapleycam": "ShapleyCAM",
    "fem": "FEM",
    "seg-eigencam": "SegEigenCAM",
}
CLASSES = 5
ROOT = Path(__file__).resolve().parents[1]


def _net(dims: int, smooth: bool, seed: int = 0) -> nn.Module:
    """conv-act-maxpool, conv-BN-act (the target layer: index 3, the second conv),
    global average pool, linear to 5 classes; GELU where ``smooth`` (a score with a
    nonzero Hessian in the map, for ShapleyCAM), ReLU otherwise."""
    conv, norm, pool = {
        2: (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d),
        3: (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d),
    }[dims]
    act = nn.GELU if smooth else nn.ReLU
    torch.manual_seed(seed)
    model = nn.Sequential(
        conv(2, 6, 3, padding=1),
        act(),
        pool(2),
        conv(6, 8, 3, padding=1),
        norm(8),
        act(),
        nn.AdaptiveAvgPool2d(1) if dims == 2 else nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(8, CLASSES),
    )
    generator = torch.Generator().manual_seed(seed)
    model[4].running_mean.copy_(0.1 * torch.randn(8, generator=generator))
    model[4].running_var.copy_(0.5 + torch.rand(8, generator=generator))
    model[4].bias.data.copy_(0.2 * torch.randn(8, generator=generator))
    return model.eval()


@functools.cache
def _inputs(dims: int) -> torch.Tensor:
    shape = (3, 2, 16, 16) if dims == 2 else (2, 2, 6, 6, 6)
    return torch.randn(shape, generator=torch.Generator().manual_seed(1))


TARGETS = {2: [0, 3, 4], 3: [1, 4]}


def _library_maps(name: str, model: nn.Module, x: torch.Tensor, targets: list[int]) -> Any:
    """pytorch-grad-cam's own class on (model, [its layer 3]) with one target per image."""
    layer = model[3]
    library_targets = [ClassifierOutputTarget(t) for t in targets]
    if name in PLAIN:
        with getattr(pytorch_grad_cam, PLAIN[name])(model, [layer]) as cam:
            return cam(x, library_targets)
    if name == "randomcam":  # one image at a time after seeding NumPy's global generator
        maps = []
        for index, target in enumerate(targets):
            np.random.seed(7)  # noqa: NPY002
            with pytorch_grad_cam.RandomCAM(model, [layer]) as cam:
                maps.append(cam(x[index : index + 1], [ClassifierOutputTarget(target)]))
        return np.concatenate(maps)
    if name == "finercam":  # the library picks comparison classes for its predicted class
        with pytorch_grad_cam.FinerCAM(model, [layer]) as cam:
            return cam(x)
    if name == "fullgrad":
        cam = pytorch_grad_cam.FullGrad(model, [])
        try:
            return cam(x, library_targets)
        finally:
            cam.activations_and_grads.release()
    raise AssertionError(name)


def _ours(name: str, model: nn.Module, x: torch.Tensor, targets: list[int]) -> torch.Tensor:
    options: dict[str, Any] = {"seed": 7} if name == "randomcam" else {}
    if get_method_spec(name).needs_target_layer:
        options["target_layer"] = model[3]
    method = build_method(name, model, **options)
    return method.attribute(x, target=None if name == "finercam" else targets)


def _assert_as_found(model: nn.Module, before: dict[str, Any]) -> None:
    assert_same_state(before, model_state(model, copy_tensors=False))
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks and not module._backward_pre_hooks


@pytest.mark.parametrize("dims", [2, 3], ids=["images", "volumes"])
@pytest.mark.parametrize("name", NAMES)
def test_the_map_is_the_librarys_or_volumes_are_refused(name: str, dims: int) -> None:
    smooth = name == "shapleycam"
    model, reference = _net(dims, smooth), _net(dims, smooth)
    before = model_state(model)
    x = _inputs(dims)
    targets = TARGETS[dims]
    if dims == 3 and not takes_volumes(name):
        with pytest.raises(ValueError, match=f"expected images .* for {name} .* got volumes"):
            _ours(name, model, x, targets)
        _assert_as_found(model, before)
        return
    ours = _ours(name, model, x, targets)
    assert ours.shape == x.shape and ours.dtype == x.dtype
    expected = torch.from_numpy(_library_maps(name, reference, x, targets))
    for channel in range(x.shape[1]):
        torch.testing.assert_close(ours[:, channel], expected, rtol=1e-4, atol=1e-5)
    assert ours.amin() >= 0 and ours.amax() <= 1 + 1e-6 and ours.amax() > 0.99
    _assert_as_found(model, before)


def test_shapleycam_adds_a_second_order_term_and_is_gradcam_for_a_relu_network() -> None:
    x = _inputs(2)
    for smooth, equal in ((True, False), (False, True)):
        model = _net(2, smooth)
        options = {"target_layer": model[3], "normalization": "none"}
        shapley = build_method("shapleycam", model, **options).attribute(x, target=TARGETS[2])
        gradcam = build_method("gradcam", model, **options).attribute(x, target=TARGETS[2])
        assert torch.allclose(shapley, gradcam, rtol=1e-4, atol=1e-6) is equal


def test_finercam_compares_the_given_target_with_the_classes_nearest_it() -> None:
    """The library's comparison for one class of every image (``target_idx``); ours for
    any target; ``alpha=0`` is Grad-CAM of the target's score."""
    model, reference = _net(2, False), _net(2, False)
    x = _inputs(2)
    with pytorch_grad_cam.FinerCAM(reference, [reference[3]]) as cam:
        expected = torch.from_numpy(cam(x, target_idx=2))
    finer = build_method("finercam", model, target_layer=model[3])
    torch.testing.assert_close(finer.attribute(x, target=2)[:, 0], expected)
    with torch.no_grad():
        logits = model(x)
    targets = finer.method.finer_targets(logits, torch.tensor(TARGETS[2]))
    for row, target, library in zip(logits, TARGETS[2], targets, strict=True):
        nearest = (row - row[target]).abs().argsort()[1:4].tolist()
        assert library.main_category == target and library.comparison_categories == nearest
    plain = build_method("finercam", model, target_layer=model[3], alpha=0.0)
    gradcam = build_method("gradcam", model, target_layer=model[3])
    # alpha = 0: the score is y_t (times a softmax weight that sums to one over classes).
    torch.testing.assert_close(plain.attribute(x, target=1), gradcam.attribute(x, target=1))
    with pytest.raises(ValueError, match="at least 2 outputs for finercam"):
        one = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(1), nn.LazyLinear(1))
        one(x)
        build_method("finercam", one.eval()).attribute(x, target=0)


def test_randomcam_is_a_function_of_its_seed_only() -> None:
    model = _net(2, False)
    x = _inputs(2)
    method = build_method("randomcam", model, seed=11, normalization="none")
    np.random.seed(0)  # noqa: NPY002
    torch.manual_seed(0)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    first = method.attribute(x, target=TARGETS[2])
    after = np.random.get_state()[1]  # noqa: NPY002
    assert np.array_equal(after, state)  # the global generator untouched
    np.random.seed(5)  # noqa: NPY002
    torch.manual_seed(5)
    again = method.attribute(x, target=[1, 1, 1])
    assert torch.equal(first, again)  # other global state, other targets: the same map
    one_by_one = torch.cat([method.attribute(x[i : i + 1], target=0) for i in range(3)])
    torch.testing.assert_close(one_by_one, first)
    other = build_method("randomcam", model, seed=12, normalization="none").attribute(x)
    assert not torch.allclose(other, first)
    # The map is sum_k w_k A_k with w ~ U(-1, 1) drawn by RandomState(seed).
    weights = torch.from_numpy(np.random.RandomState(11).uniform(-1, 1, size=8))
    with torch.no_grad():
        activations = model[:6](x).double()  # the default layer: the last ReLU
    expected = torch.einsum("k,nkij->nij", weights, activations).float()
    upsampled = torch.nn.functional.interpolate(expected[:, None], (16, 16), mode="bilinear")
    torch.testing.assert_close(first[:, :1], upsampled, rtol=1e-4, atol=1e-5)


def test_ablationcam_is_quiet_batches_alike_and_passes_extra_arguments_per_sample(capfd) -> None:
    from tests._scaled_model import Scaled

    net = _net(2, False)
    x = _inputs(2)
    small = build_method("ablationcam", net, target_layer=net[3], batch_size=3).attribute(
        x, target=TARGETS[2]
    )
    large = build_method("ablationcam", net, target_layer=net[3]).attribute(x, target=TARGETS[2])
    torch.testing.assert_close(small, large)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    model = Scaled(net)
    scale = torch.tensor([0.5, 2.0, 1.0])
    scaled = build_method("ablationcam", model, target_layer=net[3]).attribute(
        x, target=TARGETS[2], additional_forward_args=(scale,)
    )
    expected = build_method("ablationcam", net, target_layer=net[3]).attribute(
        x * scale[:, None, None, None], target=TARGETS[2]
    )
    torch.testing.assert_close(scaled, expected)


def test_an_ablation_failing_midway_leaves_the_model_as_found(monkeypatch) -> None:
    from pytorch_grad_cam import ablation_layer

    model = _net(2, False)
    before = model_state(model)

    def failing(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("failed midway")

    monkeypatch.setattr(ablation_layer.AblationLayer, "set_next_batch", failing)
    with pytest.raises(RuntimeError, match="failed midway"):
        build_method("ablationcam", model, target_layer=model[3]).attribute(_inputs(2), target=0)
    assert model[3].__class__ is nn.Conv2d  # the library had swapped in its ablation layer
    _assert_as_found(model, before)


def test_ablationcam_on_vit_tokens_is_the_librarys_vit_ablation() -> None:
    """The zoo's ViT (tokens to a 4 x 4 grid): the library with its ``AblationLayerVit``."""
    pytest.importorskip("torchvision")
    from pytorch_grad_cam.ablation_layer import AblationLayerVit

    from captum_ifim._baselines._target_layers import default_cam_target
    from tests._zoo_models import ZOO

    zoo = next(zoo for zoo in ZOO if zoo.name == "tv-vit")
    model = zoo.build()
    target = default_cam_target(model)
    x = torch.randn(2, *zoo.input_shape, generator=torch.Generator().manual_seed(2))
    ours = build_method("ablationcam", model).attribute(x, target=[0, 2])
    with pytorch_grad_cam.AblationCAM(
        model, [target.layer], target.reshape_transform, ablation_layer=AblationLayerVit()
    ) as cam:
        expected = cam(x, [ClassifierOutputTarget(0), ClassifierOutputTarget(2)])
    torch.testing.assert_close(ours[:, 0], torch.from_numpy(expected), rtol=1e-4, atol=1e-5)


def test_fullgrad_needs_no_target_layer_and_refuses_a_reused_bias_layer() -> None:
    spec = get_method_spec("fullgrad")
    assert not spec.needs_target_layer and spec.options == frozenset()

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.conv(self.conv(x)))

    model = Twice().eval()
    before = model_state(model)
    with pytest.raises(ValueError, match="'conv' to run once per forward pass"):
        build_method("fullgrad", model).attribute(_inputs(2), target=0)
    _assert_as_found(model, before)


#: (method, options, error, message): option values each variant refuses.
BAD_OPTIONS = [
    ("kpca-cam", {"kernel": "precomputed"}, ValueError, "kernel to be one of"),
    ("kpca-cam", {"gamma": 0.0}, ValueError, "gamma > 0"),
    ("kpca-cam", {"gamma": "auto"}, ValueError, "gamma to be a finite number"),
    ("fem", {"k": float("nan")}, ValueError, "k to be a finite number"),
    ("randomcam", {"seed": -1}, ValueError, r"seed to be an int in \[0, 2\*\*32\)"),
    ("randomcam", {"seed": True}, ValueError, "seed to be an int"),
    ("finercam", {"alpha": None}, ValueError, "alpha to be a finite number"),
    ("finercam", {"comparison_categories": [0, 1]}, ValueError, "comparison_categories"),
    ("finercam", {"comparison_categories": []}, ValueError, "comparison_categories"),
    ("finercam", {"comparison_categories": "12"}, ValueError, "comparison_categories"),
    ("ablationcam", {"batch_size": 0}, ValueError, "batch_size to be a positive int"),
    ("hirescam", {"normalization": "minmax"}, ValueError, "normalization to be one of"),
    ("fullgrad", {"normalization": "none"}, TypeError, "expected options of 'fullgrad'"),
]


@pytest.mark.parametrize(("name", "options", "error", "message"), BAD_OPTIONS)
def test_bad_options_are_refused_before_anything_is_built(name, options, error, message) -> None:
    with pytest.raises(error, match=message):
        get_method_spec(name).check_options(options)
    model = _net(2, False)
    before = model_state(model)
    with pytest.raises(error, match=message):
        build_method(name, model, **options)
    _assert_as_found(model, before)


def test_the_docs_cam_table_is_the_code() -> None:
    page = (ROOT / "docs" / "baselines.md").read_text(encoding="utf-8")
    header = "| name | pytorch-grad-cam class | uses target | 3-D |"
    assert header in page
    lines = page.split(header, 1)[1].strip().splitlines()[1:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append(tuple(cell.strip() for cell in line.strip("|").split("|")))
    assert rows == cam_variant_rows(get_method_spec)
    assert {row[0].strip("`") for row in rows} >= set(NAMES)
    # Every class pytorch-grad-cam exports is registered or said to be left out.
    helpers = re.compile("AblationLayer.*|ActivationsAndGradients")  # parts of CAMs
    exported = {
        name
        for name in dir(pytorch_grad_cam)
        if isinstance(getattr(pytorch_grad_cam, name), type) and not helpers.fullmatch(name)
    }
    registered = {row[1].strip("`") for row in rows}
    left_out = exported - registered
    assert left_out, exported
    for name in left_out:
        assert f"`{name}`" in page, name


def test_kpca_cam_is_deterministic_above_200_positions() -> None:
    """scikit-learn's ARPACK (above 200 positions) starts from a fixed vector here, not one
    drawn from NumPy's global generator as in the library; the component is the same."""
    model, reference = _net(2, False), _net(2, False)
    x = _inputs(2)[:2]
    method = build_method("kpca-cam", model, target_layer=model[1])  # 16 x 16 positions
    np.random.seed(0)  # noqa: NPY002
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    first = method.attribute(x, target=0)
    after = np.random.get_state()[1]  # noqa: NPY002
    assert np.array_equal(after, state)
    np.random.seed(1)  # noqa: NPY002
    assert torch.equal(method.attribute(x, target=0), first)
    with pytorch_grad_cam.KPCA_CAM(reference, [reference[1]]) as cam:
        expected = torch.from_numpy(cam(x, [ClassifierOutputTarget(0)] * 2))
    torch.testing.assert_close(first[:, 0], expected, rtol=1e-3, atol=1e-4)


def test_fem_warns_where_its_threshold_cannot_be_exceeded() -> None:
    model = _net(2, False)
    x = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(0))  # 2 x 2 maps
    with pytest.warns(UserWarning, match=r"fem's threshold.* 4 positions"):
        maps = build_method("fem", model, target_layer=model[3]).attribute(x, target=0)
    assert maps.abs().amax() == 0
    build_method("fem", model, target_layer=model[3], k=1.0).attribute(x, target=0)  # 3 > 1
