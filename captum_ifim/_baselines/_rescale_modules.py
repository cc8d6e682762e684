"""Modules the DeepSHAP copy is rebuilt with, so that shap's DeepLIFT rules are exact.

* :class:`MaxPoolAsReLUs`: an overlapping max pool (1-D, 2-D or 3-D) as a chain of ReLUs,
  since shap's unpooling rule keeps one of two values written to the same place.
* :class:`ElementwiseRescale`: an elementwise nonlinearity shap has no rule for (SiLU,
  Hardswish, ReLU6, Mish, ...), attributed by DeepLIFT's rescale rule
  ``delta out / delta in`` per element, which is exact (summation to delta) for any
  elementwise function; shap's rule for its own nonlinearities (``nonlinear_1d``) is
  registered for this class when DeepSHAP runs (:func:`register_rescale_rule`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch.nn.functional as F
from torch import Tensor, fx, nn

#: Spatial dimensions of each max pool class.
_MAX_POOL_DIMS: dict[type[nn.Module], int] = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}


def _tuple(value: int | tuple[int, ...], dims: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * dims
    values = tuple(int(v) for v in value)
    if len(values) != dims:
        raise ValueError(f"expected {dims} values, got {value!r}")
    return values


class MaxPoolAsReLUs(nn.Module):
    """``nn.MaxPool1d/2d/3d`` computed as ``m <- m + relu(t - m)`` over the window offsets.

    The same function (up to rounding) built from ReLU modules, so shap's DeepLIFT rule
    for ReLU attributes it exactly even when windows overlap. Padding repeats the edge,
    which leaves every window's maximum unchanged (each window holds the edge value it
    repeats).

    ``ceil_mode=True`` adds the windows that run off the end: the input is padded on that
    side by repeating its last element too, which leaves those windows' maxima unchanged.

    Args:
        pool: A max pool with dilation 1 and no indices.
    """

    def __init__(self, pool: nn.MaxPool1d | nn.MaxPool2d | nn.MaxPool3d) -> None:
        super().__init__()
        dims = _MAX_POOL_DIMS[type(pool)]
        self.dims = dims
        self.kernel_size = _tuple(pool.kernel_size, dims)
        self.stride = _tuple(pool.stride or pool.kernel_size, dims)
        self.padding = _tuple(pool.padding, dims)
        self.ceil_mode = bool(pool.ceil_mode)
        count = math.prod(self.kernel_size)
        self.relus = nn.ModuleList(nn.ReLU() for _ in range(count - 1))

    def forward(self, x: Tensor) -> Tensor:
        if self.ceil_mode:
            x = pad_for_ceil_mode(x, self.kernel_size, self.stride, self.padding)
        elif any(self.padding):
            pad: list[int] = []
            for size in reversed(self.padding):  # F.pad takes the last dimension first
                pad += [size, size]
            x = F.pad(x, pad, mode="replicate")
        # Unfold each spatial axis in turn; the window axes are appended at the end.
        windows = x
        start = x.dim() - self.dims
        for offset, (kernel, stride) in enumerate(zip(self.kernel_size, self.stride, strict=True)):
            windows = windows.unfold(start + offset, kernel, stride)
        flat = windows.flatten(-self.dims)  # (..., *out, prod(kernel)) in row-major offsets
        result = flat[..., 0]
        for index, relu in enumerate(self.relus, start=1):
            result = result + relu(flat[..., index] - result)
        return result


@fx.wrap
def pad_for_ceil_mode(
    x: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...]
) -> Tensor:
    """``x`` padded by repeating its edges: ``padding`` on both sides of each spatial axis,
    and at the end as many more elements as ``ceil_mode`` windows read past it (a window
    must start inside the input or its left padding, as in PyTorch). A single node for
    ``torch.fx`` (the sizes are known only when it runs); linear, so DeepLIFT passes its
    gradient through."""
    pad: list[int] = []
    sizes = x.shape[x.dim() - len(kernel) :]
    for length, k, s, p in reversed(list(zip(sizes, kernel, stride, padding, strict=True))):
        count = -(-(int(length) + 2 * p - k) // s) + 1
        if (count - 1) * s >= int(length) + p:
            count -= 1
        pad += [p, p + max(0, (count - 1) * s + k - (int(length) + 2 * p))]
    return F.pad(x, pad, mode="replicate")


#: The 2-D name this class had first (the tests and older code use it).
MaxPool2dAsReLUs = MaxPoolAsReLUs


def max_pool_overlaps(pool: nn.Module) -> bool:
    """Whether a max pool's windows overlap (kernel larger than stride on some axis)."""
    dims = _MAX_POOL_DIMS.get(type(pool))
    if dims is None:
        return False
    kernel = _tuple(pool.kernel_size, dims)  # type: ignore[arg-type]
    stride = _tuple(pool.stride or pool.kernel_size, dims)  # type: ignore[arg-type]
    return any(k > s for k, s in zip(kernel, stride, strict=True))


def max_pool_rebuildable(pool: nn.Module) -> bool:
    """Whether :class:`MaxPoolAsReLUs` computes this pool: dilation 1, no indices."""
    dims = _MAX_POOL_DIMS.get(type(pool))
    if dims is None:
        return False
    return _tuple(pool.dilation, dims) == (1,) * dims and not pool.return_indices  # type: ignore[arg-type]


class ElementwiseRescale(nn.Module):
    """An elementwise nonlinearity that shap's DeepExplainer attributes with the rescale
    rule ``grad_out * (f(x) - f(r)) / (x - r)`` per element (exact: the terms sum to
    ``f(x) - f(r)``).

    Args:
        function: The elementwise function (e.g. ``F.silu``, a bound ``nn.Hardswish``).
        name: What it computes, for ``repr`` and error messages.

    The function is kept outside the module tree (a module it wraps is not a child), so
    that shap sees this module as a leaf and hooks it, not the wrapped module.
    """

    def __init__(self, function: Callable[[Tensor], Tensor], name: str) -> None:
        super().__init__()
        object.__setattr__(self, "_function", function)
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        return self._function(x)  # type: ignore[operator]

    def extra_repr(self) -> str:
        return self.name


def register_rescale_rule(deep_pytorch: Any) -> None:
    """Give :class:`ElementwiseRescale` shap's rule for its own elementwise nonlinearities
    (``nonlinear_1d``, keyed by class name in shap's ``op_handler``); idempotent, and no
    other entry of shap's table is touched."""
    deep_pytorch.op_handler.setdefault(ElementwiseRescale.__name__, deep_pytorch.nonlinear_1d)
