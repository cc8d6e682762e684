"""Issue 24's measurements: localization on a spurious cue (``regions = ["signal", "cue"]``),
where the iFIM's eigenvectors lie (``eigenvector-energy``) and how its eigenvalues spread
(``ifim-spectrum``: lambda_1, trace, effective rank, K).

The library functions are checked against brute force and known spectra, the harness rows
against the library on the same images and against the rows the localization entries wrote
before the cue existed; the cue's and the spectrum's rows are never ranked; a tiny run on a
dataset with a cue writes them (the spectrum's on the iFIM's cells only), also for a cell
resumed after its maps.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math

import pytest
import torch
from captum.attr import Saliency
from torch import nn

import comparisons.run._cell as cell_module
from captum_ifim import IFIMDecomposition, build_method
from captum_ifim.metrics import (
    METRICS,
    eigenvector_energy,
    energy_in_mask,
    pointing_game,
    spectrum_summary,
)
from comparisons.config import parse_config
from comparisons.datasets import (
    DatasetSpec,
    ImageDataset,
    ImageSplit,
    SpuriousCue,
    register_dataset,
)
from comparisons.datasets import _registry as dataset_registry
from comparisons.metrics import (
    CellData,
    check_metric_options,
    row_direction,
    run_metric,
)
from comparisons.reporting._family_ranks import row_family
from comparisons.run import run
from comparisons.run._spectrum_maps import spectrum_maps
from comparisons.run_folder import ResultRow, RunLayout
from comparisons.statistics._ranks import ranked_metrics

# -- the library: eigenvector_energy ----------------------------------------------------------


def _brute_energy(vectors: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(N, R): loops over every entry of (N, R, C, H, W) vectors and (N, H, W) masks."""
    n, r, c, h, w = vectors.shape
    out = torch.empty(n, r, dtype=torch.float64)
    for i in range(n):
        for k in range(r):
            inside = total = 0.0
            for ch in range(c):
                for y in range(h):
                    for x in range(w):
                        value = float(vectors[i, k, ch, y, x]) ** 2
                        total += value
                        inside += value if bool(masks[i, y, x]) else 0.0
            out[i, k] = inside / total if total > 0 and bool(masks[i].any()) else math.nan
    return out


def test_eigenvector_energy_is_the_brute_force_share_in_every_layout():
    generator = torch.Generator().manual_seed(0)
    vectors = torch.randn(3, 2, 2, 3, 4, generator=generator, dtype=torch.float64)
    vectors[2, 1] = 0.0  # a zero eigenvector (past the rank): nan
    masks = torch.rand(3, 3, 4, generator=generator) > 0.5
    expected = _brute_energy(vectors, masks)
    assert torch.isnan(expected[2, 1]) and torch.isfinite(expected[:2]).all()
    torch.testing.assert_close(eigenvector_energy(vectors, masks), expected, equal_nan=True)
    # flattened (N, R, d), channels first, and {0, 1} masks give the same
    flat = eigenvector_energy(vectors.flatten(2), masks.long())
    torch.testing.assert_close(flat, expected, equal_nan=True)
    assert flat.dtype == torch.float64 and flat.shape == (3, 2)


def test_eigenvector_energy_on_volumes_sums_each_voxel_over_the_channels():
    generator = torch.Generator().manual_seed(1)
    vectors = torch.randn(2, 3, 2, 2, 3, 4, generator=generator)  # (N, R, C, D, H, W)
    masks = torch.rand(2, 2, 3, 4, generator=generator) > 0.3
    per_voxel = vectors.double().square().sum(dim=2)  # (N, R, D, H, W)
    expected = (per_voxel * masks[:, None]).flatten(2).sum(2) / per_voxel.flatten(2).sum(2)
    torch.testing.assert_close(eigenvector_energy(vectors, masks), expected)
    torch.testing.assert_close(eigenvector_energy(vectors.flatten(2), masks), expected)


def test_eigenvector_energy_of_one_hot_and_half_vectors():
    vectors = torch.zeros(1, 3, 1, 2, 2)
    vectors[0, 0, 0, 0, 0] = 1.0  # one-hot inside the mask
    vectors[0, 1, 0, 1, 1] = 1.0  # one-hot outside
    vectors[0, 2, 0, 0, 1] = vectors[0, 2, 0, 1, 0] = 2**-0.5  # half in, half out
    mask = torch.tensor([[[True, True], [False, False]]])
    assert eigenvector_energy(vectors, mask).tolist() == [[1.0, 0.0, pytest.approx(0.5)]]
    # an empty mask is a share of no region: nan, as energy_in_mask
    assert torch.isnan(eigenvector_energy(vectors, torch.zeros_like(mask))).all()


@pytest.mark.parametrize(
    ("vectors", "masks", "error", "message"),
    [
        (torch.ones(2, 1, 1, 4, 4), torch.ones(2, 4, 5, dtype=torch.bool), ValueError, "shape"),
        (torch.ones(2, 1, 15), torch.ones(2, 4, 4, dtype=torch.bool), ValueError, "multiple"),
        (torch.ones(2, 1, 16), torch.ones(3, 4, 4, dtype=torch.bool), ValueError, "N = 2"),
        (torch.ones(2, 16), torch.ones(2, 4, 4, dtype=torch.bool), ValueError, "(N, R"),
        (torch.ones(2, 1, 16), torch.full((2, 4, 4), 2.0), ValueError, "binary"),
        (torch.ones(2, 1, 16, dtype=torch.long), torch.ones(2, 4, 4), TypeError, "floating"),
        (torch.full((2, 1, 16), math.nan), torch.ones(2, 4, 4), ValueError, "finite"),
        ([[1.0]], torch.ones(1, 1), TypeError, "torch.Tensor"),
    ],
)
def test_eigenvector_energy_refuses_bad_input(vectors, masks, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(")):
        eigenvector_energy(vectors, masks)


# -- the library: spectrum_summary ------------------------------------------------------------


def test_spectrum_summary_of_known_spectra():
    eigenvalues = torch.tensor(
        [
            [3.0, 0.0, 0.0],  # rank one: effective rank 1
            [2.0, 2.0, 2.0],  # flat: R
            [0.0, 0.0, 0.0],  # zero iFIM (saturated softmax): nan
            [1.0, 4.0, 0.5],  # any order: lambda_1 is the largest
        ],
        dtype=torch.float64,
    )
    counts = torch.tensor([1, 3, 0, 2])
    summary = spectrum_summary(eigenvalues, counts)
    assert summary.lambda_1.tolist() == [3.0, 2.0, 0.0, 4.0]
    assert summary.trace.tolist() == [3.0, 6.0, 0.0, 5.5]
    assert summary.effective_rank[0] == 1.0
    assert summary.effective_rank[1] == pytest.approx(3.0, rel=1e-14)
    assert math.isnan(summary.effective_rank[2])
    p = torch.tensor([1.0, 4.0, 0.5], dtype=torch.float64) / 5.5
    assert summary.effective_rank[3] == pytest.approx(math.exp(-float((p * p.log()).sum())))
    assert 1.0 < summary.effective_rank[3] < 3.0
    assert summary.num_components.tolist() == [1.0, 3.0, 0.0, 2.0]
    assert summary.trace.dtype == torch.float64


@pytest.mark.parametrize(
    ("eigenvalues", "counts", "error", "message"),
    [
        (torch.tensor([[1.0, -0.5]]), torch.tensor([1]), ValueError, ">= 0"),
        (torch.tensor([[1.0, math.inf]]), torch.tensor([1]), ValueError, "finite"),
        (torch.tensor([1.0, 0.5]), torch.tensor([1]), ValueError, r"\(N, R\)"),
        (torch.tensor([[1.0, 0.5]]), torch.tensor([3]), ValueError, r"\[0, 2\]"),
        (torch.tensor([[1.0, 0.5]]), torch.tensor([1, 1]), ValueError, r"\(1,\)"),
        (torch.tensor([[1.0, 0.5]]), torch.tensor([1.0]), TypeError, "integer"),
        (torch.tensor([[1, 0]]), torch.tensor([1]), TypeError, "floating"),
    ],
)
def test_spectrum_summary_refuses_bad_input(eigenvalues, counts, error, message):
    with pytest.raises(error, match=message):
        spectrum_summary(eigenvalues, counts)


# -- the harness: cells built by hand ---------------------------------------------------------

#: What energy-in-mask and pointing-game wrote on :func:`_saliency_cell` before the cue and
#: the option ``regions`` existed (recorded on the code of commit 0cfc4b3).
BEFORE = {
    ("energy-in-mask", ()): (
        0.15947066788727668,
        "",
        [0.12965520113034185, 0.19403504532150453, 0.1547217572099836],
    ),
    ("energy-in-mask", (("magnitude", "squared"),)): (
        0.16958941867781155,
        "",
        [0.15860124061227968, 0.21759309540650257, 0.13257392001465243],
    ),
    ("pointing-game", ()): (0.3333333333333333, "tolerance=0", [0.0, 1.0, 0.0]),
    ("pointing-game", (("tolerance", 1),)): (1.0, "tolerance=1", [1.0, 1.0, 1.0]),
}


def _cue(size: int = 6) -> SpuriousCue:
    region = torch.zeros(size, size, dtype=torch.bool)
    region[:2, :2] = True
    return SpuriousCue("marker", 0.5 * region[None].float(), region, 1, 1.0)


def _saliency_cell(cue: bool = False, ids: torch.Tensor | None = None) -> CellData:
    """The cell the values of :data:`BEFORE` were recorded on (a linear model's saliency)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 2)).eval()
    images = torch.randn(5, 1, 6, 6)
    labels = torch.tensor([0, 1, 0, 1, 1])
    masks = torch.zeros(5, 6, 6, dtype=torch.bool)
    masks[1, 1:3, 1:3] = True
    masks[3, 2:5, 2:4] = True
    masks[4, 0:2, 3:6] = True
    present = torch.tensor([True, False, True, True, False]) if cue else None
    split = ImageSplit(images, labels, masks, present)
    dataset = ImageDataset(
        "toy", ("a", "b"), split, split, split, 0.0, 1.0, cue=_cue() if cue else None
    )
    saliency = Saliency(model)
    return CellData(
        method="saliency",
        model=model,
        dataset=dataset,
        inputs=images,
        labels=labels,
        targets=labels,
        masks=masks,
        maps=saliency.attribute(images, target=labels),
        low_maps=None,
        explainer=saliency,
        explainer_factory=Saliency,
        noise_seed=0,
        batch_size=2,
        adversarial_inputs=lambda eps: images,
        example_ids=ids,
    )


@pytest.mark.parametrize("key", sorted(BEFORE))
@pytest.mark.parametrize("with_cue", [False, True])
def test_default_options_write_the_rows_they_wrote_before(key, with_cue):
    """A dataset with a cue changes nothing while ``regions`` is the default."""
    name, options = key
    value, setting, values = BEFORE[key]
    (row,) = run_metric(name, _saliency_cell(cue=with_cue), dict(options))
    assert (row.metric, row.setting, row.n) == (name, setting, 3)
    assert row.value == pytest.approx(value, rel=1e-12)
    assert row.examples.values.tolist() == pytest.approx(values, rel=1e-12)
    assert row.examples.positions.tolist() == [1, 3, 4]


def test_the_cue_rows_are_the_library_on_the_cue_carrying_images():
    # the cell's images are test images 4, 0, 2, 3, 1: the cue follows their ids
    ids = torch.tensor([4, 0, 2, 3, 1])
    cell = _saliency_cell(cue=True, ids=ids)
    carried = cell.dataset.test.cue_present[ids]  # False, True, True, True, False
    rows = run_metric("energy-in-mask", cell, {"regions": ["signal", "cue"]})
    assert [(r.metric, r.setting) for r in rows] == [
        ("energy-in-mask", ""),
        ("energy-in-mask", "region=cue"),
    ]
    cue_masks = cell.dataset.cue.masks(carried)[carried]
    expected = energy_in_mask(cell.maps[carried], cue_masks)
    assert torch.equal(rows[1].examples.values, expected)  # exactly
    assert rows[1].examples.positions.tolist() == [1, 2, 3] and rows[1].n == 3
    assert rows[1].value == float(expected.mean())
    pointing = run_metric("pointing-game", cell, {"regions": ["cue"], "tolerance": 1})
    assert [(r.metric, r.setting) for r in pointing] == [
        ("pointing-game", "region=cue,tolerance=1")
    ]
    hits = pointing_game(cell.maps[carried], cue_masks, tolerance=1)
    assert torch.equal(pointing[0].examples.values, hits)


def test_no_cue_rows_without_a_cue_or_without_an_image_that_carries_it():
    options = {"regions": ["signal", "cue"]}
    assert [r.setting for r in run_metric("energy-in-mask", _saliency_cell(), options)] == [""]
    cell = _saliency_cell(cue=True)
    none_carry = dataclasses.replace(
        cell.dataset, test=dataclasses.replace(cell.dataset.test, cue_present=torch.zeros(5) > 0)
    )
    rows = run_metric("pointing-game", dataclasses.replace(cell, dataset=none_carry), options)
    assert [r.setting for r in rows] == ["tolerance=0"]
    only_cue = run_metric("energy-in-mask", _saliency_cell(cue=True), {"regions": ["cue"]})
    assert [r.setting for r in only_cue] == ["region=cue"]


@pytest.mark.parametrize("name", ["energy-in-mask", "pointing-game", "eigenvector-energy"])
@pytest.mark.parametrize("regions", [["signal", "shortcut"], [], "cue", ["cue", "cue"], [1]])
def test_a_bad_regions_option_is_refused_when_the_config_loads(name, regions):
    with pytest.raises(ValueError, match="expected regions to be a non-empty list"):
        check_metric_options(name, {"regions": regions})
    data = {
        "datasets": [{"name": "mni-sks"}],
        "models": [{"name": "shallow-cnn"}],
        "metrics": {"names": [name], "options": {name: {"regions": regions}}},
    }
    with pytest.raises(ValueError, match=f"metrics.options.{name}.*regions"):
        parse_config(data)


def test_the_cue_and_spectrum_rows_are_described_never_ranked():
    assert row_direction("energy-in-mask").direction == "higher"
    assert row_direction("pointing-game", "tolerance=0").direction == "higher"
    assert row_direction("energy-in-mask", "region=cue").direction == "none"
    assert row_direction("pointing-game", "region=cue,tolerance=2").direction == "none"
    spectrum_rows = ["ifim-lambda-1", "ifim-trace", "ifim-effective-rank", "ifim-num-components"]
    for name in ["eigenvector-energy", *spectrum_rows]:
        assert row_direction(name).direction == "none", name
    assert METRICS["eigenvector-energy"].higher_is_better is None
    assert row_family("eigenvector-energy") == "localization"
    assert {row_family(name) for name in spectrum_rows} == {"spectrum"}

    def row(method, metric, setting, value):
        return ResultRow("d", "m", 0, method, metric, setting, value, 3)

    rows = [
        row(method, metric, setting, value)
        for method, value in (("saliency", 0.2), ("gradcam", 0.7))
        for metric, setting in (
            ("energy-in-mask", ""),
            ("energy-in-mask", "region=cue"),
            ("pointing-game", "tolerance=0"),
            ("pointing-game", "region=cue,tolerance=0"),
            ("ifim-trace", ""),
            ("eigenvector-energy", "region=signal,k=1"),
        )
    ]
    assert ranked_metrics(rows) == [("energy-in-mask", ""), ("pointing-game", "tolerance=0")]


@functools.cache
def _ifim_cell() -> tuple[CellData, nn.Module]:
    """An iFIM cell of a 3-class CNN (R = 2), its spectrum made as the run makes it."""
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 3),
    ).eval()
    images = torch.randn(6, 1, 8, 8)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    masks = torch.zeros(6, 8, 8, dtype=torch.bool)
    masks[1:, 2:5, 3:6] = True  # image 0 has no signal
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[6:, 6:] = True
    cue = SpuriousCue("marker", region[None].float(), region, 1, 1.0)
    present = torch.tensor([True, True, False, True, False, True])
    split = ImageSplit(images, labels, masks, present)
    dataset = ImageDataset("toy3", ("a", "b", "c"), split, split, split, 0.0, 1.0, cue=cue)
    explainer = build_method("ifim-sensitive", model, energy=0.7)
    spectrum = spectrum_maps(explainer, images, batch_size=4)
    cell = CellData(
        method="ifim-sensitive",
        model=model,
        dataset=dataset,
        inputs=images,
        labels=labels,
        targets=labels,
        masks=masks,
        maps=spectrum.maps,
        low_maps=spectrum.other,
        explainer=explainer,
        explainer_factory=lambda m: build_method("ifim-sensitive", m),
        noise_seed=0,
        batch_size=4,
        adversarial_inputs=lambda eps: images,
        example_ids=torch.arange(6),
        spectrum=spectrum,
    )
    return cell, model


def test_ifim_spectrum_rows_agree_with_the_library_decomposition():
    cell, model = _ifim_cell()
    result = IFIMDecomposition(model).decompose(cell.inputs, energy=0.7)
    values = result.eigenvalues.double()
    assert (values[:, 1] > 0).all() and (result.num_components == 1).any()  # R = 2, K varies
    rows = {r.metric: r for r in run_metric("ifim-spectrum", cell, {})}
    assert list(rows) == [
        "ifim-lambda-1",
        "ifim-trace",
        "ifim-effective-rank",
        "ifim-num-components",
    ]
    p = values / values.sum(dim=1, keepdim=True)
    expected = {
        "ifim-lambda-1": values[:, 0],
        "ifim-trace": values.sum(dim=1),
        "ifim-effective-rank": (-(p * p.log()).sum(dim=1)).exp(),
        "ifim-num-components": result.num_components.double(),
    }
    for name, wanted in expected.items():
        torch.testing.assert_close(rows[name].examples.values, wanted, rtol=1e-5, atol=0.0)
        assert rows[name].setting == "" and rows[name].n == 6
        assert rows[name].value == pytest.approx(float(wanted.mean()), rel=1e-5)


def test_eigenvector_energy_rows_agree_with_the_library_decomposition():
    cell, model = _ifim_cell()
    result = IFIMDecomposition(model).decompose(cell.inputs, energy=0.7)
    counts = result.num_components
    rows = run_metric("eigenvector-energy", cell, {})
    written = []
    cue_masks = cell.dataset.cue.masks(cell.dataset.test.cue_present)
    for region, masks in (("signal", cell.masks), ("cue", cue_masks)):
        has = masks.flatten(1).any(dim=1)
        shares = eigenvector_energy(result.eigenvectors, masks)
        for k in (1, 2):
            kept = has & (counts >= k)
            found = [r for r in rows if r.setting == f"region={region},k={k}"]
            if not kept.any():
                assert found == []
                continue
            (row,) = found
            written.append(row.setting)
            assert row.examples.positions.tolist() == kept.nonzero().flatten().tolist()
            torch.testing.assert_close(
                row.examples.values, shares[kept, k - 1], rtol=1e-4, atol=1e-6
            )
    assert [r.setting for r in rows] == written  # regions in order, then k
    assert "region=signal,k=2" in written  # some image has K = 2
    only = run_metric("eigenvector-energy", cell, {"regions": ["cue"]})
    assert {r.setting.split(",")[0] for r in only} == {"region=cue"}


def test_the_spectrum_metrics_do_not_apply_without_a_spectrum():
    saliency = _saliency_cell(cue=True)
    assert run_metric("ifim-spectrum", saliency, {}) == []
    assert run_metric("eigenvector-energy", saliency, {}) == []


# -- a tiny run on a dataset with a cue, one cell killed after its maps ------------------------

CUE_DATASET = "toy-cue-bars"


def _cue_bars(num_train: int = 24, num_val: int = 8, num_test: int = 8) -> ImageDataset:
    """A bar (class 1) or none on noise, and a corner marker that follows the label in
    training and is a fair coin at test."""
    region = torch.zeros(12, 12, dtype=torch.bool)
    region[:3, :3] = True
    cue = SpuriousCue("marker", 0.5 * region[None].float(), region, 1, 1.0)

    def split(count: int, offset: int, strength: float) -> ImageSplit:
        generator = torch.Generator().manual_seed(offset)
        labels = torch.arange(count) % 2
        images = 0.1 * torch.rand(count, 1, 12, 12, generator=generator)
        images[labels == 1, :, 6:8, 2:10] += 0.8
        masks = torch.zeros(count, 12, 12, dtype=torch.bool)
        masks[labels == 1, 6:8, 2:10] = True
        coin = torch.rand(count, generator=generator) < 0.5
        present = torch.where(torch.full((count,), strength > 0), labels == 1, coin)
        return ImageSplit(cue.added(images, present), labels, masks, present)

    train = split(num_train, 0, 1.0)
    test = split(num_test, 2, 0.0)
    return ImageDataset(
        CUE_DATASET,
        ("none", "bar"),
        train,
        split(num_val, 1, 1.0),
        test,
        float(train.images.mean()),
        float(train.images.std()),
        (0.0, 1.0),
        cue=cue,
    )


CUE_RUN = {
    "run": {
        "name": "cue",
        "seeds": [0],
        "eval_examples": 8,
        "batch_size": 4,
        "figure_examples": 0,
        "num_threads": 1,
    },
    "datasets": [{"name": CUE_DATASET}],
    "models": [{"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 8}}],
    "methods": {"names": ["ifim-sensitive", "saliency"]},
    "metrics": {
        "names": ["energy-in-mask", "pointing-game", "eigenvector-energy", "ifim-spectrum"],
        "options": {
            "energy-in-mask": {"regions": ["signal", "cue"]},
            "pointing-game": {"regions": ["signal", "cue"]},
        },
    },
}
KILLED = f"{CUE_DATASET}__shallow-cnn__seed0__ifim-sensitive"


class Killed(BaseException):
    """What a kill looks like to the run: not an error a cell records."""


@pytest.fixture
def cue_dataset():
    register_dataset(DatasetSpec(CUE_DATASET, _cue_bars, "bars and a corner cue", embedded=True))
    yield
    del dataset_registry._DATASETS[CUE_DATASET]


def test_a_run_on_a_cue_dataset_writes_the_cue_and_spectrum_rows(
    cue_dataset, tmp_path, monkeypatch
):
    """The iFIM cell is killed while its spectrum rows run; the resumed cell reads the
    decomposition saved with its maps (not made again) and writes them from it."""
    config = parse_config(copy.deepcopy(CUE_RUN))
    run_metric_before = cell_module.run_metric

    def killing(name, cell, options):
        if cell.name == KILLED and name == "ifim-spectrum":
            raise Killed
        return run_metric_before(name, cell, options)

    monkeypatch.setattr(cell_module, "run_metric", killing)
    output = tmp_path / "run"
    with pytest.raises(Killed):
        run(config, output, cache_dir=tmp_path / "cache", progress=False)
    saved = torch.load(RunLayout(output).partial(KILLED), weights_only=True)
    assert "eigenvector-energy" in saved["metrics"] and "ifim-spectrum" not in saved["metrics"]

    maps_made: list[str] = []
    maps_stage = cell_module._maps_stage

    def counting(config, cell, *args):
        maps_made.append(cell.key)
        return maps_stage(config, cell, *args)

    monkeypatch.setattr(cell_module, "run_metric", run_metric_before)
    monkeypatch.setattr(cell_module, "_maps_stage", counting)
    folder = run(config, output, cache_dir=tmp_path / "cache", progress=False)
    assert KILLED not in maps_made
    rows = folder.rows()
    assert folder.failed == []

    def settings(metric, method):
        return {r.setting for r in rows if r.metric == metric and r.method == method}

    for method in ("ifim-sensitive", "saliency"):
        assert settings("energy-in-mask", method) == {"", "region=cue"}, method
        assert settings("pointing-game", method) == {"tolerance=0", "region=cue,tolerance=0"}
    spectrum_rows = {"ifim-lambda-1", "ifim-trace", "ifim-effective-rank", "ifim-num-components"}
    by_method = {r.method for r in rows if r.metric in spectrum_rows | {"eigenvector-energy"}}
    assert by_method == {"ifim-sensitive"}
    assert {"region=signal,k=1", "region=cue,k=1"} <= settings(
        "eigenvector-energy", by_method.pop()
    )
    # binary softmax: rank one (eq. 12), so K = 1 and the effective rank is 1
    spectrum = saved["spectrum"]
    summary = spectrum_summary(spectrum["eigenvalues"], spectrum["num_components"])
    found = {r.metric: r.value for r in rows if r.metric in spectrum_rows}
    assert found["ifim-lambda-1"] == pytest.approx(float(summary.lambda_1.mean()), rel=1e-12)
    assert found["ifim-trace"] == pytest.approx(found["ifim-lambda-1"], rel=1e-12)
    assert found["ifim-effective-rank"] == found["ifim-num-components"] == 1.0
    cue_rows = [r for r in rows if r.setting == "region=cue"]
    assert cue_rows and all(0.0 <= r.value <= 1.0 and 1 <= r.n <= 8 for r in cue_rows)
