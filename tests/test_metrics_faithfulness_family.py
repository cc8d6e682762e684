"""ROAD, faithfulness correlation, pixel flipping, region perturbation, IROF and monotonicity
correlation: hand-derived values, 3-D volumes, batched == one by one, input errors, and
agreement with Quantus 0.6 and pytorch-grad-cam.

Quantus 0.6 does not run on the project's numpy (>= 2.4), so its values are a committed
fixture, ``tests/reference_fixtures/quantus_faithfulness.json``, holding the model's weights,
the inputs, the maps and Quantus's own random draws. To regenerate it, run
``tests/reference_fixtures/make_quantus_faithfulness.py`` in an environment with
``numpy<2.4``, ``quantus==0.6.0`` and torch (its docstring has the commands).
pytorch-grad-cam's ROAD runs live (it is a dependency of the ``compare`` extra).

Agreement (float64, the same draws): faithfulness correlation, the pixel-flipping and
region-perturbation curves, monotonicity correlation (fixed and uniform baselines), IROF on
Quantus's own SLIC segments, ROAD's accuracy per percentage and the noisy linear imputation
itself all agree to 1e-9 or better. Where the conventions differ, the tests say how:

- Quantus's AUCs (``np.trapz(curve, dx=1)`` without the clean point) grow with the number of
  steps; the library's are over the share removed, and Quantus's is computed from the
  library's curves here.
- Quantus's IROF replaces a segment by ``"mean"``, the mean of the *whole batch as perturbed
  so far* (``get_baseline_value`` with ``batched=False`` on the perturbed batch), so an
  example's score depends on the others and on the steps before; the library uses each
  example's clean mean. The fixture runs Quantus one example at a time with that mean as a
  number (agreement to 1e-9) and also keeps its default (different, shown below).
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import captum_ifim.metrics as M
import captum_ifim.metrics._faithfulness_correlation as fc_module
import captum_ifim.metrics._monotonicity as monotonicity_module
from captum_ifim.metrics._registry import FAMILY_INFOS
from captum_ifim.metrics._road import _neighbour_kernel

from ._metrics_models import LinearLogit
from .reference_fixtures.make_quantus_faithfulness import build_model
from .test_metrics_contract import _NEEDS_PARAMETERS

FIXTURE = Path(__file__).parent / "reference_fixtures" / "quantus_faithfulness.json"
F64 = torch.float64


@functools.cache
def _reference() -> dict:
    """The Quantus fixture. Every test that reads it compares with Quantus 0.6; regenerate it
    with ``tests/reference_fixtures/make_quantus_faithfulness.py`` run in a venv with
    ``numpy<2.4 quantus==0.6.0 torch`` (the commands are in that script's docstring)."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    model = build_model()
    model.load_state_dict({k: torch.tensor(v, dtype=F64) for k, v in data["state_dict"].items()})
    quantus = {
        k: v if "segments" in k else torch.tensor(v, dtype=F64) for k, v in data["quantus"].items()
    }
    return {
        "model": model.eval(),
        "x": torch.tensor(data["inputs"], dtype=F64),
        "y": torch.tensor(data["labels"]),
        "a": torch.tensor(data["maps"], dtype=F64),
        "settings": data["settings"],
        "subsets": torch.tensor(data["faithfulness_subsets"]),
        "draws": torch.tensor(data["monotonicity_uniform_draws"], dtype=F64),
        "imputations": data["imputations"],
        "colour": torch.tensor(data["colour_image"], dtype=F64),
        "quantus": quantus,
    }


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One thread: on a shared 2-core machine torch's default thread count is ~40x slower
    for these small models."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _close(got: torch.Tensor, expected: torch.Tensor, atol: float = 1e-9) -> None:
    torch.testing.assert_close(got.double(), expected.double(), rtol=0, atol=atol)


# Agreement with Quantus 0.6 -------------------------------------------------------------


def test_faithfulness_correlation_agrees_with_quantus(monkeypatch):
    ref = _reference()
    monkeypatch.setattr(fc_module, "random_subsets", lambda *args: ref["subsets"])
    settings = ref["settings"]["faithfulness_correlation"]
    got = M.faithfulness_correlation(ref["model"], ref["x"], ref["a"], ref["y"], **settings)
    _close(got.correlation, ref["quantus"]["faithfulness_correlation"])


def test_pixel_flipping_agrees_with_quantus():
    ref = _reference()
    settings = ref["settings"]["pixel_flipping"]
    got = M.pixel_flipping(ref["model"], ref["x"], ref["a"], ref["y"], **settings)
    curves = ref["quantus"]["pixel_flipping"]
    _close(got.scores[:, 1:], curves)  # Quantus's curve leaves out the clean point
    _close(got.scores[:, 0], ref["model"](ref["x"]).softmax(1).gather(1, ref["y"][:, None])[:, 0])
    quantus_auc = torch.tensor(np.trapezoid(curves.numpy(), dx=1, axis=1))
    _close(torch.trapezoid(got.scores[:, 1:], dx=1, dim=1), quantus_auc)
    assert got.fractions.tolist() == [i * 5 / 100 for i in range(21)]


@pytest.mark.parametrize("order", ["morf", "lerf"])
def test_region_perturbation_agrees_with_quantus(order):
    ref = _reference()
    settings = ref["settings"]["region_perturbation"]
    got = M.region_perturbation(ref["model"], ref["x"], ref["a"], ref["y"], order=order, **settings)
    _close(got.drops[:, 1:], ref["quantus"][f"region_perturbation_{order}"])
    _close(got.aopc, got.drops.mean(dim=1))


def test_irof_agrees_with_quantus_for_a_fixed_mean():
    ref = _reference()
    got = M.irof(ref["model"], ref["x"], ref["a"], ref["y"])
    assert torch.equal(got.segments, torch.tensor(ref["quantus"]["slic_segments"]))
    quantus_scale = torch.stack(
        [
            s - torch.trapezoid(got.curves[n, 1 : s + 1], dx=1)
            for n, s in enumerate(got.num_segments.tolist())
        ]
    )
    _close(quantus_scale, ref["quantus"]["irof_fixed_mean"])
    # Quantus's default "mean" drifts with the batch as perturbed so far: not the same.
    difference = (quantus_scale - ref["quantus"]["irof_default_batch"]).abs()
    assert difference.max() > 0.5
    # The library's own score is on [0, 1]: 1 - area under the relative curve.
    for n, s in enumerate(got.num_segments.tolist()):
        area = torch.trapezoid(got.curves[n, : s + 1], torch.arange(s + 1, dtype=F64) / s)
        _close(got.aoc[n], 1 - area)
        assert torch.isnan(got.curves[n, s + 1 :]).all()


def test_slic_segments_are_quantus_segments_on_a_colour_image():
    ref = _reference()
    got = M.slic_segments(ref["colour"][None])  # SLIC in Lab, as Quantus for 3 channels
    expected = torch.tensor(ref["quantus"]["slic_colour_segments"])
    assert torch.equal(got[0], expected) and expected.unique().numel() == 79


def test_monotonicity_correlation_agrees_with_quantus(monkeypatch):
    ref = _reference()
    settings = ref["settings"]["monotonicity_correlation"]
    args = (ref["model"], ref["x"], ref["a"], ref["y"])
    black = M.monotonicity_correlation(*args, baseline="black", **settings)
    _close(black.correlation, ref["quantus"]["monotonicity_black"])
    monkeypatch.setattr(monotonicity_module, "_uniform_draws", lambda *a: ref["draws"])
    uniform = M.monotonicity_correlation(*args, **settings)
    _close(uniform.correlation, ref["quantus"]["monotonicity_uniform"])


def test_road_agrees_with_quantus():
    ref = _reference()
    percentages = ref["settings"]["road"]["percentages"]
    got = M.road_morf(
        ref["model"], ref["x"], ref["a"], ref["y"], percentages=percentages, noise_std=0.0
    )
    accuracy = (got.predictions == ref["y"][:, None]).double().mean(dim=0)
    _close(accuracy, ref["quantus"]["road_accuracy_noise0"], atol=0)
    assert accuracy[0] > accuracy[-1]  # not all zeros: the comparison has something to see
    for case in ref["imputations"]:  # Quantus's own noise, drawn for its order of pixels
        n, indices = case["example"], torch.tensor(case["indices"])
        removed = torch.zeros(1, 100, dtype=torch.bool)
        removed[0, indices] = True
        noise = torch.zeros(1, 1, 100, dtype=F64)
        noise[0, 0, indices] = torch.tensor(case["noise"], dtype=F64)
        imputed = M.noisy_linear_imputation(
            ref["x"][n : n + 1], removed.view(1, 10, 10), 0.01, noise=noise.view(1, 1, 10, 10)
        )
        _close(imputed[0], torch.tensor(case["imputed"], dtype=F64))


# Agreement with pytorch-grad-cam (live) ---------------------------------------------------


@functools.cache
def _gradcam_case():
    """A float32 CNN (grad-cam imputes in float32) on 3-channel 11 x 11 images: for 121
    pixels grad-cam's percentile thresholds remove exactly ceil(p * 121 / 100) pixels."""
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 121, 3)
    ).eval()
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(4, 3, 11, 11, generator=generator)
    cams = torch.rand(4, 11, 11, generator=generator)
    with torch.no_grad():
        y = model(x).argmax(dim=1)
    return model, x, cams, y


def test_road_agrees_with_pytorch_grad_cam_without_noise():
    from pytorch_grad_cam.metrics.perturbation_confidence import (
        PerturbationConfidenceMetric,
        RemoveLeastRelevantFirst,
        RemoveMostRelevantFirst,
    )
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    model, x, cams, y = _gradcam_case()
    targets = [ClassifierOutputSoftmaxTarget(int(c)) for c in y]
    expected = {}
    for name, removal in (("morf", RemoveMostRelevantFirst), ("lerf", RemoveLeastRelevantFirst)):
        # Percentile q keeps the q % below it: MoRF removes the top (100 - q) %.
        changes = [
            PerturbationConfidenceMetric(removal(q, NoisyLinearImputer(noise=0.0)))(
                x, cams.numpy(), targets, model
            )
            for q in M.ROAD_PERCENTAGES
        ]
        expected[name] = torch.tensor(np.mean(changes, axis=0), dtype=F64)
    got = M.road_combined(model, x, cams.unsqueeze(1), y, noise_std=0.0)
    _close(got.morf.score, expected["morf"], atol=2e-6)
    _close(got.lerf.score, expected["lerf"], atol=2e-6)
    _close(got.score, (expected["lerf"] - expected["morf"]) / 2, atol=2e-6)


def test_road_combined_agrees_with_pytorch_grad_cam_with_its_noise():
    """The default ROADCombined (noise 0.01 from torch's global generator) against the
    library's (noise 0.01 from its seed): different draws, so within 1e-3 (measured: the
    noise moves the scores by about 1e-4 here)."""
    from pytorch_grad_cam.metrics.road import ROADCombined
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    model, x, cams, y = _gradcam_case()
    targets = [ClassifierOutputSoftmaxTarget(int(c)) for c in y]
    torch.manual_seed(0)
    expected = torch.tensor(ROADCombined()(x, cams.numpy(), targets, model), dtype=F64)
    got = M.road_combined(model, x, cams.unsqueeze(1), y)
    _close(got.score, expected, atol=1e-3)
    assert got.score.abs().min() > 1e-3  # the scores are larger than the tolerance


# Hand-derived cases (a linear logit, exact contributions) ----------------------------------


def _linear_case(spatial: tuple[int, ...] = (4, 4), num: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(1, *spatial, generator=generator, dtype=F64)
    x = torch.randn(num, 1, *spatial, generator=generator, dtype=F64)
    return LinearLogit(weight).eval(), x, x * weight  # logit 1 = sum of the contributions


@pytest.mark.parametrize("spatial", [(4, 4), (3, 3, 3)])
def test_faithfulness_correlation_is_one_for_the_exact_contributions(spatial):
    model, x, contributions = _linear_case(spatial)
    options = {"nr_runs": 15, "subset_size": 5, "baseline": 0.0, "score": "output"}
    exact = M.faithfulness_correlation(model, x, contributions, 1, **options)
    _close(exact.correlation, torch.ones(3))
    _close(exact.score_drops, exact.attribution_sums)  # the drop is the removed sum
    flipped = M.faithfulness_correlation(model, x, -contributions, 1, **options)
    _close(flipped.correlation, -torch.ones(3))
    other = M.faithfulness_correlation(model, x, contributions, 1, **{**options, "seed": 1})
    assert not torch.equal(other.attribution_sums, exact.attribution_sums)


@pytest.mark.parametrize("spatial", [(4, 4), (2, 2, 4)])
def test_pixel_flipping_curve_is_the_remaining_sum(spatial):
    model, x, contributions = _linear_case(spatial)
    got = M.pixel_flipping(
        model, x, contributions, 1, features_in_step=3, baseline=0.0, score="output"
    )
    ordered = contributions.flatten(1).sort(dim=1, descending=True).values
    removed = torch.cat([torch.zeros(3, 1, dtype=F64), ordered.cumsum(dim=1)], dim=1)
    counts = [min(3 * s, 16) for s in range(7)]
    total = contributions.flatten(1).sum(dim=1, keepdim=True)
    _close(got.scores, total - removed[:, counts])
    _close(got.fractions, torch.tensor(counts, dtype=F64) / 16)
    _close(got.auc, torch.trapezoid(got.scores, got.fractions, dim=1))


@pytest.mark.parametrize(("spatial", "patch"), [((4, 4), 2), ((5, 5), 2), ((4, 4, 4), 2)])
def test_region_perturbation_drops_are_the_patch_sums(spatial, patch):
    model, x, contributions = _linear_case(spatial)
    cells = M.grid_segments(spatial, patch)
    num_regions = int(cells.max()) + 1
    sums = torch.zeros(3, num_regions, dtype=F64).scatter_add_(
        1, cells.flatten().expand(3, -1), contributions.flatten(1)
    )
    got = M.region_perturbation(
        model, x, contributions, 1, patch_size=patch, baseline=0.0, score="output"
    )
    ordered = sums.sort(dim=1, descending=True).values.cumsum(dim=1)
    drops = torch.cat([torch.zeros(3, 1, dtype=F64), ordered], dim=1)
    _close(got.drops, drops)
    _close(got.aopc, drops.mean(dim=1))
    lerf = M.region_perturbation(
        model, x, contributions, 1, patch_size=patch, order="lerf", baseline=0.0, score="output"
    )
    _close(lerf.drops[:, 1:], sums.sort(dim=1).values.cumsum(dim=1))
    assert (got.aopc >= lerf.aopc).all()


def test_grid_segments_centre_the_grid_as_quantus_pads():
    assert M.grid_segments((5,), 2).tolist() == [0, 0, 1, 1, 2]  # padded (0, 1)
    assert M.grid_segments((4,), 3).tolist() == [0, 0, 1, 1]  # padded (1, 1)
    assert M.grid_segments((2, 3), 2).tolist() == [[0, 0, 1], [0, 0, 1]]
    assert M.grid_segments((4, 4, 4), 2).unique().numel() == 8


@pytest.mark.parametrize("spatial", [(4, 4), (4, 4, 4)])
def test_irof_relative_curve_on_a_grid(spatial):
    model, x, contributions = _linear_case(spatial)
    x = x.abs() + 0.1  # a positive logit, so the ratio is defined
    weight = model.weight.abs()
    model = LinearLogit(weight).eval()
    contributions = x * weight
    got = M.irof(
        model,
        x,
        contributions,
        1,
        segmentation="grid",
        grid_size=2,
        baseline=0.0,
        score="output",
    )
    cells = M.grid_segments(spatial, 2).flatten()
    means = torch.zeros(3, int(cells.max()) + 1, dtype=F64)
    means.scatter_add_(1, cells.expand(3, -1), contributions.flatten(1))
    count = means.shape[1]
    sums = means.clone()  # equal-sized cells: ordering by mean = ordering by sum
    remaining = 1 - sums.sort(dim=1, descending=True).values.cumsum(dim=1) / sums.sum(
        dim=1, keepdim=True
    )
    curve = torch.cat([torch.ones(3, 1, dtype=F64), remaining], dim=1)
    _close(got.curves, curve)
    assert got.num_segments.tolist() == [count] * 3
    steps = torch.arange(count + 1, dtype=F64) / count
    _close(got.aoc, 1 - torch.trapezoid(curve, steps, dim=1))
    if len(spatial) == 3:  # a volume's default segmentation is the grid
        default = M.irof(model, x, contributions, 1, grid_size=2, baseline=0.0, score="output")
        _close(default.aoc, got.aoc, atol=0)


def test_irof_takes_your_own_segments_and_renumbers_them():
    model, x, contributions = _linear_case((4, 4))
    labels = torch.zeros(3, 4, 4, dtype=torch.long)
    labels[:, :, 2:] = 7  # two segments, labelled 0 and 7
    got = M.irof(model, x, contributions, 1, segmentation=labels, baseline=0.0)
    assert got.num_segments.tolist() == [2, 2, 2] and got.curves.shape == (3, 3)
    assert set(got.segments.unique().tolist()) == {0, 1}


@pytest.mark.parametrize("spatial", [(4, 4), (2, 3, 3)])
def test_monotonicity_is_one_for_the_exact_contributions(spatial):
    model, x, contributions = _linear_case(spatial)
    got = M.monotonicity_correlation(
        model, x, contributions, 1, baseline=0.0, score="output", nr_samples=4
    )
    _close(got.correlation, torch.ones(3))
    # v = (w_i x_i)^2 / f(x)^2, in increasing order of |w_i x_i|.
    total = contributions.flatten(1).sum(dim=1, keepdim=True)
    ordered = contributions.flatten(1).abs().sort(dim=1).values
    _close(got.variances, ordered.square() / total.square())
    _close(got.attribution_sums, ordered)


def test_monotonicity_uniform_draws_come_from_the_seed():
    model, x, contributions = _linear_case((4, 4))
    options = {"nr_samples": 3, "features_in_step": 4}
    first = M.monotonicity_correlation(model, x, contributions, 1, **options)
    again = M.monotonicity_correlation(model, x, contributions, 1, **options)
    other = M.monotonicity_correlation(model, x, contributions, 1, seed=1, **options)
    assert torch.equal(first.variances, again.variances)
    assert not torch.equal(first.variances, other.variances)


def test_imputation_of_one_pixel_is_the_weighted_mean_of_its_neighbours():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 5, 5, generator=generator, dtype=F64)
    hole = torch.zeros(1, 5, 5, dtype=torch.bool)
    hole[0, 2, 3] = True
    edges = x[:, :, 1, 3] + x[:, :, 3, 3] + x[:, :, 2, 2] + x[:, :, 2, 4]
    corners = x[:, :, 1, 2] + x[:, :, 1, 4] + x[:, :, 3, 2] + x[:, :, 3, 4]
    imputed = M.noisy_linear_imputation(x, hole, noise_std=0.0)
    _close(imputed[:, :, 2, 3], edges / 6 + corners / 12)
    _close(imputed.masked_fill(hole[:, None], 0), x.masked_fill(hole[:, None], 0), atol=0)
    # On the image's edge only the in-image neighbours count (weights 1/6, 1/12 renormalised).
    hole = torch.zeros(1, 5, 5, dtype=torch.bool)
    hole[0, 0, 0] = True
    corner = M.noisy_linear_imputation(x, hole, noise_std=0.0)[:, :, 0, 0]
    _close(corner, (2 * (x[:, :, 0, 1] + x[:, :, 1, 0]) + x[:, :, 1, 1]) / 5)


def test_imputation_in_a_volume_uses_the_26_neighbours_by_inverse_squared_distance():
    kernel = _neighbour_kernel(3)[0, 0]
    assert kernel[1, 1, 1] == 0 and math.isclose(kernel.sum().item(), 1.0)
    assert math.isclose(kernel[0, 1, 1] / kernel[0, 0, 1], 2.0)  # face : edge = 2 : 1
    assert math.isclose(kernel[0, 1, 1] / kernel[0, 0, 0], 3.0)  # face : corner = 3 : 1
    expected = torch.tensor([[1, 2, 1], [2, 0, 2], [1, 2, 1]], dtype=F64) / 12
    _close(_neighbour_kernel(2)[0, 0], expected)  # 1/12 corners, 1/6 edges (Rong et al.)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 1, 3, 3, 3, generator=generator, dtype=F64)
    hole = torch.zeros(2, 3, 3, 3, dtype=torch.bool)
    hole[:, 1, 1, 1] = True
    imputed = M.noisy_linear_imputation(x, hole, noise_std=0.0)
    _close(imputed[:, 0, 1, 1, 1], (x[:, 0] * kernel).flatten(1).sum(dim=1))


@pytest.mark.parametrize("spatial", [(6, 6), (5, 5, 5)])
def test_road_on_a_linear_ramp_changes_nothing(spatial):
    """A linear ramp is its own imputation away from the border, so with the interior
    removed first (MoRF) the model sees the clean input: every change is 0."""
    grids = torch.meshgrid(*[torch.arange(s, dtype=F64) for s in spatial], indexing="ij")
    ramp = sum((i + 1) * g for i, g in enumerate(grids)).expand(2, 1, *spatial).clone()
    interior = torch.zeros(2, 1, *spatial, dtype=F64)
    interior[(slice(None), 0, *[slice(1, s - 1) for s in spatial])] = 1.0
    interior += 1e-3 * torch.rand(interior.shape, generator=torch.Generator().manual_seed(0))
    model = LinearLogit(torch.randn(1, *spatial, dtype=F64)).eval()
    share = 100 * math.prod(s - 2 for s in spatial) / math.prod(spatial)
    got = M.road_morf(model, ramp, interior, 1, percentages=(share / 2, share), noise_std=0.0)
    _close(got.score, torch.zeros(2))
    _close(got.scores, got.clean[:, None].expand(2, 2))
    combined = M.road_combined(model, ramp, interior, 1, percentages=(share,), noise_std=0.0)
    _close(combined.score, (combined.lerf.score - combined.morf.score) / 2, atol=0)


def test_road_counts_and_noise():
    model, x, contributions = _linear_case((10, 10), num=2)
    got = M.road_morf(model, x, contributions, 1, percentages=(10, 25.5), noise_std=0.0)
    assert got.percentages.tolist() == [10.0, 25.5]
    # 10 % of 100 pixels, and ceil(25.5) = 26 pixels: a linear logit's change is the sum of
    # (imputed - original) * w over the removed pixels.
    ranks = contributions.flatten(1).argsort(dim=1, descending=True)
    for column, k in enumerate((10, 26)):
        removed = torch.zeros(2, 100, dtype=torch.bool).scatter_(1, ranks[:, :k], True)
        imputed = M.noisy_linear_imputation(x, removed.view(2, 10, 10), 0.0)
        change = ((imputed - x) * model.weight).flatten(1).sum(dim=1)
        expected = torch.sigmoid(contributions.flatten(1).sum(1) + change)
        _close(got.scores[:, column], expected)
    noisy = M.road_morf(model, x, contributions, 1, percentages=(10,))
    again = M.road_morf(model, x, contributions, 1, percentages=(10,))
    assert torch.equal(noisy.scores, again.scores) and not torch.equal(
        noisy.scores, got.scores[:, :1]
    )


# Batched == one by one, chunked == whole, nothing modified -------------------------------


def _cnn(channels: int = 2, side: int = 6, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return (
        nn.Sequential(
            nn.Conv2d(channels, 3, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(3 * side**2, 3)
        )
        .double()
        .eval()
    )


#: Name -> call(model, x, y, a, **options) giving each metric's per-example values.
RUNNERS = {
    "road-morf": lambda m, x, y, a, **o: (
        M.road_morf(m, x, a, y, percentages=(20, 60), noise_std=0.0, **o).score
    ),
    "road-combined": lambda m, x, y, a, **o: (
        M.road_combined(m, x, a, y, percentages=(30,), noise_std=0.0, **o).score
    ),
    "faithfulness-correlation": lambda m, x, y, a, **o: (
        M.faithfulness_correlation(m, x, a, y, nr_runs=6, subset_size=5, **o).correlation
    ),
    "pixel-flipping": lambda m, x, y, a, **o: (
        M.pixel_flipping(m, x, a, y, features_in_step=6, **o).scores
    ),
    "region-perturbation": lambda m, x, y, a, **o: (
        M.region_perturbation(m, x, a, y, patch_size=2, **o).drops
    ),
    "irof": lambda m, x, y, a, **o: M.irof(m, x, a, y, n_segments=8, **o).curves,
    "monotonicity-correlation": lambda m, x, y, a, **o: (
        M.monotonicity_correlation(m, x, a, y, baseline="black", features_in_step=6, **o).variances
    ),
}


def _batch(num: int = 4):
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(num, 2, 6, 6, generator=generator, dtype=F64)
    a = torch.randn(num, 1, 6, 6, generator=generator, dtype=F64)
    return _cnn(), x, torch.tensor([0, 1, 2, 1][:num]), a


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_batched_equals_one_by_one_and_chunked(name, monkeypatch):
    model, x, y, a = _batch()
    subsets = fc_module.random_subsets(4, 36, 5, 6, 0)
    monkeypatch.setattr(fc_module, "random_subsets", lambda n, *rest: subsets[:n])
    whole = RUNNERS[name](model, x, y, a)
    _close(RUNNERS[name](model, x, y, a, max_examples_per_batch=3), whole, atol=1e-12)
    for n in range(4):
        monkeypatch.setattr(fc_module, "random_subsets", lambda *rest, n=n: subsets[n : n + 1])
        one = RUNNERS[name](model, x[n : n + 1], y[n : n + 1], a[n : n + 1])
        _close(one[0], whole[n], atol=1e-12)


def test_seeded_draws_do_not_depend_on_chunking():
    model, x, y, a = _batch()
    for call in (
        lambda **o: M.faithfulness_correlation(model, x, a, y, nr_runs=6, subset_size=5, **o),
        lambda **o: M.monotonicity_correlation(
            model, x, a, y, nr_samples=2, features_in_step=9, **o
        ),
        lambda **o: M.road_morf(model, x, a, y, percentages=(40,), **o),
        lambda **o: M.region_perturbation(model, x, a, y, patch_size=2, order="random", **o),
    ):
        whole, chunked = call(), call(max_examples_per_batch=1)
        for field in ("correlation", "score", "drops"):
            if hasattr(whole, field):
                _close(getattr(chunked, field), getattr(whole, field), atol=1e-12)


def test_chunks_share_forward_passes_within_the_bound():
    model, x, y, a = _batch()
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape[0]))
    M.pixel_flipping(model, x[:1], a[:1], y[:1], features_in_step=6, max_examples_per_batch=4)
    assert calls == [1, 4, 2]  # clean, then 6 steps four then two at a time


def test_nothing_passed_is_modified():
    model, x, y, a = _batch()
    copies = [t.clone() for t in (x, y, a)]
    state = copy.deepcopy(model.state_dict())
    for runner in RUNNERS.values():
        runner(model, x, y, a)
    for original, now in zip(copies, (x, y, a), strict=True):
        assert torch.equal(original, now) and not now.requires_grad and now.grad is None
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


# Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RUNNERS))
@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (lambda a: a[:, :, :, :5], ValueError, "expected attributions of shape"),
        (lambda a: a[:3], ValueError, "expected attributions of shape"),
        (lambda a: a.index_fill(2, torch.tensor([0]), float("nan")), ValueError, "finite"),
        (lambda a: (a,), TypeError, "single tensor"),
    ],
)
def test_bad_maps_raise_everywhere(name, bad, error, message):
    model, x, y, a = _batch()
    with pytest.raises(error, match=message):
        RUNNERS[name](model, x, y, bad(a))


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_bad_batches_and_models_raise_everywhere(name):
    model, x, y, a = _batch()
    with pytest.raises(ValueError, match="non-empty"):
        RUNNERS[name](model, x[:0], y[:0], a[:0])
    with pytest.raises(TypeError, match="dtype"):
        RUNNERS[name](model, x.float(), y, a)
    with pytest.raises(ValueError, match="expected target"):
        RUNNERS[name](model, x, torch.tensor([0, 1, 3, 0]), a)
    with pytest.raises(ValueError, match="eval mode"):
        RUNNERS[name](nn.Sequential(nn.BatchNorm2d(2), model).double().train(), x, y, a)


def test_bad_options_raise():
    model, x, y, a = _batch()
    cases = [
        (lambda: M.faithfulness_correlation(model, x, a, y, subset_size=37), "subset_size <="),
        (lambda: M.faithfulness_correlation(model, x, a, y, nr_runs=0), "nr_runs"),
        (lambda: M.faithfulness_correlation(model, x, a, y, baseline="grey"), "baseline"),
        (lambda: M.pixel_flipping(model, x, a, y, features_in_step=37), "features_in_step <="),
        (lambda: M.pixel_flipping(model, x, a, y, score="logit"), "score"),
        (lambda: M.region_perturbation(model, x, a, y, patch_size=7), "patch_size <="),
        (lambda: M.region_perturbation(model, x, a, y, order="first"), "order"),
        (lambda: M.irof(model, x, a, y, segmentation="felzenszwalb"), "segmentation"),
        (lambda: M.irof(model, x, a, y, segmentation=torch.zeros(4, 6, 5).long()), "labels"),
        (lambda: M.monotonicity_correlation(model, x, a, y, uniform_range=(1, 0)), "uniform"),
        (lambda: M.monotonicity_correlation(model, x, a, y, baseline="unifrom"), "'uniform'"),
        (lambda: M.road_morf(model, x, a, y, percentages=(0,)), r"percentages in \(0, 100\)"),
        (lambda: M.road_morf(model, x, a, y, percentages=(100,)), r"percentages in \(0, 100\)"),
        (lambda: M.road_morf(model, x, a, y, noise_std=-1.0), "noise_std"),
        (lambda: M.noisy_linear_imputation(x, torch.ones(4, 6, 6)), "bool"),
        (lambda: M.noisy_linear_imputation(x, torch.ones(4, 6, 5, dtype=torch.bool)), "shape"),
    ]
    for call, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            call()
    volume = torch.randn(2, 1, 4, 4, 4, dtype=F64)
    with pytest.raises(ValueError, match="SLIC"):
        M.slic_segments(volume, spatial_dims=3)


# Metadata ---------------------------------------------------------------------------------

FAMILY = {
    "road-morf": False,
    "road-lerf": True,
    "road-combined": True,
    "faithfulness-correlation": True,
    "pixel-flipping": False,
    "region-perturbation": True,
    "irof": True,
    "monotonicity-correlation": True,
}


def test_metadata():
    infos = {info.name: info for info in FAMILY_INFOS if info.name in FAMILY}
    assert set(infos) == set(FAMILY)
    for name, info in infos.items():
        assert info.category == "faithfulness" and info.per_example, name
        assert info.higher_is_better is FAMILY[name], name
        assert info.function is not None and info.description, name
        parameters = set(inspect.signature(info.function).parameters)
        for flag, names in _NEEDS_PARAMETERS.items():
            assert getattr(info, flag) == bool(parameters & names), (name, flag)
        assert getattr(M, info.function.__name__) is info.function, name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_inputs_give_the_cpu_numbers():
    model, x, y, a = _batch()
    cuda = copy.deepcopy(model).cuda()
    for runner in RUNNERS.values():
        cpu_values = runner(model, x, y, a)
        _close(runner(cuda, x.cuda(), y.cuda(), a.cuda()).cpu(), cpu_values, atol=1e-9)
    imputed = M.noisy_linear_imputation(x.cuda(), torch.rand(4, 6, 6).cuda() < 0.5)
    assert imputed.device.type == "cuda"
