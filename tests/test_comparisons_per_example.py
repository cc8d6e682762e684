"""Per-example values in the run folder, and what the report builds from them.

A tiny harness run (two seeds, four methods, every metric) writes one per-example file per
cell; every stored value with per-example values is recomputed from the file alone and
must equal the row, every summary interval must bracket its mean, the cell's marker is
written after its per-example file, a merge copies them, and the report's exports (LaTeX
with booktabs, markdown, CSV; PNG, PDF and SVG) are written.
"""

from __future__ import annotations

import copy
import csv
import gzip
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from comparisons._cli import main
from comparisons.config import parse_config
from comparisons.metrics import ROW_STATISTICS, row_statistic
from comparisons.reporting import (
    ReportTable,
    RunSamples,
    latex_cell,
    recomputation_check,
    summarize,
    summary_intervals,
    write_report,
)
from comparisons.run import run
from comparisons.run_folder import (
    PER_EXAMPLE_COLUMNS,
    ExampleBlock,
    RunFolder,
    per_example_table,
    read_per_example,
    read_run_contents,
)
from comparisons.run_folder._per_example import per_example_bytes

METHODS = ["ifim-sensitive", "ifim-insensitive", "gradcam", "saliency"]
TINY = {
    "run": {
        "name": "tiny-stats",
        "seeds": [0, 1],
        "eval_examples": 8,
        "batch_size": 4,
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
    "methods": {"names": METHODS},
    "metrics": {
        "names": "all",
        "options": {
            "model-parameter-randomization": {"max_examples": 3, "max_layers": 2},
            "sensitivity-max": {"max_examples": 3, "n_perturb_samples": 2},
            "infidelity": {"max_examples": 4, "n_perturb_samples": 2},
            "kl-fidelity": {"epsilons": [1e-3, 1e-1]},
        },
    },
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    root = tmp_path_factory.mktemp("per-example")
    folder = run(
        parse_config(copy.deepcopy(TINY)), root / "run", cache_dir=root / "cache", progress=False
    )
    folder.write_tables()
    return folder


def test_every_cell_has_a_per_example_file_with_labels_and_test_indices(tiny_run) -> None:
    contents = read_run_contents(tiny_run.path)
    assert len(contents.per_example) == 2 * len(METHODS)
    for cell in contents.per_example:
        table = contents.load_per_example(cell)
        assert tuple(table.columns) == PER_EXAMPLE_COLUMNS
        # one true label and one test index per evaluated image, the same in every block
        by_position = table.groupby("position")[["test_index", "label"]].nunique()
        assert (by_position == 1).all().all()
        assert table["position"].between(0, 7).all() and (table["classes"] == 2).all()
        names = set(table["metric"])
        assert {"prediction-clean", "prediction-high-perturbed", "adversarial-correlation"} <= names
        predictions = table[table["metric"].str.startswith("prediction-")]["value"]
        assert set(predictions.unique()) <= {0.0, 1.0}
        signal = table[table["metric"] == "energy-in-mask"]
        assert len(signal) < 8  # signal-present images only, at their positions


def test_every_stored_value_is_recomputed_from_the_per_example_file_alone(tiny_run) -> None:
    contents = read_run_contents(tiny_run.path)
    samples = RunSamples(contents)
    check = recomputation_check(contents.rows, samples)
    with_rule = [r for r in contents.rows if r.method and row_statistic(r.metric) is not None]
    assert check.checked == len(with_rule) > 100
    assert check.mismatches == () and check.largest_gap < 1e-12
    assert {r.metric for r in with_rule} == set(ROW_STATISTICS)  # every rule is used
    # and by hand for two rows, from the file's own columns: a mean and an F1 difference
    row = next(r for r in with_rule if r.metric == "deletion-auc" and r.seed == 1)
    cell = next(c for c in contents.per_example if c.method == row.method and c.group.seed == 1)
    table = contents.load_per_example(cell)
    values = table[(table.metric == "deletion-auc")]["value"].to_numpy()
    assert np.nanmean(values) == pytest.approx(row.value, rel=1e-13)
    difference = next(
        r
        for r in with_rule
        if (r.metric, r.setting, r.method, r.seed)
        == ("f1-difference", "alpha=0.02", cell.method, 1)
    )
    blocks = {
        name: table[(table.metric == name) & (table.setting == "alpha=0.02")].sort_values(
            "position"
        )
        for name in ("prediction-low-perturbed", "prediction-high-perturbed")
    }
    low, high = (
        f1_score(b["label"], b["value"].astype(int), zero_division=0.0) for b in blocks.values()
    )
    assert low - high == pytest.approx(difference.value, abs=1e-15)
    # summary intervals bracket the means (per-example rows: two levels, two seeds)
    summary = summary_intervals(summarize(contents.rows), samples)
    resampled = [s for s in summary if s.ci_resampling == "seeds+examples"]
    assert resampled
    for s in resampled:
        if math.isfinite(s.mean) and s.has_interval:
            assert s.ci_low - 1e-12 <= s.mean <= s.ci_high + 1e-12, s.key


def test_the_per_example_file_is_written_before_the_cell_marker(tmp_path, monkeypatch) -> None:
    import comparisons.run_folder._folder as folder_module

    folder = RunFolder(tmp_path)
    order = []
    real_bytes, real_json = folder_module.write_bytes, folder_module.write_json
    monkeypatch.setattr(
        folder_module, "write_bytes", lambda p, d: (order.append(p.name), real_bytes(p, d))
    )
    monkeypatch.setattr(
        folder_module, "write_json", lambda p, d: (order.append(p.name), real_json(p, d))
    )
    table = per_example_table(
        [ExampleBlock("deletion-auc", "", np.arange(2), np.array([0.1, 0.2]))],
        np.array([5, 9]),
        np.array([0, 1]),
        2,
    )
    folder.write_cell("d__m__seed0__saliency", [], {"inputs": None}, table)
    assert order.index("d__m__seed0__saliency.csv.gz") < order.index("d__m__seed0__saliency.json")


def test_a_merge_copies_the_per_example_files(tiny_run, tmp_path) -> None:
    source = tmp_path / "source"
    shutil.copytree(tiny_run.path, source)
    (source / ".lock").unlink(missing_ok=True)
    merged = RunFolder(tmp_path / "merged")
    merged.path.mkdir()
    merged.copy_finished_from(RunFolder(source))
    copied = sorted(p.name for p in (merged.path / "per_example").glob("*.csv.gz"))
    assert copied == sorted(p.name for p in (source / "per_example").glob("*.csv.gz"))
    assert len(copied) == 2 * len(METHODS)


def test_the_file_round_trips_floats_exactly_and_refuses_a_foreign_file(tmp_path) -> None:
    values = np.array([0.1 + 0.2, np.nan, np.inf, -np.inf, 1 / 3, 5e-324, 2.0])
    table = per_example_table(
        [
            ExampleBlock("adversarial-correlation", "eps=0.01", np.arange(7), values),
            ExampleBlock("prediction-clean", "alpha=0.01", np.array([6, 0]), np.array([1.0, 0.0])),
        ],
        np.arange(10, 17),
        np.array([0, 1, 1, 0, 1, 0, 1]),
        2,
    )
    path = tmp_path / "cell.csv.gz"
    path.write_bytes(per_example_bytes(table))
    assert per_example_bytes(table) == path.read_bytes()  # deterministic bytes (gzip mtime 0)
    back = read_per_example(path)
    np.testing.assert_array_equal(back["value"].to_numpy()[:7], values)
    assert back["test_index"].tolist()[-2:] == [16, 10] and back["setting"].iloc[0] == "eps=0.01"
    (tmp_path / "bad.csv.gz").write_bytes(gzip.compress(b"a,b\n1,2\n"))
    with pytest.raises(ValueError, match="columns"):
        read_per_example(tmp_path / "bad.csv.gz")
    (tmp_path / "plain.csv.gz").write_text("not gzip")
    with pytest.raises(ValueError, match="gzipped"):
        read_per_example(tmp_path / "plain.csv.gz")
    with pytest.raises(ValueError, match="positions"):
        per_example_table(
            [ExampleBlock("x", "", np.array([9]), np.array([1.0]))], np.arange(2), np.zeros(2), 2
        )


# --- the report on the tiny run --------------------------------------------------------


@pytest.fixture(scope="module")
def reported(tiny_run, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("reported") / "run"
    shutil.copytree(tiny_run.path, target)
    write_report(target)
    return target


def test_the_report_joins_every_cell_into_one_tidy_per_example_file(reported) -> None:
    contents = read_run_contents(reported)
    joined = pd.read_csv(reported / "per_example.csv.gz", keep_default_na=False)
    assert list(joined.columns) == ["dataset", "model", "seed", "method", *PER_EXAMPLE_COLUMNS]
    cells = list(joined.groupby(["dataset", "model", "seed", "method"], sort=False))
    assert len(cells) == len(contents.per_example) >= 4
    for (dataset, model, seed, method), block in cells:
        cell = next(
            c
            for c in contents.per_example
            if (c.group.dataset, c.group.model, c.group.seed, c.method)
            == (dataset, model, seed, method)
        )
        own = contents.load_per_example(cell)
        assert len(block) == len(own)
        values = block["value"].astype(str).replace("", "nan").astype(float).to_numpy()
        np.testing.assert_array_equal(values, own["value"].to_numpy())  # exact, NaN = NaN
        assert block["metric"].tolist() == own["metric"].tolist()
    # one value by hand from the joined file alone: a cell's mean deletion AUC
    row = next(r for r in contents.rows if r.metric == "deletion-auc" and r.seed == 1)
    picked = joined[
        (joined.metric == "deletion-auc") & (joined.method == row.method) & (joined.seed == 1)
    ]
    values = picked["value"].astype(str).replace("", "nan").astype(float)
    assert np.nanmean(values) == pytest.approx(row.value, rel=1e-13)


def test_the_report_writes_paired_tests_verdicts_ranks_and_every_export(reported) -> None:
    with (reported / "paired.csv").open() as stream:
        paired = list(csv.DictReader(stream))
    assert {r["method"] for r in paired} == set(METHODS) - {"ifim-sensitive"}
    assert {r["test"] for r in paired} <= {"wilcoxon", "permutation", ""}
    assert any(r["metric"] == "f1-difference" and r["test"] == "permutation" for r in paired)
    summary = pd.read_csv(reported / "summary.csv", keep_default_na=False)
    assert {"ci_low", "ci_high", "ci_resampling"} <= set(summary.columns)
    ratio = summary[(summary.metric == "f1-difference") & (summary.method == "saliency")]
    assert (ratio.ci_resampling == "seeds+examples").all()
    report = (reported / "report.md").read_text()
    for heading in (
        "## The paper's claims: verdicts",
        "## Paired comparisons",
        "## Ranks across tasks",
        "## Statistics",
        "## Where the time went",
    ):
        assert heading in report
    assert re.search(r"\*\*(supported|contradicted|inconclusive)\*\*", report)
    assert "were recomputed from `per_example/` alone" in report
    tables = reported / "tables"
    stems = {p.stem for p in tables.glob("*.tex")}
    assert stems == {p.stem for p in tables.glob("*.md")} == {p.stem for p in tables.glob("*.csv")}
    assert {
        "verdicts",
        "paper_metrics__mni-sks__shallow-cnn",
        "paired_paper__mni-sks__shallow-cnn",
    } <= stems
    for png in (reported / "figures").glob("*.png"):
        assert png.with_suffix(".pdf").is_file() and png.with_suffix(".svg").is_file()
    assert (reported / "figures" / "metric_seconds.png").is_file()
    assert (reported / "figures" / "f1_difference.png").is_file()


def test_the_report_command_takes_the_table_formats(reported, tmp_path) -> None:
    target = tmp_path / "again"
    shutil.copytree(reported, target)
    shutil.rmtree(target / "tables")
    assert main(["report", str(target), "--format", "latex"]) == 0
    assert {p.suffix for p in (target / "tables").iterdir()} == {".tex"}
    assert main(["report", str(target), "--format", "csv", "--format", "markdown"]) == 0
    assert {p.suffix for p in (target / "tables").iterdir()} == {".tex", ".csv", ".md"}
    with pytest.raises(SystemExit):
        main(["report", str(target), "--format", "docx"])
    with pytest.raises(ValueError, match="table formats"):
        write_report(target, ["docx"])


def test_vector_figures_are_deterministic(reported, tmp_path) -> None:
    target = tmp_path / "twice"
    shutil.copytree(reported, target)
    before = {p.name: p.read_bytes() for p in (target / "figures").iterdir()}
    write_report(target)
    after = {p.name: p.read_bytes() for p in (target / "figures").iterdir()}
    assert after == before


# --- LaTeX -------------------------------------------------------------------------------

_SAMPLE_TABLE = ReportTable(
    name="sample",
    title="mni-sks / shallow-cnn: the paper's metrics (α, ε)",
    header=("method", "f1-ratio alpha=0.01 ↑", "adversarial-correlation eps=0.01 ↓", "p"),
    rows=(
        ("ifim-sensitive", "**3.30 [2.97, 3.63]**", "0.1 ± 0.02 †", "<0.001"),
        ("gradcam++", "inf", "— 50% & #1_x {y} ~ ^ \\", "0.03 ✗"),
    ),
)


def test_latex_tables_have_the_booktabs_structure_and_escape_everything() -> None:
    text = _SAMPLE_TABLE.latex()
    assert text.isascii()
    lines = text.splitlines()
    assert lines[0] == r"\begin{table}" and lines[-1] == r"\end{table}"
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert lines.count(rule) == 1
    assert r"\begin{tabular}{lrrr}" in lines
    body = lines[lines.index(r"\toprule") + 1 : lines.index(r"\bottomrule")]
    rows = [line for line in body if line != r"\midrule"]
    assert len(rows) == 3
    for line in rows:
        assert line.endswith(r"\\")
        assert len(re.findall(r"(?<!\\)&", line)) == 3  # 4 columns, every & in a cell escaped
    assert r"\textbf{3.30 [2.97, 3.63]}" in text and r"$\pm$" in text and r"\dag{}" in text
    assert r"\% \& \#1\_x \{y\} \textasciitilde{} \textasciicircum{} \textbackslash{}" in text
    assert text.count("{") == text.count("}")
    assert latex_cell("**a_b**") == r"\textbf{a\_b}"


def test_every_latex_table_of_a_report_is_ascii_with_balanced_braces(reported) -> None:
    for path in (reported / "tables").glob("*.tex"):
        text = path.read_text()
        assert text.isascii(), path.name
        assert text.count("{") - text.count(r"\{") == text.count("}") - text.count(r"\}")
        assert r"\toprule" in text and r"\bottomrule" in text


@pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="no pdflatex on this machine: the LaTeX tables are checked for structure only "
    "(test_latex_tables_have_the_booktabs_structure_and_escape_everything)",
)
def test_latex_tables_compile_with_booktabs(reported, tmp_path) -> None:
    tables = sorted((reported / "tables").glob("*.tex"))
    inputs = "\n".join([_SAMPLE_TABLE.latex(), *(p.read_text() for p in tables)])
    document = (
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[margin=5mm,"
        "paperwidth=60cm,paperheight=200cm]{geometry}\n\\begin{document}\n"
        f"{inputs}\n\\end{{document}}\n"
    )
    (tmp_path / "tables.tex").write_text(document)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "tables.pdf").stat().st_size > 1000
