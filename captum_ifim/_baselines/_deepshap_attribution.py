"""DeepSHAP from ``shap.DeepExplainer`` behind Captum's ``attribute`` interface."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from captum.attr import Attribution
from torch import Tensor, fx, nn

from captum_ifim._baselines._deepshap_support import (
    UnsupportedModelError,
    in_place_operations,
    inexact_operations,
)
from captum_ifim._baselines._model_preparation import prepare_model_for_deepshap
from captum_ifim._baselines._paired_rules import PairedRules
from captum_ifim._baselines._rescale_modules import register_rescale_rule
from captum_ifim._baselines._sample_forward import (
    bind_forward,
    rows_arguments,
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
from captum_ifim._model_outputs import LogitsModel, logits_of
from captum_ifim._optional_imports import import_optional
from captum_ifim._targets import resolve_targets
from captum_ifim._validation import check_bool, check_inputs, check_positive_int

#: Input values per backward pass (rows x values per input) that ``batch_size=None`` keeps
#: a pass within: B rows per input (2 x B where shap's hooks run), as many inputs as fit,
#: at least one. The rules are elementwise and memory-bound, so small passes are faster
#: (the shallow CNN at 64 px, 16 inputs, B = 16, one thread on the 2-core AMD EPYC, best
#: of 3: 0.57 / 0.64 / 0.67 / 0.79 / 1.27 s with 1 / 2 / 4 / 8 / 16 inputs per pass; the
#: ResNet18 at 64 px within 8 % from 1 to 16).
PASS_VALUES = 2**16


def check_deepshap_settings(
    check_additivity: bool = True,
    additivity_tolerance: float = 1e-2,
    batch_size: int | None = None,
) -> None:
    """Raise unless these are valid :class:`DeepSHAP` options (a bool, a finite tolerance
    > 0, a positive ``batch_size`` or None); the registry's option check calls it too."""
    check_bool(check_additivity, "check_additivity")
    check_positive_int(batch_size, "batch_size", allow_none=True)
    if isinstance(additivity_tolerance, bool) or not isinstance(additivity_tolerance, (int, float)):
        raise TypeError(
            f"expected additivity_tolerance to be a float > 0, got {additivity_tolerance!r}"
        )
    if not (math.isfinite(additivity_tolerance) and additivity_tolerance > 0):
        raise ValueError(f"expected additivity_tolerance > 0, got {additivity_tolerance}")


class DeepSHAP(Attribution):
    """DeepSHAP (Lundberg & Lee, 2017): DeepLIFT's rescale rule averaged over a background.

    For each input x and background sample b, DeepLIFT multipliers propagate
    ``f_t(x) - f_t(b)`` to the input; the attribution is the average over the background
    of ``multiplier * (x - b)``, so it sums to ``f_t(x) - mean_b f_t(b)`` (additivity).
    Computed with ``shap.DeepExplainer``'s rules (its hooks) on a private copy of the model made by
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

    Only the target class is explained. shap's DeepExplainer runs one backward pass per
    input (and per output) on the input tiled against the background (2 x B rows) and
    reads the multipliers of the background half. Here, on a model fx traces and shap
    attributes exactly, the inputs go through one forward pass (their activations) and the
    background once per input (B rows each) through one forward and one backward pass with
    shap's rules applied against those activations
    (:class:`~captum_ifim._baselines._paired_rules.PairedRules`): half the rows, the same
    multipliers. Elsewhere shap's own hooks run on its 2 x B rows per input. Either way
    ``batch_size`` inputs share a pass and the values are shap's
    (``tests/test_speedups_exact.py``).

    Args:
        model: A classifier returning (N, C) outputs.
        background: (B, ...) reference inputs, the same shape as one input batch; moved
            to the inputs' device and dtype at each call.
        check_additivity: Raise if the attributions of an input do not sum to
            ``f_t(x) - mean_b f_t(b)`` within ``additivity_tolerance`` (shap's own check
            and tolerance, made here so that it also runs under ``python -O``).
        additivity_tolerance: Absolute tolerance of the check.
        batch_size: Inputs per pass; ``None`` takes as many as keep a pass within
            :data:`PASS_VALUES` input values (at least one).

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
        batch_size: int | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"expected model to be an nn.Module, got {type(model)}")
        if not isinstance(background, Tensor):
            raise TypeError(f"expected background to be a torch.Tensor, got {type(background)}")
        check_inputs((background,))
        check_deepshap_settings(check_additivity, additivity_tolerance, batch_size)
        self._shap = import_optional("shap", "DeepSHAP")
        Attribution.__init__(self, model)
        self.model = model
        self.background = background.detach()
        self.check_additivity = check_additivity
        self.additivity_tolerance = additivity_tolerance
        self.batch_size = batch_size

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
        rules = import_optional("shap.explainers._deep.deep_pytorch", "DeepSHAP")
        register_rescale_rule(rules)
        with torch.no_grad():
            outputs = logits_of(bind_forward(prepared, extra)(x), output_key)
        targets = resolve_targets(target, outputs)

        def forward(rows: Tensor, owner: Tensor) -> Tensor:
            return logits_of(prepared(rows, *rows_arguments(extra, owner, len(x))), output_key)

        values: Callable[..., Tensor]
        if _pairs_rows(prepared, inexact):
            hooks: PairedRules | _ShapHooks = PairedRules(prepared, rules)
            rows_per_input = len(background)
            values = functools.partial(self._paired_values, rules=hooks)
        else:  # shap's hooks on both halves, as shap runs them
            hooks = _ShapHooks(prepared, rules)
            rows_per_input, values = 2 * len(background), self._values
        step = self.batch_size or max(1, PASS_VALUES // (rows_per_input * x[0].numel()))
        with hooks, torch.enable_grad():
            parts = [
                values(forward, x, background, targets, start, step)
                for start in range(0, x.shape[0], step)
            ]
        attributions = torch.cat(parts).to(device=x.device, dtype=x.dtype)
        return _format_output(is_tuple, (attributions,))

    def _paired_values(
        self,
        forward: Callable[[Tensor, Tensor], Tensor],
        x: Tensor,
        background: Tensor,
        targets: Tensor,
        start: int,
        step: int,
        rules: PairedRules,
    ) -> Tensor:
        """SHAP values of inputs ``start:start + step``: one forward pass on them (their
        activations), then one forward and one backward pass on the background once per
        input, with shap's rules applied against the inputs' activations (the second
        half of shap's rows, which is where shap reads its multipliers)."""
        samples = x[start : start + step]
        count, size = samples.shape[0], background.shape[0]
        owner = torch.arange(start, start + count, device=x.device)
        at_inputs = rules.record(lambda: forward(samples, owner))
        references = background.repeat(count, *([1] * (background.dim() - 1)))
        references.requires_grad_(True)
        owner_rows = owner.repeat_interleave(size)
        scores = forward(references, owner_rows)
        chosen = targets.to(scores.device)
        selected = scores.gather(1, chosen[owner_rows][:, None])
        (gradient,) = torch.autograd.grad(selected.sum(), references)
        at_x = at_inputs.gather(1, chosen[owner][:, None])[:, 0]
        return self._checked_values(gradient, samples, background, at_x, selected, start)

    def _values(
        self,
        forward: Callable[[Tensor, Tensor], Tensor],
        x: Tensor,
        background: Tensor,
        targets: Tensor,
        start: int,
        step: int,
    ) -> Tensor:
        """SHAP values of inputs ``start:start + step``: one forward and one backward pass
        on their rows, each input tiled against the background (first half) and the
        background once per input (second half), as shap lays out one input.
        ``forward(rows, owner)`` gives the logits of rows of the inputs ``owner``."""
        samples = x[start : start + step]
        count, size = samples.shape[0], background.shape[0]
        tiled = samples.repeat_interleave(size, dim=0)  # x_j once per background sample
        references = background.repeat(count, *([1] * (background.dim() - 1)))
        joint = torch.cat((tiled, references)).requires_grad_(True)
        owner = torch.arange(start, start + count, device=x.device).repeat_interleave(size)
        owner = torch.cat((owner, owner))
        scores = forward(joint, owner)
        selected = scores.gather(1, targets.to(scores.device)[owner][:, None])
        (gradient,) = torch.autograd.grad(selected.sum(), joint)
        # shap takes the multipliers of the second half (the background rows).
        at_x = selected.detach()[: count * size : size, 0]
        return self._checked_values(
            gradient[count * size :], samples, background, at_x, selected[count * size :], start
        )

    def _checked_values(
        self,
        gradient: Tensor,
        samples: Tensor,
        background: Tensor,
        at_x: Tensor,
        at_b: Tensor,
        start: int,
    ) -> Tensor:
        """The SHAP values of ``samples`` from the multipliers of their background rows
        (``gradient``, (count x B, ...)): the mean over the background of multiplier times
        ``x - b``; each is checked to sum to ``f_t(x) - mean_b f_t(b)`` (``at_x``: (count,),
        ``at_b``: (count x B, 1)) when ``check_additivity`` is set, with one read of the
        sums to the host for the chunk."""
        count, size = samples.shape[0], background.shape[0]
        multipliers = gradient.view(count, size, *samples.shape[1:])
        values = (multipliers * (samples[:, None] - background[None])).mean(dim=1).detach()
        if self.check_additivity:
            differences = at_x.detach() - at_b.detach()[:, 0].view(count, size).mean(dim=1)
            sums = torch.stack((values.flatten(1).sum(dim=1), differences)).tolist()
            for j, (total, difference) in enumerate(zip(*sums, strict=True)):
                if abs(total - difference) >= self.additivity_tolerance:
                    raise RuntimeError(
                        f"expected the DeepSHAP values of input {start + j} to sum to f(x) - "
                        f"E[f(b)] = {difference:.6g}, got {total:.6g} (tolerance "
                        f"{self.additivity_tolerance}); an operation in the model is not "
                        "supported by shap's DeepExplainer. Pass check_additivity=False to "
                        "accept approximate values."
                    )
        return values


def _pairs_rows(prepared: nn.Module, inexact: list[Any]) -> bool:
    """Whether the background rows alone are run (:class:`PairedRules`): on a traced copy
    where every operation has an exact rule (elsewhere the two halves of shap's layout
    may receive different gradients, and shap's own hooks run on both)."""
    return isinstance(prepared, fx.GraphModule) and not inexact


class _ShapHooks:
    """shap's DeepLIFT hooks on every leaf module (what its ``add_handles`` registers),
    removed on exit."""

    def __init__(self, model: nn.Module, rules: Any) -> None:
        self._model, self._rules, self._handles = model, rules, []

    def __enter__(self) -> _ShapHooks:
        for module in self._model.modules():
            if next(module.children(), None) is None:
                self._handles.append(module.register_forward_hook(self._rules.add_interim_values))
                self._handles.append(module.register_full_backward_hook(self._rules.deeplift_grad))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
