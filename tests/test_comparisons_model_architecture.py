"""A ``[[models]]`` entry's ``architecture``: one registry model under several result names
(e.g. trained with and without an attack), checked, planned, trained and cached."""

from __future__ import annotations

import copy
import functools
import tomllib
from pathlib import Path

import pytest

from comparisons._cli import main
from comparisons.config import dumps_toml, parse_config
from comparisons.config._entries import ModelEntry
from comparisons.run import run
from comparisons.run_folder import GroupKey, RunFolder

ADVERSARIAL = {"attack": "fgsm", "epsilon": 0.05}
TINY = {
    "run": {
        "name": "architecture",
        "seeds": [0],
        "eval_examples": 4,
        "batch_size": 4,
        "figure_examples": 0,
        "background_examples": 4,
        "num_threads": 1,
    },
    "datasets": [
        {
            "name": "lumpy-sks",
            "options": {"num_train": 24, "num_val": 8, "num_test": 8, "image_size": 16},
        }
    ],
    "models": [
        {"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 8}},
        {
            "name": "shallow-cnn-copy",  # built and trained alike: the same checkpoint
            "architecture": "shallow-cnn",
            "training": {"epochs": 1, "batch_size": 8},
        },
        {
            "name": "shallow-cnn-robust",
            "architecture": "shallow-cnn",
            "training": {"epochs": 1, "batch_size": 8, "adversarial": ADVERSARIAL},
        },
    ],
    "methods": {"names": ["saliency"]},
    "metrics": {"names": ["sparseness"]},
}
NAMES = ["shallow-cnn", "shallow-cnn-copy", "shallow-cnn-robust"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _data(**model_changes: object) -> dict:
    """TINY with its last model entry changed (a key set to None is removed)."""
    data = copy.deepcopy(TINY)
    entry = data["models"][-1]
    for key, value in model_changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return data


def test_two_entries_of_one_architecture_parse_and_round_trip_through_toml():
    config = parse_config(TINY)
    assert [m.name for m in config.models] == NAMES
    assert [m.registry_name for m in config.models] == ["shallow-cnn"] * 3
    assert [m.architecture for m in config.models] == [None, "shallow-cnn", "shallow-cnn"]
    assert all(m.source == "registry" for m in config.models)
    assert parse_config(tomllib.loads(dumps_toml(config.to_dict()))) == config
    # An entry without architecture writes none: the fingerprints of older configs stay.
    assert "architecture" not in config.to_dict()["models"][0]
    assert ModelEntry("shallow-cnn").registry_name == "shallow-cnn"


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"architecture": "resnet-7"}, ValueError, r"unknown architecture 'resnet-7'.*'resnet18'"),
        ({"architecture": 3}, TypeError, "expected architecture in .* to be a model name"),
        (
            {"factory": "torchvision.models:resnet18"},
            ValueError,
            "expected architecture .* or factory",
        ),
        ({"zoo": "torchvision:resnet18"}, ValueError, "expected architecture .* or zoo"),
        ({"python_object": "x.Model"}, ValueError, "expected architecture .* or python_object"),
        ({"architecture": None}, ValueError, "unknown model 'shallow-cnn-robust'.*architecture"),
        ({"name": "shallow-cnn-copy"}, ValueError, "expected distinct model names"),
        ({"options": {"depth": 3}}, ValueError, r"of model 'shallow-cnn-robust' \(shallow-cnn\)"),
    ],
)
def test_bad_architectures_are_clear_errors(changes, error, match):
    with pytest.raises(error, match=match):
        parse_config(_data(**changes))


def test_an_architecture_builds_its_own_options_and_training():
    data = _data(options={"head": "gap"})
    entry = parse_config(data).models[-1]
    assert entry.options == {"head": "gap"} and entry.training["adversarial"] == ADVERSARIAL


def test_run_check_plans_both_entries_of_one_architecture(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text(dumps_toml(TINY))
    code = main(
        [
            "run",
            "--check",
            "--no-estimate",
            "--config",
            str(path),
            "--output",
            str(tmp_path / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    for name in NAMES:
        assert f"{GroupKey('lumpy-sks', name, 0).key}: model to train or load" in out
    assert "models: 3 to train" in out
    assert not (tmp_path / "out").exists()


@functools.cache
def _tiny_run(root: Path) -> RunFolder:
    return run(parse_config(TINY), root / "run", cache_dir=root / "cache", progress=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> RunFolder:
    return _tiny_run(tmp_path_factory.mktemp("architecture"))


def test_a_run_trains_each_entry_into_its_own_group(tiny_run):
    records = {name: tiny_run.model_record(GroupKey("lumpy-sks", name, 0).key) for name in NAMES}
    assert all(record is not None for record in records.values())
    assert {record["model_name"] for record in records.values()} == {"shallow-cnn"}
    assert "adversarial" not in records["shallow-cnn"]["config"]
    assert records["shallow-cnn-robust"]["config"]["adversarial"]["attack"] == "fgsm"
    assert len(records["shallow-cnn-robust"]["history"]["val_robust_accuracy"]) == 1
    rows = tiny_run.rows()
    for name in NAMES:
        assert {row.method for row in rows if row.model == name} >= {"", "saliency"}


def test_the_checkpoint_is_keyed_by_architecture_and_training_not_by_the_name(tiny_run):
    records = {name: tiny_run.model_record(GroupKey("lumpy-sks", name, 0).key) for name in NAMES}
    plain, copy_, robust = (records[name] for name in NAMES)
    assert plain["cache_key"] == copy_["cache_key"] != robust["cache_key"]
    assert not plain["from_cache"] and copy_["from_cache"] and not robust["from_cache"]
    assert copy_["test_metrics"] == plain["test_metrics"]
    assert len(list((tiny_run.path.parent / "cache").glob("*.pt"))) == 2
