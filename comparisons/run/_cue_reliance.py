"""How much a trained model relies on its dataset's spurious cue (the shortcut task).

On the test split, where the cue is a fair coin, every image's cue is set as the training
rule gives its label (on iff the label is the cue's class: congruent) and then against it
(incongruent); the anatomy, the signal and the noise stay as they are. A model that ignores
the cue scores the same on both; one that reads only the cue scores 1 and 0. Reliance is
the difference of the two accuracies, in [-1, 1] (0: ignored, 1: the cue alone decides).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from comparisons.datasets import ImageDataset, ImageSplit
from comparisons.metrics._row_catalogue import (
    CUE_ACCURACY_CONGRUENT_ROW,
    CUE_ACCURACY_INCONGRUENT_ROW,
    CUE_RELIANCE_ROW,
)
from comparisons.run_folder import GroupKey, ResultRow
from comparisons.training import evaluate


def _accuracy(
    model: nn.Module, images: Tensor, labels: Tensor, batch_size: int, device: torch.device
) -> float:
    _, predictions = evaluate(model, ImageSplit(images, labels), batch_size, device=device)
    return float((predictions == labels).to(torch.float64).mean())


def cue_reliance_values(
    model: nn.Module,
    dataset: ImageDataset,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
) -> list[tuple[str, float, str, int]]:
    """(metric, value, setting, n) of the cue rows on ``dataset``'s test split, or ``[]``
    when the dataset has no cue.

    Args:
        model: Takes the dataset's raw images; run in eval mode without gradients (its
            training flag is restored).
        dataset: With :attr:`~comparisons.datasets.ImageDataset.cue` and the test split's
            ``cue_present``.
        batch_size: Images per forward pass.
        device: Where the model is.

    Returns:
        ``cue-accuracy-congruent``, ``cue-accuracy-incongruent`` and ``cue-reliance``
        (their difference), each over the ``n`` test images.
    """
    cue, test = dataset.cue, dataset.test
    if cue is None:
        return []
    if test.cue_present is None:
        raise ValueError(
            f"expected the test split of {dataset.name!r} to say which images carry its cue "
            f"(cue_present), got None"
        )
    device = torch.device(device)
    congruent = cue.congruent(test.labels)
    accuracies = [
        _accuracy(
            model,
            cue.set_to(test.images, test.cue_present, wanted),
            test.labels,
            batch_size,
            device,
        )
        for wanted in (congruent, ~congruent)
    ]
    n = len(test)
    return [
        (CUE_ACCURACY_CONGRUENT_ROW.name, accuracies[0], "", n),
        (CUE_ACCURACY_INCONGRUENT_ROW.name, accuracies[1], "", n),
        (CUE_RELIANCE_ROW.name, accuracies[0] - accuracies[1], "", n),
    ]


def cue_reliance_rows(
    group: GroupKey, model: nn.Module, dataset: ImageDataset, device: torch.device | str
) -> list[ResultRow]:
    """The cue rows of a group's model (method ``""``), ``[]`` for a dataset without a cue."""
    return [
        ResultRow(
            dataset=group.dataset,
            model=group.model,
            seed=group.seed,
            method="",
            metric=metric,
            setting=setting,
            value=float(value),
            n=int(n),
        )
        for metric, value, setting, n in cue_reliance_values(model, dataset, device=device)
    ]
