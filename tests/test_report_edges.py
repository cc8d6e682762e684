"""The report at its edges (issue 21, items 7, 8 and 10, and two fault-injection findings).

Small real runs of the harness (the SMALL config of ``test_comparisons_robustness``, a few
seconds each) and hand-made inputs: the maps figure keeps one colormap per column and names
the classes, the classifiers section gives the hash of given weights, and the harness's log
line of an infinite F1 ratio names its cell.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import logging
import math
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import comparisons.reporting._bar_figures as bar_module
import comparisons.reporting._map_grid_figure as map_grid_module
import comparisons.run._runner as runner_module
from comparisons.config import parse_config
from comparisons.metrics import HARNESS_METRICS, CellData
from comparisons.models import build_model
from comparisons.reporting import report_run_folder, write_report
from comparisons.reporting._map_grid_figure import map_grid_figure, volume_grid_figure
from comparisons.reporting._spectrum_figure import spectrum_figure
from comparisons.reporting._timing_figure import timing_figure
from comparisons.run import run
from comparisons.run_folder import CellKey, GroupKey, RunFolder
from tests.test_comparisons_robustness import small

GROUP = "mni-sks__shallow-cnn__seed0"


def _section(report: str, title: str) -> str:
    """The text of the report's ``## title`` section (up to the next ``## ``)."""
    start = report.index(f"## {title}")
    end = report.find("\n## ", start + 1)
    return report[start : end if end >= 0 else None]


def _run(root: Path, name: str, data: dict) -> RunFolder:
    folder = run(parse_config(data), root / name, cache_dir=root / "cache")
    folder.write_tables()
    return folder


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> RunFolder:
    """SMALL with saliency and gradcam on a trained model (one seed)."""
    return _run(tmp_path_factory.mktemp("edges"), "trained", small())


@pytest.fixture(scope="module")
def given_run(tmp_path_factory) -> tuple[RunFolder, Path]:
    """SMALL with the model given with its weights (a state-dict file)."""
    root = tmp_path_factory.mktemp("given")
    torch.manual_seed(0)
    weights = root / "weights.pt"
    torch.save(build_model("shallow-cnn", 1, 2, (16, 16)).state_dict(), weights)
    data = small()
    data["models"] = [{"name": "shallow-cnn", "weights": str(weights)}]
    data["methods"] = {"names": ["saliency"]}
    return _run(root, "given", data), weights


# --- item 7: the report -------------------------------------------------------------------


def _columns(figure: Figure, n_cols: int) -> list[list]:
    """The images of each column of a grid figure, the input's column first."""
    axes = [ax for ax in figure.axes if ax.images]
    return [[ax.images[0] for ax in axes[c::n_cols]] for c in range(n_cols)]


def test_a_map_column_keeps_one_colormap_chosen_from_all_its_rows() -> None:
    torch.manual_seed(0)
    inputs = torch.rand(3, 1, 8, 8)
    signed = torch.rand(3, 1, 8, 8)
    signed[1] -= 0.5  # only the second image's map has both signs
    maps = {
        "saliency": signed,
        "gradcam": torch.rand(3, 1, 8, 8),
        "deepshap": torch.rand(3, 1, 8, 8),
    }
    normalized = {"saliency": False, "gradcam": True, "deepshap": False}
    figure = map_grid_figure(inputs, maps, normalized, [0, 1, 2])
    names = ["input", "gradcam", "deepshap", "saliency"]  # the grid's order
    columns = dict(zip(names, _columns(figure, 4), strict=True))
    saliency = columns["saliency"]
    assert {image.get_cmap().name for image in saliency} == {"RdBu_r"}  # every row
    for image, m in zip(saliency, signed, strict=True):
        low, high = image.get_clim()
        assert low == -high and high == pytest.approx(float(m.sum(dim=0).abs().max()))
    assert {image.get_cmap().name for image in columns["deepshap"]} == {"viridis"}
    assert all(image.get_clim()[0] == 0 for image in columns["deepshap"])
    assert {image.get_clim() for image in columns["gradcam"]} == {(0.0, 1.0)}


def test_a_volume_column_keeps_one_colormap_chosen_from_all_its_volumes() -> None:
    torch.manual_seed(0)
    maps = torch.rand(2, 1, 4, 4, 4)
    maps[0] -= 0.5  # the first volume's map is signed, the second is not
    figure = volume_grid_figure(torch.rand(2, 1, 4, 4, 4), {"saliency": maps}, {}, [0, 1])
    _, saliency = _columns(figure, 2)
    assert len(saliency) == 6 and {image.get_cmap().name for image in saliency} == {"RdBu_r"}
    assert all(image.get_clim()[0] == -image.get_clim()[1] for image in saliency)


def test_the_map_grid_rows_name_the_classes(trained_run, monkeypatch) -> None:
    record = trained_run.model_record(GROUP)
    assert record is not None and record["class_names"] == ["absent", "present"]
    drawn: list[Figure] = []
    real = map_grid_module.save_figure
    monkeypatch.setattr(
        map_grid_module, "save_figure", lambda f, path: (drawn.append(f), real(f, path))[1]
    )
    write_report(trained_run.path)
    (figure,) = drawn
    labels = [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel()]
    assert labels and all("y=absent" in label or "y=present" in label for label in labels), labels
    assert all("pred=absent" in label or "pred=present" in label for label in labels)


def test_the_classifiers_section_gives_the_hash_of_given_weights(given_run) -> None:
    folder, weights = given_run
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    classifiers = _section(write_report(folder.path).read_text(), "Classifiers")
    assert digest in classifiers and weights.name in classifiers


def test_the_log_line_of_an_infinite_f1_ratio_names_its_cell(caplog) -> None:
    class Constant(torch.nn.Module):  # always class 0: F1 of class 1 is 0 everywhere
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.stack([x.flatten(1).sum(1) * 0 + 1, x.flatten(1).sum(1) * 0], dim=1)

    inputs = torch.rand(4, 1, 8, 8)
    maps = torch.rand(4, 1, 8, 8)
    cell = CellData(
        method="saliency",
        model=Constant(),
        dataset=SimpleNamespace(pixel_mean=0.5, pixel_std=0.1),
        inputs=inputs,
        labels=torch.tensor([0, 1, 0, 1]),
        targets=torch.tensor([0, 1, 0, 1]),
        masks=None,
        maps=maps,
        low_maps=None,
        explainer=None,
        explainer_factory=lambda model: None,
        noise_seed=0,
        batch_size=4,
        adversarial_inputs=lambda eps: inputs,
        name="mni-sks__shallow-cnn__seed3__saliency",
    )
    entry = HARNESS_METRICS["contrastive-perturbation"]
    with caplog.at_level(logging.WARNING):
        entry.runner(cell, entry.resolved_options({}))
    lines = [r.getMessage() for r in caplog.records if "F1 after perturbing" in r.getMessage()]
    assert lines and all("mni-sks__shallow-cnn__seed3__saliency" in line for line in lines)
    # the library's own text is kept whole
    assert all("F1 after perturbing the high set is 0 at fractions" in line for line in lines)


# --- fault injection: statistics that cannot be computed ------------------------------------

CLAIMS_METHODS = ["ifim-sensitive", "ifim-insensitive", "saliency"]
CLAIMS_METRICS = {"names": ["contrastive-perturbation", "adversarial-correlation"]}


def test_one_evaluated_image_still_gives_the_report_saying_what_has_no_test(tmp_path) -> None:
    data = small(eval_examples=1)
    data["methods"] = {"names": CLAIMS_METHODS}
    data["metrics"] = CLAIMS_METRICS
    folder = _run(tmp_path, "one-image", data)
    assert folder.failed == []
    report = write_report(folder.path).read_text()  # raised in permutation_test before
    contrasts = list(csv.DictReader((folder.path / "paired.csv").open()))
    set_level = [c for c in contrasts if c["metric"] == "f1-difference"]
    assert set_level and all(c["p_value"] == "" and c["test"] == "" for c in set_level)
    assert all("fewer than 2 paired examples" in c["note"] for c in set_level)
    assert "fewer than 2 paired examples" in report


# --- item 8: a report on a partial run says so ----------------------------------------------


@pytest.fixture(scope="module")
def claims_run(tmp_path_factory) -> RunFolder:
    """Two seeds, the reference and two other methods, the paper's two metrics."""
    data = small(seeds=[0, 1])
    data["methods"] = {"names": CLAIMS_METHODS}
    data["metrics"] = CLAIMS_METRICS
    return _run(tmp_path_factory.mktemp("claims"), "claims", data)


def _verdict_lines(report: str) -> list[str]:
    verdicts = _section(report, "The paper's claims: verdicts")
    return [line for line in verdicts.splitlines() if line.lstrip().startswith("- ")]


def _head(report: str) -> str:
    """The report above its first section."""
    return report[: report.index("\n## ")]


def test_a_complete_run_reads_as_complete(claims_run, tmp_path) -> None:
    shutil.copytree(claims_run.path, tmp_path / "run")
    report = report_run_folder(tmp_path / "run").read_text()
    assert "provisional" not in report and "partial" not in _head(report).lower()
    assert "6 of 6 cells" in _section(report, "What was run")
    assert _verdict_lines(report)


def test_a_partial_run_says_so_at_the_top_and_in_every_verdict(claims_run, tmp_path) -> None:
    shutil.copytree(claims_run.path, tmp_path / "run")
    for cell in (tmp_path / "run" / "cells").glob("*__seed1__*.json"):
        cell.unlink()  # seed 1 not run yet: 3 of the 6 cells
    report = report_run_folder(tmp_path / "run").read_text()
    head = _head(report)
    assert "Partial run" in head and "3 of 6 cells" in head
    assert re.search(r"[Ss]eeds? missing: `1`", head), head
    lines = _verdict_lines(report)
    assert lines and all("provisional" in line.lower() for line in lines), lines
    table = _section(report, "The paper's claims: verdicts")
    rows = [line for line in table.splitlines() if line.startswith("| mni-sks")]
    assert rows and all("(provisional)" in row for row in rows)
    assert "Provisional: from a partial run" in _section(report, "Reading the results")


def test_a_missing_method_is_named_as_incomplete(claims_run, tmp_path) -> None:
    shutil.copytree(claims_run.path, tmp_path / "run")
    (tmp_path / "run" / "cells" / f"{GROUP}__saliency.json").unlink()
    report = report_run_folder(tmp_path / "run").read_text()
    head = _head(report)
    assert "5 of 6 cells" in head
    assert re.search(r"[Mm]ethods? incomplete: `saliency` \(1 of 2 cells\)", head), head
    assert re.search(r"[Ss]eeds? incomplete: `0` \(2 of 3 cells\)", head), head


# --- fault injection: a method that failed in every cell ------------------------------------

BREAKS = "RuntimeError: a method that breaks"


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory) -> RunFolder:
    """The claims run with gradcam, which fails in every cell."""
    real = runner_module.run_cell

    def failing(config, cell, *args, **kwargs):
        if cell.method == "gradcam":
            raise RuntimeError("a method that breaks")
        return real(config, cell, *args, **kwargs)

    data = small(seeds=[0, 1])
    data["methods"] = {"names": [*CLAIMS_METHODS, "gradcam"]}
    data["metrics"] = CLAIMS_METRICS
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner_module, "run_cell", failing)
        folder = _run(tmp_path_factory.mktemp("failing"), "failing", data)
    assert len(folder.failed) == 2
    return folder


@pytest.fixture(scope="module")
def failing_report(failing_run) -> str:
    """The failing run's report, written once for the two tests that read it."""
    return write_report(failing_run.path).read_text()


def test_failed_cells_are_listed_with_their_reason(failing_report) -> None:
    report = failing_report
    failed = _section(report, "Failed cells")
    assert "gradcam" in failed and BREAKS in failed and "seeds 0, 1" in failed
    assert "6 of 8 cells (2 failed)" in _head(report)


def test_a_verdict_names_the_method_that_failed_as_not_compared(failing_report) -> None:
    report = failing_report
    sentences = [line for line in _verdict_lines(report) if line.startswith("    - ")]
    assert sentences and all(
        f"not compared: gradcam (failed in seeds 0, 1: {BREAKS})" in line for line in sentences
    ), sentences
    assert all("methods compared" in line for line in sentences if "better than" in line)


def test_a_method_not_compared_keeps_a_claim_from_being_supported() -> None:
    from comparisons.statistics import RunCoverage, claim_verdicts, holm_adjusted
    from tests.test_comparisons_statistics import _comparison, _summary_row

    metric, setting = "adversarial-correlation", "eps=0.1"
    summary = [_summary_row(m, metric, setting, (0.2,)) for m in ("ifim-sensitive", "saliency")]
    contrasts = holm_adjusted([_comparison(metric, setting, "saliency", -0.3, 0.001)])
    (alone,) = claim_verdicts(summary, contrasts)
    assert alone.verdict == "supported"  # better than every method compared
    cells = [CellKey(GroupKey("d", "m", 0), m) for m in ("ifim-sensitive", "saliency", "gradcam")]
    coverage = RunCoverage(tuple(cells), frozenset(cells[:2]), {cells[2]: BREAKS})
    (verdict,) = claim_verdicts(summary, contrasts, coverage)
    assert verdict.verdict == "inconclusive" and verdict.settings[0].verdict == "inconclusive"
    assert verdict.settings[0].not_compared == (("gradcam", f"failed in seed 0: {BREAKS}"),)


# --- item 10: figures -----------------------------------------------------------------------


def _drawn(monkeypatch, module) -> list[Figure]:
    """The figures ``module`` saves, kept (and saved) as they are drawn."""
    drawn: list[Figure] = []
    real = module.save_figure
    monkeypatch.setattr(module, "save_figure", lambda f, path: (drawn.append(f), real(f, path))[1])
    return drawn


def test_the_adversarial_figure_shows_the_differences_the_verdict_rests_on(
    tmp_path, monkeypatch
) -> None:
    from comparisons.statistics import holm_adjusted
    from tests.test_comparisons_statistics import _comparison, _summary_row

    metric, setting = "adversarial-correlation", "eps=0.03"
    summary = [
        dataclasses.replace(_summary_row(m, metric, setting, (v,)), ci_low=low, ci_high=high)
        for m, v, low, high in (
            ("ifim-sensitive", 0.938, 0.930, 0.945),
            ("saliency", 0.999, 0.998, 0.9995),
        )
    ]
    contrast = _comparison(metric, setting, "saliency", -0.061, 0.001)
    contrasts = holm_adjusted([dataclasses.replace(contrast, ci_low=-0.07, ci_high=-0.052)])
    drawn = _drawn(monkeypatch, bar_module)
    bar_module.write_adversarial_bars(summary, tmp_path / "adv.png")
    (means,) = [ax for ax in drawn[0].axes if "Pearson" in ax.get_ylabel()]
    low, high = means.get_ylim()
    assert low < 0.930 and high > 0.9995 and high - low < 0.2  # 0.938 and 0.999 apart
    # with the contrasts: a panel of ifim-sensitive minus each method, with its interval
    result = bar_module.write_adversarial_bars(summary, tmp_path / "adv.png", contrasts)
    assert result.path is not None
    (differences,) = [ax for ax in drawn[1].axes if "minus" in ax.get_ylabel()]
    low, high = differences.get_ylim()
    assert low < -0.07 and high > 0  # the interval and zero
    assert "ifim-sensitive minus" in result.caption


def test_the_spectrum_of_a_binary_model_has_integer_index_ticks() -> None:
    rng = np.random.default_rng(0)
    figure, _ = spectrum_figure({("d", "m"): rng.random((8, 1)) + 0.1})
    left = figure.axes[0]
    low, high = left.get_xlim()
    shown = [t for t in left.get_xticks() if low <= t <= high]
    assert shown == [1.0]


@pytest.mark.parametrize(
    ("seeds", "label"), [((0,), "1 seed"), ((0, 1, 2), "mean ± std over 3 seeds")]
)
def test_the_timing_figure_labels_what_it_shows(seeds, label) -> None:
    from tests.test_comparisons_statistics import _summary_row

    values = tuple(0.01 * (1 + s) for s in seeds)
    summary = [
        dataclasses.replace(
            _summary_row(m, "seconds-per-image", "", values),
            std=float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
        )
        for m in ("saliency", "gradcam")
    ]
    figure, _ = timing_figure(summary)
    title = figure.axes[0].get_title()
    assert label in title and ("±" in title) == (len(seeds) > 1), title


def test_without_a_config_the_plan_is_inferred_from_the_results() -> None:
    from comparisons.run_folder import ResultRow
    from comparisons.statistics import run_coverage

    rows = [
        ResultRow("d", "m", seed, method, "deletion-auc", "", 0.5, 4)
        for seed, method in ((0, "saliency"), (0, "gradcam"), (1, "saliency"))
    ]
    failed = {CellKey(GroupKey("d", "m", 2), "saliency"): BREAKS}
    coverage = run_coverage(None, rows, failed)
    assert not coverage.from_config and len(coverage.expected) == 6  # seeds 0-2 x 2 methods
    assert coverage.describe() == (
        "3 of 6 cells (1 failed, 2 not run yet); seeds missing: `2`; seeds incomplete: `1` "
        "(1 of 2 cells); methods incomplete: `gradcam` (1 of 3 cells)"
    )
    assert coverage.why_not_done("saliency") == f"failed in seed 2: {BREAKS}"
    assert coverage.why_not_done("gradcam") == "seeds 1, 2 not run yet"
