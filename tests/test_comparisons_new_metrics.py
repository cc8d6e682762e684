"""The metric families of issue 23 in the harness (items 3-5): every new harness entry
writes rows with per-example values on a tiny run, which get intervals, paired tests
against the iFIM and ranks in their direction; the method x family rank table and figure
and one critical-difference diagram per family are written; a metric of your own through
``[[metrics.custom]]`` and through ``compare()`` gives the same rows, and every bad
definition is refused when the config loads."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import torch
from captum.attr import Saliency
from torch import nn

from captum_ifim.metrics import METRICS, available_metrics
from captum_ifim.metrics._registry import FAMILY_INFOS
from comparisons import compare
from comparisons.config import parse_config
from comparisons.datasets import ImageDataset, ImageSplit
from comparisons.metrics import (
    HARNESS_METRICS,
    CellData,
    get_harness_metric,
    row_direction,
    run_metric,
)
from comparisons.metrics._custom_metric import installed_custom_metrics, uninstall_custom_metric
from comparisons.reporting import write_report
from comparisons.reporting._family_ranks import family_ranks, family_ranks_table, row_family
from comparisons.run import run
from comparisons.run._group_data import evaluation_indices
from comparisons.statistics import RankAnalysis

NEW = [info.name for info in FAMILY_INFOS]
CUSTOM = "top-share"


def top_share(*, inputs, targets, maps, fraction=0.25):
    """Share of the channel-summed |map| in its top ``fraction`` of locations (one per
    example, higher = more concentrated): a metric of one's own, checkable by hand."""
    del inputs, targets
    values = maps.abs().sum(dim=1).flatten(1)
    k = max(1, int(fraction * values.shape[1]))
    return values.topk(k, dim=1).values.sum(dim=1) / values.sum(dim=1).clamp_min(1e-12)


top_share.direction = "higher"
top_share.needs = ["map"]


def spread(*, inputs, targets, maps):
    """Another definition under the same name (a resume with it is refused)."""
    return maps.flatten(1).std(dim=1)


def _custom_table(**change):
    table = {
        "name": CUSTOM,
        "factory": "tests.test_comparisons_new_metrics:top_share",
        "direction": "higher",
        "needs": ["map"],
    }
    return {**table, **change}


def _config_data(**metrics_change):
    data = {
        "run": {
            "name": "new-metrics",
            "seeds": [0, 1],
            "eval_examples": 6,
            "batch_size": 3,
            "figure_examples": 0,
            "num_threads": 1,
        },
        "datasets": [
            {
                "name": "mni-sks",
                "options": {"num_train": 32, "num_val": 8, "num_test": 12, "image_size": 16},
            }
        ],
        "models": [{"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 16}}],
        "methods": {"names": ["ifim-sensitive", "saliency", "gradcam"]},
        "metrics": {
            "names": [*NEW, CUSTOM],
            "custom": [_custom_table()],
            "options": {"region-perturbation": {"patch_size": 4}},
        },
    }
    data["metrics"].update(metrics_change)
    return data


@pytest.fixture(scope="module", autouse=True)
def _custom_metrics_removed_after():
    """The custom metrics these tests install leave the registries with them, so the other
    test files see the built-in metrics only."""
    yield
    for name in installed_custom_metrics():
        uninstall_custom_metric(name)
    assert CUSTOM not in METRICS and CUSTOM not in HARNESS_METRICS


@pytest.fixture(scope="module")
def new_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("new-metrics")
    folder = run(
        parse_config(_config_data()), root / "run", cache_dir=root / "cache", progress=False
    )
    folder.write_tables()
    write_report(folder.path)
    return folder, root


def test_every_new_metric_is_registered_with_its_harness_entry():
    for name in NEW:
        assert name in METRICS and name in HARNESS_METRICS, name
        assert name in available_metrics()
        entry = get_harness_metric(name)
        # each row ranks in the library's direction
        for row in entry.rows:
            expected = "higher" if METRICS[name].higher_is_better else "lower"
            assert row_direction(row.name).direction == expected, name
            assert row.statistic is not None, name
    # the default config runs them all ("all"), the custom ones of other configs never
    assert set(NEW) <= set(
        parse_config(
            {"datasets": [{"name": "mni-sks"}], "models": [{"name": "shallow-cnn"}]}
        ).metrics
    )


def test_each_new_entry_writes_rows_with_per_example_values(new_run):
    folder, _ = new_run
    rows = folder.rows()
    for name in [*NEW, CUSTOM]:
        mine = [r for r in rows if r.metric == name]
        methods = {r.method for r in mine}
        assert methods == {"ifim-sensitive", "saliency", "gradcam"}, name
        assert {r.seed for r in mine} == {0, 1}, name
        assert all(r.n >= 1 for r in mine), (name, [r.n for r in mine])
    for row in rows:
        if row.metric == CUSTOM:
            assert 0.25 <= row.value <= 1.0  # a top-quarter share of |map|
        if row.metric in ("sparseness", "mask-roc-auc", "relevance-rank-accuracy"):
            assert 0.0 <= row.value <= 1.0


def test_the_report_pairs_ranks_and_summarizes_them_by_family(new_run):
    folder, _ = new_run
    path = folder.path
    with open(path / "paired.csv", newline="") as handle:
        paired = list(csv.DictReader(handle))
    paired_metrics = {r["metric"] for r in paired}
    assert set(NEW) | {CUSTOM} <= paired_metrics
    assert {r["reference"] for r in paired if r["metric"] in NEW} == {"ifim-sensitive"}
    with open(path / "ranks.csv", newline="") as handle:
        ranked = {r["metric"] for r in csv.DictReader(handle)}
    assert set(NEW) | {CUSTOM} <= ranked
    figures = path / "figures"
    assert (figures / "family_ranks.png").is_file()
    for family in (
        "faithfulness",
        "robustness",
        "localization",
        "randomization",
        "complexity",
        "custom",
    ):
        assert (figures / f"critical_difference__{family}.png").is_file(), family
    latex = (path / "tables" / "family_ranks.tex").read_text()
    assert "complexity" in latex and "ifim-sensitive" in latex and "\\toprule" in latex
    report = (path / "report.md").read_text()
    assert "family_ranks.png" in report and "critical_difference__complexity.png" in report
    assert "## Appendix: config.toml" in report and "tests.test_comparisons_new_metrics" in report


def _analysis(metric, ranks):
    methods = ("a", "b", "c")
    ranks = np.asarray(ranks, dtype=float)
    return RankAnalysis(
        metric,
        "",
        methods,
        tuple(("d", "m", s) for s in range(len(ranks))),
        ranks,
        1.0,
        0.5,
        pd.DataFrame(np.ones((3, 3)), index=methods, columns=methods),
        (),
        0,
    )


def test_family_ranks_average_the_family_s_mean_ranks_by_hand():
    analyses = [
        _analysis("sparseness", [[1, 2, 3], [1, 3, 2]]),  # mean ranks a 1, b 2.5, c 2.5
        _analysis("complexity", [[3, 2, 1], [2, 1, 3]]),  # a 2.5, b 1.5, c 2
        _analysis("random-logit", [[2, 1, 3], [2, 1, 3]]),  # a 2, b 1, c 3
    ]
    frame = family_ranks(analyses)
    assert list(frame.columns) == ["randomization", "complexity"]
    assert frame.loc["a", "complexity"] == pytest.approx((1 + 2.5) / 2)
    assert frame.loc["b", "complexity"] == pytest.approx((2.5 + 1.5) / 2)
    assert frame.loc["c", "randomization"] == pytest.approx(3.0)
    assert frame.attrs["analyses"] == {"randomization": 1, "complexity": 2}
    table = family_ranks_table(analyses)
    # the best (lowest) mean rank of each family is bold
    assert table.rows[1] == ("b", "**1.0**", "2.0")
    assert row_family("pointing-game") == "localization"
    assert row_family("not-a-row") == "other"


def _toy_data():
    torch.manual_seed(0)
    images = torch.rand(10, 1, 8, 8)
    labels = torch.arange(10) % 2
    split = ImageSplit(images, labels, None)
    dataset = ImageDataset("toy", ("0", "1"), split, split, split, 0.5, 0.3, (0.0, 1.0))
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(192, 2)
    ).eval()
    return model, dataset, images, labels


def test_your_own_metric_through_config_and_compare_gives_the_same_rows():
    model, dataset, images, labels = _toy_data()
    given = compare(
        model,
        dataset,
        methods=["saliency"],
        metrics={CUSTOM: top_share},
        eval_examples=4,
        figure_examples=0,
    )
    declared = compare(
        model,
        dataset,
        methods=["saliency"],
        eval_examples=4,
        figure_examples=0,
        metrics={CUSTOM: {"function": top_share, "direction": "higher", "needs": ["map"]}},
    )
    keep = ["method", "metric", "setting", "value", "n"]
    first = given.loc[given.metric == CUSTOM, keep].reset_index(drop=True)
    assert len(first) == 1 and first.n[0] == 4
    pd.testing.assert_frame_equal(
        first, declared.loc[declared.metric == CUSTOM, keep].reset_index(drop=True)
    )
    # the config's factory entry runs the same function on the same maps
    config = parse_config(_config_data(names=[CUSTOM], options={}))
    assert config.metrics == (CUSTOM,)
    assert config.to_dict()["metrics"]["custom"][0]["factory"].endswith(":top_share")
    saliency = Saliency(model)
    evaluated = evaluation_indices(dataset.test.labels, 4)  # the images compare evaluates
    x, y = images[evaluated], labels[evaluated]
    cell = CellData(
        "saliency",
        model,
        dataset,
        x,
        y,
        y,
        None,
        saliency.attribute(x, target=y),
        None,
        saliency,
        Saliency,
        0,
        4,
        lambda eps: x,
    )
    (value,) = run_metric(CUSTOM, cell, {})
    assert value.value == pytest.approx(float(first.value[0]), rel=1e-6)
    # by hand: the share of |map| in the top quarter of its 64 locations
    share = top_share(inputs=x, targets=y, maps=cell.maps)
    assert value.value == pytest.approx(float(share.double().mean()), rel=1e-9)
    options = {"fraction": 1.0}
    (whole,) = run_metric(CUSTOM, cell, options)
    assert whole.value == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"names": ["not-a-metric"]}, ValueError, "not-a-metric"),
        ({"options": {CUSTOM: {"window": 3}}}, ValueError, "unknown option.*window"),
        ({"custom": [_custom_table(direction=None)]}, ValueError, "direction"),
        (
            {"custom": [{k: v for k, v in _custom_table().items() if k != "direction"}]},
            ValueError,
            "direction",
        ),
        ({"custom": [_custom_table(direction="up")]}, ValueError, "direction"),
        (
            {"custom": [_custom_table(factory="tests.nowhere:top_share")]},
            ValueError,
            "cannot import",
        ),
        (
            {"custom": [_custom_table(factory="tests.test_comparisons_new_metrics:nothing")]},
            ValueError,
            "cannot import",
        ),
        (
            {"custom": [_custom_table(name="irof")], "names": ["irof"]},
            ValueError,
            "built-in metric",
        ),
        (
            {
                "custom": [_custom_table(name="randomization-similarity")],
                "names": ["randomization-similarity"],
            },
            ValueError,
            "result row",
        ),
        ({"custom": [_custom_table(), _custom_table()]}, ValueError, "distinct"),
        ({"custom": [_custom_table(needs=["map", "weights"])]}, ValueError, "needs"),
        ({"custom": [_custom_table(needs=["model", "map"])]}, TypeError, "model"),
        ({"custom": [_custom_table(family="beauty")]}, ValueError, "family"),
        ({"custom": [_custom_table(colour="red")]}, ValueError, "unknown key"),
        ({"custom": [_custom_table(name="no spaces")]}, ValueError, "name"),
        ({"options": {"road-morf": {"percentages": [0, 50]}}}, ValueError, "percentages"),
        (
            {"options": {"faithfulness-correlation": {"subset_fraction": 2}}},
            ValueError,
            "subset_fraction",
        ),
        ({"options": {"random-logit": {"similarity": "cosine"}}}, ValueError, "similarity"),
        ({"options": {"avg-sensitivity": {"n_samples": 0}}}, ValueError, "n_samples"),
        ({"options": {"irof": {"baseline": "grey"}}}, ValueError, "baseline"),
    ],
)
def test_bad_metric_definitions_are_refused_when_the_config_loads(change, error, match):
    with pytest.raises(error, match=match):
        parse_config(_config_data(**change))


def test_steps_and_patches_beyond_the_images_are_refused_before_training():
    for name, options in [
        ("pixel-flipping", {"steps": 257}),
        ("monotonicity-correlation", {"steps": 300}),
        ("region-perturbation", {"patch_size": 17}),
    ]:
        entry = get_harness_metric(name)
        with pytest.raises(ValueError, match="expected"):
            entry.check_images(entry.resolved_options(options), (1, 16, 16))
        entry.check_images(entry.resolved_options({}), (1, 16, 16))  # defaults fit 16 px
    # region perturbation's default patch is 8 x 8, at most the smallest side
    region = get_harness_metric("region-perturbation")
    region.check_images(region.resolved_options({}), (1, 5, 5))
    with pytest.raises(ValueError, match="patch_size"):
        region.resolved_options({"patch_size": 0})


def test_compare_refuses_a_function_without_a_direction_before_anything_runs():
    model, dataset, *_ = _toy_data()

    def plain(*, inputs, targets, maps):
        return maps.flatten(1).mean(dim=1)

    with pytest.raises(ValueError, match="direction"):
        compare(model, dataset, methods=["saliency"], metrics={"plain": plain})
    with pytest.raises(ValueError, match="built-in metric 'irof'"):
        compare(model, dataset, methods=["saliency"], metrics={"irof": plain})


def test_a_resume_with_another_definition_of_your_metric_is_refused(new_run):
    folder, root = new_run
    stored = (folder.path / "config.toml").read_text()
    assert "tests.test_comparisons_new_metrics:top_share" in stored
    before = (folder.path / "config.json").read_text()
    other = _config_data(
        custom=[_custom_table(factory="tests.test_comparisons_new_metrics:spread")]
    )
    try:
        with pytest.raises(ValueError, match="another config"):
            run(parse_config(other), folder.path, cache_dir=root / "cache", progress=False)
    finally:
        parse_config(_config_data())  # the first definition back for the other tests
    assert (folder.path / "config.json").read_text() == before


def test_a_metric_given_in_python_is_recorded_with_its_direction_and_needs():
    from comparisons.config._python_config import python_config

    config = python_config(
        dataset_label="d",
        dataset_fingerprint="0",
        model_name="m",
        model_fingerprint="0",
        preprocessing=None,
        methods=["saliency"],
        metrics={CUSTOM: top_share, "irof": {"n_segments": 4}},
        method_options=None,
        metric_options=None,
        seeds=(0,),
        device="cpu",
        eval_examples=2,
        run_options={},
        model_layers={},
    )
    table = config.to_dict()["metrics"]
    assert table["custom"] == [
        {
            "name": CUSTOM,
            "python_object": f"{__name__}.top_share",
            "direction": "higher",
            "needs": ["map"],
            "family": "custom",
        }
    ]
    assert table["options"] == {"irof": {"n_segments": 4}}
    assert parse_config(json.loads(json.dumps(config.to_dict()))) == config


def test_the_docs_cost_table_lists_every_new_metric_with_its_images():
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    section = page.split("## In the harness")[1].split("## Your own metric")[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| `")]
    assert [r[0].strip().strip("`") for r in rows] == NEW
    for name, family, _, images, *costs in rows:
        name = name.strip().strip("`")
        assert family.strip() == METRICS[name].category, name
        count = get_harness_metric(name).defaults["max_examples"]
        assert images.strip() == ("all" if count is None else str(count)), name
        assert all(cost.strip().split()[1] == "ms" for cost in costs), name
