"""SKS/BKS signal detection in lumpy backgrounds (Rolland & Barrett, JOSA A 9(5), 1992).

Background (Rolland & Barrett's lumpy model, a classic SKS/BKS task without anatomy):
    ``b(r) = B0 + sum_{n=1}^{K} a exp(-|r - c_n|^2 / (2 s^2))``, ``K ~ Poisson(Kbar)``, the
    lump centres ``c_n`` uniform over the image padded by ``pad`` pixels on every side (default
    ``3 s``, so lumps centred outside the image still reach it and the field is stationary up
    to the edges). Away from the padding's edge the mean is
    ``B0 + Kbar a 2 pi s^2 / (size + 2 pad)^2``. Published 64 x 64 settings: ``Kbar = 25``,
    ``B0 = 20``, ``a = 1``, ``s = 10``, signal amplitude 0.1. White Gaussian noise of std
    ``noise_std`` is added to every image (measurement noise; 0 turns it off).
Signal:
    a Gaussian of amplitude ``signal_amplitude`` and width ``signal_sigma`` (default
    ``3 * size / 64`` pixels), centred at a pixel drawn uniformly at least ``3 signal_sigma``
    from every edge (``signal_location="random"``, signal known statistically) or at the
    central pixel ``size // 2`` (``"center"``, signal known exactly, the default: the classic
    Rolland-Barrett task; at amplitude 0.1 a random location is not learned by small models in
    a few epochs). Masks are the half-maximum discs. Classes 0 absent, 1 present, balanced.

Lengths are in pixels. ``value_range`` is ``None``: with ``B0 = 20`` the images are not in
[0, 1], and ``pixel_mean``/``pixel_std`` describe them.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import torch
from torch import Tensor

from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._sampling import balanced_labels
from comparisons.datasets._simulated_split import SimulatedSplit, simulated_dataset, with_signals

_SALT = 1992  # Rolland & Barrett


def lumpy_backgrounds(
    num: int,
    size: int,
    generator: torch.Generator,
    *,
    mean_lumps: float = 25.0,
    b0: float = 20.0,
    lump_amplitude: float = 1.0,
    lump_sigma: float = 10.0,
    pad: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw ``num`` lumpy backgrounds (separable sums of Gaussian lumps).

    Args:
        num: Number of fields.
        size: Fields are ``size x size`` pixels, pixel centres at 0, ..., size - 1.
        generator: Source of randomness.
        mean_lumps: ``Kbar``, the Poisson mean of the number of lumps in the padded area.
        b0: Constant level ``B0``.
        lump_amplitude: ``a``.
        lump_sigma: ``s`` in pixels.
        pad: Padding in pixels; default ``3 s``.

    Returns:
        ``(fields, counts)``: (num, size, size) float32 and the (num,) int64 lump counts.
    """
    if mean_lumps < 0 or lump_sigma <= 0:
        raise ValueError(
            f"expected mean_lumps >= 0 and lump_sigma > 0, got {mean_lumps} and {lump_sigma}"
        )
    pad = 3.0 * lump_sigma if pad is None else float(pad)
    if pad < 0:
        raise ValueError(f"expected pad >= 0, got {pad}")
    counts = torch.poisson(torch.full((num,), float(mean_lumps)), generator=generator).long()
    k_max = max(int(counts.max()), 1) if num else 1
    extent = size + 2 * pad
    centres = torch.rand(num, k_max, 2, generator=generator) * extent - (0.5 + pad)
    active = torch.arange(k_max)[None, :] < counts[:, None]  # (N, K)
    grid = torch.arange(size, dtype=torch.float32)
    scale = -1.0 / (2.0 * lump_sigma**2)
    gy = torch.exp(scale * (grid[None, None, :] - centres[..., 0:1]) ** 2) * active[..., None]
    gx = torch.exp(scale * (grid[None, None, :] - centres[..., 1:2]) ** 2)
    fields = b0 + lump_amplitude * torch.einsum("nky,nkx->nyx", gy, gx)
    return fields, counts


def simulate_lumpy_sks(
    num: int,
    generator: torch.Generator,
    *,
    image_size: int = 64,
    mean_lumps: float = 25.0,
    b0: float = 20.0,
    lump_amplitude: float = 1.0,
    lump_sigma: float = 10.0,
    pad: float | None = None,
    signal_amplitude: float = 0.1,
    signal_sigma: float | None = None,
    signal_location: Literal["random", "center"] = "center",
    noise_std: float = 0.05,
) -> SimulatedSplit:
    """Draw ``num`` lumpy-background images, half with a signal (module docstring)."""
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"expected num an integer >= 1, got {num!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"expected image_size an integer >= 8, got {image_size!r}")
    if signal_amplitude <= 0:
        raise ValueError(f"expected signal_amplitude > 0, got {signal_amplitude}")
    sigma = 3.0 * image_size / 64 if signal_sigma is None else float(signal_sigma)
    if sigma <= 0:
        raise ValueError(f"expected signal_sigma > 0, got {signal_sigma}")
    if signal_location not in ("random", "center"):
        raise ValueError(f"expected signal_location 'random' or 'center', got {signal_location!r}")
    if noise_std < 0:
        raise ValueError(f"expected noise_std >= 0, got {noise_std}")
    border = math.ceil(3 * sigma)
    if signal_location == "random" and 2 * border >= image_size:
        raise ValueError(
            f"expected signal_sigma < image_size / 6 for random locations, got {sigma}"
        )

    labels = balanced_labels(num, 2, generator)
    fields, _ = lumpy_backgrounds(
        num,
        image_size,
        generator,
        mean_lumps=mean_lumps,
        b0=b0,
        lump_amplitude=lump_amplitude,
        lump_sigma=lump_sigma,
        pad=pad,
    )
    backgrounds = fields + noise_std * torch.randn(fields.shape, generator=generator)
    present = labels == 1
    if signal_location == "random":
        centres = torch.randint(border, image_size - border, (num, 2), generator=generator).to(
            torch.float32
        )
    else:
        centres = torch.full((num, 2), float(image_size // 2))
    amplitudes = signal_amplitude * present.to(torch.float32)
    return with_signals(backgrounds, labels, centres, amplitudes, sigma)


def make_lumpy_sks(
    num_train: int = 2000,
    num_val: int = 200,
    num_test: int = 200,
    image_size: int = 64,
    seed: int = 0,
    mean_lumps: float = 25.0,
    b0: float = 20.0,
    lump_amplitude: float = 1.0,
    lump_sigma: float = 10.0,
    pad: float | None = None,
    signal_amplitude: float = 0.1,
    signal_sigma: float | None = None,
    signal_location: Literal["random", "center"] = "center",
    noise_std: float = 0.05,
) -> ImageDataset:
    """``"lumpy-sks"``: Gaussian signal absent (0) vs present (1) in a lumpy background.

    Options are those of :func:`simulate_lumpy_sks`; the splits come from disjoint streams.

    >>> ds = make_lumpy_sks(num_train=4, num_val=2, num_test=2, image_size=32)
    >>> ds.train.images.shape, ds.value_range is None
    (torch.Size([4, 1, 32, 32]), True)
    """
    simulate = functools.partial(
        simulate_lumpy_sks,
        image_size=image_size,
        mean_lumps=mean_lumps,
        b0=b0,
        lump_amplitude=lump_amplitude,
        lump_sigma=lump_sigma,
        pad=pad,
        signal_amplitude=signal_amplitude,
        signal_sigma=signal_sigma,
        signal_location=signal_location,
        noise_std=noise_std,
    )
    description = (
        f"Lumpy background (Rolland & Barrett; Kbar={mean_lumps}, B0={b0}, a={lump_amplitude},"
        f" s={lump_sigma}), Gaussian signal A={signal_amplitude} {signal_location}: "
        "absent vs present"
    )
    return simulated_dataset(
        "lumpy-sks",
        ("absent", "present"),
        description,
        simulate,
        (num_train, num_val, num_test),
        seed,
        _SALT,
    )
