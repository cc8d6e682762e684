"""One iFIM decomposition per image for a cell of a method with a spectrum.

A cell of ``ifim-sensitive`` needs, of every evaluated image, its map S(x) (eq. 16), the
contrastive test's low map I(x) = x - S(x) (eq. 17), its eigenvalues (eq. 8, for the
figures) and its eigenspace U_K (eqs. 9, 13, for the model-pair stage). All four come
from one decomposition, so each image is decomposed once rather than four times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class SpectrumMaps:
    """What one decomposition of the evaluated images gives a cell.

    Attributes:
        maps: (N, ...) the method's maps, equal to its ``attribute`` (S(x), eq. 16).
        other: (N, ...) the other component (I(x), eq. 17).
        eigenvalues: (N, R) float64 on the CPU, eq. 8.
        basis: (N, R, d) float32 on the CPU, orthonormal U_K with rows past K zero.
        num_components: (N,) long on the CPU, K of eq. 13.
    """

    maps: Tensor
    other: Tensor
    eigenvalues: Tensor
    basis: Tensor
    num_components: Tensor


def eigenspace(result: Any) -> tuple[Tensor, Tensor]:
    """(n, R, d) float32 orthonormal U_K (rows past K zero) and (n,) K of one decomposition.

    The first K eigenvectors are re-orthonormalized in float64 by a reduced QR, which keeps
    the span of every leading set of columns, so the rounding of the lifted eigenvectors
    (eq. 9) cannot fail the orthonormality check of
    :func:`~captum_ifim.metrics.subspace_overlap`.
    """
    vectors = result.eigenvectors.flatten(2).to(torch.float64).transpose(1, 2)  # (n, d, R)
    k = result.num_components.to(vectors.device)
    keep = torch.arange(vectors.shape[2], device=k.device)[None, :] < k[:, None]
    basis = torch.linalg.qr(vectors * keep[:, None, :]).Q * keep[:, None, :]
    return basis.transpose(1, 2).to(torch.float32).cpu(), result.num_components.to(torch.long)


def spectrum_maps(explainer: Any, inputs: Tensor, batch_size: int) -> SpectrumMaps:
    """Decompose ``inputs`` (N, ...) once, ``batch_size`` at a time, with the method's own
    options (:meth:`captum_ifim.RegisteredMethod.decompose`)."""
    sensitive_first = explainer.attribute_kwargs.get("component", "sensitive") == "sensitive"
    maps, other, eigenvalues, bases, counts = [], [], [], [], []
    for chunk in inputs.detach().split(batch_size):
        result = explainer.decompose(chunk)
        first, second = (
            (result.sensitive, result.insensitive)
            if sensitive_first
            else (result.insensitive, result.sensitive)
        )
        maps.append(first.detach())
        other.append(second.detach())
        eigenvalues.append(result.eigenvalues.detach().cpu())
        basis, count = eigenspace(result)
        bases.append(basis)
        counts.append(count.cpu())
    return SpectrumMaps(
        maps=torch.cat(maps),
        other=torch.cat(other),
        eigenvalues=torch.cat(eigenvalues).double(),
        basis=torch.cat(bases),
        num_components=torch.cat(counts),
    )


def shares_decomposition(explainer: Any, low: Any) -> bool:
    """Whether ``low``'s maps are ``explainer``'s other component: both built for the same
    model (the cell's), the same method class with the same settings (its plain-valued
    attributes: output head, tolerances, class mass) and ``attribute`` options, the two
    components of one decomposition."""
    if type(low.method) is not type(explainer.method):
        return False
    ours, theirs = dict(explainer.attribute_kwargs), dict(low.attribute_kwargs)
    components = {ours.pop("component", None), theirs.pop("component", None)}
    return (
        _settings(low.method) == _settings(explainer.method)
        and ours == theirs
        and components == {"sensitive", "insensitive"}
    )


def _settings(method: Any) -> dict[str, Any]:
    plain = (str, int, float, bool, type(None))
    return {k: v for k, v in vars(method).items() if isinstance(v, plain)}
