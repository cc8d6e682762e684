"""Whether a metric applies to a cell follows from its library facts (``MetricInfo.needs_*``),
decided once by :func:`comparisons.metrics.run_metric`, not again by each runner."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch
from captum.attr import Saliency
from torch import nn

import captum_ifim.metrics._registry as library_registry
import comparisons.metrics._registry as harness_registry
from captum_ifim.metrics import METRICS, MetricInfo
from comparisons.datasets import ImageDataset, ImageSplit
from comparisons.metrics import HARNESS_METRICS, CellData, run_metric
from comparisons.metrics._cell_data import NEEDED_DATA, missing_data

NEEDS = [f.name for f in dataclasses.fields(MetricInfo) if f.name.startswith("needs_")]


def _cell(masks: bool) -> CellData:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).eval()
    images = torch.randn(4, 1, 4, 4)
    labels = torch.tensor([0, 1, 0, 1])
    mask = torch.zeros(4, 4, 4, dtype=torch.bool)
    mask[1, 1:3, 1:3] = True
    split = ImageSplit(images, labels, mask if masks else None)
    dataset = ImageDataset("toy", ("a", "b"), split, split, split, 0.0, 1.0)
    saliency = Saliency(model)
    return CellData(
        method="saliency",
        model=model,
        dataset=dataset,
        inputs=images,
        labels=labels,
        targets=labels,
        masks=split.masks,
        maps=saliency.attribute(images, target=labels),
        low_maps=None,
        explainer=saliency,
        explainer_factory=Saliency,
        noise_seed=0,
        batch_size=2,
        adversarial_inputs=lambda eps: images + eps,
    )


def test_every_needs_flag_names_the_cell_data_it_asks_for() -> None:
    assert set(NEEDED_DATA) == set(NEEDS)
    cell_fields = {f.name for f in dataclasses.fields(CellData)}
    assert set(NEEDED_DATA.values()) <= cell_fields
    assert "needs_second_map" not in NEEDS  # set and read by nothing: removed


def test_missing_data_names_what_the_metric_needs_and_the_cell_lacks() -> None:
    without, with_masks = _cell(masks=False), _cell(masks=True)
    for name, info in METRICS.items():
        spectrum = ["spectrum"] if info.needs_spectrum else []  # a saliency cell has none
        assert missing_data(info, with_masks) == spectrum, name
        masks = ["masks"] if info.needs_mask else []
        assert missing_data(info, without) == masks + spectrum, name
    stripped = dataclasses.replace(without, labels=None, explainer=None)
    assert missing_data(METRICS["adversarial-correlation"], stripped) == ["labels", "explainer"]


def test_a_metric_that_needs_a_mask_is_not_run_on_a_cell_without_masks(monkeypatch, caplog) -> None:
    """The runner is not called at all; the reason is logged."""
    calls = []
    entry = HARNESS_METRICS["energy-in-mask"]

    def spy(cell, options):
        calls.append(cell)
        return entry.runner(cell, options)

    spied = dataclasses.replace(entry, runner=spy)
    monkeypatch.setattr(
        harness_registry, "HARNESS_METRICS", {**HARNESS_METRICS, "energy-in-mask": spied}
    )
    with caplog.at_level(logging.DEBUG, logger="comparisons.metrics"):
        assert run_metric("energy-in-mask", _cell(masks=False), {}) == []
    assert calls == []
    assert "energy-in-mask" in caplog.text and "masks" in caplog.text
    values = run_metric("energy-in-mask", _cell(masks=True), {})
    assert len(calls) == 1 and [v.metric for v in values] == ["energy-in-mask"]
    assert values[0].n == 1  # the one image with a signal


def test_the_library_flag_decides_not_the_runner(monkeypatch) -> None:
    """Deletion AUC does not need a mask; declared so, it is skipped on a mask-less cell."""
    options = {"steps": 2}
    cell = _cell(masks=False)
    assert run_metric("deletion-auc", cell, options)
    needing = dataclasses.replace(METRICS["deletion-auc"], needs_mask=True)
    monkeypatch.setattr(library_registry, "METRICS", {**METRICS, "deletion-auc": needing})
    assert run_metric("deletion-auc", cell, options) == []
    assert run_metric("deletion-auc", _cell(masks=True), options)


@pytest.mark.parametrize("name", ["energy-in-mask", "pointing-game"])
def test_localization_on_masks_without_a_signal_gives_no_rows(name: str) -> None:
    cell = _cell(masks=True)
    cell = dataclasses.replace(cell, masks=torch.zeros_like(cell.masks))
    assert run_metric(name, cell, {}) == []
