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
        torch.randn(50),
        torch.tensor([1.0, float("nan")]),
        torch.tensor([float("inf"), 1.0]),
        torch.tensor([float("-inf"), float("inf")]),
        torch.full((8,), big / 2),  # finite, but the sum overflows
        torch.tensor([big, -big]),
    ]
    for case in cases:
        case = case.to(dtype)
        assert all_finite(case) == bool(torch.isfinite(case).all())
