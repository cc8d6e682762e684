"""One simulated split with everything that made it (for tests, figures and ground truth), and
the dataset of three such splits.

Images are 2-D (N, 1, H, W) or 3-D (N, 1, D, H, W); "pixel" below means voxel in 3-D.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from comparisons.datasets._dataset import ImageDataset, ImageSplit, pixel_statistics
from comparisons.datasets._gaussian_signal import gaussian_blobs, half_max_masks
from comparisons.datasets._sampling import SPLITS, split_generator


@dataclass(frozen=True)
class SimulatedSplit:
    """Images ``backgrounds + signals`` and how they were drawn.

    Attributes:
        images: (N, 1, *grid) float32, ``backgrounds + signals``; grid (H, W) or (D, H, W).
        labels: (N,) int64; 0 means signal absent.
        masks: (N, *grid) bool half-maximum discs (balls) of the signals; all False where
            absent.
        backgrounds: (N, 1, *grid) float32, the image without its signal (noise included).
        signals: (N, 1, *grid) float32, the Gaussian signal (zeros where absent).
        centres: (N, 2) float32 (row, column), or (N, 3) (depth, row, column), of each
            signal centre; NaN where absent.
        amplitudes: (N,) float32 signal peaks; 0 where absent.
        white_matter: (N, *grid) float32 WM probability moved with each background (MNI
            sets), or ``None``.
    """

    images: Tensor
    labels: Tensor
    masks: Tensor
    backgrounds: Tensor
    signals: Tensor
    centres: Tensor
    amplitudes: Tensor
    white_matter: Tensor | None = None

    def to_split(self) -> ImageSplit:
        """The harness's view: images, labels and masks."""
        return ImageSplit(self.images, self.labels, self.masks)


def with_signals(
    backgrounds: Tensor,
    labels: Tensor,
    centres: Tensor,
    amplitudes: Tensor,
    sigma: float,
    white_matter: Tensor | None = None,
) -> SimulatedSplit:
    """Add a Gaussian signal of peak ``amplitudes`` at ``centres`` where ``labels`` != 0.

    Args:
        backgrounds: (N, H, W) or (N, D, H, W) float32 backgrounds (noise included).
        labels: (N,) int64; 0 means signal absent.
        centres: (N, 2) float32 (row, column), or (N, 3) (depth, row, column); the rows of
            absent images are ignored (set to NaN in the result).
        amplitudes: (N,) float32 peaks; 0 where absent.
        sigma: The signal's standard deviation in pixels.
        white_matter: Kept as is (MNI sets), or ``None``.
    """
    present = labels != 0
    grid = tuple(backgrounds.shape[1:])
    signals = gaussian_blobs(centres, amplitudes, sigma, grid)
    masks = half_max_masks(centres, present, sigma, grid)
    centres = centres.clone()
    centres[~present] = math.nan
    return SimulatedSplit(
        images=(backgrounds + signals)[:, None],
        labels=labels,
        masks=masks,
        backgrounds=backgrounds[:, None],
        signals=signals[:, None],
        centres=centres,
        amplitudes=amplitudes,
        white_matter=white_matter,
    )


def simulated_dataset(
    name: str,
    class_names: tuple[str, ...],
    description: str,
    simulate: Callable[[int, torch.Generator], SimulatedSplit],
    sizes: tuple[int, int, int],
    seed: int,
    salt: int,
) -> ImageDataset:
    """Train, validation and test from ``simulate(num, generator)`` on disjoint streams.

    Args:
        name, class_names, description: Of the dataset.
        simulate: Draws one split of ``num`` images from ``generator``.
        sizes: ``(num_train, num_val, num_test)``.
        seed: The user's seed; split ``s`` draws from ``split_generator(seed, salt, s)``.
        salt: A constant per dataset family.

    Returns:
        The dataset; pixel statistics of the training images, ``value_range`` ``None``
        (additive Gaussian noise has no bounds).
    """
    splits = {
        split: simulate(num, split_generator(seed, salt, split)).to_split()
        for split, num in zip(SPLITS, sizes, strict=True)
    }
    mean, std = pixel_statistics(splits["train"].images)
    return ImageDataset(
        name=name,
        class_names=class_names,
        pixel_mean=mean,
        pixel_std=std,
        value_range=None,
        description=description,
        **splits,
    )
