"""A figure of :class:`~captum_ifim.functional.InputShares`: how one sample's iFIM splits
across the inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from captum_ifim._ifim._input_shares import InputShares
from captum_ifim._optional_imports import import_optional


def plot_input_shares(
    shares: InputShares,
    sample: int = 0,
    names: Sequence[str] | None = None,
    ax: Any = None,
) -> Any:
    """Stacked bars: the spectrum-weighted share of each input, then each eigenvector's.

    The top bar is ``trace(F_ii) / trace(F)``; bar ``u_m`` splits ``||u^(m)||^2 = 1`` into
    ``||u_i^(m)||^2``, labelled with lambda_m. Eigenvectors past the rank are left out.

    Args:
        shares: From ``result.input_shares`` of :meth:`~captum_ifim.IFIMDecomposition.decompose`
            (tuple inputs) or :meth:`~captum_ifim.LayerIFIMDecomposition.decompose`.
        sample: Which sample of the batch.
        names: One name per input (default ``input 0``, ``input 1``, ...).
        ax: A Matplotlib ``Axes`` to draw on; ``None`` makes a new figure.

    Returns:
        The ``Axes``.

    Example:
        >>> import torch
        >>> from captum_ifim.functional import input_shares
        >>> u = (torch.tensor([[[0.6], [0.0]]]), torch.tensor([[[0.8], [1.0]]]))
        >>> shares = input_shares(u, torch.tensor([[3.0, 1.0]]))
        >>> ax = plot_input_shares(shares, names=["image", "tabular"])
        >>> [tick.get_text() for tick in ax.get_yticklabels()]
        ['spectrum-weighted', 'u_1 (λ=3)', 'u_2 (λ=1)']
    """
    plt = import_optional("matplotlib.pyplot", "plot_input_shares")
    count = shares.spectrum_shares.shape[0]
    if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample < count:
        raise ValueError(f"expected sample to be an int in [0, {count}), got {sample!r}")
    num_inputs = shares.spectrum_shares.shape[1]
    if names is None:
        names = [f"input {i}" for i in range(num_inputs)]
    if len(names) != num_inputs:
        raise ValueError(f"expected {num_inputs} names, one per input, got {len(names)}")
    eigenvalues = shares.eigenvalues[sample]
    rank = int((eigenvalues > 0).sum())
    rows = [shares.spectrum_shares[sample]] + [
        shares.eigenvector_shares[sample, m] for m in range(rank)
    ]
    labels = ["spectrum-weighted"] + [f"u_{m + 1} (λ={eigenvalues[m]:.3g})" for m in range(rank)]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(rows)))
    left = [0.0] * len(rows)
    for i, name in enumerate(names):
        widths = [float(row[i]) for row in rows]
        ax.barh(range(len(rows)), widths, left=left, label=name)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the unit eigenvector's energy (top: of trace F)")
    ax.legend(loc="lower right", fontsize="small")
    return ax
