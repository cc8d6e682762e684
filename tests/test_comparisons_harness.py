"""The harness end to end on tiny settings: a run, resume after a kill, shard + merge, errors."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import tomllib

import pytest
import torch

import comparisons.run._runner as runner_module
from captum_ifim import PAPER_METHODS, available_methods
from captum_ifim.metrics import available_metrics
from comparisons._cli import main
from comparisons.config import dumps_toml as dumps
from comparisons.config import load_config, parse_config
from comparisons.run import figure_indices, merge, run
from comparisons.run._plan import parse_shard, shard_groups
from comparisons.run_folder import GroupKey, RunFolder
from tests._run_rows import comparable_rows

#: Timings differ between runs; every other value must be reproduced exactly.
TIMING_METRICS = {"seconds-per-image", "train-seconds", "metric-seconds"}

TINY = {
    "run": {
        "name": "tiny",
        "seeds": [0, 1],
        "eval_examples": 6,
        "batch_size": 3,
        "figure_examples": 2,
        "background_examples": 4,
        "num_threads": 1,
    },
    "datasets": [
        {
            "name": "mni-sks",
            "options": {"num_train": 48, "num_val": 12, "num_test": 12, "image_size": 16},
        }
    ],
    "models": [{"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 16}}],
    "methods": {"names": "paper", "options": {"scorecam": {"batch_size": 64}}},
    "metrics": {
        "names": "all",
        "options": {
            "model-parameter-randomization": {"max_examples": 2, "max_layers": 2},
            "sensitivity-max": {"max_examples": 2, "n_perturb_samples": 2},
            "infidelity": {"max_examples": 3, "n_perturb_samples": 2},
            "kl-fidelity": {"epsilons": [1e-3, 1e-1]},
        },
    },
}


def tiny_config(**run_overrides):
    data = copy.deepcopy(TINY)
    data["run"].update(run_overrides)
    return parse_config(data)


def comparable(rows):
    """Rows (ResultRow objects or JSON records) as sortable tuples, timings left out."""
    return comparable_rows(rows, lambda metric: metric in TIMING_METRICS, digits=10)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("harness")
    folder = run(tiny_config(), root / "run", cache_dir=root / "cache", progress=False)
    folder.write_tables()
    return folder, root


def test_a_run_has_every_method_metric_and_seed(full_run):
    folder, _ = full_run
    assert folder.failed == []
    rows = json.loads((folder.path / "results.json").read_text())
    assert {r["method"] for r in rows} == set(PAPER_METHODS) | {""}
    assert {r["seed"] for r in rows} == {0, 1}
    metrics = {r["metric"] for r in rows}
    for name in (
        "f1-ratio",
        "f1-clean",
        "adversarial-correlation",
        "deletion-auc",
        "insertion-auc",
        "energy-in-mask",
        "pointing-game",
        "kl-fidelity",
        "randomization-similarity",
        "infidelity",
        "sensitivity-max",
        "seconds-per-image",
        "test-precision",
        "test-recall",
    ):
        assert name in metrics, name
    ratios = {r["setting"] for r in rows if r["metric"] == "f1-ratio"}
    assert ratios == {"alpha=0.01", "alpha=0.02", "alpha=0.03"}
    kl = [r for r in rows if r["metric"] == "kl-fidelity"]
    assert {r["method"] for r in kl} == {"ifim-sensitive"}
    # eq. 18: the measured KL along u_1 matches 1/2 eps^2 lambda_1 for small eps.
    small = [r["value"] for r in kl if r["setting"] == "eps=0.001" and not math.isnan(r["value"])]
    assert small and all(abs(v - 1) < 0.05 for v in small)
    # The CSV holds the same rows as the JSON.
    csv_lines = (folder.path / "results.csv").read_text().splitlines()
    assert csv_lines[0] == "dataset,model,seed,method,metric,setting,value,n"
    assert len(csv_lines) == len(rows) + 1


def test_the_f1_clean_is_the_same_for_every_method_of_a_model(full_run):
    # Clean F1 does not depend on the map: a check that every method saw the same images.
    folder, _ = full_run
    rows = [r.to_record() for r in folder.rows() if r.metric == "f1-clean" and r.seed == 0]
    assert len({round(r["value"], 12) for r in rows}) == 1


def test_the_run_folder_records_config_environment_and_examples(full_run):
    folder, _ = full_run
    stored = tomllib.loads((folder.path / "config.toml").read_text())
    assert parse_config(stored) == tiny_config()
    environment = json.loads((folder.path / "environment.json").read_text())
    assert environment["packages"]["torch"] == torch.__version__.split("+")[0] or environment[
        "packages"
    ]["torch"].startswith(torch.__version__.split("+")[0])
    methods = json.loads((folder.path / "methods.json").read_text())
    assert methods["gradcam"]["normalized_maps"] is True
    examples = folder.load_examples("mni-sks__shallow-cnn__seed0__ifim-sensitive")
    assert examples["maps"].shape == examples["inputs"].shape == (2, 1, 16, 16)
    assert examples["eigenvalues"].shape == (6, 1)  # R <= C - 1 = 1
    assert examples["labels"].tolist() == [0, 1]  # the classes in turn
    # S(x) + I(x) = x on the stored images (eq. 17).
    insensitive = folder.load_examples("mni-sks__shallow-cnn__seed0__ifim-insensitive")
    torch.testing.assert_close(examples["maps"] + insensitive["maps"], examples["inputs"])


def test_a_killed_run_resumes_and_completes_with_the_same_results(full_run, tmp_path, monkeypatch):
    reference, root = full_run
    real_run_cell = runner_module.run_cell
    calls = []

    def killed_after_three(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is killed here
        calls.append(args[1].key)
        return real_run_cell(*args, **kwargs)

    monkeypatch.setattr(runner_module, "run_cell", killed_after_three)
    config = tiny_config()
    with pytest.raises(KeyboardInterrupt):
        run(config, tmp_path / "run", cache_dir=root / "cache", progress=False)
    folder = RunFolder(tmp_path / "run")
    assert folder.count_cells() == 3
    assert not list((tmp_path / "run").rglob("*.tmp"))

    resumed = []
    monkeypatch.setattr(
        runner_module,
        "run_cell",
        lambda *a, **k: resumed.append(a[1].key) or real_run_cell(*a, **k),
    )
    run(config, tmp_path / "run", cache_dir=root / "cache", progress=False)
    assert not set(resumed) & set(calls)
    assert len(resumed) == 2 * len(PAPER_METHODS) - 3
    assert comparable(folder.rows()) == comparable(reference.rows())
    environment = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert len(environment["resumed"]) == 1


def test_shards_merged_equal_the_unsharded_run(full_run, tmp_path):
    reference, _ = full_run
    config = tiny_config()
    shards = []
    for index in (1, 2):
        path = tmp_path / f"shard{index}"
        # Each shard trains its own models (a separate cache), as on separate machines.
        run(config, path, shard=(index, 2), cache_dir=tmp_path / f"cache{index}", progress=False)
        shards.append(path)
    assert {RunFolder(p).rows()[0].seed for p in shards} == {0, 1}
    merged, missing = merge(tmp_path / "merged", shards)
    assert missing == []
    assert comparable(merged.rows()) == comparable(reference.rows())
    assert json.loads((merged.path / "results.json").read_text())


def test_merge_reports_missing_cells_and_refuses_mixed_configs(tmp_path, full_run):
    _, root = full_run
    half = tmp_path / "half"
    run(tiny_config(), half, shard=(1, 2), cache_dir=root / "cache", progress=False)
    _, missing = merge(tmp_path / "merged", [half])
    assert len(missing) == len(PAPER_METHODS)
    other = tmp_path / "other"
    run(
        tiny_config(eval_examples=4, seeds=[0]),
        other,
        shard=(2, 2),
        cache_dir=root / "cache",
        progress=False,
    )
    with pytest.raises(ValueError, match="one config"):
        merge(tmp_path / "merged2", [half, other])
    with pytest.raises(ValueError, match="run folder"):
        merge(tmp_path / "merged3", [tmp_path / "nothing"])


def test_a_run_folder_of_another_config_is_refused_and_left_alone(full_run):
    folder, root = full_run
    before = (folder.path / "config.json").read_text()
    with pytest.raises(ValueError, match="another config"):
        run(tiny_config(eval_examples=5), folder.path, cache_dir=root / "cache", progress=False)
    assert (folder.path / "config.json").read_text() == before


@pytest.mark.parametrize(
    ("section", "change", "listed"),
    [
        ("methods", {"names": ["gradcam", "gradcamm"]}, available_methods()),
        ("metrics", {"names": ["f1"]}, available_metrics()),
        ("datasets", [{"name": "brats"}], ["mni-sks"]),
        ("models", [{"name": "resnet50"}], ["resnet18", "shallow-cnn", "vgg16"]),
    ],
)
def test_unknown_names_list_the_valid_ones(section, change, listed):
    data = copy.deepcopy(TINY)
    data[section] = change
    with pytest.raises(ValueError, match="unknown") as error:
        parse_config(data)
    for name in listed:
        assert name in str(error.value)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"run": {"seeds": []}}, "seeds"),
        ({"run": {"eval_examples": 0}}, "eval_examples"),
        ({"run": {"batch_size": "8"}}, "batch_size"),
        ({"run": {"map_target": "random"}}, "map_target"),
        ({"run": {"colour": "red"}}, "colour"),
        ({"plots": {}}, "plots"),
        ({"metrics": {"names": "all", "options": {"infidelity": {"n_samples": 2}}}}, "n_samples"),
        ({"models": [{"name": "shallow-cnn", "training": {"epoch": 2}}]}, "epoch"),
        ({"datasets": [{"name": "mni-sks", "options": {"label": "a__b"}}]}, "'__'"),
        # Method options are checked when the config loads: names (listing the valid ones)
        # and the values that can be checked without a model.
        ({"methods": {"names": "all", "options": {"ifim-sensitive": {"enrgy": 0.5}}}}, "energy"),
        ({"methods": {"names": "all", "options": {"ifim-sensitive": {"energy": 1.5}}}}, "1.5"),
        ({"methods": {"names": "all", "options": {"gradcam": {"normalise": "raw"}}}}, "gradcam"),
    ],
)
def test_bad_configs_are_clear_errors(change, match):
    data = copy.deepcopy(TINY)
    for key, value in change.items():
        if key == "run":
            data["run"].update(value)
        else:
            data[key] = value
    with pytest.raises((ValueError, TypeError), match=match):
        parse_config(data)


def test_the_embedded_configs_parse_and_round_trip_through_toml():
    for name in ("default", "full", "quick", "paper"):
        config = load_config(name)
        assert parse_config(tomllib.loads(dumps(config.to_dict()))) == config
        assert config.methods == PAPER_METHODS
        assert set(config.metrics) == set(available_metrics())
    with pytest.raises(FileNotFoundError, match="default"):
        load_config("no-such-config.toml")
    # The default is the full run with the ResNet18 at one seed (docs/results.md).
    default, full = load_config("default"), load_config("full")
    assert [default.seeds_of(m) for m in default.models] == [(0, 1, 2), (0,)]
    assert [full.seeds_of(m) for m in full.models] == [(0, 1, 2), (0, 1, 2)]
    assert dataclasses.replace(default, models=full.models, name="full") == full


def test_method_sets_name_the_paper_methods_by_default_or_every_registered_method():
    data = tomllib.loads(dumps(load_config("quick").to_dict()))
    del data["methods"]["names"]
    assert parse_config(data).methods == PAPER_METHODS
    data["methods"]["names"] = "all"
    assert parse_config(data).methods == tuple(available_methods())
    for bad in ("everything", "Paper", []):
        data["methods"]["names"] = bad
        with pytest.raises(TypeError, match="'paper' or 'all' or a non-empty list"):
            parse_config(data)


def test_shards_split_the_groups_round_robin():
    groups = [GroupKey("d", "m", seed) for seed in range(5)]
    shares = [shard_groups(groups, i, 3) for i in (1, 2, 3)]
    assert sorted(g.seed for share in shares for g in share) == list(range(5))
    assert [g.seed for g in shares[0]] == [0, 3]
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "2", "a/b"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def test_figure_indices_take_the_classes_in_turn():
    labels = torch.tensor([1, 1, 0, 1, 0, 2])
    assert figure_indices(labels, 4).tolist() == [2, 0, 5, 4]


def test_the_cli_reports_a_config_error_and_exits_2(tmp_path, caplog):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[methods]\nnames = ["gradcam", "nope"]\n[[datasets]]\nname = "mni-sks"\n'
        '[[models]]\nname = "shallow-cnn"\n'
    )
    assert main(["run", "--config", str(bad), "--output", str(tmp_path / "out")]) == 2
    assert "nope" in caplog.text and "ifim-sensitive" in caplog.text
    assert not (tmp_path / "out").exists()


def test_a_model_can_be_restricted_to_some_datasets():
    from comparisons.run._plan import groups_of

    data = copy.deepcopy(TINY)
    data["datasets"].append({"name": "mni-sks-3class", "options": {"num_train": 30}})
    data["models"].append({"name": "resnet18", "datasets": ["mni-sks"]})
    groups = groups_of(parse_config(data))
    assert {(g.dataset, g.model) for g in groups} == {
        ("mni-sks", "shallow-cnn"),
        ("mni-sks-3class", "shallow-cnn"),
        ("mni-sks", "resnet18"),
    }
    data["models"][1]["datasets"] = ["lumpy"]
    with pytest.raises(ValueError, match="mni-sks-3class"):
        parse_config(data)


def test_one_dataset_twice_needs_labels_and_the_label_names_its_groups():
    from comparisons.run._plan import groups_of

    data = copy.deepcopy(TINY)
    data["datasets"].append({"name": "mni-sks", "options": {"num_train": 30}})
    with pytest.raises(ValueError, match="distinct dataset labels"):
        parse_config(data)
    data["datasets"][1]["options"]["label"] = "mni-sks-small"
    config = parse_config(data)
    assert {g.dataset for g in groups_of(config)} == {"mni-sks", "mni-sks-small"}
    assert config.datasets[1].load_options() == {"num_train": 30}


def test_every_row_a_cell_writes_is_declared_by_a_metric_entry(full_run):
    from comparisons.metrics import ROW_DIRECTIONS

    folder, _ = full_run
    method_rows = {r.metric for r in folder.rows() if r.method}
    assert method_rows <= set(ROW_DIRECTIONS), sorted(method_rows - set(ROW_DIRECTIONS))


def test_both_report_commands_rewrite_the_tables_from_the_cells(full_run, tmp_path):
    import shutil

    from comparisons.reporting.__main__ import main as reporting_main

    folder, _ = full_run
    expected = (folder.path / "results.json").read_text()
    for command in (lambda d: main(["report", str(d)]), lambda d: reporting_main([str(d)])):
        copy_dir = tmp_path / f"copy{len(list(tmp_path.iterdir()))}"
        shutil.copytree(folder.path, copy_dir)
        (copy_dir / "results.json").unlink()
        assert command(copy_dir) == 0
        assert (copy_dir / "results.json").read_text() == expected
        assert (copy_dir / "report.md").is_file()
    assert main(["report", str(tmp_path / "not-a-run")]) == 2
    assert not (tmp_path / "not-a-run").exists()
