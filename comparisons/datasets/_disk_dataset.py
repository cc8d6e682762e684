"""A published dataset read from disk: per-class caps, reading, pixel statistics, in one place.

The loaders of Kermany OCT, ChestX-ray8 and MedMNIST each list their splits' examples and
labels in their own format; :func:`disk_dataset` does the rest the same way for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from comparisons.datasets._dataset import ImageDataset, ImageSplit, pixel_statistics
from comparisons.datasets._splitting import SPLIT_NAMES, cap_splits

#: ``read(split, indices) -> images``: the listed examples of ``split`` at ``indices``
#: (ascending (n,) int64), as (n, C, H, W) float32 in [0, 1].
Read = Callable[[str, np.ndarray], Tensor]


def disk_dataset(
    name: str,
    class_names: Sequence[str],
    description: str,
    labels: Mapping[str, np.ndarray],
    read: Read,
    caps: Mapping[str, int | None],
    seed: int,
    source: object,
) -> ImageDataset:
    """Cap every split per class, read what is kept, and assemble the dataset.

    Args:
        name, class_names, description: Of the dataset.
        labels: ``{"train": ..., "val": ..., "test": ...}``, the (N_split,) int64 labels of
            each split's listed examples.
        read: Reads kept examples (:data:`Read`); never called for the examples a cap drops.
        caps: The cap per class of each split, from
            :func:`~comparisons.datasets._splitting.per_split_caps`.
        seed: The user's seed; the caps draw with
            :func:`~comparisons.datasets._splitting.cap_seed`.
        source: Where the examples came from, named when no training example is left.

    Returns:
        The dataset: ``value_range`` (0, 1), pixel statistics of the training images.

    Raises:
        ValueError: No training example.
    """
    kept = cap_splits(labels, caps, seed)
    if len(kept["train"]) == 0:
        raise ValueError(f"expected training images in {source}, got none")
    splits = {
        split: ImageSplit(read(split, kept[split]), torch.from_numpy(labels[split][kept[split]]))
        for split in SPLIT_NAMES
    }
    mean, std = pixel_statistics(splits["train"].images)
    return ImageDataset(
        name=name,
        class_names=tuple(class_names),
        pixel_mean=mean,
        pixel_std=std,
        value_range=(0.0, 1.0),
        description=description,
        **splits,
    )
