"""Extending the harness from outside the repository (issue 20, item 4): a toy package
adds a metric (one library function and its harness entry), a method (one registry entry)
and a dataset (one builder), and a run and its report use them by name, from Python and
from the command line (``python -m comparisons --plugin toy_plugin run ...``)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import captum_ifim._methods._registry as method_registry
import captum_ifim.metrics._registry as metric_registry
import comparisons.datasets._registry as dataset_registry
import comparisons.metrics._registry as harness_registry
import comparisons.metrics._row_catalogue as row_catalogue
from comparisons import load_results
from comparisons.config import parse_config
from comparisons.run import run

TOY_PLUGIN = '''
"""A toy plugin: a metric, a method and a dataset of its own."""

import torch
from captum.attr import InputXGradient

from captum_ifim import MethodSpec, register_method
from captum_ifim.metrics import MetricInfo, register_metric
from comparisons.datasets import DatasetSpec, ImageDataset, ImageSplit, register_dataset
from comparisons.metrics import HarnessMetric, RowSpec, mean_of, register_harness_metric
from comparisons.metrics._cell_data import mean_value


# -- the metric: one library function, its MetricInfo, its harness entry --------------------
def peak_share(maps):
    """(N,) the share of each map's absolute mass at its largest location."""
    flat = maps.detach().abs().flatten(1).double()
    return flat.max(dim=1).values / flat.sum(dim=1).clamp_min(1e-12)


register_metric(MetricInfo(
    name="toy-peak-share", category="localization", higher_is_better=True,
    needs_model=False, function=peak_share, description="share of the mass at the peak",
))
register_harness_metric(HarnessMetric(
    name="toy-peak-share",
    runner=lambda cell, options: [mean_value("toy-peak-share", peak_share(cell.maps))],
    defaults={},
    rows=(RowSpec("toy-peak-share", statistic=mean_of("toy-peak-share")),),
))


# -- the method: one registry entry ------------------------------------------------------------
def input_x_gradient(model, layer, background, options):
    return InputXGradient(model), {}


register_method(MethodSpec(
    name="toy-input-x-gradient", description="Captum's InputXGradient",
    factory=input_x_gradient,
))


# -- the dataset: one builder ------------------------------------------------------------------
def bars(num_train: int = 24, num_val: int = 8, num_test: int = 8, seed: int = 0):
    """A bright bar at the top (class 1) or none (class 0), on noise."""
    def split(count, offset):
        generator = torch.Generator().manual_seed(seed * 1000 + offset)
        labels = torch.arange(count) % 2
        images = 0.1 * torch.rand(count, 1, 12, 12, generator=generator)
        images[labels == 1, :, 2:4, 2:10] += 0.8
        masks = torch.zeros(count, 12, 12, dtype=torch.bool)
        masks[labels == 1, 2:4, 2:10] = True
        return ImageSplit(images, labels, masks)

    train = split(num_train, 0)
    return ImageDataset("toy-bars", ("none", "bar"), train, split(num_val, 1),
                        split(num_test, 2), float(train.images.mean()),
                        float(train.images.std()), (0.0, 1.0), "bars on noise")


register_dataset(DatasetSpec("toy-bars", bars, "bars on noise", embedded=True))
'''


def config(output_name: str = "toy") -> dict:
    return {
        "run": {"name": output_name, "seeds": [0], "eval_examples": 4, "batch_size": 4,
                "figure_examples": 2, "background_examples": 4, "num_threads": 1},
        "datasets": [{"name": "toy-bars"}],
        "models": [{"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 8}}],
        "methods": {"names": ["toy-input-x-gradient", "saliency"]},
        "metrics": {"names": ["toy-peak-share", "deletion-auc"]},
    }  # fmt: skip


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    """The toy package importable, and the registries as they were afterwards."""
    package = tmp_path / "plugins"
    package.mkdir()
    (package / "toy_plugin.py").write_text(textwrap.dedent(TOY_PLUGIN))
    monkeypatch.syspath_prepend(str(package))
    registries = [
        (method_registry, "_METHODS"),
        (metric_registry, "_METRICS"),
        (harness_registry, "_HARNESS_METRICS"),
        (dataset_registry, "_DATASETS"),
        (row_catalogue, "_ROW_SPECS"),
        (row_catalogue, "_ROW_DIRECTIONS"),
        (row_catalogue, "_ROW_STATISTICS"),
    ]
    before = [(module, name, set(getattr(module, name))) for module, name in registries]
    yield package
    for module, name, keys in before:  # the module's dict now (a test may reload a module)
        registry = getattr(module, name)
        for key in set(registry) - keys:
            del registry[key]
    sys.modules.pop("toy_plugin", None)


def test_a_toy_metric_method_and_dataset_run_through_the_harness(toy_plugin, tmp_path):
    importlib.import_module("toy_plugin")
    folder = run(parse_config(config()), tmp_path / "run", cache_dir=tmp_path / "cache")
    rows = load_results(folder.path)
    methods = set(rows.method) - {""}
    assert methods == {"toy-input-x-gradient", "saliency"}
    peak = rows[rows.metric == "toy-peak-share"]
    assert sorted(peak.method) == ["saliency", "toy-input-x-gradient"]
    maps = folder.load_maps("toy-bars__shallow-cnn__seed0__toy-input-x-gradient")["maps"]
    flat = maps.abs().flatten(1).double()
    expected = float((flat.max(1).values / flat.sum(1)).mean())
    value = float(peak[peak.method == "toy-input-x-gradient"].value.iloc[0])
    # the library function on the maps (the maps file keeps them at half precision)
    assert value == pytest.approx(expected, rel=1e-3)
    assert set(rows[rows.metric == "deletion-auc"].method) == methods


def test_the_command_line_loads_a_plugin_named_by_plugin(toy_plugin, tmp_path):
    from comparisons.config import dumps_toml

    (tmp_path / "toy.toml").write_text(dumps_toml(config()))
    env = {"PYTHONPATH": f"{toy_plugin}:{Path(__file__).resolve().parents[1]}"}
    command = [sys.executable, "-m", "comparisons", "--plugin", "toy_plugin", "run"]
    arguments = ["--config", "toy.toml", "--output", "out", "--no-progress"]
    done = subprocess.run(
        [*command, *arguments], cwd=tmp_path, env={**__import__("os").environ, **env},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "toy-peak-share" in report and "toy-input-x-gradient" in report
    methods = json.loads((tmp_path / "out" / "methods.json").read_text())
    assert methods["toy-input-x-gradient"]["description"] == "Captum's InputXGradient"
    missing = subprocess.run(
        [sys.executable, "-m", "comparisons", "--plugin", "no_such_plugin", "list"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 2 and "no_such_plugin" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize("name", ["saliency", "../x", "a__b", ""])
def test_a_registered_name_must_be_new_and_plain(name):
    from captum_ifim import MethodSpec, register_method

    spec = MethodSpec(name=name, description="x", factory=lambda *args: (None, {}))
    with pytest.raises(ValueError, match="method name"):
        register_method(spec)
    assert name == "saliency" or name not in method_registry._METHODS


def test_a_harness_entry_needs_its_library_metric_first():
    from comparisons.metrics import HarnessMetric, RowSpec, register_harness_metric

    entry = HarnessMetric("toy-unknown", lambda cell, options: [], {}, (RowSpec("toy-x"),))
    with pytest.raises(ValueError, match="register_metric"):
        register_harness_metric(entry)
    assert "toy-x" not in row_catalogue._ROW_SPECS
