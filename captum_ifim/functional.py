"""The iFIM mathematics as pure functions (no hooks, no state), for composing your own.

Pipeline for one batch (what :class:`captum_ifim.IFIMDecomposition` runs):

1. :func:`fisher_factor` turns model outputs (N, C) into rows h (N, m) and a metric
   M (N, m, m) with ``F = J^T M J``, J = dh/dx (m = C - 1 for softmax heads).
2. :func:`per_sample_row_gradients` gives J for a whole batch, one backward pass per row.
3. :func:`gram_matrix` forms ``K = G^T G`` (eq. 7) with ``G = J^T M^{1/2}`` (:func:`psd_sqrt`).
4. :func:`gram_eigh` diagonalizes K in float64 (eq. 8).
5. :func:`lift_eigenvectors` returns ``U = G V Lambda^{-1/2}`` (eqs. 9-10).
6. :func:`energy_components` picks K (eq. 13); :func:`project_sensitive` gives x_sens
   (eqs. 14, 16) and ``x - x_sens`` is x_comp (eq. 17).

:func:`decompose_flat` runs all six on flattened inputs.
"""

from captum_ifim._ifim._decomposition import FlatDecomposition, decompose_flat
from captum_ifim._ifim._gradients import per_sample_row_gradients
from captum_ifim._ifim._input_shares import InputShares, input_shares
from captum_ifim._ifim._location_scores import location_projections, signed_location_norms
from captum_ifim._ifim._output_heads import OUTPUT_HEADS, FisherFactor, OutputHead, fisher_factor
from captum_ifim._ifim._projection import project_sensitive
from captum_ifim._ifim._spectrum import (
    energy_components,
    gram_eigh,
    gram_matrix,
    lift_eigenvectors,
    psd_sqrt,
)

__all__ = [
    "OUTPUT_HEADS",
    "FisherFactor",
    "FlatDecomposition",
    "InputShares",
    "OutputHead",
    "decompose_flat",
    "energy_components",
    "fisher_factor",
    "gram_eigh",
    "gram_matrix",
    "input_shares",
    "lift_eigenvectors",
    "location_projections",
    "per_sample_row_gradients",
    "project_sensitive",
    "psd_sqrt",
    "signed_location_norms",
]
