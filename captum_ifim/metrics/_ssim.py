"""SSIM of flattened maps, as Quantus's ``ssim`` similarity computes it (scikit-image's
``structural_similarity`` on the flattened arrays): a window of 7 consecutive entries,
K1 = 0.01, K2 = 0.03, sample covariances, the data range of both maps together."""

from __future__ import annotations

import torch
from torch import Tensor

#: Entries per window, scikit-image's default ``win_size``.
WINDOW = 7


def flat_ssim(a: Tensor, b: Tensor, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Mean SSIM of each flattened pair of rows over sliding windows of :data:`WINDOW`.

    Per window: ``(2 mu_a mu_b + C1)(2 v_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(v_a + v_b + C2))``
    with ``C1 = (k1 R)^2``, ``C2 = (k2 R)^2``, R the range of both rows together and
    (co)variances normalized by ``WINDOW - 1``; the mean over the windows that fit.

    Args:
        a: (N, ...), finite, at least :data:`WINDOW` entries per row.
        b: ``a``'s shape (moved to ``a``'s device).

    Returns:
        (N,) float64 in [-1, 1]; 1.0 for two equal constant rows (R = 0).

    Raises:
        ValueError: Rows shorter than the window, or shapes that differ.
    """
    if a.shape != b.shape:
        raise ValueError(f"expected maps of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    x, y = a.flatten(1).double(), b.flatten(1).double().to(a.device)
    if x.shape[1] < WINDOW:
        raise ValueError(f"expected maps of at least {WINDOW} entries for SSIM, got {x.shape[1]}")
    both = torch.cat([x, y], dim=1)
    data_range = both.max(dim=1).values - both.min(dim=1).values
    c1 = (k1 * data_range).square().unsqueeze(1)
    c2 = (k2 * data_range).square().unsqueeze(1)
    wx, wy = x.unfold(1, WINDOW, 1), y.unfold(1, WINDOW, 1)
    mx, my = wx.mean(dim=2), wy.mean(dim=2)
    norm = WINDOW / (WINDOW - 1)
    vx = norm * (wx.square().mean(dim=2) - mx.square())
    vy = norm * (wy.square().mean(dim=2) - my.square())
    vxy = norm * ((wx * wy).mean(dim=2) - mx * my)
    ssim = ((2 * mx * my + c1) * (2 * vxy + c2)) / (
        (mx.square() + my.square() + c1) * (vx + vy + c2)
    )
    return torch.where(data_range == 0, torch.ones_like(data_range), ssim.mean(dim=1))
