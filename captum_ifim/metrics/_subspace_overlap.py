"""How much two models' iFIM eigenspaces agree: principal angles and their cos^2 overlap.

For one input x, each model's iFIM has leading eigenvectors ``U_K = [u_1, ..., u_K]``
(eqs. 9-13): an orthonormal basis of the K input directions the model's predictive
distribution is most sensitive to, K from the energy rule (eq. 13). Two models (two
architectures, or two seeds of one) are compared through the principal angles
``0 <= theta_1 <= ... <= theta_k <= pi/2`` between their subspaces, ``k = min(K_1, K_2)``:
``cos theta_i`` are the singular values of ``U_1^T U_2``. The overlap is their mean
``cos^2``,

    ``overlap = (1/k) sum_i cos^2 theta_i = ||U_1^T U_2||_F^2 / k = tr(P_1 P_2) / k``

(``P = U U^T``), which depends only on the subspaces, not on the bases: 1 when the smaller
subspace lies in the larger one, 0 when they are orthogonal; two random K-dimensional
subspaces of R^d give about ``max(K_1, K_2) / d``. For a binary softmax model K = 1 and
``u_1`` is the unit gradient of the logit margin, so the overlap is the squared cosine
similarity of the two models' input gradients.

What it does not say: the overlap compares directions of local sensitivity at x, not
predictions, not the eigenvalues (how sensitive), and not the task-sensitive maps
``S(x) = U_K U_K^T x`` (eq. 16), which also weigh each direction by the input; their
correlation is reported beside it. An empty subspace (K = 0, a saturated softmax whose
iFIM is numerically zero) has no angles: its overlap is NaN, never 0. See the theory page
(docs/theory.md) for the iFIM.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from captum_ifim import IFIMDecomposition, IFIMResult
from captum_ifim.functional import OutputHead
from captum_ifim.metrics._correlation import pearson_per_sample
from captum_ifim.metrics._validation import (
    check_fits_model,
    check_holds_data,
    check_input_tensor,
)


@dataclass(frozen=True)
class SubspaceComparison:
    """Per-example comparison of two models' iFIM eigenspaces at the same inputs.

    Attributes:
        overlap: (N,) float64, mean ``cos^2`` of the principal angles (NaN where either
            K is 0).
        angles: (N, k_max) float64 principal angles in radians, ascending, NaN past
            ``min(K_a, K_b)`` of each example; ``k_max = min(R_a, R_b)`` of the two
            models' maximal ranks.
        map_correlation: (N,) float64 Pearson correlation of the two task-sensitive maps
            S(x) (eq. 16); NaN where either map is constant (e.g. K = 0).
        num_components_a, num_components_b: (N,) long, K of each model (eq. 13).
    """

    overlap: Tensor
    angles: Tensor
    map_correlation: Tensor
    num_components_a: Tensor
    num_components_b: Tensor


def _check_bases(U1: Tensor, U2: Tensor) -> None:
    for name, basis in (("U1", U1), ("U2", U2)):
        if not isinstance(basis, Tensor) or basis.dim() != 3:
            shape = tuple(basis.shape) if isinstance(basis, Tensor) else type(basis).__name__
            raise ValueError(f"expected {name} of shape (N, d, K), got {shape}")
        if not basis.is_floating_point():
            raise TypeError(f"expected a floating-point {name}, got {basis.dtype}")
        check_holds_data(basis, name)
    if U1.shape[:2] != U2.shape[:2]:
        raise ValueError(
            f"expected U1 and U2 with the same (N, d), got {tuple(U1.shape)} and {tuple(U2.shape)}"
        )


def _counts(k: Tensor | None, basis: Tensor, name: str) -> Tensor:
    """(N,) long per-example subspace dimensions, all columns when ``k`` is ``None``."""
    n, _, columns = basis.shape
    if k is None:
        return torch.full((n,), columns, dtype=torch.long, device=basis.device)
    if not isinstance(k, Tensor) or k.shape != (n,) or k.is_floating_point():
        got = tuple(k.shape) if isinstance(k, Tensor) else type(k).__name__
        raise ValueError(f"expected {name} an integer tensor of shape ({n},), got {got}")
    check_holds_data(k, name)
    k = k.to(device=basis.device, dtype=torch.long)
    if bool((k < 0).any()) or bool((k > columns).any()):
        raise ValueError(f"expected {name} in [0, {columns}], got {k.tolist()}")
    return k


def _masked(basis: Tensor, k: Tensor) -> Tensor:
    """``basis`` in float64 with the columns past each example's ``k`` set to zero."""
    keep = torch.arange(basis.shape[2], device=basis.device)[None, :] < k[:, None]
    return basis.to(torch.float64) * keep[:, None, :]


def _check_orthonormal(basis: Tensor, k: Tensor, name: str, tolerance: float) -> None:
    """Refuse a masked float64 basis whose first ``k`` columns are not orthonormal."""
    if basis.shape[2] == 0:
        return
    used = torch.arange(basis.shape[2], device=basis.device)[None, :] < k[:, None]
    error = (basis.transpose(1, 2) @ basis - torch.diag_embed(used.to(basis.dtype))).abs()
    largest = float(error.amax())
    if not largest <= tolerance:
        raise ValueError(
            f"expected {name} with orthonormal columns (|U^T U - I| <= {tolerance:g}), got "
            f"a largest deviation of {largest:.3g}"
        )


def _overlap(U1: Tensor, U2: Tensor, k1: Tensor, k2: Tensor) -> tuple[Tensor, int]:
    """``||U1^T U2||_F^2 / min(k1, k2)`` (masked float64 bases) and the count of empties."""
    smaller = torch.minimum(k1, k2)
    squared = (U1.transpose(1, 2) @ U2).square().sum(dim=(1, 2))
    empty = smaller == 0
    overlap = squared / smaller.clamp_min(1).to(torch.float64)
    overlap = torch.where(empty, torch.full_like(overlap, float("nan")), overlap.clamp(0.0, 1.0))
    return overlap, int(empty.sum())


def _angles(U1: Tensor, U2: Tensor, k1: Tensor, k2: Tensor) -> Tensor:
    """Principal angles (N, min(K1, K2)), ascending, NaN past each ``min(k1, k2)``.

    Examples are grouped by ``(k1, k2)`` so that each group is one batched computation on
    its leading columns. Cosines come from the singular values of ``U1^T U2``; angles
    whose cosine^2 is >= 1/2 (theta <= pi/4) come from the sines, the singular values of
    the part of the larger basis orthogonal to the smaller one, which are accurate there
    where arccos is not (Knyazev & Argentati 2002; as scipy's ``subspace_angles``).
    """
    n = U1.shape[0]
    width = min(U1.shape[2], U2.shape[2])
    out = torch.full((n, width), float("nan"), dtype=torch.float64, device=U1.device)
    pairs = torch.stack([k1, k2], dim=1)
    for a, b in pairs.unique(dim=0).tolist():
        k = min(a, b)
        if k == 0:
            continue
        rows = (pairs == torch.tensor([a, b], device=pairs.device)).all(dim=1).nonzero()[:, 0]
        Q1, Q2 = U1[rows, :, :a], U2[rows, :, :b]
        cross = Q1.transpose(1, 2) @ Q2  # (n, a, b)
        cosines = torch.linalg.svdvals(cross).clamp(0.0, 1.0)  # descending
        if a >= b:
            residual = Q2 - Q1 @ cross  # the part of span(Q2) outside span(Q1)
        else:
            residual = Q1 - Q2 @ cross.transpose(1, 2)
        sines = torch.linalg.svdvals(residual).clamp(0.0, 1.0).flip(-1)  # ascending
        small = cosines.square() >= 0.5
        out[rows, :k] = torch.where(small, torch.arcsin(sines), torch.arccos(cosines))
    return out


def principal_angles(
    U1: Tensor,
    U2: Tensor,
    k1: Tensor | None = None,
    k2: Tensor | None = None,
    *,
    tolerance: float = 1e-3,
) -> Tensor:
    """Principal angles between the column spaces of two batches of orthonormal bases.

    Args:
        U1: (N, d, K1), orthonormal columns.
        U2: (N, d, K2), orthonormal columns.
        k1, k2: (N,) integer, the number of leading columns spanning each example's
            subspace (e.g. K of eq. 13); ``None`` takes all columns.
        tolerance: Largest allowed entry of ``|U^T U - I|`` on the used columns.

    Returns:
        (N, min(K1, K2)) float64 angles in [0, pi/2] radians, ascending; NaN past each
        example's ``min(k1, k2)``.

    Raises:
        ValueError: Shapes that do not match, or columns that are not orthonormal.

    Example:
        >>> import math, torch
        >>> e = torch.eye(3, dtype=torch.float64)
        >>> t = 0.3
        >>> U1 = e[:, :1][None]
        >>> U2 = (math.cos(t) * e[:, :1] + math.sin(t) * e[:, 1:2])[None]
        >>> principal_angles(U1, U2)
        tensor([[0.3000]], dtype=torch.float64)
    """
    _check_bases(U1, U2)
    k1, k2 = _counts(k1, U1, "k1"), _counts(k2, U2, "k2")
    U1, U2 = _masked(U1, k1), _masked(U2, k2)
    _check_orthonormal(U1, k1, "U1", tolerance)
    _check_orthonormal(U2, k2, "U2", tolerance)
    return _angles(U1, U2, k1, k2)


def subspace_overlap(
    U1: Tensor,
    U2: Tensor,
    k1: Tensor | None = None,
    k2: Tensor | None = None,
    *,
    tolerance: float = 1e-3,
) -> Tensor:
    """Mean ``cos^2`` of the principal angles: ``||U1^T U2||_F^2 / min(K1, K2)``.

    Independent of the bases chosen within the subspaces (``U -> U Q`` for orthogonal Q);
    1 for identical subspaces (or one inside the other), 0 for orthogonal ones.

    Args:
        U1: (N, d, K1), orthonormal columns.
        U2: (N, d, K2), orthonormal columns.
        k1, k2: (N,) integer, the number of leading columns spanning each example's
            subspace (e.g. K of eq. 13); ``None`` takes all columns.
        tolerance: Largest allowed entry of ``|U^T U - I|`` on the used columns.

    Returns:
        (N,) float64 in [0, 1]; NaN, with a ``RuntimeWarning``, where either subspace is
        empty (K = 0).

    Raises:
        ValueError: Shapes that do not match, or columns that are not orthonormal.

    Example:
        >>> import torch
        >>> e = torch.eye(4, dtype=torch.float64)
        >>> U1 = e[:, :2][None]  # span(e1, e2)
        >>> U2 = e[:, 1:3][None]  # span(e2, e3): one shared direction of two
        >>> subspace_overlap(U1, U2)
        tensor([0.5000], dtype=torch.float64)
    """
    _check_bases(U1, U2)
    k1, k2 = _counts(k1, U1, "k1"), _counts(k2, U2, "k2")
    U1, U2 = _masked(U1, k1), _masked(U2, k2)
    _check_orthonormal(U1, k1, "U1", tolerance)
    _check_orthonormal(U2, k2, "U2", tolerance)
    overlap, empty = _overlap(U1, U2, k1, k2)
    if empty:
        warnings.warn(_empty_message(empty, len(overlap)), RuntimeWarning, stacklevel=2)
    return overlap


def _empty_message(empty: int, total: int) -> str:
    return (
        f"{empty} of {total} examples have an empty subspace (K = 0, e.g. a saturated "
        "softmax whose iFIM is numerically zero); their overlap is NaN"
    )


def _eigenspace(
    model: Callable[..., Any],
    inputs: Tensor,
    additional_forward_args: Any,
    output: OutputHead,
    energy: float,
    max_examples_per_batch: int | None,
) -> tuple[IFIMResult[Tensor], Tensor]:
    """The decomposition and its first K eigenvectors as orthonormal columns (N, d, R).

    The first K eigenvectors are re-orthonormalized in float64 (reduced QR, which keeps the
    span of every leading set of columns), so rounding in the lifted eigenvectors (eq. 9)
    cannot fail the orthonormality check; the columns past K are zero.
    """
    result = IFIMDecomposition(model, output=output).decompose(
        inputs, additional_forward_args, energy=energy, internal_batch_size=max_examples_per_batch
    )
    vectors = result.eigenvectors.flatten(2).transpose(1, 2)  # (N, d, R)
    k = result.num_components.to(vectors.device)
    masked = _masked(vectors, k)
    keep = torch.arange(masked.shape[2], device=k.device)[None, :] < k[:, None]
    return result, torch.linalg.qr(masked).Q * keep[:, None, :]


def ifim_subspace_overlap(
    model_a: Callable[..., Any],
    model_b: Callable[..., Any],
    inputs: Tensor,
    *,
    energy: float = 0.9,
    output: OutputHead = "logits",
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> SubspaceComparison:
    """Compare two models' iFIM eigenspaces ``U_K`` (eqs. 9, 13) and S(x) maps (eq. 16).

    Each model is decomposed with :class:`captum_ifim.IFIMDecomposition` at the same
    inputs; K is chosen per model and per input by the energy rule (eq. 13), so the two
    subspaces may differ in dimension (the overlap divides by the smaller K).

    Args:
        model_a, model_b: Classifiers returning (N, C_a) and (N, C_b) outputs, in eval
            mode (as :class:`~captum_ifim.IFIMDecomposition` requires).
        inputs: (N, ...), one tensor both models take (of their dtype and device).
        energy: rho of eq. 13, in (0, 1].
        output: The output head of both models (``"logits"``, ``"probs"``,
            ``"log_probs"`` or ``"sigmoid"``).
        additional_forward_args: Passed to both models, as in Captum.
        max_examples_per_batch: Decompose at most this many inputs at a time (memory);
            ``None`` does all at once.

    Returns:
        A :class:`SubspaceComparison`; NaN overlaps (with a ``RuntimeWarning``) where a
        model's K is 0.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
        >>> x = torch.randn(2, 1, 4, 4)
        >>> same = ifim_subspace_overlap(net, net, x)
        >>> same.overlap.allclose(torch.ones(2, dtype=torch.float64))
        True
        >>> same.map_correlation
        tensor([1., 1.], dtype=torch.float64)
    """
    if not isinstance(inputs, Tensor):
        raise TypeError(f"expected inputs to be a torch.Tensor, got {type(inputs).__name__}")
    check_input_tensor(inputs, model=model_a)
    check_fits_model(inputs, model_b, "inputs")
    options = (additional_forward_args, output, energy, max_examples_per_batch)
    result_a, basis_a = _eigenspace(model_a, inputs, *options)
    result_b, basis_b = _eigenspace(model_b, inputs, *options)
    k_a = result_a.num_components.to(basis_a.device)
    k_b = result_b.num_components.to(basis_a.device)
    overlap, empty = _overlap(basis_a, basis_b, k_a, k_b)
    if empty:
        warnings.warn(_empty_message(empty, len(overlap)), RuntimeWarning, stacklevel=2)
    return SubspaceComparison(
        overlap=overlap,
        angles=_angles(basis_a, basis_b, k_a, k_b),
        map_correlation=pearson_per_sample(result_a.sensitive, result_b.sensitive),
        num_components_a=result_a.num_components,
        num_components_b=result_b.num_components,
    )
