"""``RegisteredMethod``: the wrapper every registry method is called through."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from captum.attr import Attribution
from torch import Tensor, nn

from captum_ifim._captum_compat import TargetType, _run_forward
from captum_ifim._methods._method_spec import MethodSpec
from captum_ifim._targets import resolve_targets
from captum_ifim._validation import check_eval_mode

_CAPTUM_REQUIRES_GRAD_WARNING = "Input Tensor .* did not already require gradients"


class RegisteredMethod(Attribution):
    """A registry method built for one model, with its extra ``attribute`` options fixed.

    Refuses a model in training mode with BatchNorm or Dropout layers (as the iFIM does),
    so that every method sees the same deterministic function, and checks ``target``
    against the model's outputs for every method, including those that ignore it (one
    extra forward pass for methods without a ``checks_targets = True`` attribute). The
    method sees detached inputs (new leaves on the same data), so the caller's tensors
    keep their ``requires_grad``, ``.grad`` and graph.

    Attributes:
        spec: The :class:`MethodSpec`.
        method: The underlying Captum-style attribution object.
        attribute_kwargs: Options passed to every ``method.attribute`` call.
    """

    def __init__(
        self,
        spec: MethodSpec,
        model: nn.Module,
        method: Attribution,
        attribute_kwargs: Mapping[str, Any],
    ) -> None:
        Attribution.__init__(self, model)
        self.spec = spec
        self.model = model
        self.method = method
        self.attribute_kwargs = dict(attribute_kwargs)

    @property
    def name(self) -> str:
        return self.spec.name

    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> Tensor | tuple[Tensor, ...]:
        """Attributions of ``inputs`` for ``target`` (Captum's conventions).

        Args:
            inputs: A tensor (N, ...) or a tuple of tensors.
            target: An int, a list or a tensor of N classes; ``None`` is the predicted class.
            additional_forward_args: Extra arguments for the model, as in Captum.

        Returns:
            The inputs' type, shapes, device and dtype.
        """
        check_eval_mode(self.model)
        detached = (
            tuple(_detached(x) for x in inputs) if isinstance(inputs, tuple) else _detached(inputs)
        )
        if target is not None and not getattr(self.method, "checks_targets", False):
            with torch.no_grad():
                outputs = _run_forward(self.model, detached, None, additional_forward_args)
            resolve_targets(target, outputs)
        with warnings.catch_warnings():
            # Captum's gradient methods warn when they set requires_grad on the inputs;
            # here those are the detached copies made above, never the caller's tensors.
            warnings.filterwarnings("ignore", message=_CAPTUM_REQUIRES_GRAD_WARNING)
            return self.method.attribute(
                detached,
                target=target,
                additional_forward_args=additional_forward_args,
                **self.attribute_kwargs,
            )

    def __repr__(self) -> str:
        return f"RegisteredMethod({self.spec.name!r}, {self.attribute_kwargs})"


def _detached(x: Any) -> Any:
    return x.detach() if isinstance(x, Tensor) else x
