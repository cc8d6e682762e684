"""The iFIM decomposition of a batch as one pure function (Sec. III-A and III-B)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_ifim._captum_compat import _run_forward
from captum_ifim._ifim._gradients import BackwardMode, per_sample_row_gradients
from captum_ifim._ifim._output_heads import OutputHead, fisher_factor
from captum_ifim._ifim._projection import project_sensitive
from captum_ifim._ifim._spectrum import (
    DEFAULT_RTOL,
    energy_components,
    gram_eigh,
    gram_matrix,
    lift_eigenvectors,
    psd_sqrt,
)


@dataclass(frozen=True)
class FlatDecomposition:
    """The decomposition of a batch with every input flattened and concatenated (d values).

    Attributes:
        eigenvalues: (N, m) float64, descending, zeros past the rank.
        eigenvectors: (N, m, d) unit rows, zero rows past the rank.
        num_components: (N,) long, K of eq. 13.
        rank: (N,) long.
        probs: (N, C) predictive probabilities.
        retained_mass: (N,) float64, probability mass of the classes used (1 if exact).
        sensitive: (N, d), x_sens (eq. 16).
        insensitive: (N, d), x_comp (eq. 17).
    """

    eigenvalues: Tensor
    eigenvectors: Tensor
    num_components: Tensor
    rank: Tensor
    probs: Tensor
    retained_mass: Tensor
    sensitive: Tensor
    insensitive: Tensor


def _flatten(tensors: tuple[Tensor, ...], start_dim: int) -> Tensor:
    if len(tensors) == 1:  # a view where the layout allows it: no copy for one input
        return tensors[0].flatten(start_dim)
    return torch.cat([t.flatten(start_dim) for t in tensors], dim=-1)


def decompose_flat(
    forward_func: Callable[..., Any],
    inputs: tuple[Tensor, ...],
    additional_forward_args: Any = None,
    output: OutputHead = "logits",
    energy: float = 0.9,
    rtol: float | None = None,
    atol: float = 0.0,
    class_mass: float | None = None,
    backward: BackwardMode = "auto",
) -> FlatDecomposition:
    """Decompose one batch: gradients, Gram matrix, eigh, lift, eq. 13 and eqs. 14-17.

    Args:
        forward_func: Model or function returning outputs of shape (N, C).
        inputs: Tensors of shape ``(N, *S_i)``; left untouched (gradients flow through
            detached aliases).
        additional_forward_args: Passed to ``forward_func`` after the inputs.
        output: The output head (see :func:`captum_ifim._ifim._output_heads.fisher_factor`).
        energy: rho of eq. 13, in (0, 1].
        rtol: Relative eigenvalue tolerance; ``None`` picks one for the inputs' dtype.
        atol: Absolute eigenvalue tolerance.
        class_mass: Keep only the most probable classes holding this mass (softmax
            heads; see :func:`captum_ifim._ifim._output_heads.fisher_factor`).
        backward: How the m backward passes run: ``"sequential"``, ``"batched"`` (one
            vectorized pass) or ``"auto"``; see
            :func:`captum_ifim._ifim._gradients.per_sample_row_gradients`.

    Returns:
        The flat decomposition; m = C - 1 (softmax heads) or C (sigmoid).
    """
    leaves = tuple(x.detach().requires_grad_(True) for x in inputs)
    with torch.enable_grad():
        outputs = _run_forward(forward_func, leaves, None, additional_forward_args)
        factor = fisher_factor(outputs, output, class_mass)
        jacobians = per_sample_row_gradients(factor.rows, leaves, backward)
    jacobian = _flatten(jacobians, start_dim=2)
    del jacobians
    metric_sqrt = psd_sqrt(factor.metric)
    if rtol is None:
        rtol = DEFAULT_RTOL.get(jacobian.dtype, 1e-6)
    eigenvalues, gram_vectors, rank = gram_eigh(gram_matrix(jacobian, metric_sqrt), rtol, atol)
    eigenvectors = lift_eigenvectors(jacobian, metric_sqrt, gram_vectors, eigenvalues)
    del jacobian
    num_components = energy_components(eigenvalues, energy)
    flat_inputs = _flatten(tuple(x.detach() for x in inputs), start_dim=1)
    sensitive = project_sensitive(flat_inputs, eigenvectors, num_components)
    return FlatDecomposition(
        eigenvalues=eigenvalues,
        eigenvectors=eigenvectors,
        num_components=num_components,
        rank=rank,
        probs=factor.probs,
        retained_mass=factor.retained_mass,
        sensitive=sensitive,
        insensitive=flat_inputs - sensitive,
    )
