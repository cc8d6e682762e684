"""Complexity, random-logit, rank-localization and local-robustness metrics: hand-derived
values, 3-D volumes, batched == one by one, input errors, and agreement with Quantus 0.6.

Quantus 0.6 does not run on the project's numpy (>= 2.4), so its values are a committed
fixture, ``tests/reference_fixtures/quantus_other.json``, holding the model's weights, the
inputs, maps, masks and random draws it was run on. To regenerate it, run
``tests/reference_fixtures/make_quantus_other.py`` in an environment with ``numpy<2.4``,
``quantus==0.6.0`` and torch (its docstring has the commands).

Where the library departs from Quantus's defaults, the fixture holds both and the tests show
the difference: Quantus's default ``normalise_by_max`` divides by the maximum over the whole
batch (not per map), which changes effective complexity and sparseness (through the 1e-7 it
adds to every entry) for a faint map in a batch of strong ones.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import math
import warnings
from pathlib import Path

import pytest
import torch
from captum.attr import InputXGradient, Saliency
from sklearn.metrics import roc_auc_score
from torch import nn

import captum_ifim.metrics as M
from captum_ifim.metrics._registry import FAMILY_INFOS

from .test_metrics_contract import _NEEDS_PARAMETERS

FIXTURE = Path(__file__).parent / "reference_fixtures" / "quantus_other.json"


@functools.cache
def _reference() -> dict:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    model = nn.Sequential(  # make_quantus_other.build_model (load_state_dict checks the shapes)
        nn.Conv2d(2, 4, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 3),
    ).double()
    model.load_state_dict(
        {k: torch.tensor(v, dtype=torch.float64) for k, v in data["state_dict"].items()}
    )
    tensors = {
        key: torch.tensor(data[key], dtype=torch.float64)
        for key in ("inputs", "maps", "masks", "uniform_perturbations", "gaussian_perturbations")
    }
    return {
        **tensors,
        "model": model.eval(),
        "labels": torch.tensor(data["labels"]),
        "other_classes": torch.tensor(data["other_classes"]),
        "quantus": {
            k: torch.tensor([math.nan if v is None else v for v in values], dtype=torch.float64)
            for k, values in data["quantus"].items()
        },
    }


def _gradient(model: nn.Module):
    return lambda x, target: Saliency(model).attribute(x, target=target, abs=False)


def _ours(name: str, ref: dict) -> torch.Tensor:
    """The library's value of metric ``name`` on the fixture's data and draws."""
    model, x, y, maps, masks = (ref[k] for k in ("model", "inputs", "labels", "maps", "masks"))
    if name == "sparseness":
        return M.sparseness(maps)
    if name == "complexity":
        return M.complexity(maps)
    if name == "effective_complexity":
        return M.effective_complexity(maps)
    if name == "relevance_rank_accuracy":
        return M.relevance_rank_accuracy(maps, masks)
    if name == "auc":
        return M.mask_roc_auc(maps, masks)
    if name == "random_logit":
        return M.random_logit(model, _gradient(model), x, y, other_target=ref["other_classes"])
    if name == "avg_sensitivity":
        return M.avg_sensitivity(
            InputXGradient(model), x, y, perturbations=ref["uniform_perturbations"]
        )
    assert name == "local_lipschitz_estimate"
    return M.local_lipschitz_estimate(
        InputXGradient(model), x, y, perturbations=ref["gaussian_perturbations"]
    )


#: Metric -> (rtol, atol) against Quantus, and why not exact.
TOLERANCES = {
    "sparseness": (1e-5, 0.0),  # Quantus adds 1e-7 to every entry of the map divided by its max
    "complexity": (0.0, 1e-9),  # Quantus takes log(p + 1e-12)
    "effective_complexity": (0.0, 0.0),
    "relevance_rank_accuracy": (0.0, 0.0),
    "auc": (0.0, 1e-12),  # rank sums vs scikit-learn's trapezoid
    "random_logit": (0.0, 1e-9),  # window means in torch vs scipy's uniform_filter
    "avg_sensitivity": (1e-9, 0.0),
    "local_lipschitz_estimate": (1e-8, 0.0),  # Quantus adds 1e-10 to ||delta||
}


@pytest.mark.parametrize("name", sorted(TOLERANCES))
def test_agrees_with_quantus(name):
    ref = _reference()
    rtol, atol = TOLERANCES[name]
    expected = ref["quantus"][name]
    torch.testing.assert_close(_ours(name, ref), expected, rtol=rtol, atol=atol)


def test_quantus_batch_wide_normalisation_is_the_difference_left():
    """The faint first map: Quantus's default (one maximum for the whole batch) counts 42
    locations and a lower sparseness; per map (as here, and Quantus with
    ``normalise_axes=[1, 2, 3]``) 52. The other maps are unchanged."""
    ref = _reference()
    quantus = ref["quantus"]
    ours = M.effective_complexity(ref["maps"])
    assert quantus["effective_complexity_batch_max"][0] == 42 and ours[0] == 52
    torch.testing.assert_close(
        ours[1:], quantus["effective_complexity_batch_max"][1:], rtol=0, atol=0
    )
    gap = quantus["sparseness"][0] - quantus["sparseness_batch_max"][0]
    assert 1e-3 < gap < 1e-2
    assert (quantus["random_logit"] - quantus["random_logit_batch_max"]).abs().max() > 1e-3


# Complexity -----------------------------------------------------------------------------


def _one_channel(*values: float) -> torch.Tensor:
    """A (1, 1, 1, L) map with the given values."""
    return torch.tensor(values, dtype=torch.float64).view(1, 1, 1, -1)


def test_complexity_hand_derived():
    # Gini of sorted (0, 0, 1, 3): sum (2i - 5) s_(i) = 1 * 1 + 3 * 3 = 10, / (4 * 4).
    torch.testing.assert_close(
        M.sparseness(_one_channel(3, 0, -1, 0)), torch.tensor([0.625], dtype=torch.float64)
    )
    one_hot = torch.zeros(2, 3, 4, 5, dtype=torch.float64)
    one_hot[0, 1, 2, 3] = -2.0
    one_hot[1] = 1.0
    torch.testing.assert_close(
        M.sparseness(one_hot), torch.tensor([19 / 20, 0.0], dtype=torch.float64)
    )
    # Entropy: P = (1/4, 3/4) and four equal locations (ln 4); channels summed first.
    two = torch.zeros(2, 2, 2, 2, dtype=torch.float64)
    two[0, 0, 0, 0], two[0, 1, 0, 0], two[0, 1, 1, 1] = 0.5, -0.5, 3.0
    two[1] = 0.25
    expected = [-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), math.log(4)]
    torch.testing.assert_close(M.complexity(two), torch.tensor(expected, dtype=torch.float64))
    # Effective complexity: above eps times the map's own maximum.
    ramp = _one_channel(1.0, 0.5, 1e-3, 1e-6, 0.0)
    assert M.effective_complexity(ramp).tolist() == [3.0]
    assert M.effective_complexity(ramp, eps=1e-2).tolist() == [2.0]
    assert M.effective_complexity(ramp, eps=0.0).tolist() == [4.0]
    assert M.effective_complexity(1e-8 * ramp).tolist() == [3.0]  # scale-free
    assert M.effective_complexity(torch.zeros(1, 1, 2, 2)).tolist() == [0.0]


def test_complexity_all_zero_map_is_nan_with_a_warning():
    maps = torch.stack([torch.zeros(1, 3, 3), torch.ones(1, 3, 3)])
    for metric in (M.sparseness, M.complexity):
        with pytest.warns(UserWarning, match="1 samples have an all-zero map"):
            values = metric(maps)
        assert math.isnan(values[0]) and not math.isnan(values[1])


def test_complexity_volumes():
    """(N, C, D, H, W): a voxel is a location; one hot voxel of D H W = 24."""
    volume = torch.zeros(2, 2, 2, 3, 4, dtype=torch.float64)
    volume[0, 1, 1, 2, 3] = 5.0
    volume[1, :, :, :2, :2] = 1.0  # 8 equal voxels
    torch.testing.assert_close(
        M.sparseness(volume), torch.tensor([23 / 24, 1 - 8 / 24], dtype=torch.float64)
    )
    torch.testing.assert_close(
        M.complexity(volume), torch.tensor([0.0, math.log(8)], dtype=torch.float64)
    )
    assert M.effective_complexity(volume).tolist() == [1.0, 8.0]


# Rank localization --------------------------------------------------------------------


def test_rank_localization_hand_derived():
    scores = _one_channel(4, -3, 1, 2)
    mask = torch.tensor([[1, 0, 1, 0]]).view(1, 1, 1, 4)
    # top 2 = {0, 1}: one of the two mask locations; pairs (mask, other) won: 4>3, 4>2, 1<3,
    # 1<2 -> 2 of 4.
    assert M.relevance_rank_accuracy(scores, mask).tolist() == [0.5]
    assert M.mask_roc_auc(scores, mask).tolist() == [0.5]
    assert M.relevance_rank_accuracy(scores, 1 - mask).tolist() == [0.5]
    inside = torch.tensor([[1, 1, 0, 0]]).view(1, 1, 1, 4)
    assert M.relevance_rank_accuracy(scores, inside).tolist() == [1.0]
    assert M.mask_roc_auc(scores, inside).tolist() == [1.0]
    assert M.mask_roc_auc(scores, 1 - inside).tolist() == [0.0]


def test_rank_accuracy_shares_ties_and_a_flat_map_scores_chance():
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, :2, :2] = True
    flat = torch.ones(1, 1, 4, 4)
    assert M.relevance_rank_accuracy(flat, mask).tolist() == [4 / 16]
    assert M.mask_roc_auc(flat, mask).tolist() == [0.5]
    # Top 4: (0, 0) for sure, then 3 of the 6 tied locations, 2 of which are in the mask.
    tied = torch.zeros(1, 1, 4, 4)
    tied[0, 0, 0, 0] = 2.0
    tied[0, 0, 0, 1] = tied[0, 0, 1, 1] = 1.0
    tied[0, 0, 3, :] = 1.0
    assert M.relevance_rank_accuracy(tied, mask).tolist() == [(1 + 2 * 3 / 6) / 4]


def test_mask_auc_equals_scikit_learn_with_ties():
    generator = torch.Generator().manual_seed(3)
    maps = torch.randint(0, 4, (5, 1, 6, 6), generator=generator).double()  # many ties
    masks = torch.rand(5, 6, 6, generator=generator) < 0.3
    expected = [
        roc_auc_score(m.flatten().numpy(), a.flatten().numpy())
        for a, m in zip(maps, masks, strict=True)
    ]
    torch.testing.assert_close(
        M.mask_roc_auc(maps, masks), torch.tensor(expected, dtype=torch.float64)
    )


def test_rank_localization_undefined_masks_are_nan_with_a_warning():
    maps = torch.rand(2, 1, 3, 3)
    masks = torch.ones(2, 3, 3)
    masks[0] = 0
    with pytest.warns(UserWarning, match="empty mask"):
        accuracy = M.relevance_rank_accuracy(maps, masks)
    assert math.isnan(accuracy[0]) and accuracy[1] == 1.0
    with pytest.warns(UserWarning, match="2 samples have a mask that is empty or covers"):
        assert M.mask_roc_auc(maps, masks).isnan().all()


def test_rank_localization_volumes():
    maps = torch.zeros(1, 1, 2, 3, 3)
    maps[0, 0, 1, :, :2] = torch.arange(1.0, 7.0).view(3, 2)
    masks = torch.zeros(1, 2, 3, 3)
    masks[0, 1, 1:, :2] = 1  # the 4 largest of the 6 non-zero voxels
    assert M.relevance_rank_accuracy(maps, masks).tolist() == [1.0]
    assert M.mask_roc_auc(maps, masks).tolist() == [1.0]
    masks[0, 1, 1:, :2], masks[0, 0, 0, 0] = 0, 1
    # the mask voxel is one of 12 zeros: it ties with the 11 others, loses to the 6 values
    assert M.mask_roc_auc(maps, masks).tolist() == [11 / 2 / 17]


def test_rank_localization_bad_masks_raise():
    maps = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match="expected masks of shape"):
        M.relevance_rank_accuracy(maps, torch.ones(2, 4, 3))
    with pytest.raises(ValueError, match="expected binary masks"):
        M.mask_roc_auc(maps, torch.full((2, 4, 4), 0.5))
    with pytest.raises(ValueError, match="finite"):
        M.mask_roc_auc(maps.index_fill(2, torch.tensor([0]), math.nan), torch.ones(2, 4, 4))


# Random logit -------------------------------------------------------------------------


def _linear(rows: list[list[float]]) -> nn.Module:
    """Logits W x of the flattened input (no bias), float64."""
    weight = torch.tensor(rows, dtype=torch.float64)
    model = nn.Sequential(nn.Flatten(), nn.Linear(weight.shape[1], weight.shape[0], bias=False))
    with torch.no_grad():
        model[1].weight.copy_(weight)
    return model.double().eval()


def test_random_logit_hand_derived():
    """The gradient of logit c is W_c: with W_1 = -W_0 the maps anti-correlate; with
    W_1 = W_2 = 3 W_0 the other class's map is the target's, scaled."""
    v = torch.linspace(-1, 1, 9).tolist()
    x = torch.rand(4, 1, 3, 3, dtype=torch.float64)
    opposite = _linear([v, [-a for a in v]])
    torch.testing.assert_close(
        M.random_logit(opposite, _gradient(opposite), x, 0, similarity="pearson"),
        torch.full((4,), -1.0, dtype=torch.float64),
    )
    assert (
        M.random_logit(opposite, _gradient(opposite), x, 1, similarity="spearman").tolist()
        == [-1.0] * 4
    )
    scaled = _linear([v, [3 * a for a in v], [3 * a for a in v]])
    for similarity in ("ssim", "pearson", "spearman"):
        values = M.random_logit(scaled, _gradient(scaled), x, 0, similarity=similarity)
        torch.testing.assert_close(values, torch.ones(4, dtype=torch.float64))
    # Without normalization SSIM sees the scale: mean 0 windows give (C2 + 2 v_ab)/(v_a + v_b + C2).
    unnormalized = M.random_logit(scaled, _gradient(scaled), x, 0, normalize=False)
    assert (unnormalized < 0.7).all()


def test_flat_ssim_equals_the_formula_on_one_window():
    from captum_ifim.metrics._ssim import flat_ssim

    a = torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, 1.0, 2.0, 2.0, 5.0, 4.0, 6.0]], dtype=torch.float64)
    r = 6.0
    c1, c2 = (0.01 * r) ** 2, (0.03 * r) ** 2
    ma, mb = a.mean(), b.mean()
    va, vb = a.var(), b.var()  # sample variances (/ 6)
    vab = ((a - ma) * (b - mb)).sum() / 6
    expected = (2 * ma * mb + c1) * (2 * vab + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    torch.testing.assert_close(flat_ssim(a, b), expected.view(1))
    assert flat_ssim(torch.ones(1, 7), torch.ones(1, 7)).tolist() == [1.0]


def test_random_logit_draws_every_other_class_uniformly():
    target = torch.tensor([0, 2, 4] * 2000)
    others = M.draw_other_classes(target, 5, torch.Generator().manual_seed(0))
    assert not (others == target).any() and others.min() >= 0 and others.max() <= 4
    for t in (0, 2, 4):
        counts = torch.bincount(others[target == t], minlength=5).double()
        assert counts[t] == 0
        share = counts[counts > 0] / 2000
        assert ((share - 0.25).abs() < 0.04).all(), share
    again = M.draw_other_classes(target, 5, torch.Generator().manual_seed(0))
    assert torch.equal(others, again)


def test_random_logit_volumes():
    v = torch.linspace(-1, 1, 2 * 3 * 3).tolist()
    model = _linear([v, [-a for a in v]])
    volume = torch.rand(3, 1, 2, 3, 3, dtype=torch.float64)
    values = M.random_logit(
        model, _gradient(model), volume, torch.tensor([0, 1, 0]), similarity="pearson"
    )
    torch.testing.assert_close(values, torch.full((3,), -1.0, dtype=torch.float64))


def test_random_logit_bad_input_raises():
    ref = _reference()
    model, x, y = ref["model"], ref["inputs"], ref["labels"]
    explainer = _gradient(model)
    with pytest.raises(ValueError, match="expected a target"):
        M.random_logit(model, explainer, x, None)
    with pytest.raises(ValueError, match="expected targets in"):
        M.random_logit(model, explainer, x, 3)
    with pytest.raises(ValueError, match="similarity"):
        M.random_logit(model, explainer, x, y, similarity="cosine")
    with pytest.raises(ValueError, match="differ from target"):
        M.random_logit(model, explainer, x, y, other_target=y)
    with pytest.raises(ValueError, match="other_target a tensor of shape"):
        M.random_logit(model, explainer, x, y, other_target=[0] * 6)
    with pytest.raises(TypeError, match="generator"):
        M.random_logit(model, explainer, x, y, generator=0)
    with pytest.raises(ValueError, match="C >= 2"):
        single = _linear([[1.0] * 128])
        M.random_logit(single, _gradient(single), x, 0)
    with pytest.raises(ValueError, match="at least 7 entries"):
        tiny = _linear([[1.0, 2.0], [2.0, 1.0]])
        M.random_logit(tiny, _gradient(tiny), torch.rand(2, 2, dtype=torch.float64), 0)
    with pytest.raises(TypeError, match="dtype"):
        M.random_logit(model, explainer, x.float(), y)


# Local robustness ---------------------------------------------------------------------


def test_local_robustness_hand_derived():
    """Gradient x input of a linear model is w * x, so a perturbation delta changes the map
    by w * delta: the ratios follow from the draws alone."""
    w = torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)
    model = _linear([w.tolist(), (-w).tolist()])
    x = torch.tensor(
        [[[[1.0, 2.0], [-1.0, 0.5]]], [[[0.2, 0.1], [3.0, -2.0]]]], dtype=torch.float64
    )
    deltas = torch.randn(
        3, *x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    change = (w.view(1, 1, 4) * deltas.flatten(2)).norm(dim=2)  # (S, N)
    lipschitz = (change / deltas.flatten(2).norm(dim=2)).max(dim=0).values
    got = M.local_lipschitz_estimate(InputXGradient(model), x, 0, perturbations=deltas)
    torch.testing.assert_close(got, lipschitz)
    sensitivity = (change / (w.view(1, 4) * x.flatten(1)).norm(dim=1)).mean(dim=0)
    got = M.avg_sensitivity(InputXGradient(model), x, 0, perturbations=deltas)
    torch.testing.assert_close(got, sensitivity)
    # A uniform weight c: every ratio is |c|, whatever the draws.
    uniform = _linear([[-2.5] * 4, [1.0] * 4])
    values = M.local_lipschitz_estimate(InputXGradient(uniform), x, 0, n_samples=4)
    torch.testing.assert_close(values, torch.full((2,), 2.5, dtype=torch.float64))
    assert M.avg_sensitivity(InputXGradient(model), x, 0, radius=0.0).tolist() == [0.0, 0.0]


def test_local_robustness_draws_come_from_the_generator():
    seen = []

    def identity(inputs, target):
        seen.append(inputs.clone())
        return inputs

    x = torch.zeros(2, 1, 3, 3, dtype=torch.float64)
    M.avg_sensitivity(
        identity, x + 1, radius=0.3, n_samples=50, generator=torch.Generator().manual_seed(5)
    )
    noise = torch.stack(seen[1:]) - 1
    assert noise.abs().max() <= 0.3 and noise.abs().max() > 0.25 and abs(noise.mean()) < 0.02
    seen.clear()
    M.local_lipschitz_estimate(
        identity, x, std=0.1, n_samples=50, generator=torch.Generator().manual_seed(5)
    )
    assert abs(torch.stack(seen[1:]).std() - 0.1) < 0.01
    ref = _reference()
    first = M.local_lipschitz_estimate(InputXGradient(ref["model"]), ref["inputs"], 0, n_samples=2)
    second = M.local_lipschitz_estimate(InputXGradient(ref["model"]), ref["inputs"], 0, n_samples=2)
    assert torch.equal(first, second)  # the default generator is seeded


def test_local_robustness_volumes():
    """A 3-D explainer M(x) = 2 x: Lipschitz 2; sensitivity ||2 delta|| / ||2 x||."""
    volume = torch.rand(2, 1, 2, 3, 3, dtype=torch.float64) + 0.5
    deltas = 0.05 * torch.randn(
        4, *volume.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    double = lambda inputs, target: 2 * inputs  # noqa: E731
    torch.testing.assert_close(
        M.local_lipschitz_estimate(double, volume, perturbations=deltas),
        torch.full((2,), 2.0, dtype=torch.float64),
    )
    expected = (deltas.flatten(2).norm(dim=2) / volume.flatten(1).norm(dim=1)).mean(dim=0)
    torch.testing.assert_close(M.avg_sensitivity(double, volume, perturbations=deltas), expected)


def test_local_robustness_bad_input_raises():
    ref = _reference()
    explainer, x, y = InputXGradient(ref["model"]), ref["inputs"], ref["labels"]
    for metric in (M.avg_sensitivity, M.local_lipschitz_estimate):
        with pytest.raises(ValueError, match="n_samples"):
            metric(explainer, x, y, n_samples=0)
        with pytest.raises(ValueError, match="perturbations of shape"):
            metric(explainer, x, y, perturbations=torch.zeros(2, 6, 2, 8, 7, dtype=torch.float64))
        with pytest.raises(ValueError, match="finite perturbation"):
            metric(
                explainer,
                x,
                y,
                perturbations=torch.full((1, *x.shape), math.nan, dtype=torch.float64),
            )
        with pytest.raises(TypeError, match="explainer"):
            metric(object(), x, y)
        with pytest.raises(ValueError, match="one target per sample"):
            metric(explainer, x, [0, 1])
        with pytest.raises(TypeError, match="generator"):
            metric(explainer, x, y, generator=1)
        with pytest.raises(ValueError, match="max_examples_per_batch"):
            metric(explainer, x, y, max_examples_per_batch=0)
    with pytest.raises(ValueError, match="radius"):
        M.avg_sensitivity(explainer, x, y, radius=-0.1)
    with pytest.raises(ValueError, match="std"):
        M.local_lipschitz_estimate(explainer, x, y, std=math.inf)
    with pytest.warns(UserWarning, match="all-zero map"):
        assert M.avg_sensitivity(lambda i, target: 0 * i, x, n_samples=1).isnan().all()
    with pytest.warns(UserWarning, match="only zero perturbations"):
        assert M.local_lipschitz_estimate(explainer, x, y, std=0.0, n_samples=1).isnan().all()


# Every metric: batched == one by one, nothing modified ------------------------------------


def _runners(ref: dict) -> dict:
    """Name -> call(rows) for every new metric on the fixture rows ``rows`` (a slice)."""
    model, x, y, maps, masks = (ref[k] for k in ("model", "inputs", "labels", "maps", "masks"))
    uniform, gaussian = ref["uniform_perturbations"], ref["gaussian_perturbations"]
    ixg = InputXGradient(model)
    return {
        "sparseness": lambda s: M.sparseness(maps[s]),
        "complexity": lambda s: M.complexity(maps[s]),
        "effective-complexity": lambda s: M.effective_complexity(maps[s]),
        "relevance-rank-accuracy": lambda s: M.relevance_rank_accuracy(maps[s], masks[s]),
        "mask-roc-auc": lambda s: M.mask_roc_auc(maps[s], masks[s]),
        "random-logit": lambda s, **o: M.random_logit(
            model, _gradient(model), x[s], y[s], other_target=ref["other_classes"][s], **o
        ),
        "avg-sensitivity": lambda s, **o: M.avg_sensitivity(
            ixg, x[s], y[s], perturbations=uniform[:, s], **o
        ),
        "local-lipschitz-estimate": lambda s, **o: M.local_lipschitz_estimate(
            ixg, x[s], y[s], perturbations=gaussian[:, s], **o
        ),
    }


def test_batched_equals_one_by_one_and_chunked():
    ref = _reference()
    x, maps, masks = ref["inputs"].clone(), ref["maps"].clone(), ref["masks"].clone()
    for name, run in _runners(ref).items():
        whole = run(slice(None))
        assert whole.shape == (6,) and whole.dtype == torch.float64, name
        one_by_one = torch.cat([run(slice(n, n + 1)) for n in range(6)])
        torch.testing.assert_close(one_by_one, whole, rtol=1e-12, atol=1e-12, msg=name)
        if name in ("random-logit", "avg-sensitivity", "local-lipschitz-estimate"):
            chunked = run(slice(None), max_examples_per_batch=4)
            torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12, msg=name)
    assert torch.equal(x, ref["inputs"]) and torch.equal(maps, ref["maps"])
    assert torch.equal(masks, ref["masks"]) and not ref["inputs"].requires_grad


def test_bad_maps_raise_everywhere():
    maps, masks = torch.rand(2, 1, 4, 4), torch.ones(2, 4, 4)
    calls = {
        "sparseness": lambda a: M.sparseness(a),
        "complexity": lambda a: M.complexity(a),
        "effective-complexity": lambda a: M.effective_complexity(a),
        "relevance-rank-accuracy": lambda a: M.relevance_rank_accuracy(a, masks),
        "mask-roc-auc": lambda a: M.mask_roc_auc(a, masks),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="finite"):
            call(maps.index_fill(3, torch.tensor([1]), math.inf))
        with pytest.raises(ValueError, match=r"non-empty|N > 0"):
            call(maps[:0])
        with pytest.raises(TypeError, match=r"torch\.Tensor"):
            call(maps.tolist())
        with pytest.raises(TypeError, match=r"real numbers|bool"):
            call(maps > 0.5)
        assert name
    with pytest.raises(ValueError, match="eps"):
        M.effective_complexity(maps, eps=-1.0)


def test_metadata():
    """Family, direction and needs of each new metric; each ``needs_*`` flag is what the
    function takes (the check tests/test_metrics_contract.py runs on ``METRICS``)."""
    infos = {info.name: info for info in FAMILY_INFOS}
    expected = {
        "sparseness": ("complexity", True, "attributions"),
        "complexity": ("complexity", False, "attributions"),
        "effective-complexity": ("complexity", False, "attributions"),
        "random-logit": ("randomization", False, "forward_func explainer"),
        "relevance-rank-accuracy": ("localization", True, "attributions masks"),
        "mask-roc-auc": ("localization", True, "attributions masks"),
        "avg-sensitivity": ("robustness", False, "explainer"),
        "local-lipschitz-estimate": ("robustness", False, "explainer"),
    }
    # registered, each with its harness entry (tests/test_comparisons_new_metrics.py)
    assert set(expected) <= set(infos) and all(M.METRICS[n] is infos[n] for n in expected)
    for name, (category, higher, needs) in expected.items():
        info = infos[name]
        assert (info.category, info.higher_is_better, info.per_example) == (category, higher, True)
        assert info.function is getattr(M, info.function.__name__), name
        parameters = set(inspect.signature(info.function).parameters)
        for flag, names in _NEEDS_PARAMETERS.items():
            assert getattr(info, flag) == bool(parameters & names), (name, flag)
        assert sorted(parameters & set().union(*_NEEDS_PARAMETERS.values())) == sorted(
            needs.split()
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_inputs_give_the_cpu_numbers():
    ref = _reference()
    cuda = {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in ref.items()}
    cuda["model"] = copy.deepcopy(ref["model"]).cuda()
    cpu_runs, cuda_runs = _runners(ref), _runners(cuda)
    for name in cpu_runs:
        got = cuda_runs[name](slice(None))
        assert got.device.type == "cuda", name
        torch.testing.assert_close(got.cpu(), cpu_runs[name](slice(None)), msg=name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        drawn = M.local_lipschitz_estimate(InputXGradient(cuda["model"]), cuda["inputs"], 0)
    torch.testing.assert_close(
        drawn.cpu(), M.local_lipschitz_estimate(InputXGradient(ref["model"]), ref["inputs"], 0)
    )
