"""What the cells of one group (a dataset, model and seed) share: the trained model, the
evaluated test images and their targets, DeepSHAP's background and the FGSM inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from captum_ifim.metrics import fgsm
from comparisons.config import HarnessConfig, stable_hash
from comparisons.datasets import ImageDataset
from comparisons.run._group_models import GroupModel
from comparisons.run._inputs import evaluation_and_background
from comparisons.run_folder import GroupKey


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


def evaluation_indices(num_test: int, count: int) -> Tensor:
    """The test images every cell evaluates: a fixed seeded permutation, first ``count``."""
    order = torch.randperm(num_test, generator=torch.Generator().manual_seed(0))
    return order[: min(count, num_test)]


def figure_indices(labels: Tensor, count: int) -> Tensor:
    """Up to ``count`` positions in ``labels``, taking the classes in turn (for the grid)."""
    per_class = [torch.nonzero(labels == c).flatten().tolist() for c in labels.unique().tolist()]
    chosen: list[int] = []
    for rank in range(len(labels)):
        for positions in per_class:
            if len(chosen) < count and rank < len(positions):
                chosen.append(positions[rank])
    return torch.tensor(chosen, dtype=torch.long)


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
        dataset,
        evaluation_indices(len(dataset.test), config.eval_examples),
        config.background_examples,
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
        noise_seed=int(stable_hash(group.key), 16) % 2**31,
        test_indices=test_indices,
    )
