"""What the cells of one group (a dataset, model and seed) share: the trained model, the
evaluated test images and their targets, DeepSHAP's background and the FGSM inputs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from captum_ifim.metrics import fgsm
from comparisons.config import HarnessConfig, stable_hash
from comparisons.datasets import ImageDataset
from comparisons.run._group_models import GroupModel
from comparisons.run_folder import GroupKey

logger = logging.getLogger(__name__)


@dataclass
class GroupData:
    """What the cells of one group share: the model, the evaluated images, FGSM inputs."""

    group: GroupKey
    dataset: ImageDataset
    trained: GroupModel
    inputs: Tensor
    labels: Tensor
    predictions: Tensor
    targets: Tensor
    masks: Tensor | None
    figure_index: Tensor
    background: Tensor
    noise_seed: int
    test_indices: Tensor
    _adversarial: dict[float, Tensor] = field(default_factory=dict)

    @property
    def model(self) -> nn.Module:
        return self.trained.model

    def adversarial_inputs(self, epsilon: float, batch_size: int) -> Tensor:
        """FGSM inputs (eq. 27) at ``epsilon``, computed once per group."""
        if epsilon not in self._adversarial:
            self._adversarial[epsilon] = fgsm(
                self.model,
                self.inputs,
                self.labels,
                epsilon,
                clamp=self.dataset.value_range,
                max_examples_per_batch=batch_size,
            )
        return self._adversarial[epsilon]


def noise_seed(seed: int) -> int:
    """The seed of a group's perturbation noise and random draws: a function of the run's
    seed only, never of a dataset's or model's name, so that every method and every model
    of one seed is scored under the same draws (paired comparisons across models rely on
    it)."""
    return int(stable_hash({"noise": seed}), 16) % 2**31


def evaluation_indices(labels: Tensor, count: int, order: Tensor | None = None) -> Tensor:
    """The test images every cell evaluates: ``count`` of them, stratified by class.

    A fixed seeded permutation of the test split; each class gets its share of ``count``
    (largest remainders; at least one image per class present when ``count`` allows), taken
    in permutation order, and the chosen images keep that order. ``count`` >= the split's
    size gives the whole split, permuted.

    Args:
        labels: (N_test,) the test split's labels.
        count: How many images to evaluate.
        order: The test indices to choose from, in the order to take them; default the
            seeded permutation of the whole split.
    """
    if order is None:
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    if count >= len(order):
        return order
    ordered = labels[order]
    classes, sizes = ordered.unique(return_counts=True)
    quotas = _stratified_quotas(sizes.tolist(), count)
    chosen = torch.zeros(len(order), dtype=torch.bool)
    for label, quota in zip(classes.tolist(), quotas, strict=True):
        positions = torch.nonzero(ordered == label).flatten()[:quota]
        chosen[positions] = True
    return order[chosen]


def _stratified_quotas(sizes: list[int], count: int) -> list[int]:
    """Per class, how many of ``count`` it gets: in proportion to ``sizes`` (largest
    remainders), at least one for every class when ``count`` >= the number of classes."""
    total = sum(sizes)
    exact = [count * size / total for size in sizes]
    quotas = [int(value) for value in exact]
    if count >= len(sizes):
        quotas = [max(1, quota) for quota in quotas]
    while sum(quotas) > count:  # the minimum of one took images from the largest classes
        largest = max(range(len(sizes)), key=lambda k: (quotas[k] - exact[k], quotas[k]))
        quotas[largest] -= 1
    remainders = sorted(range(len(sizes)), key=lambda k: exact[k] - quotas[k], reverse=True)
    for k in remainders:
        if sum(quotas) == count:
            break
        if quotas[k] < sizes[k]:
            quotas[k] += 1
    return quotas


def figure_indices(labels: Tensor, count: int) -> Tensor:
    """Up to ``count`` positions in ``labels``, taking the classes in turn (for the grid)."""
    per_class = [torch.nonzero(labels == c).flatten().tolist() for c in labels.unique().tolist()]
    chosen: list[int] = []
    for rank in range(len(labels)):
        for positions in per_class:
            if len(chosen) < count and rank < len(positions):
                chosen.append(positions[rank])
    return torch.tensor(chosen, dtype=torch.long)


def evaluation_and_background(
    dataset: ImageDataset, eval_examples: int, background_examples: int
) -> tuple[Tensor, Tensor]:
    """The test indices every cell evaluates and DeepSHAP's background images.

    The evaluated images are :func:`~comparisons.run._group_data.evaluation_indices` of the
    test split (stratified by class). With training images, the background is a seeded draw
    from the training split. Without (a model given with its weights needs only a test
    split), the background is the last ``min(background_examples, N // 2)`` test images of
    the seeded permutation, and the evaluated ones are chosen among the others, so the two
    never overlap.

    Args:
        dataset: The group's dataset.
        eval_examples: How many test images to evaluate.
        background_examples: How many background images DeepSHAP gets.

    Returns:
        ``(evaluated, background)``: indices into the test split, (B, C, ...) images.
    """
    labels = dataset.test.labels
    if len(dataset.train):
        order = torch.randperm(len(dataset.train), generator=torch.Generator().manual_seed(1))
        evaluated = evaluation_indices(labels, eval_examples)
        return evaluated, dataset.train.images[order[:background_examples]]
    total = len(dataset.test)
    order = torch.randperm(total, generator=torch.Generator().manual_seed(0))
    count = min(background_examples, total // 2)
    background = order[total - count :]
    evaluated = evaluation_indices(labels, eval_examples, order=order[: total - count])
    if len(evaluated) < eval_examples:
        logger.info(
            "no training split: %d of %d test images evaluated, %d kept apart as background",
            len(evaluated),
            total,
            count,
        )
    return evaluated, dataset.test.images[background]


def _predict(model: nn.Module, inputs: Tensor, batch_size: int) -> Tensor:
    with torch.no_grad():
        return torch.cat([model(chunk).argmax(dim=1) for chunk in inputs.split(batch_size)])


def prepare_group_data(
    config: HarnessConfig,
    group: GroupKey,
    dataset: ImageDataset,
    trained: GroupModel,
    device: torch.device,
) -> GroupData:
    test_indices, background = evaluation_and_background(
        dataset, config.eval_examples, config.background_examples
    )
    test = dataset.test.subset(test_indices)
    inputs = test.images.to(device)
    labels = test.labels.to(device)
    predictions = _predict(trained.model, inputs, config.batch_size)
    background = background.to(device)
    return GroupData(
        group=group,
        dataset=dataset,
        trained=trained,
        inputs=inputs,
        labels=labels,
        predictions=predictions,
        targets=labels if config.map_target == "label" else predictions,
        masks=None if test.masks is None else test.masks.to(device),
        figure_index=figure_indices(test.labels, config.figure_examples),
        background=background,
        noise_seed=noise_seed(group.seed),
        test_indices=test_indices,
    )
