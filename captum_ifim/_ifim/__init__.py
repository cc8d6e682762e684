"""The iFIM: its mathematics as pure functions and the Captum attribution class.

``_output_heads`` (F = J^T M J per head), ``_gradients`` (per-sample Jacobians),
``_spectrum`` (Gram matrix, eigh, lift, eq. 13), ``_projection`` (eqs. 14-17) and
``_decomposition`` (all of them on one batch) are pure functions, re-exported by
:mod:`captum_ifim.functional`; ``_ifim_decomposition`` holds
:class:`~captum_ifim.IFIMDecomposition`, which formats Captum's inputs and calls them.
"""
