"""The paper's procedure as stated, one gradient at a time: the naive baseline of the benchmark.

Sec. III-A computes ``g_c = grad_x log p_c`` (eq. 3) for every class c of every sample,
stacks ``G = [sqrt(p_1) g_1, ..., sqrt(p_C) g_C]`` (d x C, eq. 5) and diagonalises the Gram
matrix ``K = G^T G`` (eq. 7). Here each sample gets its own forward pass and each class its
own ``torch.autograd.grad`` call: N forward and N * C backward passes, each on a batch of
one. The Gram matrix, its eigendecomposition, the lift (eqs. 9-10), K of eq. 13 and the
projection (eqs. 14-17) are the library's own functions, so that the only difference from
:class:`captum_ifim.IFIMDecomposition` (one forward and C - 1 backward passes for the whole
batch) is how the gradients are obtained.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from captum_ifim.functional import (
    FlatDecomposition,
    energy_components,
    gram_eigh,
    gram_matrix,
    lift_eigenvectors,
    project_sensitive,
)

#: Relative eigenvalue tolerance per dtype (the library's defaults).
_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-10, torch.float32: 1e-6}


def _sample_decomposition(
    model: nn.Module, x: Tensor, energy: float, rtol: float, atol: float
) -> FlatDecomposition:
    """The decomposition of one sample x (1, *S) from its C class gradients."""
    leaf = x.detach().requires_grad_(True)
    with torch.enable_grad():
        log_probs = torch.log_softmax(model(leaf), dim=1)[0]
        num_classes = log_probs.shape[0]
        gradients = [
            torch.autograd.grad(log_probs[c], leaf, retain_graph=c < num_classes - 1)[0].flatten()
            for c in range(num_classes)
        ]
    probs = log_probs.detach().double().exp()
    g_rows = torch.stack(gradients).unsqueeze(0)  # (1, C, d): row c is g_c
    sqrt_p = torch.diag_embed(probs.sqrt()).unsqueeze(0)  # rows of G^T are sqrt(p_c) g_c
    eigenvalues, gram_vectors, rank = gram_eigh(gram_matrix(g_rows, sqrt_p), rtol, atol)
    eigenvectors = lift_eigenvectors(g_rows, sqrt_p, gram_vectors, eigenvalues)
    num_components = energy_components(eigenvalues, energy)
    flat = x.detach().flatten(1)
    sensitive = project_sensitive(flat, eigenvectors, num_components)
    return FlatDecomposition(
        eigenvalues=eigenvalues,
        eigenvectors=eigenvectors,
        num_components=num_components,
        rank=rank,
        probs=probs.unsqueeze(0).to(x.dtype),
        retained_mass=probs.new_ones(1),
        sensitive=sensitive,
        insensitive=flat - sensitive,
    )


def naive_ifim_decomposition(
    model: nn.Module,
    inputs: Tensor,
    energy: float = 0.9,
    rtol: float | None = None,
    atol: float = 0.0,
) -> FlatDecomposition:
    """The iFIM decomposition of a batch, sample by sample and class by class (eqs. 3-17).

    Args:
        model: A classifier in eval mode returning logits (N, C), C >= 2.
        inputs: (N, *S) inputs.
        energy: rho of eq. 13, in (0, 1].
        rtol: Relative eigenvalue tolerance; ``None`` takes the library's default for the
            inputs' dtype (1e-10 for float64, 1e-6 otherwise).
        atol: Absolute eigenvalue tolerance.

    Returns:
        A :class:`captum_ifim.functional.FlatDecomposition` with m = C: eigenvalues
        (N, C), eigenvectors (N, C, d), and x_sens, x_comp of shape (N, d). The C-th
        eigenvalue is zero (``K sqrt(p) = 0``), so the nonzero spectrum and both
        components equal those of :class:`captum_ifim.IFIMDecomposition`.

    Raises:
        ValueError: ``inputs`` has no batch dimension or ``energy`` is outside (0, 1].
    """
    if not isinstance(inputs, Tensor) or inputs.dim() < 2:
        shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
        raise ValueError(f"expected inputs of shape (N, ...), got {shape}")
    if not 0 < energy <= 1:
        raise ValueError(f"expected energy in (0, 1], got {energy}")
    tolerance = _RTOL.get(inputs.dtype, 1e-6) if rtol is None else rtol
    parts = [
        _sample_decomposition(model, inputs[n : n + 1], energy, tolerance, atol)
        for n in range(inputs.shape[0])
    ]
    return FlatDecomposition(
        **{
            name: torch.cat([getattr(part, name) for part in parts])
            for name in FlatDecomposition.__dataclass_fields__
        }
    )


def naive_ifim_map(model: nn.Module, inputs: Tensor, energy: float = 0.9) -> Tensor:
    """The task-sensitive map S(x) = x_sens (eq. 16) of the naive procedure, shaped like inputs.

    Args:
        model: A classifier in eval mode returning logits (N, C).
        inputs: (N, *S).
        energy: rho of eq. 13.

    Returns:
        (N, *S), equal to ``IFIMDecomposition(model).attribute(inputs, energy=energy)``.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
        >>> naive_ifim_map(model, torch.randn(2, 1, 4, 4)).shape
        torch.Size([2, 1, 4, 4])
    """
    return naive_ifim_decomposition(model, inputs, energy).sensitive.reshape(inputs.shape)
