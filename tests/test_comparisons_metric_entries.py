"""The harness's metric entries: one per library metric, checked at import, and the report's
directions read from them."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import torch

import captum_ifim.metrics as library_metrics
from captum_ifim.metrics import METRICS, adversarial_correlation, compute_maps
from comparisons.metrics import (
    HARNESS_METRICS,
    ROW_DIRECTIONS,
    check_metric_options,
    get_harness_metric,
    row_direction,
)
from comparisons.reporting import metric_direction


def test_there_is_one_entry_per_library_metric_in_the_library_order() -> None:
    assert list(HARNESS_METRICS) == list(METRICS)
    for name, entry in HARNESS_METRICS.items():
        assert entry.name == name and entry.info is METRICS[name]
        assert entry.rows, name


def test_a_library_metric_without_an_entry_fails_at_import(monkeypatch) -> None:
    import comparisons.metrics._registry as registry

    extra = dataclasses.replace(METRICS["infidelity"], name="brand-new-metric")
    shipped = dict(vars(registry))
    monkeypatch.setattr(library_metrics, "METRICS", {**METRICS, extra.name: extra})
    try:
        with pytest.raises(ImportError, match="brand-new-metric"):
            importlib.reload(registry)
    finally:
        monkeypatch.undo()
        # The module's own objects back, not a reload's copies: the report and the custom
        # metrics hold the registry dict they imported (a reload left them two registries).
        vars(registry).update(shipped)
    assert registry.HARNESS_METRICS is HARNESS_METRICS
    assert list(registry.HARNESS_METRICS) == list(METRICS)


def test_row_directions_follow_the_library_unless_the_entry_decides() -> None:
    for entry in HARNESS_METRICS.values():
        for row in entry.rows:
            resolved = ROW_DIRECTIONS[row.name]
            if row.direction is None:
                expected = {True: "higher", False: "lower"}.get(
                    entry.info.higher_is_better, "ideal" if entry.info.ideal is not None else "none"
                )
                assert (resolved.direction, resolved.source) == (expected, entry.name)
            else:
                assert resolved.direction == row.direction and row.reason, row.name
    assert metric_direction("f1-ratio").direction == "higher"
    assert metric_direction("adversarial-correlation").direction == "lower"
    assert metric_direction("kl-fidelity").ideal == 1.0
    assert metric_direction("seconds-per-image").direction == "lower"
    assert row_direction("test-accuracy").direction == "none"


def test_unknown_metric_options_name_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="n_perturb_samples"):
        check_metric_options("infidelity", {"n_samples": 2})
    with pytest.raises(ValueError, match="expected a metric name"):
        get_harness_metric("f1")
    resolved = get_harness_metric("deletion-auc").resolved_options({"steps": 4})
    assert resolved == {"methods": None, "steps": 4, "baseline": "mean", "max_examples": None}


def test_adversarial_correlation_with_precomputed_inputs_and_maps_is_the_same() -> None:
    """The harness passes the group's FGSM inputs and the cell's maps: one path, same values."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)
    ).eval()
    x, y = torch.randn(5, 1, 4, 4), torch.tensor([0, 1, 2, 1, 0])

    def explainer(inputs, target):
        inputs = inputs.clone().requires_grad_(True)
        score = model(inputs).gather(1, target[:, None]).sum()
        return torch.autograd.grad(score, inputs)[0]

    reference = adversarial_correlation(model, explainer, x, y, 0.1, max_examples_per_batch=2)
    x_adv = library_metrics.fgsm(model, x, y, 0.1)
    maps = compute_maps(explainer, x, y, None, 2)
    shared = adversarial_correlation(
        model,
        explainer,
        x,
        y,
        0.1,
        adversarial_inputs=x_adv,
        clean_maps=maps,
        max_examples_per_batch=2,
    )
    assert torch.equal(shared.per_example, reference.per_example)
    with pytest.raises(ValueError, match="clean_maps"):
        adversarial_correlation(model, explainer, x, y, 0.1, clean_maps=maps[:2])
