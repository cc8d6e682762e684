"""shap's DeepLIFT rules computed on the background rows alone.

shap's DeepExplainer runs one input ``x`` as 2 x B rows: ``x`` tiled B times, then the B
background samples, and keeps the multipliers of the second half. On a model where its
rules are exact the two halves receive the same gradient (both are given ``1`` at the
output, linear modules map equal gradients to equal gradients, and each rule writes the
same multiplier to both halves), so the first half is a copy: its forward pass only
supplies the activations of ``x``, which are the same in all B of its rows.

:class:`PairedRules` gets those activations from one forward pass on the inputs (N rows)
and applies the rules in a forward pass on the background rows (N x B rows, row
``j * B + k`` pairing input j with background sample k), so that a backward pass on those
rows gives shap's multipliers: half the rows forward and backward, and no full backward
hooks. It swaps each rule module of the private copy for a twin while it is entered. The
rules are shap's (``shap.explainers._deep.deep_pytorch``), term for term:

* ``nonlinear_1d`` (ReLU, ELU, sigmoid, tanh, ..., ``ElementwiseRescale``): the gradient
  ``(f(x) - f(b)) / (x - b)`` per element, or the module's own gradient at ``b`` where
  ``|x - b| < 1e-6``;
* ``maxpool`` (non-overlapping max pools): the output differences unpooled at the maxima of
  ``x`` and of ``b`` and divided by ``x - b`` (0 where ``|x - b| < 1e-7``);
* every other module, and every function between modules, keeps its gradient.

A multiplier is the same whichever half it is read from, except where ``|x - b|`` is below
shap's threshold and ``f'(x) != f'(b)`` (a ReLU input within 1e-6 of zero on both sides
of it): shap's halves differ there too, and this takes the background half, as shap does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd import forward_ad

#: shap's thresholds on ``|x - b|`` below which its rules fall back (``deep_pytorch``).
NONLINEAR_TINY = 1e-6
MAXPOOL_TINY = 1e-7

#: Each max pool's function and the memory format it is fastest in on CPU.
_POOLS: dict[type[nn.Module], tuple[Callable[..., Any], Any]] = {
    nn.MaxPool1d: (F.max_pool1d, torch.contiguous_format),
    nn.MaxPool2d: (F.max_pool2d, torch.channels_last),
    nn.MaxPool3d: (F.max_pool3d, torch.channels_last_3d),
}


def _paired(b: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """(N x B, ...) background rows and (N, ...) input rows as (N, B, ...) and (N, 1, ...)."""
    return b.reshape(x.shape[0], -1, *b.shape[1:]), x[:, None]


def _local_gradient(module: nn.Module, z: Tensor) -> Tensor:
    """f'(z) of an elementwise module, the gradient shap's rule falls back to: one
    forward-mode pass with tangent 1 (a backward pass where an operation has no
    forward-mode formula)."""
    if type(module) is nn.ReLU:
        return (z > 0).to(z.dtype)
    try:
        with forward_ad.dual_level():
            out = module(forward_ad.make_dual(z, torch.ones_like(z)))
            tangent = forward_ad.unpack_dual(out).tangent
        if tangent is not None:
            return tangent
    except RuntimeError:  # NotImplementedError too: no forward-mode formula
        pass
    with torch.enable_grad():
        leaf = z.detach().requires_grad_(True)
        (gradient,) = torch.autograd.grad(module(leaf).sum(), leaf)
    return gradient


class _Multiply(torch.autograd.Function):
    """Returns ``y`` (no copy) and passes ``grad * multiplier`` to ``z``."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, y: Tensor, multiplier: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(multiplier)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        (multiplier,) = ctx.saved_tensors
        return grad * multiplier, None, None


def rescale(module: nn.Module, z: Tensor, y: Tensor, zx: Tensor, yx: Tensor) -> Tensor:
    """shap's ``nonlinear_1d`` rule on background rows.

    Args:
        module: The elementwise module (its own gradient is the fallback).
        z, y: Its input and output on the N x B background rows.
        zx, yx: Its input and output on the N inputs.

    Returns:
        ``y``, whose gradient with respect to ``z`` is ``(yx - y) / (zx - z)`` per element
        (each background row against its input), or ``f'(z)`` where ``|zx - z| < 1e-6``.
    """
    zb, zx_ = _paired(z.detach(), zx)
    yb, yx_ = _paired(y.detach(), yx)
    delta_in = zx_ - zb
    multiplier = (yx_ - yb) / delta_in
    tiny = delta_in.abs() < NONLINEAR_TINY
    if bool(tiny.any()):
        multiplier = torch.where(tiny, _local_gradient(module, zb), multiplier)
    return _Multiply.apply(z, y.detach(), multiplier.reshape(z.shape))


def _over(numerator: Tensor, denominator: Tensor, tiny: float) -> Tensor:
    """``numerator / denominator``, 0 where ``|denominator| < tiny`` (shap's ``where``)."""
    return torch.where(denominator.abs() < tiny, 0.0, numerator / denominator)


class _MaxPoolRule(torch.autograd.Function):
    """shap's ``maxpool`` rule on background rows: forward returns the pool's output on
    them, backward the output differences unpooled at the maxima of the input and of the
    background row, over the input differences there.

    shap divides the unpooled map by ``x - b`` everywhere; it is zero off the maxima, so
    the division is made on the pooled grid: at the input's maximum ``x - b`` is
    ``y_x - b[argmax x]``, at the background's ``x[argmax b] - y_b``."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        z: Tensor,
        y: Tensor,
        indices: Tensor,
        zx: Tensor,
        yx: Tensor,
        indices_x: Tensor,
    ) -> Tensor:
        ctx.save_for_backward(z.detach(), y, indices, zx, yx, indices_x)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        z, y, indices, zx, yx, indices_x = ctx.saved_tensors
        count, channels = zx.shape[0], zx.shape[1]
        # (N, B, C, positions) views: pooled outputs, their indices, the pool inputs.
        pooled = (count, -1, channels, y[0, 0].numel())
        yb, yx_ = y.reshape(pooled), yx.reshape(count, 1, channels, -1)
        at_b, at_x = indices.reshape(pooled), indices_x.reshape(count, 1, channels, -1)
        zb = z.reshape(count, -1, channels, z[0, 0].numel())
        zx_ = zx.reshape(count, 1, channels, -1).expand(zb.shape)
        grad_ = grad.reshape(yb.shape)
        cross = torch.maximum(yx_, yb)
        at_x = at_x.expand(yb.shape)
        from_x = _over(grad_ * (cross - yb), yx_ - zb.gather(3, at_x), MAXPOOL_TINY)
        from_b = _over(grad_ * (yx_ - cross), zx_.gather(3, at_b) - yb, MAXPOOL_TINY)
        result = zb.new_zeros(zb.shape).scatter_add_(3, at_x, from_x).scatter_add_(3, at_b, from_b)
        return result.reshape(z.shape), None, None, None, None, None


def _pool_with_indices(module: nn.Module, z: Tensor) -> tuple[Tensor, Tensor]:
    """The pool's output and where each window's maximum sits (as shap computes them),
    pooled in channels-last memory (several times faster on CPU; same values and
    indices), returned contiguous."""
    pool, memory_format = _POOLS[type(module)]
    fast = z.detach().contiguous(memory_format=memory_format)
    with torch.no_grad():
        y, indices = pool(
            fast, module.kernel_size, module.stride, module.padding, module.dilation,
            module.ceil_mode, True,
        )  # fmt: skip
    return y.contiguous(), indices.contiguous()


class _Twin(nn.Module):
    """A rule module's stand-in: records its activations on the inputs, then applies the
    rule to the background rows. A max pool with ``return_indices=True`` still returns
    ``(values, indices)``."""

    def __init__(self, module: nn.Module, rule: str) -> None:
        super().__init__()
        self.module = module
        self.rule = rule
        self.recording = False
        self.saved: tuple[Tensor, ...] = ()

    def forward(self, z: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        if self.rule != "maxpool":
            return self._apply(z, self.module(z), None)
        y, indices = _pool_with_indices(self.module, z)
        out = self._apply(z, y, indices)
        return (out, indices) if self.module.return_indices else out

    def _apply(self, z: Tensor, y: Tensor, indices: Tensor | None) -> Tensor:
        if self.recording:
            self.saved = (z.detach(), y.detach()) + (() if indices is None else (indices,))
            return y
        if not self.saved:
            raise RuntimeError(
                f"no activations of the inputs were recorded for {self.module!r}: a module "
                "ran on the background rows but not on the inputs"
            )
        zx = self.saved[0]
        if z.shape[1:] != zx.shape[1:] or z.shape[0] % zx.shape[0]:
            raise RuntimeError(
                f"{self.module!r} saw inputs of shape {tuple(zx.shape)} and background rows "
                f"of shape {tuple(z.shape)}; expected N and N x B rows of the same shape"
            )
        if indices is not None:
            return _MaxPoolRule.apply(z, y, indices, *self.saved)
        return rescale(self.module, z, y, *self.saved)


def _rule_of(module: nn.Module, rules: Any) -> str | None:
    """shap's rule for a leaf module when it is one of the two this file computes."""
    if next(module.children(), None) is not None:
        return None
    name = getattr(rules.op_handler.get(type(module).__name__), "__name__", None)
    if name == "maxpool" and type(module) in _POOLS:
        return name
    return name if name == "nonlinear_1d" else None


class PairedRules:
    """While entered, each rule module of a prepared copy is swapped for a twin that
    applies shap's rule to background rows against the inputs' recorded activations.

    Args:
        model: The prepared copy (private, each module runs once per forward pass).
        rules: ``shap.explainers._deep.deep_pytorch`` (its ``op_handler`` says which rule
            each module class has).

    :meth:`record` runs a forward pass on N inputs and keeps their activations; a forward
    pass on N x B background rows after it returns outputs whose gradient with respect to
    those rows is shap's multipliers.
    """

    def __init__(self, model: nn.Module, rules: Any) -> None:
        self._places: list[tuple[nn.Module, str, nn.Module, str]] = []
        for parent in model.modules():
            for name, child in parent.named_children():
                rule = _rule_of(child, rules)
                if rule is not None:
                    self._places.append((parent, name, child, rule))
        self._twins: list[_Twin] = []

    def __enter__(self) -> PairedRules:
        for parent, name, child, rule in self._places:
            twin = _Twin(child, rule)
            setattr(parent, name, twin)
            self._twins.append(twin)
        return self

    def __exit__(self, *exc: object) -> None:
        for parent, name, child, _ in self._places:
            setattr(parent, name, child)
        self._twins.clear()

    def record(self, forward: Callable[[], Tensor]) -> Tensor:
        """Run ``forward`` (a pass on the inputs) keeping each rule module's activations."""
        for twin in self._twins:
            twin.recording, twin.saved = True, ()
        try:
            with torch.no_grad():
                return forward()
        finally:
            for twin in self._twins:
                twin.recording = False
