"""The small trained network the gallery's examples share (not an example itself).

sphinx-gallery runs each example with this folder on ``sys.path`` (as ``python`` does for a
script), so ``from _example_setup import train_small_cnn`` works in both; ``ignore_pattern``
in ``docs/conf.py`` keeps this module out of the gallery.
"""

from __future__ import annotations

from comparisons.datasets import ImageDataset, load_dataset
from comparisons.training import TrainedModel, TrainingConfig, train_model


def train_small_cnn(
    dataset: str = "mni-sks",
    *,
    num_val: int = 100,
    num_test: int = 40,
    epochs: int = 6,
) -> tuple[ImageDataset, TrainedModel]:
    """A shallow CNN (max head) trained for a few seconds on 64 x 64 MNI152 slices.

    Args:
        dataset: ``"mni-sks"`` or ``"mni-sks-3class"``; 600 training images, a brighter
            signal (amplitude 0.3-0.5) than the harness's default, seed 0.
        num_val, num_test: Sizes of the validation and test splits.
        epochs: Training epochs (``TrainingConfig.fast``).

    Returns:
        The dataset (images (N, 1, 64, 64)) and the trained model (in eval mode).
    """
    data = load_dataset(
        dataset,
        num_train=600,
        num_val=num_val,
        num_test=num_test,
        image_size=64,
        amplitude_range=(0.3, 0.5),
        seed=0,
    )
    trained = train_model(
        "shallow-cnn",
        data,
        TrainingConfig.fast(epochs=epochs),
        seed=0,
        model_options={"head": "max"},
        progress=False,
    )
    return data, trained
