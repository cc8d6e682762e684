"""The container every dataset of the harness returns: three splits and what metrics need.

Images are 2-D, (N, C, H, W), or volumes, (N, C, D, H, W); masks have the images' spatial
shape without the channel axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from comparisons.datasets._spurious_cue import SpuriousCue


@dataclass(frozen=True)
class ImageSplit:
    """One split of an image classification dataset.

    Attributes:
        images: (N, C, H, W) or (N, C, D, H, W) float32.
        labels: (N,) int64 in [0, num_classes).
        masks: (N, H, W) or (N, D, H, W) bool ground-truth signal masks (all False where
            no signal), or ``None`` when the dataset has none.
        cue_present: (N,) bool, which images carry the dataset's spurious cue
            (:class:`~comparisons.datasets.SpuriousCue`), or ``None`` when it has none.
    """

    images: Tensor
    labels: Tensor
    masks: Tensor | None = None
    cue_present: Tensor | None = None

    def __post_init__(self) -> None:
        if self.images.dim() not in (4, 5):
            raise ValueError(
                f"expected images of shape (N, C, H, W) or (N, C, D, H, W), got "
                f"{tuple(self.images.shape)}"
            )
        n = self.images.shape[0]
        if self.labels.shape != (n,):
            raise ValueError(f"expected labels of shape ({n},), got {tuple(self.labels.shape)}")
        if self.masks is not None and self.masks.shape != (n, *self.images.shape[2:]):
            raise ValueError(
                f"expected masks of shape {(n, *self.images.shape[2:])}, "
                f"got {tuple(self.masks.shape)}"
            )
        if self.cue_present is not None and (
            self.cue_present.shape != (n,) or self.cue_present.dtype != torch.bool
        ):
            raise ValueError(
                f"expected cue_present of shape ({n},) and dtype bool, got "
                f"{tuple(self.cue_present.shape)} {self.cue_present.dtype}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, indices: Tensor | slice) -> ImageSplit:
        """The examples at ``indices`` (a slice or an index tensor)."""
        masks = None if self.masks is None else self.masks[indices]
        cue = None if self.cue_present is None else self.cue_present[indices]
        return ImageSplit(self.images[indices], self.labels[indices], masks, cue)


@dataclass(frozen=True)
class ImageDataset:
    """Train, validation and test splits with the facts the metrics need.

    Attributes:
        name: Registry name, e.g. ``"mni-sks"``.
        class_names: One name per class, index = label.
        train, val, test: The splits.
        pixel_mean, pixel_std: Of the training images (the noise of eqs. 25-26).
        value_range: (low, high) of valid pixel values when the data declare one (FGSM
            clamps to it), else ``None``.
        description: One line for reports.
        cue: The spurious cue its images may carry (the shortcut task), else ``None``.
    """

    name: str
    class_names: tuple[str, ...]
    train: ImageSplit
    val: ImageSplit
    test: ImageSplit
    pixel_mean: float
    pixel_std: float
    value_range: tuple[float, float] | None = None
    description: str = ""
    cue: SpuriousCue | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def in_channels(self) -> int:
        return self.train.images.shape[1]

    @property
    def image_size(self) -> tuple[int, ...]:
        """The spatial shape: (H, W), or (D, H, W) for volumes."""
        return tuple(self.train.images.shape[2:])

    @property
    def spatial_dims(self) -> int:
        """2 for images, 3 for volumes."""
        return self.train.images.dim() - 2

    @property
    def has_masks(self) -> bool:
        return self.test.masks is not None


def pixel_statistics(images: Tensor) -> tuple[float, float]:
    """Mean and standard deviation over every pixel of ``images`` (float64 accumulation)."""
    flat = images.detach().to(torch.float64).flatten()
    return float(flat.mean()), float(flat.std())
