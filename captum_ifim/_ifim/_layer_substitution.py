"""A layer's activation recorded, or replaced by given tensors, only inside a ``with`` block.

The layer iFIM is the iFIM of the function ``a -> model output`` that runs the model with
the layer's output (or input) set to ``a``: :class:`LayerSubstitution` records ``a`` in a
first pass and substitutes it in the next, so the input-space iFIM code differentiates the
rest of the network and nothing before the layer.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from torch import Tensor, nn


def as_tensor_tuple(value: Any, what: str) -> tuple[Tensor, ...]:
    """A tensor or a tuple/list of tensors as a tuple; anything else is a ``TypeError``."""
    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, Tensor) for v in value):
        return tuple(value)
    kinds = (
        f"{type(value).__name__} of {[type(v).__name__ for v in value]}"
        if isinstance(value, (tuple, list))
        else type(value).__name__
    )
    raise TypeError(
        f"expected the layer's {what} to be a tensor or a tuple of tensors, got {kinds}"
    )


class LayerSubstitution:
    """While active, records the layer's output (or positional inputs) on each call, and
    returns ``substitute`` in their place when it is set.

    Args:
        layer: The module.
        to_input: Act on the layer's positional inputs instead of its output.
        make_leaves: With no ``substitute``, replace the activation by detached copies
            that require gradients (recorded as such), to find what depends on it.

    Attributes:
        recorded: The tensors of each call so far (the layer's own, before substitution).
        substitute: Tensors that replace the layer's output (or inputs) on the next calls,
            or ``None`` to leave them as they are.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
        >>> with LayerSubstitution(model[0], to_input=False) as layer:
        ...     layer.substitute = (torch.tensor([[-1.0, 3.0]]),)
        ...     model(torch.zeros(1, 2)).tolist()
        [[0.0, 3.0]]
        >>> len(model[0]._forward_hooks)
        0
    """

    def __init__(self, layer: nn.Module, to_input: bool, make_leaves: bool = False) -> None:
        self.layer = layer
        self.to_input = to_input
        self.make_leaves = make_leaves
        self.recorded: list[tuple[Tensor, ...]] = []
        self.substitute: tuple[Tensor, ...] | None = None
        self._handle: Any = None

    def _replacement(self, given: tuple[Tensor, ...]) -> tuple[Tensor, ...] | None:
        if self.substitute is None:
            if not self.make_leaves:
                return None
            leaves = tuple(g.detach().requires_grad_(g.is_floating_point()) for g in given)
            self.recorded[-1] = leaves
            return tuple(leaf.clone() for leaf in leaves)
        if len(self.substitute) != len(given) or any(
            s.shape != g.shape for s, g in zip(self.substitute, given, strict=True)
        ):
            raise ValueError(
                "expected the layer's activation to keep its shapes between passes, got "
                f"{[tuple(g.shape) for g in given]} after "
                f"{[tuple(s.shape) for s in self.substitute]}"
            )
        # A clone, so that an in-place operation after the layer leaves the leaf alone.
        return tuple(s.clone() for s in self.substitute)

    def _pre_hook(self, module: nn.Module, args: tuple[Any, ...]) -> Any:
        given = as_tensor_tuple(args, "positional inputs")
        self.recorded.append(given)
        return self._replacement(given)

    def _hook(self, module: nn.Module, args: Any, output: Any) -> Any:
        given = as_tensor_tuple(output, "output")
        self.recorded.append(given)
        replaced = self._replacement(given)
        if replaced is None:
            return None
        return replaced[0] if isinstance(output, Tensor) else type(output)(replaced)

    def __enter__(self) -> LayerSubstitution:
        if self.to_input:
            self._handle = self.layer.register_forward_pre_hook(self._pre_hook)
        else:
            self._handle = self.layer.register_forward_hook(self._hook)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
