"""Local KL fidelity of the iFIM (Sec. III-C, eq. 18; docs/theory.md, "The local KL identity").

Eq. 18: ``KL(p(.|x) || p(.|x + delta)) = 1/2 delta^T F(x) delta + o(|delta|^2)``. Along
``delta = eps * u`` with a unit direction u the prediction is ``1/2 eps^2 u^T F u``, which
is ``1/2 eps^2 lambda_1`` for the leading eigenvector u_1. The metric measures the KL over
a range of eps and reports ``ratio = measured / predicted``, which tends to 1 as eps -> 0
when the iFIM is right; how fast it departs from 1 shows how local the quadratic picture
is. Use a float64 model for eps below ~1e-3: float32 outputs cannot resolve KL values
near 1e-8.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_ifim._ifim._ifim_decomposition import IFIMDecomposition, IFIMResult
from captum_ifim._ifim._output_heads import OutputHead, check_output_head
from captum_ifim._validation import check_eval_mode
from captum_ifim.metrics._forward import model_outputs
from captum_ifim.metrics._predictive import kl_divergence
from captum_ifim.metrics._validation import (
    check_holds_data,
    check_input_tensor,
    check_max_examples_per_batch,
)


@dataclass(frozen=True)
class KLFidelityResult:
    """Measured against predicted local KL along a unit direction per example.

    Attributes:
        epsilons: (E,) float64, the step lengths ``|delta|``.
        measured: (N, E) float64, ``KL(p(.|x) || p(.|x + eps u))``.
        predicted: (N, E) float64, 1/2 eps^2 u^T F u (eq. 18).
        ratio: (N, E) float64, measured / predicted; ``nan`` where the prediction is 0.
        quadratic_form: (N,) float64, u^T F u (lambda_1 for the default direction).
    """

    epsilons: Tensor
    measured: Tensor
    predicted: Tensor
    ratio: Tensor
    quadratic_form: Tensor


def _check_epsilons(epsilons: Sequence[float]) -> Tensor:
    values = [epsilons] if isinstance(epsilons, (int, float)) else list(epsilons)
    if not values or not all(
        isinstance(e, (int, float)) and not isinstance(e, bool) and math.isfinite(e) and e > 0
        for e in values
    ):
        raise ValueError(f"expected a non-empty sequence of finite epsilons > 0, got {epsilons!r}")
    return torch.tensor(values, dtype=torch.float64)


def _check_directions(directions: Any, inputs: Tensor, same_dtype: bool) -> None:
    """Raise unless ``directions`` is a finite tensor of the inputs' shape holding data;
    of their dtype and device too when ``same_dtype`` (they are added to the inputs)."""
    if not isinstance(directions, Tensor):
        raise TypeError(
            f"expected directions to be a torch.Tensor, got {type(directions).__name__}"
        )
    if directions.shape != inputs.shape:
        raise ValueError(
            f"expected directions of shape {tuple(inputs.shape)} (the inputs'), got "
            f"{tuple(directions.shape)}"
        )
    check_holds_data(directions, "directions")
    if same_dtype and directions.dtype != inputs.dtype:
        raise TypeError(
            f"expected directions of the inputs' dtype {inputs.dtype}, got {directions.dtype}"
        )
    if same_dtype and directions.device != inputs.device:
        raise ValueError(
            f"expected directions on the inputs' device {inputs.device}, got {directions.device}"
        )
    if not torch.isfinite(directions).all():
        raise ValueError("expected finite directions, got NaN or inf")


def _unit(directions: Tensor, allow_zero: bool) -> Tensor:
    flat = directions.flatten(1).double()
    norms = flat.norm(dim=1, keepdim=True)
    if not allow_zero and (norms == 0).any():
        raise ValueError("expected nonzero directions, got a zero direction")
    return flat / norms.clamp_min(torch.finfo(torch.float64).tiny)


def local_kl(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    directions: Tensor,
    epsilons: Sequence[float],
    *,
    output: OutputHead = "logits",
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> Tensor:
    """``KL(p(.|x) || p(.|x + eps * d))`` per example and eps, for directions d (not rescaled).

    Args:
        forward_func: The classifier, outputs (N, C).
        inputs: (N, ...) of the model's dtype and device.
        directions: The inputs' shape, dtype and device, finite.
        epsilons: Step lengths > 0.
        output, additional_forward_args, max_examples_per_batch: As :func:`kl_fidelity`.

    Returns:
        (N, E) float64.

    Raises:
        TypeError: Inputs or directions of another dtype (than the model's, the inputs').
        ValueError: Directions of another shape or device, NaN or inf, bad options, or
            inputs the model cannot take (the error names the layer).
    """
    check_output_head(output)
    check_input_tensor(inputs, model=forward_func)
    _check_directions(directions, inputs, same_dtype=True)
    check_max_examples_per_batch(max_examples_per_batch)
    eps = _check_epsilons(epsilons)
    clean = model_outputs(forward_func, inputs, additional_forward_args, max_examples_per_batch)
    columns = []
    for value in eps.tolist():
        shifted = inputs + value * directions
        out = model_outputs(forward_func, shifted, additional_forward_args, max_examples_per_batch)
        columns.append(kl_divergence(clean, out, output))
    return torch.stack(columns, dim=1).cpu()


def kl_fidelity(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    epsilons: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0),
    *,
    directions: Tensor | None = None,
    quadratic_form: Tensor | None = None,
    decomposition: IFIMResult[Tensor] | None = None,
    output: OutputHead = "logits",
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> KLFidelityResult:
    """Measured KL along a direction against the iFIM prediction of eq. 18.

    Args:
        forward_func: The classifier, outputs (N, C).
        inputs: (N, ...).
        epsilons: Step lengths ``|delta| > 0``.
        directions: (N, ...) directions, normalised to unit L2 norm per sample; ``None``
            takes the leading iFIM eigenvector u_1 (a rank-0 sample, e.g. a saturated
            softmax, gets a zero direction and ``nan`` ratios).
        quadratic_form: (N,) u^T F u for the given directions (e.g. their eigenvalues,
            for an explicit eigenpair); ``None`` computes it from the iFIM spectrum as
            ``sum_i lambda_i (u_i . u)^2``.
        decomposition: A precomputed ``IFIMDecomposition(...).decompose(inputs)`` to reuse;
            ``None`` computes it when needed.
        output: The output head (as for :class:`captum_ifim.IFIMDecomposition`).
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: Bound on inputs per model call (and per decomposition).

    Returns:
        A :class:`KLFidelityResult`.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)).double().eval()
        >>> res = kl_fidelity(model, torch.randn(2, 1, 2, 2, dtype=torch.float64), (1e-4,))
        >>> bool(((res.ratio - 1).abs() < 1e-3).all())
        True
    """
    check_output_head(output)
    check_input_tensor(inputs, model=forward_func)
    check_max_examples_per_batch(max_examples_per_batch)
    eps = _check_epsilons(epsilons)
    check_eval_mode(forward_func)
    if directions is not None:
        _check_directions(directions, inputs, same_dtype=False)
    num_examples = inputs.shape[0]

    def decompose() -> IFIMResult[Tensor]:
        if decomposition is not None:
            if decomposition.eigenvalues.shape[0] != num_examples:
                raise ValueError(
                    f"expected a decomposition of {num_examples} samples, got "
                    f"{decomposition.eigenvalues.shape[0]}"
                )
            return decomposition
        ifim = IFIMDecomposition(forward_func, output=output)
        return ifim.decompose(
            inputs, additional_forward_args, internal_batch_size=max_examples_per_batch
        )

    if directions is None:
        if quadratic_form is not None:
            raise ValueError(
                "expected directions together with quadratic_form, got only the latter"
            )
        result = decompose()
        unit = _unit(result.eigenvectors[:, 0], allow_zero=True)
        form = result.eigenvalues[:, 0].double().cpu()
    else:
        unit = _unit(directions, allow_zero=False)
        if quadratic_form is None:
            result = decompose()
            vectors = result.eigenvectors.flatten(2).double().to(unit.device)
            projections = torch.einsum("nrd,nd->nr", vectors, unit)
            form = (result.eigenvalues.double().cpu() * projections.cpu().square()).sum(dim=1)
        else:
            form = torch.as_tensor(quadratic_form, dtype=torch.float64).flatten().cpu()
            if form.shape != (num_examples,) or not torch.isfinite(form).all() or (form < 0).any():
                raise ValueError(
                    f"expected quadratic_form of shape ({num_examples},), finite and >= 0, got "
                    f"{tuple(form.shape)}"
                )
    step = unit.view(inputs.shape).to(device=inputs.device, dtype=inputs.dtype)
    measured = local_kl(
        forward_func,
        inputs,
        step,
        eps.tolist(),
        output=output,
        additional_forward_args=additional_forward_args,
        max_examples_per_batch=max_examples_per_batch,
    )
    predicted = 0.5 * eps.square().unsqueeze(0) * form.unsqueeze(1)
    ratio = torch.where(predicted > 0, measured / predicted, torch.full_like(predicted, math.nan))
    return KLFidelityResult(eps, measured, predicted, ratio, form)
