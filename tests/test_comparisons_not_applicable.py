"""A method that refuses a model (DeepSHAP on a transformer) leaves a done cell without rows,
not a failure: the run succeeds, a rerun does not retry it, and the model pairs go ahead."""

from __future__ import annotations

from pathlib import Path

import pytest

from comparisons.config import parse_config
from comparisons.run import merge, run
from comparisons.run._plan import plan_run
from comparisons.run_folder import RunFolder

TINY = {
    "run": {
        "name": "not-applicable",
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
            "options": {"num_train": 16, "num_val": 8, "num_test": 8, "image_size": 16},
        }
    ],
    "models": [
        {"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 8}},
        {
            "name": "vit",
            "options": {"patch_size": 4, "embed_dim": 16, "depth": 1, "num_heads": 2},
            "training": {"epochs": 1, "batch_size": 8},
        },
    ],
    "methods": {"names": ["saliency", "deepshap"]},
    "metrics": {"names": ["sparseness"]},
}
VIT_DEEPSHAP = "lumpy-sks__vit__seed0__deepshap"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[RunFolder, Path]:
    root = tmp_path_factory.mktemp("not-applicable")
    return run(parse_config(TINY), root / "run", cache_dir=root / "cache", progress=False), root


def test_the_refused_cell_is_done_without_rows_and_not_failed(tiny_run):
    folder, _ = tiny_run
    assert folder.failed == []
    reasons = folder.not_applicable()
    assert list(reasons) == [VIT_DEEPSHAP]
    assert "layer_norm" in reasons[VIT_DEEPSHAP] or "LayerNorm" in reasons[VIT_DEEPSHAP]
    rows = folder.rows()
    assert not [r for r in rows if r.model == "vit" and r.method == "deepshap"]
    assert [r for r in rows if r.model == "shallow-cnn" and r.method == "deepshap"]
    assert not folder.layout.cell(VIT_DEEPSHAP).exists()


def test_the_model_pair_compares_the_methods_both_models_have(tiny_run):
    folder, _ = tiny_run
    pairs = {(r.model, r.method) for r in folder.rows() if "|" in r.model}
    assert pairs == {("shallow-cnn|vit", "saliency")}


def test_a_rerun_does_not_retry_it_and_a_merge_keeps_it(tiny_run, tmp_path):
    folder, root = tiny_run
    config = parse_config(TINY)
    assert plan_run(config, folder, None).cells_to_run == 0
    again = run(config, folder.path, cache_dir=root / "cache", progress=False)
    assert again.not_applicable() == folder.not_applicable() and again.failed == []
    merged, missing = merge(tmp_path / "merged", [folder.path])
    assert list(merged.not_applicable()) == [VIT_DEEPSHAP] and missing == []


def test_the_report_says_not_applicable_not_failed(tiny_run):
    from comparisons.reporting import write_report

    folder, _ = tiny_run
    folder.write_tables()
    text = write_report(folder.path).read_text(encoding="utf-8")
    assert "## Methods that do not apply to a model" in text
    assert "- lumpy-sks / vit, `deepshap`, seed 0: `expected a model that DeepSHAP" in text
    assert "## Failed cells" not in text


def test_coverage_takes_the_refused_cell_out_of_the_plan(tiny_run):
    from comparisons.run_folder._contents import read_run_contents
    from comparisons.statistics._coverage import run_coverage

    folder, _ = tiny_run
    contents = read_run_contents(folder.path)
    coverage = run_coverage(parse_config(TINY), folder.rows(), contents.failed)
    assert coverage.complete and len(coverage.expected) == 3  # 4 planned, 1 refused
    assert coverage.failed_in_plan() == {}
