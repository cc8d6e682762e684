"""Counting backward passes: every ``torch.autograd.grad`` and ``torch.autograd.backward`` call."""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any

import torch


class BackwardCounter:
    """Context manager that counts the backward passes run inside it.

    ``torch.autograd.grad`` and ``torch.autograd.backward`` (which ``Tensor.backward``
    calls) are wrapped while the context is open; each call is one pass through the
    graph, and a call with ``is_grads_batched=True`` counts as many passes as it
    vectorizes (the leading size of its ``grad_outputs``), the work it stands for. Code
    that bound ``grad`` at import time (``from torch.autograd import grad``) is not seen;
    Captum, shap and this project call it through the module.

    Attributes:
        count: Backward passes so far.

    Example:
        >>> import torch
        >>> x = torch.ones(3, requires_grad=True)
        >>> with BackwardCounter() as counter:
        ...     _ = torch.autograd.grad((x * x).sum(), x)
        >>> counter.count
        1
    """

    def __init__(self) -> None:
        self.count = 0
        self._saved: tuple[Callable[..., Any], Callable[..., Any]] | None = None

    def _counting(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.count += _passes(args, kwargs)
            return function(*args, **kwargs)

        return wrapper

    def __enter__(self) -> BackwardCounter:
        if self._saved is not None:
            raise RuntimeError("expected a BackwardCounter to be entered once at a time")
        self._saved = (torch.autograd.grad, torch.autograd.backward)
        torch.autograd.grad = self._counting(torch.autograd.grad)
        torch.autograd.backward = self._counting(torch.autograd.backward)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._saved is None:
            return
        torch.autograd.grad, torch.autograd.backward = self._saved
        self._saved = None


def _passes(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Passes one ``torch.autograd.grad`` call makes: 1, or the batch of a batched one."""
    if not kwargs.get("is_grads_batched", False):
        return 1
    grad_outputs = kwargs.get("grad_outputs", args[2] if len(args) > 2 else None)
    if isinstance(grad_outputs, (tuple, list)):
        grad_outputs = grad_outputs[0] if grad_outputs else None
    return int(grad_outputs.shape[0]) if isinstance(grad_outputs, torch.Tensor) else 1
