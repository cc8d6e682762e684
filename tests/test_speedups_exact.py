"""The speed-ups give the slow paths' results (issue 26): each fast path against its slow
reference on small models.

* The iFIM: the batched backward (``is_grads_batched``) and the lean sequential path give
  the spectra, eigenvectors and maps of the one-pass-per-row reference; ``"auto"`` follows
  its rule; the cheap finite check answers as ``torch.isfinite(x).all()``.
* Score-CAM: maps equal to pytorch-grad-cam's ``ScoreCAM`` (2-D) and to the one-image-at-
  a-time path (3-D); each distinct mask of an image forwarded once (rows counted).
* DeepSHAP: values equal to shap's ``DeepExplainer`` run one sample at a time.
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch import Tensor, nn

from captum_ifim import IFIMDecomposition, build_method
from captum_ifim._ifim._gradients import (
    CPU_BATCHED_MAX_VALUES,
    per_sample_row_gradients,
    prefer_batched_backward,
)
from captum_ifim._validation import all_finite
from comparisons.speed import BackwardCounter

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


# ---------------------------------------------------------------- the iFIM


def _reference_row_gradients(rows: Tensor, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """The slow reference: one backward pass per row, copied into zeros (the former code)."""
    num_rows = rows.shape[1]
    jacobians = tuple(x.new_zeros((x.shape[0], num_rows, *x.shape[1:])) for x in inputs)
    for j in range(num_rows):
        grads = torch.autograd.grad(rows[:, j].sum(), inputs, retain_graph=True, allow_unused=True)
        for jacobian, grad in zip(jacobians, grads, strict=True):
            if grad is not None:
                jacobian[:, j] = grad
    return jacobians


class _TwoInputNet(nn.Module):
    """Two inputs, the second unused by the outputs (its gradients must be zero)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 5 * 5, num_classes)

    def forward(self, x: Tensor, unused: Tensor) -> Tensor:
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


@pytest.mark.parametrize("num_classes", [2, 3, 6])
@pytest.mark.parametrize("backward", ["sequential", "batched", "auto"])
def test_row_gradients_equal_the_one_pass_per_row_reference(num_classes, backward):
    torch.manual_seed(num_classes)
    model = _TwoInputNet(num_classes).double().eval()
    x = torch.randn(4, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    unused = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    outputs = model(x, unused)
    rows = outputs[:, 1:] - outputs[:, :1]
    expected = _reference_row_gradients(rows, (x, unused))
    got = per_sample_row_gradients(rows, (x, unused), backward)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        torch.testing.assert_close(g, e, **TIGHT)
    assert torch.equal(got[1], torch.zeros_like(got[1]))


@pytest.mark.parametrize("num_classes", [2, 3, 5])
def test_batched_and_sequential_decompositions_agree(make_net, num_classes):
    model = make_net(num_classes=num_classes)
    x = torch.randn(5, 1, 6, 6, dtype=torch.float64)
    sequential = IFIMDecomposition(model, backward="sequential").decompose(x, energy=0.8)
    for backward in ("batched", "auto"):
        other = IFIMDecomposition(model, backward=backward).decompose(x, energy=0.8)
        torch.testing.assert_close(other.eigenvalues, sequential.eigenvalues, **TIGHT)
        torch.testing.assert_close(other.eigenvectors, sequential.eigenvectors, **TIGHT)
        torch.testing.assert_close(other.sensitive, sequential.sensitive, **TIGHT)
        torch.testing.assert_close(other.insensitive, sequential.insensitive, **TIGHT)
        assert torch.equal(other.num_components, sequential.num_components)
        assert torch.equal(other.rank, sequential.rank)


def test_batched_ifim_equals_sequential_on_a_float32_relu_cnn():
    """Float tolerance on the benchmark's ReLU CNN in float32, through the registry."""
    from comparisons.models import build_model

    model = build_model("shallow-cnn", 1, 10, (16, 16), seed=3).eval()
    x = torch.randn(3, 1, 16, 16)
    sequential = build_method("ifim-sensitive", model, backward="sequential").attribute(x)
    batched = build_method("ifim-sensitive", model, backward="batched").attribute(x)
    scale = float(sequential.abs().max())
    torch.testing.assert_close(batched, sequential, rtol=1e-5, atol=1e-5 * scale)


def test_backward_modes_make_their_passes_and_auto_follows_its_rule(make_net):
    model = make_net(num_classes=4)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    calls = {}
    for backward in ("sequential", "batched"):
        grad = torch.autograd.grad
        seen = []

        def spy(*args, _grad=grad, _seen=seen, **kwargs):
            _seen.append(kwargs.get("is_grads_batched", False))
            return _grad(*args, **kwargs)

        torch.autograd.grad = spy
        try:
            IFIMDecomposition(model, backward=backward).decompose(x)
        finally:
            torch.autograd.grad = grad
        calls[backward] = seen
    assert calls == {"sequential": [False] * 3, "batched": [True]}
    with BackwardCounter() as counter:  # the benchmark counts the passes a batch stands for
        IFIMDecomposition(model, backward="batched").decompose(x)
    assert counter.count == 3
    small = (torch.zeros(4, CPU_BATCHED_MAX_VALUES // 4),)
    large = (torch.zeros(4, CPU_BATCHED_MAX_VALUES // 4 + 1),)
    assert prefer_batched_backward(3, small) and not prefer_batched_backward(3, large)
    assert not prefer_batched_backward(1, small)  # one row: nothing to batch
    with pytest.raises(ValueError, match="expected backward to be one of"):
        IFIMDecomposition(model, backward="vmap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected backward"):
        build_method("ifim-sensitive", model, backward="fast")


def test_auto_falls_back_to_sequential_where_the_graph_cannot_be_vectorized():
    class Opaque(torch.autograd.Function):  # no vmap rule: the batched backward fails
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            if grad.sum() > 0:  # data-dependent control flow: no batching rule
                return grad * 2
            return grad * 2

    linear = nn.Linear(6, 3).double()
    x = torch.randn(2, 6, dtype=torch.float64)

    def model(inputs: Tensor) -> Tensor:
        return linear(Opaque.apply(inputs))

    with pytest.raises(RuntimeError):
        IFIMDecomposition(model, backward="batched").decompose(x)
    auto = IFIMDecomposition(model, backward="auto").decompose(x)
    sequential = IFIMDecomposition(model, backward="sequential").decompose(x)
    torch.testing.assert_close(auto.eigenvalues, sequential.eigenvalues, **TIGHT)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_the_cheap_finite_check_answers_as_isfinite(dtype):
    big = torch.finfo(dtype).max
    cases = [
        torch.randn(50, dtype=dtype),
        torch.tensor([1.0, float("nan")], dtype=dtype),
        torch.tensor([float("inf"), 1.0], dtype=dtype),
        torch.tensor([float("-inf"), float("inf")], dtype=dtype),
        torch.full((8,), big / 2, dtype=dtype),  # finite, but the sum overflows
        torch.tensor([big, -big], dtype=dtype),
    ]
    assert not bool(torch.isfinite(cases[4].sum()))  # the fallback is exercised
    for case in cases:
        assert all_finite(case) == bool(torch.isfinite(case).all())


# ---------------------------------------------------------------- Score-CAM


def _cam_net(dims: int = 2) -> nn.Sequential:
    """A ReLU CNN whose target layer (index 4) has two constant channels (zero masks) and
    two equal ones (one mask), so that an image has fewer distinct masks than channels."""
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    pool = nn.MaxPool2d if dims == 2 else nn.MaxPool3d
    average = nn.AdaptiveAvgPool2d if dims == 2 else nn.AdaptiveAvgPool3d
    torch.manual_seed(7)
    model = nn.Sequential(
        conv(1, 6, 3, padding=1),
        nn.ReLU(),
        pool(2),
        conv(6, 8, 3, padding=1),
        nn.ReLU(),
        average(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    ).eval()
    with torch.no_grad():
        last = model[3]
        last.weight[:2] = 0
        last.bias[0], last.bias[1] = -1.0, 2.0  # all zero after ReLU; constant 2
        last.weight[3], last.bias[3] = last.weight[2], last.bias[2]  # channel 3 = channel 2
    return model


class _RowCounter:
    """Rows the model sees, by a forward pre-hook."""

    def __init__(self, model: nn.Module) -> None:
        self.rows = 0
        self._handle = model.register_forward_pre_hook(self._count)

    def _count(self, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        self.rows += args[0].shape[0]

    def remove(self) -> None:
        self._handle.remove()


def _distinct_masks(model: nn.Sequential, x: Tensor) -> list[int]:
    """Distinct min-max scaled masks per image, by brute force."""
    from captum_ifim._baselines._score_cam import score_cam_masks

    with torch.no_grad():
        activations = model[:5](x)
    return [
        len(torch.unique(score_cam_masks(x[n : n + 1], activations[n : n + 1]).flatten(1), dim=0))
        for n in range(x.shape[0])
    ]


def test_score_cam_maps_equal_pytorch_grad_cams_scorecam_in_2d():
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from captum_ifim import ScoreCAM

    model = _cam_net()
    x = torch.randn(5, 1, 16, 16)
    targets = [0, 2, 1, 1, 0]
    ours = ScoreCAM(model, model[4], batch_size=4).attribute(x, target=targets)
    library = pytorch_grad_cam.ScoreCAM(model, [model[4]])
    try:
        library.batch_size = 4
        expected = library(x, targets=[ClassifierOutputTarget(t) for t in targets])
    finally:
        library.activations_and_grads.release()
    torch.testing.assert_close(ours[:, 0], torch.from_numpy(expected), rtol=1e-5, atol=1e-6)
    assert torch.equal(ours[:, 0], ours[:, -1])


@pytest.mark.parametrize("dims", [2, 3])
def test_score_cam_forwards_each_distinct_mask_once(dims):
    from captum_ifim import ScoreCAM

    model = _cam_net(dims)
    side = (8,) * dims
    x = torch.randn(3, 1, *side)
    distinct = _distinct_masks(model, x)
    assert all(count < 8 for count in distinct)  # the zero masks and the equal pair
    explainer = ScoreCAM(model, model[4], batch_size=5)
    counter = _RowCounter(model)
    try:
        explainer.attribute(x, target=[0, 1, 2])
    finally:
        counter.remove()
    assert explainer.rows_forwarded == sum(distinct)
    assert counter.rows == x.shape[0] + sum(distinct)  # one forward for the activations


def test_score_cam_volumes_equal_the_one_image_every_channel_path():
    """3-D (and extra per-sample arguments): the batched, deduplicated weights give the
    maps of the former path, one image at a time with every channel forwarded."""
    import numpy as np
    import torch.nn.functional as F

    from captum_ifim import ScoreCAM
    from captum_ifim._baselines._sample_forward import bind_sample_forward
    from captum_ifim._baselines._score_cam import score_cam_weights

    class Shifted(nn.Module):  # one extra argument per sample
        def __init__(self) -> None:
            super().__init__()
            self.net = _cam_net(3)

        def forward(self, x: Tensor, shift: Tensor) -> Tensor:
            return self.net(x) + shift

    model = Shifted().eval()
    x = torch.randn(3, 1, 8, 8, 8)
    shift = torch.randn(3, 3)
    targets = [2, 0, 1]
    raw = ScoreCAM(model, model.net[4], normalization="none", batch_size=4).attribute(
        x, target=targets, additional_forward_args=(shift,)
    )
    with torch.no_grad():
        activations = model.net[:5](x)
    expected = []
    for n, t in enumerate(targets):
        forward = bind_sample_forward(model, (shift,), n, 3)
        weights = score_cam_weights(forward, x[n : n + 1], activations[n : n + 1], t, 4)
        expected.append(np.einsum("nk,nk...->n...", weights, activations[n : n + 1].numpy()))
    maps = torch.from_numpy(np.concatenate(expected))
    maps = F.interpolate(maps[:, None], (8, 8, 8), mode="trilinear", align_corners=False)
    torch.testing.assert_close(raw[:, 0], maps[:, 0], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- DeepSHAP


class _SmallResNet(nn.Module):
    """A ResNet in miniature: conv-BN-ReLU stem, an overlapping max pool, one residual block
    (an addition of two input-dependent paths), global average pool and a linear head."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        )
        self.branch = nn.Sequential(
            nn.Conv2d(4, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Conv2d(4, 4, 3, padding=1),
        )
        self.after = nn.ReLU()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        stem = self.stem(x)
        return self.head(self.after(stem + self.branch(stem)))


@functools.cache
def _small_resnet() -> nn.Module:
    torch.manual_seed(11)
    model = _SmallResNet()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _shap_per_sample(model: nn.Module, background: Tensor, x: Tensor, targets: Tensor) -> Tensor:
    """shap's DeepExplainer as users call it (every output, one sample at a time inside),
    on the copy DeepSHAP prepares (the overlapping max pool as ReLUs), target column kept."""
    import numpy as np
    import shap

    from captum_ifim._baselines._model_preparation import prepare_model_for_deepshap
    from captum_ifim._baselines._rescale_modules import register_rescale_rule
    from captum_ifim._optional_imports import import_optional

    register_rescale_rule(import_optional("shap.explainers._deep.deep_pytorch", "DeepSHAP"))
    explainer = shap.DeepExplainer(prepare_model_for_deepshap(model), background)
    values = torch.from_numpy(np.asarray(explainer.shap_values(x, check_additivity=False)))
    return torch.stack([values[n, ..., int(t)] for n, t in enumerate(targets)]).float()


@pytest.mark.parametrize("model_name", ["shallow-cnn", "small-resnet"])
def test_batched_deepshap_equals_shaps_deep_explainer(model_name):
    from captum_ifim import DeepSHAP
    from comparisons.models import build_model

    if model_name == "shallow-cnn":
        model = build_model("shallow-cnn", 1, 3, (16, 16), seed=5).eval()
    else:
        model = _small_resnet()
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(5, 1, 16, 16, generator=generator)
    background = torch.randn(4, 1, 16, 16, generator=generator)
    targets = torch.tensor([0, 2, 1, 1, 2])
    expected = _shap_per_sample(model, background, x, targets)
    scale = float(expected.abs().max())
    for batch_size in (None, 1, 3):  # every input in one pass; one by one; uneven chunks
        got = DeepSHAP(model, background, batch_size=batch_size).attribute(x, target=targets)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6 * scale)


def test_batched_deepshap_makes_one_backward_pass_per_chunk():
    from captum_ifim import DeepSHAP

    model = _small_resnet()
    x = torch.randn(5, 1, 16, 16)
    background = torch.randn(4, 1, 16, 16)
    for batch_size, passes in ((None, 1), (2, 3), (1, 5)):
        with BackwardCounter() as counter:
            DeepSHAP(model, background, batch_size=batch_size).attribute(x, target=[0] * 5)
        assert counter.count == passes
    with pytest.raises(ValueError, match="batch_size"):
        DeepSHAP(model, background, batch_size=0)


class _EveryRule(nn.Module):
    """Each rule the paired path computes, in 1-D, 2-D or 3-D: ReLU, tanh, SiLU (an
    ``ElementwiseRescale`` on the copy), a sigmoid head, non-overlapping max pools (one
    with ``ceil_mode``) and a residual addition."""

    def __init__(self, dims: int, channels: int = 3) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
        pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims]
        self.conv1 = conv(1, channels, 3, padding=1)
        self.pool1 = pool(2)
        self.conv2 = conv(channels, channels, 3, padding=1)
        self.pool2 = pool(2, ceil_mode=True)
        self.head = nn.Sequential(nn.Flatten(), nn.LazyLinear(3), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        h = self.pool1(torch.relu(self.conv1(x)))
        h = h + torch.tanh(self.conv2(h))
        return self.head(self.pool2(nn.functional.silu(h)))


def _every_rule(dims: int, dtype: torch.dtype) -> tuple[nn.Module, Tensor, Tensor]:
    """The model (seeded), 4 inputs and 3 background samples of side 10 (odd after the
    first pool, so ``ceil_mode`` adds windows), with a zero border shared by inputs and
    background, so that differences below shap's thresholds occur at every layer."""
    torch.manual_seed(dims)
    shape = (1,) + (10,) * dims
    model = _EveryRule(dims).to(dtype)
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(4, *shape, generator=generator, dtype=dtype)
    background = torch.randn(3, *shape, generator=generator, dtype=dtype)
    border = torch.ones(shape, dtype=dtype)
    border[(slice(None),) + (slice(3, 10),) * dims] = 0
    x[:, border.bool()] = 0
    background[:, border.bool()] = 0
    model(x)  # materialize the lazy layer
    return model.eval(), x, background


@pytest.mark.parametrize(
    "dims, dtype", [(1, torch.float32), (2, torch.float32), (2, torch.float64), (3, torch.float32)]
)
def test_paired_rules_give_shaps_values_in_every_dimension(dims, dtype):
    from captum_ifim import DeepSHAP

    model, x, background = _every_rule(dims, dtype)
    targets = torch.tensor([0, 1, 2, 0])
    expected = _shap_per_sample(model, background, x, targets).to(dtype)
    scale = float(expected.abs().max())
    for batch_size in (None, 3):
        got = DeepSHAP(model, background, batch_size=batch_size).attribute(x, target=targets)
        assert got.dtype == dtype
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6 * scale)


def test_paired_rules_forward_the_inputs_once_and_the_background_once_per_input():
    from captum_ifim import DeepSHAP

    model, x, background = _every_rule(2, torch.float32)
    rows: list[int] = []
    handle = model.conv1.register_forward_pre_hook(lambda _, args: rows.append(len(args[0])))
    try:
        DeepSHAP(model, background, check_additivity=False).attribute(x, target=0)
    finally:
        handle.remove()
    # The hook is copied with the model onto DeepSHAP's copy. Last come the inputs once
    # and the background once per input: 4 and 4 x 3 rows, where shap forwards 2 x 4 x 3.
    assert rows[-2:] == [len(x), len(x) * len(background)]


def _shap_rule_on_both_halves(rule, module: nn.Module, zx: Tensor, zb: Tensor, grad: Tensor):
    """shap's rule as its hooks call it, on shap's layout (each input tiled against its
    background rows, then the background rows), both halves given ``grad``; returns the
    gradient of the background half."""
    per_input = zb.shape[0] // zx.shape[0]
    joint = torch.cat((zx.repeat_interleave(per_input, dim=0), zb)).requires_grad_(True)
    output = module(joint)
    grad_output = torch.cat((grad, grad))
    (grad_input,) = torch.autograd.grad(output, joint, grad_output)
    module.x, module.y = joint.detach(), output.detach()
    try:
        result = rule(module, (grad_input,), (grad_output,))[0]
    finally:
        del module.x, module.y
    return result[zb.shape[0] :]


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "silu"])
def test_rescale_rule_is_shaps_nonlinear_1d_term_for_term(name):
    from shap.explainers._deep import deep_pytorch

    from captum_ifim._baselines._paired_rules import rescale
    from captum_ifim._baselines._rescale_modules import ElementwiseRescale

    module = {
        "relu": nn.ReLU(),
        "sigmoid": nn.Sigmoid(),
        "tanh": nn.Tanh(),
        "silu": ElementwiseRescale(nn.functional.silu, "silu"),
    }[name]
    generator = torch.Generator().manual_seed(4)
    zx = torch.randn(2, 50, generator=generator, dtype=torch.float64)
    zb = torch.randn(6, 50, generator=generator, dtype=torch.float64)
    paired = zx.repeat_interleave(3, dim=0)
    zb[:, :10] = paired[:, :10]  # equal: shap's fallback to the module's own gradient
    zb[:, 10:20] = paired[:, 10:20] + 4e-7  # below its threshold but not equal
    zx[:, 20:22] = zx[:, 20:22].abs() + 1e-3  # on both sides of a ReLU's kink
    zb[:, 20:22] = -zx.repeat_interleave(3, dim=0)[:, 20:22]
    grad = torch.randn(6, 50, generator=generator, dtype=torch.float64)
    expected = _shap_rule_on_both_halves(deep_pytorch.nonlinear_1d, module, zx, zb, grad)
    z = zb.clone().requires_grad_(True)
    with torch.no_grad():
        yx = module(zx)
    out = rescale(module, z, module(z), zx, yx)
    torch.testing.assert_close(out, module(zb), rtol=0, atol=0)
    (got,) = torch.autograd.grad(out, z, grad)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_pool_rule_is_shaps_maxpool_term_for_term(dims):
    from shap.explainers._deep import deep_pytorch

    from captum_ifim._baselines._paired_rules import _MaxPoolRule, _pool_with_indices

    module = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims](2, ceil_mode=True)
    generator = torch.Generator().manual_seed(dims)
    spatial = (5,) * dims
    zx = torch.randn(2, 3, *spatial, generator=generator, dtype=torch.float64).relu()
    zb = torch.randn(4, 3, *spatial, generator=generator, dtype=torch.float64).relu()
    paired = zx.repeat_interleave(2, dim=0)
    zb[:, 0] = paired[:, 0]  # a channel equal to the input: every difference 0
    zb[:, 1] = paired[:, 1] + 5e-8 * (zb[:, 1] > 0)  # below shap's threshold
    zb[0] = 0  # windows of ties
    yb_shape = _pool_with_indices(module, zb)[0].shape
    grad = torch.randn(yb_shape, generator=generator, dtype=torch.float64)
    expected = _shap_rule_on_both_halves(deep_pytorch.maxpool, module, zx, zb, grad)
    z = zb.clone().requires_grad_(True)
    y, indices = _pool_with_indices(module, z)
    yx, indices_x = _pool_with_indices(module, zx)
    out = _MaxPoolRule.apply(z, y, indices, zx, yx, indices_x)
    (got,) = torch.autograd.grad(out, z, grad)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


def test_a_max_pool_returning_its_indices_keeps_them_on_the_paired_rows():
    from captum_ifim import DeepSHAP

    class Unpacked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 3, 3, padding=1)
            self.pool = nn.MaxPool2d(2, return_indices=True)
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 3))

        def forward(self, x: Tensor) -> Tensor:
            values, _ = self.pool(torch.relu(self.conv(x)))
            return self.head(values)

    torch.manual_seed(2)
    model = Unpacked().eval()
    x, background = torch.randn(3, 1, 16, 16), torch.randn(4, 1, 16, 16)
    targets = torch.tensor([0, 1, 2])
    expected = _shap_per_sample(model, background, x, targets)
    got = DeepSHAP(model, background).attribute(x, target=targets)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6 * float(expected.abs().max()))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_channels_last_pooling_gives_the_same_maxima_and_indices(dims):
    from captum_ifim._baselines._paired_rules import _pool_with_indices

    pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims](2, ceil_mode=True)
    z = torch.randn(3, 4, *(7,) * dims).relu()  # ties: windows of zeros
    z[0] = 0
    expected = pool.__class__(2, ceil_mode=True, return_indices=True)(z)
    got = _pool_with_indices(pool, z)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_additional_arguments_pair_each_input_with_its_own():
    from captum_ifim import DeepSHAP

    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _small_resnet()

        def forward(self, x: Tensor, scale: Tensor) -> Tensor:
            return self.net(x * scale[:, None, None, None])

    model = Scaled().eval()
    x, background = torch.randn(3, 1, 16, 16), torch.randn(4, 1, 16, 16)
    scale = torch.tensor([0.5, 1.0, 2.0])
    got = DeepSHAP(model, background).attribute(x, target=1, additional_forward_args=(scale,))
    for n in range(3):
        alone = DeepSHAP(model, background).attribute(
            x[n : n + 1], target=1, additional_forward_args=(scale[n : n + 1],)
        )
        torch.testing.assert_close(got[n : n + 1], alone, rtol=1e-5, atol=1e-7)


def test_score_cam_bfloat16_is_opt_in_and_close_to_float32():
    from captum_ifim import ScoreCAM, build_method

    model = _cam_net()
    x = torch.randn(4, 1, 16, 16)
    targets = [0, 2, 1, 1]
    exact = ScoreCAM(model, model[4], batch_size=8).attribute(x, target=targets)
    rounded = ScoreCAM(model, model[4], batch_size=8, precision="bfloat16").attribute(
        x, target=targets
    )
    assert ScoreCAM(model, model[4]).precision == "float32"
    assert not torch.equal(exact, rounded)  # the passes did run in bfloat16
    correlation = torch.corrcoef(torch.stack([exact.flatten(), rounded.flatten()]))[0, 1]
    assert correlation > 0.99
    with pytest.raises(ValueError, match="expected precision in"):
        ScoreCAM(model, model[4], precision="float16")
    with pytest.raises(ValueError, match="expected precision in"):
        build_method("scorecam", model, target_layer=model[4], precision="half")
