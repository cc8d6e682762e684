"""Captum's ``infidelity`` and ``sensitivity_max`` (Yeh et al., 2019) behind the library's
checks.

Same signatures as Captum's; the checks run first, then Captum's function, unchanged, so
inputs that pass get Captum's values bit for bit (see Captum's documentation for the
arguments). Bad input gets a ``ValueError`` or ``TypeError`` saying what was expected,
where Captum would stop on an ``assert``, on an error from deep inside torch, or not at
all (NaN inputs, a batch of one target for many inputs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum.metrics import infidelity as _captum_infidelity
from captum.metrics import sensitivity_max as _captum_sensitivity_max
from torch import Tensor

from captum_ifim._captum_compat import _run_forward, default_perturb_func
from captum_ifim._targets import target_indices
from captum_ifim._validation import (
    check_bool,
    check_eval_mode,
    check_inputs,
    check_positive_int,
    explained_forward_failures,
    owning_module,
)
from captum_ifim.metrics._forward import slice_args
from captum_ifim.metrics._validation import (
    check_callable,
    check_holds_data,
    check_max_examples_per_batch,
    check_nonnegative,
    check_target_count,
)

Inputs = Tensor | tuple[Tensor, ...]


def _tensors(value: Any, name: str) -> tuple[Tensor, ...]:
    """A tensor or a tuple as a tuple (its elements are checked later); else TypeError."""
    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, tuple):
        return value
    raise TypeError(
        f"expected {name} to be a torch.Tensor or a tuple of them, got {type(value).__name__}"
    )


def _check_attributions(attributions: Any, inputs: tuple[Tensor, ...]) -> None:
    """One finite tensor per input, of its shape and on its device, holding data."""
    maps = _tensors(attributions, "attributions")
    if len(maps) != len(inputs):
        raise ValueError(
            f"expected attributions of the inputs' structure: {len(inputs)} tensors, got "
            f"{len(maps)}"
        )
    for position, (a, x) in enumerate(zip(maps, inputs, strict=True)):
        name = "attributions" if len(inputs) == 1 else f"attributions {position}"
        if not isinstance(a, Tensor):
            raise TypeError(f"expected {name} to be a torch.Tensor, got {type(a).__name__}")
        if a.shape != x.shape:
            raise ValueError(
                f"expected {name} of shape {tuple(x.shape)} (the inputs'), got {tuple(a.shape)}"
            )
        check_holds_data(a, name)
        if a.device != x.device:
            raise ValueError(f"expected {name} on the inputs' device {x.device}, got {a.device}")
        if not torch.isfinite(a).all():
            raise ValueError(f"expected finite {name}, got NaN or inf")


def _check_target_form(target: Any, inputs: tuple[Tensor, ...], same_device: bool) -> None:
    """The target's form and count against N (not yet its range) and, where Captum indexes
    the outputs with it (``same_device``), its device."""
    num_examples = inputs[0].shape[0]
    check_target_count(target, num_examples)
    on_another = isinstance(target, Tensor) and target.device != inputs[0].device
    if same_device and on_another and target.dim() > 0:
        raise ValueError(
            f"expected target on the inputs' device {inputs[0].device}, got {target.device}"
        )
    if target is not None and not _multi_dimensional(target):
        target_indices(target, num_examples, None)


def _multi_dimensional(target: Any) -> bool:
    """A Captum target for outputs of more than 2 dims (tuples): left to Captum."""
    return isinstance(target, tuple) or (
        isinstance(target, list) and any(isinstance(t, tuple) for t in target)
    )


def _check_classes(
    forward_func: Callable[..., Any],
    inputs: tuple[Tensor, ...],
    target: Any,
    additional_forward_args: Any,
    needs_target: bool,
) -> None:
    """Targets in the model's classes, from one forward pass on the first example, when
    its outputs are (1, C): ``None`` is refused for C > 1 where ``needs_target`` (Captum
    would stop on an error from inside torch). Other outputs are left to Captum."""
    first = tuple(x[:1] for x in inputs)
    with torch.no_grad(), explained_forward_failures(forward_func, inputs, additional_forward_args):
        outputs = _run_forward(forward_func, first, None, slice_args(additional_forward_args, 0, 1))
    if not isinstance(outputs, Tensor) or outputs.dim() != 2:
        return
    num_classes = int(outputs.shape[1])
    if target is None:
        if needs_target and num_classes > 1:
            raise ValueError(
                f"expected a target (one class per input) for a model with {num_classes} "
                "outputs, got None"
            )
        return
    if not _multi_dimensional(target):
        target_indices(target, inputs[0].shape[0], num_classes)


def infidelity(
    forward_func: Callable[..., Tensor],
    perturb_func: Callable[..., Any],
    inputs: Inputs,
    attributions: Inputs,
    baselines: Any = None,
    additional_forward_args: Any = None,
    target: Any = None,
    n_perturb_samples: int = 10,
    max_examples_per_batch: int | None = None,
    normalize: bool = False,
) -> Tensor:
    """Captum's ``captum.metrics.infidelity`` after the library's checks; lower is better.

    Checked before Captum runs: callables; inputs as the methods check them (floating,
    finite, a non-empty batch, real data, the model's dtype and device, the model in eval
    mode); attributions of the inputs' shapes, finite; the target's form and count (one
    per input, or one for all as an int or a 0-d tensor) and, from one forward pass on the
    first input, its classes (a target is needed for a model with several outputs);
    ``n_perturb_samples`` and ``max_examples_per_batch`` positive, ``normalize`` a bool.

    Returns:
        (N,) as Captum's: the same values for the same draws of ``perturb_func``.

    Raises:
        TypeError, ValueError: Bad input, named ("expected ..., got ...").

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
        >>> x = torch.randn(3, 1, 2, 2)
        >>> perturb = lambda x: (torch.full_like(x, 0.1), x - 0.1)
        >>> infidelity(model, perturb, x, x.abs(), target=0, n_perturb_samples=2).shape
        torch.Size([3])
    """
    check_callable(forward_func, "forward_func")
    check_callable(perturb_func, "perturb_func")
    formatted = _tensors(inputs, "inputs")
    check_inputs(formatted, forward_func)
    check_eval_mode(forward_func)
    _check_attributions(attributions, formatted)
    check_positive_int(n_perturb_samples, "n_perturb_samples")
    check_max_examples_per_batch(max_examples_per_batch)
    check_bool(normalize, "normalize")
    _check_target_form(target, formatted, same_device=True)
    _check_classes(forward_func, formatted, target, additional_forward_args, needs_target=True)
    return _captum_infidelity(
        forward_func,
        perturb_func,
        inputs,
        attributions,
        baselines=baselines,
        additional_forward_args=additional_forward_args,
        target=target,
        n_perturb_samples=n_perturb_samples,
        max_examples_per_batch=max_examples_per_batch,
        normalize=normalize,
    )


def _explainer_model(explanation_func: Any) -> Callable[..., Any] | None:
    """The model behind a Captum-style ``attribute`` (its object's ``forward_func``)."""
    owner = getattr(explanation_func, "__self__", None)
    model = getattr(owner, "forward_func", None)
    return model if callable(model) else None


def sensitivity_max(
    explanation_func: Callable[..., Any],
    inputs: Inputs,
    perturb_func: Callable[..., Any] = default_perturb_func,
    perturb_radius: float = 0.02,
    n_perturb_samples: int = 10,
    norm_ord: str = "fro",
    max_examples_per_batch: int | None = None,
    **kwargs: Any,
) -> Tensor:
    """Captum's ``captum.metrics.sensitivity_max`` after the library's checks; lower is
    better.

    Checked before Captum runs: callables; inputs as the methods check them (with the
    dtype and device of the model behind a Captum-style ``attribute``, when there is
    one); ``perturb_radius`` finite and >= 0; ``n_perturb_samples`` and
    ``max_examples_per_batch`` positive; a ``target`` keyword's form and count (one per
    input, or one for all as an int or a 0-d tensor) and, where the model is known and in
    eval mode, its classes (one forward pass on the first input).

    Returns:
        (N,) as Captum's: the same values for the same random state.

    Raises:
        TypeError, ValueError: Bad input, named ("expected ..., got ...").

    Example:
        >>> from captum.attr import Saliency
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
        >>> x = torch.randn(3, 1, 2, 2)
        >>> sensitivity_max(Saliency(model).attribute, x, n_perturb_samples=2, target=1).shape
        torch.Size([3])
    """
    check_callable(explanation_func, "explanation_func")
    check_callable(perturb_func, "perturb_func")
    formatted = _tensors(inputs, "inputs")
    model = _explainer_model(explanation_func)
    check_inputs(formatted, model)
    check_nonnegative(perturb_radius, "perturb_radius")
    check_positive_int(n_perturb_samples, "n_perturb_samples")
    check_max_examples_per_batch(max_examples_per_batch)
    target = kwargs.get("target")
    _check_target_form(target, formatted, same_device=False)  # the explainer's concern
    module = owning_module(model) if model is not None else None
    if model is not None and target is not None and not (module is not None and module.training):
        # (a forward pass in training mode could change the model: left to the explainer)
        extra = kwargs.get("additional_forward_args")
        _check_classes(model, formatted, target, extra, needs_target=False)
    return _captum_sensitivity_max(
        explanation_func,
        inputs,
        perturb_func=perturb_func,
        perturb_radius=perturb_radius,
        n_perturb_samples=n_perturb_samples,
        norm_ord=norm_ord,
        max_examples_per_batch=max_examples_per_batch,
        **kwargs,
    )
