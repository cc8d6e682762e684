"""``RegisteredMethod``: the wrapper every registry method is called through."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from captum.attr import Attribution
from torch import Tensor, nn

from captum_ifim._baselines._deepshap_support import UnsupportedModelError
from captum_ifim._captum_compat import TargetType, _run_forward, log_usage
from captum_ifim._methods._method_spec import MethodSpec
from captum_ifim._targets import resolve_targets
from captum_ifim._validation import check_eval_mode, check_inputs, explained_forward_failures

_CAPTUM_REQUIRES_GRAD_WARNING = "Input Tensor .* did not already require gradients"


class RegisteredMethod(Attribution):
    """A registry method built for one model, with its extra ``attribute`` options fixed.

    Every method gets the same checks, before any forward pass: the inputs (floating,
    finite, a non-empty batch, real data, the model's dtype and device; see
    :func:`~captum_ifim._validation.check_inputs`) and the model (training mode with
    BatchNorm or Dropout layers is refused, as the iFIM does, so that every method sees
    the same deterministic function). ``target`` is checked against the model's outputs
    for every method, including those that ignore it (one extra forward pass for methods
    without a ``checks_targets = True`` attribute); ``None`` is the predicted class for
    every method whose map depends on the class (``spec.uses_target``), Captum's
    gradient methods included. The method sees detached inputs (new
    leaves on the same data), so the caller's tensors keep their ``requires_grad``,
    ``.grad`` and graph. Inputs the model cannot take (a wrong rank or channel count) end
    in a ``ValueError`` naming their shape and the layer that refused them, with the shape
    it takes. A method that cannot attribute the model exactly (DeepSHAP on a
    ViT) raises an :class:`~captum_ifim._baselines._deepshap_support.UnsupportedModelError`
    naming the registry methods that work on it.

    Captum's ``NoiseTunnel`` takes it like any Captum method (``NoiseTunnel(build_method(
    "ifim-insensitive", model))`` smooths I(x), with the built options kept), and every
    method works under ``torch.no_grad()``, where NoiseTunnel calls it.

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
        alternatives: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        Attribution.__init__(self, model)
        self.spec = spec
        self.model = model
        self.method = method
        self.attribute_kwargs = dict(attribute_kwargs)
        self._alternatives = alternatives

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def multiplies_by_inputs(self) -> bool:
        """The underlying method's flag (Captum's NoiseTunnel reads it)."""
        return bool(getattr(self.method, "multiplies_by_inputs", False))

    # Captum's NoiseTunnel calls ``attribute.__wrapped__``, which log_usage provides.
    @log_usage()
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
        detached = self._checked(inputs)
        with warnings.catch_warnings(), self._explained_failures(detached, additional_forward_args):
            target = self._checked_target(detached, target, additional_forward_args)
            # Captum's gradient methods warn when they set requires_grad on the inputs;
            # here those are the detached copies made above, never the caller's tensors.
            warnings.filterwarnings("ignore", message=_CAPTUM_REQUIRES_GRAD_WARNING)
            try:
                return self.method.attribute(
                    detached,
                    target=target,
                    additional_forward_args=additional_forward_args,
                    **self.attribute_kwargs,
                )
            except UnsupportedModelError as error:
                if self._alternatives is None:
                    raise
                raise error.with_alternatives(self._alternatives()) from None

    def eigenvalues(
        self, inputs: Tensor | tuple[Tensor, ...], additional_forward_args: Any = None
    ) -> Tensor:
        """The per-input iFIM eigenvalues lambda_i (eq. 8) of a method with a spectrum.

        Args:
            inputs: A tensor (N, ...) or a tuple of tensors, checked as by :meth:`attribute`.
            additional_forward_args: Extra arguments for the model, as in Captum.

        Returns:
            (N, R) float64 on the inputs' device, descending, zero past each input's rank
            (R = C - 1 for softmax heads); the built ``internal_batch_size`` bounds memory.

        Raises:
            ValueError: The method has no spectrum (``spec.has_spectrum`` is False).

        Example:
            >>> import torch
            >>> from captum_ifim import build_method
            >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
            >>> build_method("ifim-sensitive", model).eigenvalues(torch.randn(2, 4)).shape
            torch.Size([2, 2])
        """
        return self.decompose(inputs, additional_forward_args).eigenvalues

    def decompose(
        self, inputs: Tensor | tuple[Tensor, ...], additional_forward_args: Any = None
    ) -> Any:
        """The full iFIM decomposition of a method with a spectrum, with the method's own
        options (``energy``, ``internal_batch_size``): one pass gives the map
        (``sensitive`` for ``"ifim-sensitive"``, equal to :meth:`attribute`), the other
        component, the eigenvalues (eq. 8) and the eigenvectors (eq. 9).

        Returns:
            An :class:`~captum_ifim.IFIMResult`.

        Raises:
            ValueError: The method has no spectrum; and :meth:`attribute`'s checks.

        Example:
            >>> import torch
            >>> from captum_ifim import build_method
            >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
            >>> method = build_method("ifim-sensitive", model)
            >>> x = torch.randn(2, 4)
            >>> torch.equal(method.decompose(x).sensitive, method.attribute(x))
            True
        """
        decompose = getattr(self.method, "decompose", None)
        if not self.spec.has_spectrum or not callable(decompose):
            raise ValueError(
                "expected a method with an iFIM spectrum (MethodSpec.has_spectrum, e.g. "
                f"'ifim-sensitive'), got {self.spec.name!r}, which has none"
            )
        detached = self._checked(inputs)
        options = {
            k: v for k, v in self.attribute_kwargs.items() if k in ("energy", "internal_batch_size")
        }
        with self._explained_failures(detached, additional_forward_args):
            return decompose(detached, additional_forward_args, **options)

    def _checked_target(
        self,
        detached: Tensor | tuple[Tensor, ...],
        target: TargetType,
        additional_forward_args: Any,
    ) -> TargetType:
        """``target`` checked against the model's outputs (one forward pass, for methods
        that do not check it themselves); ``None`` becomes the predicted class for a
        method whose map depends on the class (``spec.uses_target``) and a model with
        outputs (N, C), as Captum cannot take ``None`` for several outputs."""
        if getattr(self.method, "checks_targets", False):
            return target
        if target is None and not self.spec.uses_target:
            return None
        with torch.no_grad():
            outputs = _run_forward(self.model, detached, None, additional_forward_args)
        if target is None:
            is_matrix = isinstance(outputs, Tensor) and outputs.dim() == 2
            return resolve_targets(None, outputs) if is_matrix else None
        resolve_targets(target, outputs)
        return target

    def _explained_failures(
        self, detached: Tensor | tuple[Tensor, ...], additional_forward_args: Any
    ) -> contextlib.AbstractContextManager[None]:
        """Re-raise a failure on inputs the model cannot take (a wrong rank or channel
        count) as a ``ValueError`` naming the shapes; any other failure as it was."""
        formatted = detached if isinstance(detached, tuple) else (detached,)
        return explained_forward_failures(
            self.model, formatted, additional_forward_args, passthrough=(UnsupportedModelError,)
        )

    def _checked(self, inputs: Any) -> Any:
        """Detached inputs after the checks every method gets (model first, then inputs)."""
        check_eval_mode(self.model)
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                f"expected inputs to be a torch.Tensor or a tuple of them, got {type(inputs)}"
            )
        formatted = inputs if isinstance(inputs, tuple) else (inputs,)
        check_inputs(formatted, self.model)
        return tuple(x.detach() for x in inputs) if isinstance(inputs, tuple) else inputs.detach()

    def __repr__(self) -> str:
        return f"RegisteredMethod({self.spec.name!r}, {self.attribute_kwargs})"
