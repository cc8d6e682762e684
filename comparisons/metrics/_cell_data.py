"""What every metric runner gets: one cell's images, maps, model and explainer."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from captum_ifim.metrics import MetricInfo
from comparisons.datasets import ImageDataset

if TYPE_CHECKING:
    from comparisons.run._spectrum_maps import SpectrumMaps


@dataclass(frozen=True)
class ExampleValues:
    """The per-example values behind one result row, written to the run folder.

    Attributes:
        name: What the values are: the row's own metric (values it is the finite mean of)
            or a block of predicted labels (``"prediction-high-perturbed"``, ...) that a
            set-level score such as F1 is computed from (see :class:`RowStatistic`).
        values: (n,) the values (float64 on disk; labels as whole numbers).
        positions: (n,) rows of the cell's ``inputs`` they belong to; ``None``: the first n.
    """

    name: str
    values: Tensor
    positions: Tensor | None = None


@dataclass(frozen=True)
class MetricValue:
    """One value of the tidy table, before the cell's keys are added.

    ``examples`` holds the per-example values the value was computed from, when it has
    them (a spread or a count has none).
    """

    metric: str
    value: float
    setting: str = ""
    n: int = 0
    examples: ExampleValues | None = None


@dataclass
class CellData:
    """What the metrics of one cell need; tensors are on the cell's device.

    A *cell* is one (dataset, model, seed, method).

    Attributes:
        method: The registry name of the method.
        model: The trained classifier (eval mode).
        dataset: The dataset (for pixel statistics and the value range).
        inputs: (N, C, H, W) the evaluated test images.
        labels: (N,) their true labels.
        targets: (N,) the classes the class-specific maps explain.
        masks: (N, H, W) ground-truth signal masks, or ``None``.
        maps: (N, C, H, W) the method's maps of ``inputs``.
        low_maps: The map the contrastive low set comes from (I(x) for S(x)), or ``None``.
        explainer: The method built for ``model`` (``attribute(inputs, target=...)``).
        explainer_factory: Builds the method for another model (randomization test).
        noise_seed: Seeds the perturbation noise and random draws: a function of the run's
            seed only, so every method, every model and every dataset of one seed sees the
            same draws (never of a name).
        batch_size: Images per explainer or model call.
        adversarial_inputs: ``epsilon -> x_adv`` (FGSM, shared by the methods of a model).
        example_ids: (N,) the identity of each evaluated image (its index in the test
            split): with ``noise_seed``, it seeds that image's own noise
            (:meth:`example_noise`), whatever else is evaluated beside it.
        name: The cell in log lines: its key ``<dataset>__<model>__seed<k>__<method>``
            (``""`` outside a run).
        spectrum: The one iFIM decomposition of ``inputs`` (eigenvalues, U_K, K) of a
            method with a spectrum (``MethodSpec.has_spectrum``), else ``None``.
    """

    method: str
    model: nn.Module
    dataset: ImageDataset
    inputs: Tensor
    labels: Tensor
    targets: Tensor
    masks: Tensor | None
    maps: Tensor
    low_maps: Tensor | None
    explainer: Any
    explainer_factory: Callable[[nn.Module], Any]
    noise_seed: int
    batch_size: int
    adversarial_inputs: Callable[[float], Tensor]
    example_ids: Tensor | None = None
    name: str = ""
    spectrum: SpectrumMaps | None = None

    def example_noise(self, mean: float | Tensor, std: float | Tensor) -> Tensor:
        """A noise field like ``inputs``: ``mean + std * N(0, 1)``, each image's drawn from
        its own generator seeded by (``noise_seed``, its id), so an image gets the same
        noise in every method, model and subset of one seed."""
        from captum_ifim.metrics import gaussian_noise

        ids = self.example_ids
        if ids is None:
            ids = torch.arange(len(self.inputs))
        fields = [
            gaussian_noise(
                self.inputs[i : i + 1],
                mean,
                std,
                torch.Generator().manual_seed(example_seed(self.noise_seed, int(ids[i]))),
            )
            for i in range(len(self.inputs))
        ]
        return torch.cat(fields) if fields else torch.empty_like(self.inputs)

    @property
    def data_range(self) -> float:
        """Width of the valid value range, else of the training images' values (of the test
        images for test-only data: a model given with its weights)."""
        if self.dataset.value_range is not None:
            low, high = self.dataset.value_range
            return float(high - low)
        images = self.dataset.train.images
        if images.numel() == 0:
            images = self.dataset.test.images
        return float(images.max() - images.min())


#: The :class:`CellData` field each ``MetricInfo.needs_*`` flag asks for.
NEEDED_DATA: Mapping[str, str] = MappingProxyType(
    {
        "needs_labels": "labels",
        "needs_mask": "masks",
        "needs_model": "model",
        "needs_map": "maps",
        "needs_explainer": "explainer",
        "needs_spectrum": "spectrum",
    }
)


def missing_data(info: MetricInfo, cell: CellData) -> list[str]:
    """The fields of ``cell`` that metric ``info`` needs (its ``needs_*`` flags) and that
    are ``None`` (a dataset without masks); ``[]``: the metric applies."""
    return [
        field_name
        for flag, field_name in NEEDED_DATA.items()
        if getattr(info, flag) and getattr(cell, field_name) is None
    ]


def example_seed(noise_seed: int, example_id: int) -> int:
    """The seed of one example's draws: a hash of the run's noise seed and the example's id
    (a SplitMix64 step, so neighbouring ids give unrelated streams)."""
    value = (noise_seed * 0x9E3779B97F4A7C15 + example_id + 1) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (value ^ (value >> 31)) % 2**63


def first(tensor: Tensor, count: int | None) -> Tensor:
    """The first ``count`` rows of ``tensor`` (all of them for ``None``)."""
    return tensor if count is None else tensor[:count]


def finite_mean(values: Tensor) -> tuple[float, int]:
    """Mean over the finite values and how many there were."""
    values = values.double().flatten()
    finite = values[torch.isfinite(values)]
    return (float(finite.mean()) if finite.numel() else math.nan), int(finite.numel())


def mean_value(
    metric: str, values: Tensor, setting: str = "", positions: Tensor | None = None
) -> MetricValue:
    """The row of ``metric``: the mean over the finite ``values`` (n: how many), with the
    values themselves attached (``positions``: their rows in the cell's inputs)."""
    value, n = finite_mean(values)
    flat = values.detach().double().flatten().cpu()
    return MetricValue(metric, value, setting, n, ExampleValues(metric, flat, positions))
