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
    graph. A call with ``is_grads_batched=True`` counts once, although it runs a vmapped
    batch of passes. Code that bound ``grad`` at import time (``from torch.autograd
    import grad``) is not seen; Captum, shap and this project call it through the module.

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
            self.count += 1
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
