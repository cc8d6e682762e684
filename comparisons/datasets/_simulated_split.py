"""One simulated split with everything that made it (for tests, figures and ground truth)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from comparisons.datasets._dataset import ImageSplit


@dataclass(frozen=True)
class SimulatedSplit:
    """Images ``backgrounds + signals`` and how they were drawn.

    Attributes:
        images: (N, 1, H, W) float32, ``backgrounds + signals``.
        labels: (N,) int64; 0 means signal absent.
        masks: (N, H, W) bool half-maximum discs of the signals; all False where absent.
        backgrounds: (N, 1, H, W) float32, the image without its signal (noise included).
        signals: (N, 1, H, W) float32, the Gaussian signal (zeros where absent).
        centres: (N, 2) float32 (row, column) of each signal centre; NaN where absent.
        amplitudes: (N,) float32 signal peaks; 0 where absent.
        white_matter: (N, H, W) float32 WM probability moved with each background (MNI
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
