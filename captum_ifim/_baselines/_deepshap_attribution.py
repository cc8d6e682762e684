"""DeepSHAP from ``shap.DeepExplainer`` behind Captum's ``attribute`` interface."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from captum.attr import Attribution
from torch import Tensor, nn

from captum_ifim._baselines._deepshap_support import (
    UnsupportedModelError,
    in_place_operations,
    inexact_operations,
)
from captum_ifim._baselines._model_preparation import prepare_model_for_deepshap
from captum_ifim._baselines._rescale_modules import register_rescale_rule
from captum_ifim._baselines._sample_forward import (
    bind_forward,
    bind_sample_forward,
    sample_arguments,
)
from captum_ifim._captum_compat import (
    TargetType,
    _format_additional_forward_args,
    _format_output,
    _format_tensor_into_tuples,
    _is_tuple,
    log_usage,
)
from captum_ifim._model_outputs import LogitsModel, OutputKey, logits_of
from captum_ifim._optional_imports import import_optional
from captum_ifim._targets import resolve_targets
from captum_ifim._validation import check_bool, check_inputs


def check_deepshap_settings(
    check_additivity: bool = True, additivity_tolerance: float = 1e-2
) -> None:
    """Raise unless these are valid :class:`DeepSHAP` options (a bool, a finite tolerance
    > 0); the registry's option check calls it too."""
    check_bool(check_additivity, "check_additivity")
    if isinstance(additivity_tolerance, bool) or not isinstance(additivity_tolerance, (int, float)):
        raise TypeError(
            f"expected additivity_tolerance to be a float > 0, got {additivity_tolerance!r}"
        )
    if not (math.isfinite(additivity_tolerance) and additivity_tolerance > 0):
        raise ValueError(f"expected additivity_tolerance > 0, got {additivity_tolerance}")


class _TargetScore(nn.Module):
    """One output column of the prepared model, the only output shap has to explain."""

    def __init__(
        self,
        prepared: nn.Module,
        forward: Callable[[Tensor], Any],
        column: int,
        output_key: OutputKey = None,
    ):
        super().__init__()
        self.prepared = prepared  # a child, so shap hooks its leaves
        self._forward = forward
        self.column = column
        self.output_key = output_key

    def forward(self, x: Tensor) -> Tensor:
        logits = logits_of(self._forward(x), self.output_key)
        return logits[:, self.column : self.column + 1]


class DeepSHAP(Attribution):
    """DeepSHAP (Lundberg & Lee, 2017): DeepLIFT's rescale rule averaged over a background.

    For each input x and background sample b, DeepLIFT multipliers propagate
    ``f_t(x) - f_t(b)`` to the input; the attribution is the average over the background
    of ``multiplier * (x - b)``, so it sums to ``f_t(x) - mean_b f_t(b)`` (additivity).
    Computed by ``shap.DeepExplainer`` on a private copy of the model made by
    :func:`~captum_ifim._baselines._model_preparation.prepare_model_for_deepshap` (in-place
    ops out of place, reused modules duplicated, functional nonlinearities as modules,
    overlapping max pools as ReLUs, elementwise activations shap does not know with the
    rescale rule) in eval mode; the model itself is never hooked or modified, also when a
    call fails midway. Operations no rewrite makes exact (LayerNorm, attention, softmax,
    products of two input-dependent tensors, ...) are found on the copy before shap hooks
    anything: an :class:`~captum_ifim._baselines._deepshap_support.UnsupportedModelError`
    (a ``ValueError``) names the first, where it sits, and the methods that work instead;
    with ``check_additivity=False`` it is a warning and the approximate values are returned.
    Images, volumes and any other input shape are taken.

    Only the target class is explained (one backward pass per input on 2 x B samples),
    one input at a time.

    Args:
        model: A classifier returning (N, C) outputs.
        background: (B, ...) reference inputs, the same shape as one input batch; moved
            to the inputs' device and dtype at each call.
        check_additivity: Raise if the attributions of an input do not sum to
            ``f_t(x) - mean_b f_t(b)`` within ``additivity_tolerance`` (shap's own check
            and tolerance, made here so that it also runs under ``python -O``).
        additivity_tolerance: Absolute tolerance of the check.

    Example:
        >>> import torch
        >>> from captum_ifim import DeepSHAP
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)).eval()
        >>> explainer = DeepSHAP(model, background=torch.zeros(2, 3, 2, 2))
        >>> explainer.attribute(torch.randn(4, 3, 2, 2), target=1).shape
        torch.Size([4, 3, 2, 2])
    """

    #: ``attribute`` raises ValueError for targets out of range (read by the registry).
    checks_targets: ClassVar[bool] = True

    def __init__(
        self,
        model: nn.Module,
        background: Tensor,
        check_additivity: bool = True,
        additivity_tolerance: float = 1e-2,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"expected model to be an nn.Module, got {type(model)}")
        if not isinstance(background, Tensor):
            raise TypeError(f"expected background to be a torch.Tensor, got {type(background)}")
        check_inputs((background,))
        check_deepshap_settings(check_additivity, additivity_tolerance)
        self._shap = import_optional("shap", "DeepSHAP")
        Attribution.__init__(self, model)
        self.model = model
        self.background = background.detach()
        self.check_additivity = check_additivity
        self.additivity_tolerance = additivity_tolerance

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> Tensor | tuple[Tensor]:
        """SHAP values of each input for its target class.

        Args:
            inputs: (N, ...) with ``background``'s shape after the batch dimension, or a
                tuple holding that one tensor.
            target: The class per input, as in Captum; ``None`` takes the predicted class.
            additional_forward_args: Extra arguments for the model, as in Captum.

        Returns:
            Attributions of the inputs' shape, device and dtype (a tuple for a tuple input).
        """
        is_tuple = _is_tuple(inputs)
        formatted = _format_tensor_into_tuples(inputs)
        check_inputs(formatted)
        if len(formatted) != 1:
            raise ValueError(f"expected a single input tensor, got {len(formatted)} inputs")
        x = formatted[0].detach()
        if x.shape[1:] != self.background.shape[1:]:
            like = ", ".join(["N", *(str(size) for size in self.background.shape[1:])])
            raise ValueError(
                f"expected inputs shaped like the background, ({like}), got inputs of "
                f"shape {tuple(x.shape)} (background {tuple(self.background.shape)})"
            )
        extra = tuple(_format_additional_forward_args(additional_forward_args) or ())
        background = self.background.to(device=x.device, dtype=x.dtype)
        prepared = prepare_model_for_deepshap(self.model)  # the model behind a LogitsModel
        output_key = self.model.output_key if isinstance(self.model, LogitsModel) else None
        example = (x[:1], *sample_arguments(extra, 0, x.shape[0]))
        in_place = in_place_operations(prepared, example)
        if in_place:  # shap would fail inside its hooks, whatever check_additivity says
            raise UnsupportedModelError("DeepSHAP", in_place)
        inexact = inexact_operations(prepared, example)
        if inexact:
            error = UnsupportedModelError("DeepSHAP", inexact)
            if self.check_additivity:
                raise error
            warnings.warn(f"approximate DeepSHAP values: {error}", stacklevel=2)
        register_rescale_rule(import_optional("shap.explainers._deep.deep_pytorch", "DeepSHAP"))
        with torch.no_grad():
            outputs = logits_of(bind_forward(prepared, extra)(x), output_key)
        targets = resolve_targets(target, outputs)
        rows = []
        with torch.enable_grad():
            for index in range(x.shape[0]):
                column = int(targets[index])
                forward = bind_sample_forward(prepared, extra, index, x.shape[0])
                explainer = self._shap.DeepExplainer(
                    _TargetScore(prepared, forward, column, output_key), background
                )
                values = explainer.shap_values(x[index : index + 1], check_additivity=False)
                row = torch.from_numpy(np.asarray(values)[..., 0])
                if self.check_additivity:
                    expected = float(np.asarray(explainer.expected_value).reshape(-1)[0])
                    self._check_sum(row, float(outputs[index, column]) - expected, index)
                rows.append(row)
        attributions = torch.cat(rows).to(device=x.device, dtype=x.dtype)
        return _format_output(is_tuple, (attributions,))

    def _check_sum(self, row: Tensor, difference: float, index: int) -> None:
        total = float(row.sum())
        if abs(total - difference) >= self.additivity_tolerance:
            raise RuntimeError(
                f"expected the DeepSHAP values of input {index} to sum to f(x) - E[f(b)] = "
                f"{difference:.6g}, got {total:.6g} (tolerance {self.additivity_tolerance}); "
                "an operation in the model is not supported by shap's DeepExplainer. Pass "
                "check_additivity=False to accept approximate values."
            )
