"""The Python API: ``compare`` on tensors agrees row for row with the config run of the same
data as a folder and with ``load_results``; it writes and resumes a run folder like the CLI."""

from __future__ import annotations

import doctest
import json
import math
import shutil

import pytest
import torch
from safetensors.torch import save_file

import comparisons._api as api_module
import comparisons.run._runner as runner_module
from comparisons import compare, load_results
from comparisons.config import parse_config
from comparisons.datasets import ImageDataset, ImageSplit
from comparisons.models import build_factory_model
from comparisons.run import evaluation_indices, run
from comparisons.run._group_data import evaluation_and_background
from tests._own_fixtures import folder_tensors, write_factory_module, write_png_folder

#: Timings differ between runs; every other value must agree exactly.
TIMINGS = {"seconds-per-image", "metric-seconds", "train-seconds"}
RUN = {
    "eval_examples": 6,
    "batch_size": 3,
    "background_examples": 3,
    "figure_examples": 2,
    "num_threads": 1,
}
METHODS = ["saliency", "gradcam", "deepshap"]
METRICS = ["deletion-auc", "contrastive-perturbation"]


def _comparable(frame):
    kept = frame[~frame.metric.isin(TIMINGS)]
    return sorted(
        (
            r.dataset,
            r.model,
            r.seed,
            r.method,
            r.metric,
            r.setting,
            "nan" if math.isnan(r.value) else r.value,
            r.n,
        )
        for r in kept.itertuples()
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A PNG folder (test split only), a factory module and its model's safetensors weights."""
    root = tmp_path_factory.mktemp("api")
    write_png_folder(root / "scans", per_class=6, split="test")
    (root / "code").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root / "code"))
        name = write_factory_module(root / "code")
        torch.manual_seed(7)
        model = build_factory_model(f"{name}:build", {}).eval()
        save_file(model.state_dict(), str(root / "model.safetensors"))
        yield root, name, model


def test_compare_on_tensors_the_config_run_and_load_results_agree_row_for_row(study):
    root, name, model = study
    images, labels = folder_tensors(6)
    rows = compare(
        model,
        (images, labels),
        methods=METHODS,
        metrics=METRICS,
        class_names=["benign", "malignant"],
        value_range=(0.0, 1.0),
        model_name="tiny",
        dataset_name="scans",
        output=root / "api-run",
        **RUN,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root / "code"))
        config = parse_config(
            {
                "run": {"name": "cli", **RUN},
                "datasets": [
                    {
                        "name": "image-folder",
                        "options": {"root": str(root / "scans"), "label": "scans"},
                    }
                ],
                "models": [
                    {
                        "name": "tiny",
                        "factory": f"{name}:build",
                        "weights": str(root / "model.safetensors"),
                    }
                ],
                "methods": {"names": METHODS},
                "metrics": {"names": METRICS},
            }
        )
        folder = run(config, root / "cli-run", progress=False)
    assert folder.failed == []
    from_config = load_results(folder.path)
    assert list(rows.columns) == list(from_config.columns)
    assert len(_comparable(rows)) > 20
    assert _comparable(rows) == _comparable(from_config)
    assert _comparable(load_results(root / "api-run")) == _comparable(rows)
    # The API wrote what the CLI writes: the tables and the report.
    for name_ in ("results.csv", "results.json", "report.md", "config.toml"):
        assert (root / "api-run" / name_).is_file(), name_
    assert set(rows.method) == {"", *METHODS}


def test_compare_resumes_its_run_folder_and_leaves_the_model_as_found(study, monkeypatch):
    root, _, model = study
    images, labels = folder_tensors(6)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    options = dict(
        methods=["saliency"],
        metrics=["deletion-auc"],
        output=root / "resumed",
        value_range=(0.0, 1.0),
        **RUN,
    )
    first = compare(model, (images, labels), **options)
    calls = []
    real = runner_module.run_cell
    monkeypatch.setattr(runner_module, "run_cell", lambda *a, **k: calls.append(a) or real(*a, **k))
    again = compare(model, (images, labels), **options)
    assert calls == [] and _comparable(again) == _comparable(first)
    assert model.training  # left as found
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    # Other data into the same folder is another comparison: refused, the folder left alone.
    with pytest.raises(ValueError, match="another config"):
        compare(model, (images.flip(-1), labels), **options)
    model.eval()


def test_masks_enable_the_localization_metrics_and_their_absence_is_reported(study, tmp_path):
    _, _, model = study
    images, labels = folder_tensors(6)
    masks = torch.zeros(len(images), *images.shape[2:], dtype=torch.bool)
    masks[labels == 1, 3:7, 2:6] = True  # where the bright square is
    with_masks = compare(
        model,
        (images, labels, masks),
        methods=["saliency"],
        metrics=["energy-in-mask", "pointing-game"],
        value_range=(0.0, 1.0),
        **RUN,
    )
    energy = with_masks[with_masks.metric == "energy-in-mask"]
    assert len(energy) == 1 and 0 <= energy.value.item() <= 1
    assert energy.n.item() == 3  # the signal-present ones of the 6 evaluated images
    without = compare(
        model,
        (images, labels),
        methods=["saliency"],
        metrics=["energy-in-mask"],
        value_range=(0.0, 1.0),
        output=tmp_path / "no-masks",
        **RUN,
    )
    assert "energy-in-mask" not in set(without.metric)
    report = (tmp_path / "no-masks" / "report.md").read_text()
    assert "`energy-in-mask` has no rows for `data / model`: it needs ground-truth masks" in report


def test_tensors_without_a_value_range_and_a_failing_cell(study, monkeypatch):
    _, _, model = study
    images, labels = folder_tensors(6)
    # No training split, no value range: FGSM's step comes from the test images' range.
    rows = compare(
        model,
        (images * 3 - 1, labels),
        methods=["saliency"],
        metrics=["adversarial-correlation"],
        **RUN,
    )
    assert "adversarial-correlation" in set(rows.metric)
    # A cell that fails is named in a warning; the other cells' rows are kept.
    real = runner_module.run_cell

    def failing(config, cell, *args, **kwargs):
        if cell.method == "gradcam":
            raise RuntimeError("a method that breaks")
        return real(config, cell, *args, **kwargs)

    monkeypatch.setattr(runner_module, "run_cell", failing)
    with pytest.warns(RuntimeWarning, match="gradcam: RuntimeError: a method that breaks"):
        rows = compare(
            model,
            (images, labels),
            methods=["saliency", "gradcam"],
            metrics=["deletion-auc"],
            value_range=(0.0, 1.0),
            **RUN,
        )
    assert set(rows.method) == {"", "saliency"}


def test_deepshap_background_is_disjoint_from_the_evaluated_images():
    test = ImageSplit(torch.arange(10.0).reshape(10, 1, 1, 1), torch.arange(10) % 2)
    empty = test.subset(slice(0, 0))
    data = ImageDataset("t", ("a", "b"), empty, empty, test, 0.0, 1.0)
    evaluated, background = evaluation_and_background(data, 64, 4)
    shown = {int(v) for v in background.flatten()}
    assert len(evaluated) == 6 and len(shown) == 4
    assert not shown & {int(v) for v in test.images[evaluated].flatten()}
    order = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(evaluated, order[:6])  # the rest of the same seeded order
    # With a training split, the background comes from it, as before.
    train = ImageSplit(torch.arange(5.0).reshape(5, 1, 1, 1) + 100, torch.arange(5) % 2)
    with_train = ImageDataset("t", ("a", "b"), train, train, test, 0.0, 1.0)
    evaluated, background = evaluation_and_background(with_train, 8, 3)
    order = torch.randperm(5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(evaluated, evaluation_indices(test.labels, 8))
    assert torch.equal(background, train.images[order[:3]])


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (
            (torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])),
            {},
            ValueError,
            r"labels in \[0, 2\)",
        ),
        ((torch.rand(6, 1, 8, 8), torch.zeros(6)), {}, ValueError, "integer labels"),
        (
            (torch.rand(6, 8, 8), torch.zeros(6, dtype=torch.long)),
            {},
            ValueError,
            r"\(N, C, H, W\)",
        ),
        (
            (torch.rand(6, 1, 8, 8), torch.zeros(6, dtype=torch.long), torch.zeros(6, 4, 4)),
            {},
            ValueError,
            "masks of shape",
        ),
        (
            (torch.rand(6, 1, 8, 8), torch.arange(6) % 2),
            {"methods": ["gradcamm"]},
            ValueError,
            "unknown method 'gradcamm'",
        ),
        (
            (torch.rand(6, 1, 8, 8), torch.arange(6) % 2),
            {"colour": "red"},
            ValueError,
            "unknown key",
        ),
        ("images.pt", {}, TypeError, "expected data as an ImageDataset"),
    ],
)
def test_bad_inputs_are_clear_errors_before_anything_runs(data, kwargs, error, match, tmp_path):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    with pytest.raises(error, match=match):
        compare(model, data, output=tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_load_results_reads_a_folder_of_tables_only_and_refuses_others(study, tmp_path):
    root, _, _ = study
    copy = tmp_path / "tables"
    copy.mkdir()
    shutil.copy(root / "api-run" / "results.json", copy / "results.json")
    frame = load_results(copy)
    assert len(frame) == len(json.loads((copy / "results.json").read_text()))
    assert frame.value.dtype == "float64" and frame.seed.dtype == "int64"
    with pytest.raises(ValueError, match="expected a run folder"):
        load_results(tmp_path / "nothing")


def test_the_docstring_example_runs():
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(api_module.compare, "compare"):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 5
