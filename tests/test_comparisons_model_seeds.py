"""A model's own seeds: a costly model trained and evaluated at some of the run's seeds."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from comparisons.config import dumps_toml, load_config, parse_config
from comparisons.run import run
from comparisons.run._plan import groups_of
from comparisons.run_folder import GroupKey
from comparisons.statistics._coverage import planned_cells

TINY = {
    "run": {
        "name": "model-seeds",
        "seeds": [0, 1],
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
            "name": "shallow-cnn-once",
            "architecture": "shallow-cnn",
            "seeds": [1],
            "training": {"epochs": 1, "batch_size": 8, "lr": 3e-4},
        },
    ],
    "methods": {"names": ["saliency"]},
    "metrics": {"names": ["sparseness"]},
}


pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_model_runs_at_its_own_seeds_and_the_others_at_the_runs():
    config = parse_config(TINY)
    assert config.seeds_of(config.models[0]) == (0, 1)
    assert config.seeds_of(config.models[1]) == (1,)
    assert groups_of(config) == [
        GroupKey("lumpy-sks", "shallow-cnn", 0),
        GroupKey("lumpy-sks", "shallow-cnn", 1),
        GroupKey("lumpy-sks", "shallow-cnn-once", 1),
    ]
    assert [c.group for c in planned_cells(config)] == groups_of(config)
    assert parse_config(__import__("tomllib").loads(dumps_toml(config.to_dict()))) == config


def test_configs_without_model_seeds_keep_their_fingerprints():
    # Computed on main before the key existed (commit 0cfc4b3).
    assert load_config("quick").fingerprint() == "305c99e938c1a96b"
    assert load_config("3d").fingerprint() == "50b9b8e80137dc0c"
    assert "seeds" not in load_config("quick").to_dict()["models"][0]


@pytest.mark.parametrize(
    ("seeds", "error", "match"),
    [
        ([2], ValueError, r"among run.seeds \[0, 1\], got \[2\] outside them"),
        ([], TypeError, "non-empty list of ints"),
        ([1, 1], ValueError, "distinct seeds"),
        (["0"], TypeError, "non-empty list of ints"),
        (1, TypeError, "non-empty list of ints"),
    ],
)
def test_bad_model_seeds_are_clear_errors(seeds, error, match):
    data = copy.deepcopy(TINY)
    data["models"][1]["seeds"] = seeds
    with pytest.raises(error, match=match):
        parse_config(data)


def test_a_run_trains_the_model_only_at_its_seeds(tmp_path: Path):
    folder = run(parse_config(TINY), tmp_path / "run", cache_dir=tmp_path / "cache", progress=False)
    rows = folder.rows()
    groups = {(r.model, r.seed) for r in rows if r.method == "saliency" and "|" not in r.model}
    assert groups == {("shallow-cnn", 0), ("shallow-cnn", 1), ("shallow-cnn-once", 1)}
    assert folder.model_record(GroupKey("lumpy-sks", "shallow-cnn-once", 0).key) is None
    # The model-pair stage pairs it, at its one seed, with each group of the other model.
    pairs = {(r.model, r.setting) for r in rows if "|" in r.model}
    assert pairs == {
        ("shallow-cnn|shallow-cnn", "seeds=0|1"),
        ("shallow-cnn|shallow-cnn-once", "seeds=0|1"),
        ("shallow-cnn|shallow-cnn-once", "seeds=1|1"),
    }
