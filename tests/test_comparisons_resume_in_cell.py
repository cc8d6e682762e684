"""A killed run resumes inside a cell (issue 26, item 3): the maps and every metric that
ended are saved as they end (``partial/<cell>.pt``), the restarted run computes only the
stage that was running and those after it, and its rows equal an uninterrupted run's."""

from __future__ import annotations

import copy
import json

import pytest
import torch

import comparisons.run._cell as cell_module
from comparisons.config import parse_config
from comparisons.run import run
from comparisons.run._partial_cell import PartialCell
from comparisons.run_folder import RunLayout
from tests._run_rows import comparable_rows
from tests.test_comparisons_harness import TINY

METRICS = ["contrastive-perturbation", "deletion-auc", "sensitivity-max", "pointing-game"]
KILLED = "mni-sks__shallow-cnn__seed0__gradcam"


def _config():
    data = copy.deepcopy(TINY)
    data["run"]["seeds"] = [0]
    data["methods"] = {"names": ["ifim-sensitive", "gradcam"]}
    data["metrics"] = {
        "names": METRICS,
        "options": {"sensitivity-max": {"max_examples": 2, "n_perturb_samples": 2}},
    }
    return parse_config(data)


def _rows(folder):
    rows = json.loads((folder / "results.json").read_text())
    timing = {"seconds-per-image", "train-seconds", "metric-seconds"}
    return comparable_rows(rows, lambda metric: metric in timing, digits=10)


class Killed(BaseException):
    """What a kill looks like to the run: not an error a cell records."""


def test_a_killed_cell_resumes_at_the_stage_that_was_running(tmp_path, monkeypatch):
    config = _config()
    whole = run(config, tmp_path / "whole", cache_dir=tmp_path / "cache", progress=False)
    whole.write_tables()

    run_metric = cell_module.run_metric
    calls: list[tuple[str, str]] = []

    def killing(name, cell, options):
        if cell.name == KILLED and name == "sensitivity-max":
            raise Killed
        return run_metric(name, cell, options)

    monkeypatch.setattr(cell_module, "run_metric", killing)
    output = tmp_path / "killed"
    with pytest.raises(Killed):
        run(config, output, cache_dir=tmp_path / "cache", progress=False)
    partial = RunLayout(output).partial(KILLED)
    assert partial.is_file()
    saved = torch.load(partial, weights_only=True)
    assert sorted(saved["metrics"]) == ["contrastive-perturbation", "deletion-auc"]

    maps_stage = cell_module._maps_stage
    maps_computed: list[str] = []

    def counting_maps(config, cell, *args):
        maps_computed.append(cell.key)
        return maps_stage(config, cell, *args)

    def counting(name, cell, options):
        calls.append((cell.name, name))
        return run_metric(name, cell, options)

    monkeypatch.setattr(cell_module, "_maps_stage", counting_maps)
    monkeypatch.setattr(cell_module, "run_metric", counting)
    resumed = run(config, output, cache_dir=tmp_path / "cache", progress=False)
    resumed.write_tables()
    assert resumed.failed == []
    assert maps_computed == []  # ifim-sensitive was finished, gradcam's maps were saved
    assert calls == [(KILLED, "sensitivity-max"), (KILLED, "pointing-game")]
    assert not partial.exists()
    assert _rows(output) == _rows(tmp_path / "whole")


def test_a_partial_cell_of_another_config_or_unreadable_is_ignored_and_removed(tmp_path):
    indices = torch.arange(4)
    path = tmp_path / "partial" / "cell.pt"
    mine = PartialCell(path, "fingerprint-a", indices)
    mine.save_maps(torch.ones(4, 1, 2, 2), None, 1.5, None)
    assert PartialCell(path, "fingerprint-a", indices).load()
    assert not PartialCell(path, "fingerprint-a", torch.arange(1, 5)).load()  # other images
    assert not path.exists()
    mine.save_maps(torch.ones(4, 1, 2, 2), None, 1.5, None)
    assert not PartialCell(path, "fingerprint-b", indices).load()  # another config
    assert not path.exists()
    path.write_bytes(b"not a torch file")
    assert not PartialCell(path, "fingerprint-a", indices).load()
    assert not path.exists()


def test_saved_metric_values_come_back_as_they_were(tmp_path):
    from comparisons.metrics import ExampleValues, MetricValue

    cell = PartialCell(tmp_path / "cell.pt", "f", torch.arange(3))
    cell.save_maps(torch.zeros(3, 1, 2, 2), torch.ones(3, 1, 2, 2), 0.25, None)
    values = [
        MetricValue("m", 0.5, "fraction=0.1", 3, ExampleValues("m", torch.tensor([1.0, 0.0, 0.5]))),
        MetricValue("metric-seconds", 2.0, "metric=m", 3),
        MetricValue(
            "x", 1.0, "", 2, ExampleValues("x", torch.tensor([1, 2]), torch.tensor([0, 2]))
        ),
    ]
    cell.save_metric("m", values)
    again = PartialCell(tmp_path / "cell.pt", "f", torch.arange(3))
    assert again.load() and again.metric("other") is None
    restored = again.metric("m")
    assert [(v.metric, v.value, v.setting, v.n) for v in restored] == [
        (v.metric, v.value, v.setting, v.n) for v in values
    ]
    assert torch.equal(restored[0].examples.values, values[0].examples.values)
    assert torch.equal(restored[2].examples.positions, values[2].examples.positions)
    _, low, seconds, spectrum = again.maps(torch.device("cpu"))
    assert torch.equal(low, torch.ones(3, 1, 2, 2)) and seconds == 0.25 and spectrum is None
