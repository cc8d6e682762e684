"""Tests of the harness's tables, figures and report (``comparisons.reporting``).

A small synthetic run folder in the fixed format (2 models x 2 seeds x 4 methods, every
row metric, 16 x 16 example maps with masks) is written once; the checks compare the
summary with numpy, the bold cells and the "Reading the results" sentences with values
chosen so that the right answer is known, and the figure files with the PNG signature.
"""

from __future__ import annotations

import json
import math
import re
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from comparisons.reporting import (
    ResultRow,
    best_indices,
    bounding_box,
    compare_method,
    format_mean_std,
    format_significant,
    load_results,
    metric_direction,
    paper_metrics_table,
    parse_example_name,
    read_run_contents,
    reading_findings,
    rows_from_records,
    select_examples,
    summarize,
    summary_csv,
    write_report,
)
from comparisons.reporting.__main__ import main
from comparisons.statistics import order_settings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATASET = "toy"
MODELS = ("cnn", "resnet18")
METHODS = ("ifim-sensitive", "ifim-insensitive", "gradcam", "saliency")
CLASSES = ("a", "b", "c")
ALPHAS = ("alpha=0.01", "alpha=0.02", "alpha=0.03")
EPS = "eps=0.03"
LAYERS = ("layer=fc", "layer=conv3", "layer=conv2", "layer=conv1")
N_EVAL = 20
N_FIGURE = 6
SIDE = 16

# The F1 ratio and adversarial correlation per (model, method): on "cnn" ifim-sensitive
# wins both, on "resnet18" gradcam has the highest F1 ratio and saliency the lowest
# correlation. Seed s adds (-1)^s * 0.1 * base, so the std is known by hand.
F1_RATIO = {
    "cnn": {"ifim-sensitive": 3.0, "ifim-insensitive": 1.0, "gradcam": 1.5, "saliency": 1.2},
    "resnet18": {"ifim-sensitive": 1.4, "ifim-insensitive": 1.0, "gradcam": 2.0, "saliency": 1.1},
}
ADV_CORR = {
    "cnn": {"ifim-sensitive": 0.1, "ifim-insensitive": 0.9, "gradcam": 0.8, "saliency": 0.5},
    "resnet18": {"ifim-sensitive": 0.6, "ifim-insensitive": 0.9, "gradcam": 0.7, "saliency": 0.3},
}
DELETION = {"ifim-sensitive": 0.4, "ifim-insensitive": 0.6, "gradcam": 0.2, "saliency": 0.5}
KL_FIDELITY = {"ifim-sensitive": 1.05, "ifim-insensitive": 0.8}


def _value(base: float, seed: int, alpha_index: int = 0) -> float:
    return base * (1 + 0.1 * alpha_index) * (1 + (0.1 if seed % 2 else -0.1))


def _append(
    rows: list[dict],
    model: str,
    seed: int,
    method: str,
    metric: str,
    setting: str,
    value: float | None,
    n: int,
) -> None:
    keys = ("dataset", "model", "seed", "method", "metric", "setting", "value", "n")
    rows.append(
        dict(zip(keys, (DATASET, model, seed, method, metric, setting, value, n), strict=True))
    )


def _records(seeds: tuple[int, ...], with_masks: bool, with_timing: bool) -> list[dict]:
    """Rows with the runner's metric names and settings (deletion ``baseline=``, ...)."""
    rows: list[dict] = []
    for model in MODELS:
        for seed in seeds:
            add = partial(_append, rows, model, seed)
            add("", "test-accuracy", "", 0.8 + 0.01 * seed, 30)
            for k, name in enumerate([*CLASSES, "macro"]):
                add("", "test-precision", f"class={name}", 0.7 + 0.02 * k + 0.01 * seed, 30)
                add("", "test-recall", f"class={name}", 0.6 + 0.03 * k - 0.01 * seed, 30)
            add("", "train-seconds", "", 12.0 + seed, 1)
            add("", "best-epoch", "", 11 + seed, 1)
            for index, method in enumerate(METHODS):
                for i, alpha in enumerate(ALPHAS):
                    add(method, "f1-ratio", alpha, _value(F1_RATIO[model][method], seed, i), N_EVAL)
                    add(method, "f1-clean", alpha, 0.8, N_EVAL)
                    add(method, "f1-high-perturbed", alpha, 0.3, N_EVAL)
                    add(method, "f1-low-perturbed", alpha, 0.7, N_EVAL)
                # The number of examples with a defined correlation differs between seeds.
                n_defined = N_EVAL - seed
                add(
                    method,
                    "adversarial-correlation",
                    EPS,
                    _value(ADV_CORR[model][method], seed),
                    n_defined,
                )
                add(method, "adversarial-correlation-std", EPS, 0.05, n_defined)
                add(method, "adversarial-correlation-undefined", EPS, float(seed), N_EVAL)
                deletion = _value(DELETION[method], seed)
                add(method, "deletion-auc", "baseline=blur", deletion, N_EVAL)
                add(method, "insertion-auc", "baseline=blur", 1 - deletion, N_EVAL)
                if with_masks:
                    add(method, "energy-in-mask", "", 0.3 + 0.1 * index, 10)
                    add(method, "pointing-game", "tolerance=0", 0.5, 10)
                add(method, "infidelity", "noise_std=0.05", 0.01 * (1 + index), N_EVAL)
                # saliency's sensitivity-max is undefined for seed 1 (NaN -> null).
                sens = None if (method == "saliency" and seed == 1) else 0.2 + 0.01 * seed
                add(method, "sensitivity-max", "radius=0.02", sens, N_EVAL)
                if method in KL_FIDELITY:
                    add(method, "kl-fidelity", "eps=0.001", KL_FIDELITY[method], N_EVAL)
                for j, layer in enumerate(LAYERS):
                    add(method, "randomization-similarity", layer, 0.9 - 0.2 * j, N_EVAL)
                if with_timing:
                    add(method, "seconds-per-image", "", 0.001 * 10**index, N_EVAL)
    return rows


def _write_examples(run: Path, seeds: tuple[int, ...], with_masks: bool) -> None:
    examples = run / "examples"
    examples.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(N_FIGURE, 1, SIDE, SIDE, generator=generator)
    masks = None
    if with_masks:
        masks = torch.zeros(N_FIGURE, SIDE, SIDE, dtype=torch.bool)
        for i, (r, c) in {1: (3, 4), 3: (8, 9), 4: (10, 2)}.items():
            masks[i, r : r + 3, c : c + 4] = True
    labels = torch.tensor([0, 1, 2, 1, 1, 0])
    for model in MODELS:
        for seed in seeds:
            for method in METHODS:
                if method == "gradcam":
                    maps = torch.rand(N_FIGURE, 1, SIDE, SIDE, generator=generator)
                elif method == "saliency":
                    maps = torch.randn(N_FIGURE, 1, SIDE, SIDE, generator=generator).abs()
                else:
                    maps = torch.randn(N_FIGURE, 1, SIDE, SIDE, generator=generator)
                content = {
                    "inputs": inputs,
                    "labels": labels,
                    "predictions": labels.roll(1),
                    "masks": masks,
                    "maps": maps,
                }
                if method == "ifim-sensitive":
                    values = torch.rand(N_EVAL, 2, generator=generator, dtype=torch.float64)
                    values = values.sort(dim=1, descending=True).values * 10.0 ** torch.arange(
                        -2, 2, 0.2, dtype=torch.float64
                    ).unsqueeze(1)
                    values[0] = 0.0  # a saturated softmax: F = 0
                    content["eigenvalues"] = values
                name = f"{DATASET}__{model}__seed{seed}__{method}.pt"
                torch.save(content, examples / name)


def make_run(
    root: Path, seeds: tuple[int, ...] = (0, 1), with_masks: bool = True, with_timing: bool = True
) -> Path:
    """A synthetic run folder in the harness's fixed format."""
    run = root / "run"
    run.mkdir(parents=True)
    records = _records(seeds, with_masks, with_timing)
    (run / "results.json").write_text(json.dumps(records), encoding="utf-8")
    methods = {
        "ifim-sensitive": {
            "description": "iFIM S(x)",
            "normalized_maps": False,
            "uses_target": False,
            "deterministic": True,
        },
        "ifim-insensitive": {
            "description": "iFIM I(x)",
            "normalized_maps": False,
            "uses_target": False,
            "deterministic": True,
        },
        "gradcam": {
            "description": "Grad-CAM",
            "normalized_maps": True,
            "uses_target": True,
            "deterministic": True,
        },
        "saliency": {
            "description": "Saliency",
            "normalized_maps": False,
            "uses_target": True,
            "deterministic": True,
        },
    }
    (run / "methods.json").write_text(json.dumps(methods), encoding="utf-8")
    config = "\n".join(
        [
            "[run]",
            'name = "synthetic"',
            f"seeds = {list(seeds)}",
            'device = "cpu"',
            "",
            "[[datasets]]",
            f'name = "{DATASET}"',
            "",
            *(f'[[models]]\nname = "{m}"\n' for m in MODELS),
            "[methods]",
            f"names = {json.dumps(list(METHODS))}",
            "",
            "[metrics]",
            'names = ["contrastive-perturbation", "adversarial-correlation", "deletion-auc"]',
            "",
        ]
    )
    (run / "config.toml").write_text(config, encoding="utf-8")
    environment = {"python": "3.11.2", "torch": "2.4", "device": "cpu", "threads": 1}
    (run / "environment.json").write_text(json.dumps(environment), encoding="utf-8")
    _write_examples(run, seeds, with_masks)
    return run


@pytest.fixture(scope="module")
def written_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = make_run(tmp_path_factory.mktemp("full"))
    write_report(run)
    return run


def _table_cells(table: str) -> dict[str, dict[str, str]]:
    """A markdown table as {first cell: {header: cell}}."""
    lines = table.strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split(" | ")]
    cells = {}
    for line in lines[2:]:
        row = [c.strip() for c in line.strip().strip("|").split(" | ")]
        cells[row[0]] = dict(zip(header, row, strict=True))
    return cells


def _bold_rows(table: str, column: str) -> list[str]:
    return [name for name, row in _table_cells(table).items() if row[column].startswith("**")]


# --- summary ----------------------------------------------------------------------------


def test_summary_matches_numpy_by_hand(written_run: Path) -> None:
    rows = load_results(written_run / "results.json")
    summary = {s.key: s for s in summarize(rows)}
    for key in [
        (DATASET, "cnn", "gradcam", "deletion-auc", "baseline=blur"),
        (DATASET, "resnet18", "ifim-sensitive", "f1-ratio", "alpha=0.03"),
        (DATASET, "cnn", "", "test-precision", "class=b"),
    ]:
        values = np.array([r.value for r in rows if r.key == key])
        assert values.shape == (2,)
        assert summary[key].mean == pytest.approx(np.mean(values), rel=1e-12)
        assert summary[key].std == pytest.approx(np.std(values, ddof=1), rel=1e-12)
        assert summary[key].n_seeds == 2
    # by hand: gradcam deletion 0.2 * 0.9 and 0.2 * 1.1 -> mean 0.2, std 0.02 * sqrt(2)
    s = summary[(DATASET, "cnn", "gradcam", "deletion-auc", "baseline=blur")]
    assert s.mean == pytest.approx(0.2)
    assert s.std == pytest.approx(0.02 * math.sqrt(2))
    assert s.n_examples == (N_EVAL, N_EVAL) and not s.n_varies


def test_summary_is_nan_aware_and_carries_n(written_run: Path) -> None:
    summary = {s.key: s for s in summarize(load_results(written_run / "results.json"))}
    undefined = summary[(DATASET, "cnn", "saliency", "sensitivity-max", "radius=0.02")]
    assert (undefined.n_seeds, undefined.n_seeds_total, undefined.seeds) == (1, 2, (0,))
    assert undefined.mean == pytest.approx(0.2) and math.isnan(undefined.std)
    adversarial = summary[(DATASET, "cnn", "gradcam", "adversarial-correlation", EPS)]
    assert adversarial.n_examples == (N_EVAL, N_EVAL - 1) and adversarial.n_varies
    assert (adversarial.n_min, adversarial.n_max, adversarial.n_total) == (19, 20, 39)
    csv_text = (written_run / "summary.csv").read_text()
    assert csv_text == summary_csv(summarize(load_results(written_run / "results.json")))
    line = next(
        x for x in csv_text.splitlines() if x.startswith(f"{DATASET},cnn,saliency,sensitivity-max")
    )
    assert line.split(",")[5:9] == ["0.2", "", "1", "2"]


def test_summary_single_seed_and_infinite_values() -> None:
    rows = [
        ResultRow("d", "m", 0, "x", "f1-ratio", "alpha=0.01", math.inf, 5),
        ResultRow("d", "m", 1, "x", "f1-ratio", "alpha=0.01", 2.0, 5),
        ResultRow("d", "m", 0, "y", "f1-ratio", "alpha=0.01", 2.0, 5),
    ]
    by_method = {s.method: s for s in summarize(rows)}
    assert math.isinf(by_method["x"].mean) and math.isnan(by_method["x"].std)
    assert by_method["y"].mean == 2.0 and math.isnan(by_method["y"].std)
    assert format_mean_std(by_method["y"].mean, by_method["y"].std) == "2.00"


def test_rows_are_validated() -> None:
    good = {
        "dataset": "d",
        "model": "m",
        "seed": 0,
        "method": "",
        "metric": "a",
        "setting": "",
        "value": None,
        "n": 1,
    }
    (row,) = rows_from_records([good])
    assert math.isnan(row.value)
    with pytest.raises(ValueError, match="expected one row per seed"):
        rows_from_records([good, good])
    with pytest.raises(ValueError, match="expected a row with columns"):
        rows_from_records([{k: v for k, v in good.items() if k != "n"}])
    with pytest.raises(ValueError, match="expected seed to be an int"):
        rows_from_records([{**good, "seed": "0"}])


# --- formatting, directions, ordering ---------------------------------------------------


def test_three_significant_digits() -> None:
    assert format_significant(0.123456) == "0.123"
    assert format_significant(1.5) == "1.50"
    assert format_significant(123456.0) == "1.23e+05"
    assert format_significant(-0.0) == "0.00"
    assert format_significant(math.nan) == "n/a"
    assert format_mean_std(0.81234, 0.031234) == "0.812 ± 0.0312"


def test_metric_directions_follow_the_registry_and_the_paper() -> None:
    expected = {
        "f1-ratio": "higher",
        "adversarial-correlation": "lower",
        "deletion-auc": "lower",
        "insertion-auc": "higher",
        "energy-in-mask": "higher",
        "pointing-game": "higher",
        "infidelity": "lower",
        "sensitivity-max": "lower",
        "randomization-similarity": "lower",
        "seconds-per-image": "lower",
        "kl-fidelity": "ideal",
        "f1-clean": "none",
    }
    assert {m: metric_direction(m).direction for m in expected} == expected
    kl = metric_direction("kl-fidelity")
    assert kl.ideal == 1.0
    assert best_indices([1.3, 0.97, math.nan, 1.05], kl) == [1]
    assert best_indices([0.2, 0.2, 0.5], metric_direction("infidelity")) == [0, 1]
    assert best_indices([0.2], metric_direction("infidelity")) == []
    assert best_indices([0.5, 0.5, math.nan], metric_direction("pointing-game")) == []


def test_settings_sort_numerically_else_keep_their_order() -> None:
    assert order_settings(["eps=0.1", "eps=0.03", "eps=1e-3"]) == [
        "eps=1e-3",
        "eps=0.03",
        "eps=0.1",
    ]
    assert order_settings(list(LAYERS)) == list(LAYERS)
    # layers are named top-down, even when the names are numbers
    assert order_settings(["layer=6", "layer=3", "layer=0"]) == ["layer=6", "layer=3", "layer=0"]
    assert order_settings(["class=1", "class=0"]) == ["class=1", "class=0"]


def test_example_names_parse() -> None:
    parsed = parse_example_name(Path("x/mni-sks__vgg16__seed12__gradcam++.pt"))
    assert parsed is not None
    assert (parsed.dataset, parsed.model, parsed.seed, parsed.method) == (
        "mni-sks",
        "vgg16",
        12,
        "gradcam++",
    )
    assert parse_example_name(Path("x/notes.pt")) is None
    assert parse_example_name(Path("x/a__b__seed1__c.txt")) is None


def test_examples_signal_present_first_and_box() -> None:
    masks = torch.zeros(5, 8, 8, dtype=torch.bool)
    masks[2, 1:3, 4:7] = True
    masks[4, 5, 5] = True
    assert select_examples(5, masks, 3) == [2, 4, 0]
    assert select_examples(5, None, 3) == [0, 1, 2]
    assert select_examples(2, None, 4) == [0, 1]
    assert bounding_box(masks[2]) == (1, 2, 4, 6)
    assert bounding_box(masks[0]) is None


# --- tables -----------------------------------------------------------------------------


def test_bold_marks_the_best_method_per_direction(written_run: Path) -> None:
    summary = summarize(load_results(written_run / "results.json"))
    cnn = paper_metrics_table(summary, DATASET, "cnn")
    resnet = paper_metrics_table(summary, DATASET, "resnet18")
    assert cnn is not None and resnet is not None
    for alpha in ALPHAS:
        assert _bold_rows(cnn, f"f1-ratio {alpha} ↑") == ["ifim-sensitive"]
        assert _bold_rows(resnet, f"f1-ratio {alpha} ↑") == ["gradcam"]
    assert _bold_rows(cnn, f"adversarial-correlation {EPS} ↓") == ["ifim-sensitive"]
    assert _bold_rows(resnet, f"adversarial-correlation {EPS} ↓") == ["saliency"]
    # mean 3.0 * 1.1 = 3.3 (alpha index 1), std 0.33 * sqrt(2) = 0.467
    cell = _table_cells(cnn)["ifim-sensitive"]["f1-ratio alpha=0.02 ↑"]
    assert cell == "**3.30 ± 0.467**"
    # the correlation's n differs between seeds: marked
    assert _table_cells(cnn)["gradcam"][f"adversarial-correlation {EPS} ↓"].endswith("†")


def test_summary_markdown_extra_tables_and_table_ii(written_run: Path) -> None:
    text = (written_run / "summary.md").read_text()
    extra = text.split("### Extra metrics", 1)[1].split("###", 1)[0]
    assert _bold_rows(extra, "deletion-auc baseline=blur ↓") == ["gradcam"]
    assert _bold_rows(extra, "insertion-auc baseline=blur ↑") == ["gradcam"]
    assert _bold_rows(extra, "kl-fidelity eps=0.001 →1") == ["ifim-sensitive"]
    assert _bold_rows(extra, "seconds-per-image ↓") == ["ifim-sensitive"]
    # saliency's one defined seed (0.200) beats the others' 0.205; marked as 1 of 2 seeds
    assert _table_cells(extra)["saliency"]["sensitivity-max radius=0.02 ↓"] == "**0.200 [1/2]**"
    assert _bold_rows(extra, "pointing-game tolerance=0 ↑") == []  # every method ties: nothing bold
    assert "### randomization-similarity" in text  # four layers: a table of its own
    table_ii = text.split("## toy: Table II: test precision and recall", 1)[1].split("##", 1)[0]
    cells = _table_cells(table_ii)
    assert list(cells) == list(MODELS)
    header = list(cells["cnn"])
    assert header[1:3] == ["test-precision class=a", "test-recall class=a"]
    assert header[-2:] == ["test-precision class=macro", "test-recall class=macro"]
    # precision class=b: 0.72 and 0.73 -> 0.725 ± 0.00707
    assert cells["cnn"]["test-precision class=b"] == "0.725 ± 0.00707"


# --- reading the results ----------------------------------------------------------------


def test_reading_says_where_ifim_wins_and_where_not(written_run: Path) -> None:
    summary = summarize(load_results(written_run / "results.json"))
    findings = {(f.model, f.metric, f.setting): f for f in reading_findings(summary)}
    assert len(findings) == 2 * (len(ALPHAS) + 1)
    win = findings[("cnn", "f1-ratio", "alpha=0.01")]
    assert win.wins is True and win.rank == 1 and win.competitors == 4
    assert "ifim-sensitive has the highest mean F1 ratio: 3.00 ± 0.424" in win.sentence
    assert "for gradcam, the next best" in win.sentence
    loss = findings[("resnet18", "f1-ratio", "alpha=0.01")]
    assert loss.wins is False and loss.rank == 2
    assert "does not have the highest mean F1 ratio: gradcam has 2.00 ± 0.283" in loss.sentence
    corr_loss = findings[("resnet18", "adversarial-correlation", EPS)]
    assert corr_loss.wins is False and corr_loss.rank == 2
    assert "saliency has 0.300" in corr_loss.sentence
    assert findings[("cnn", "adversarial-correlation", EPS)].wins is True
    report = (written_run / "report.md").read_text()
    assert "ifim-sensitive has the highest mean F1 ratio in 3 of 6" in report
    assert "ifim-sensitive has the lowest mean adversarial correlation in 1 of 2" in report
    assert win.sentence in report and loss.sentence in report


def test_reading_flags_a_gap_within_the_seed_spread() -> None:
    rows = [
        ResultRow("d", "m", seed, method, "adversarial-correlation", "eps=0.1", value, 8)
        for method, values in {"ifim-sensitive": (0.30, 0.50), "gradcam": (0.45, 0.55)}.items()
        for seed, value in enumerate(values)
    ]
    finding = compare_method(summarize(rows), "d", "m", "adversarial-correlation", "eps=0.1")
    assert finding.wins is True  # 0.40 < 0.50
    assert finding.sentence.endswith("The gap is within one seed std, so the order is not settled.")


def test_reading_without_the_method_or_a_rival() -> None:
    rows = [ResultRow("d", "m", 0, "gradcam", "f1-ratio", "alpha=0.01", 1.0, 5)]
    missing = compare_method(summarize(rows), "d", "m", "f1-ratio", "alpha=0.01")
    assert missing.wins is None and "has no mean F1 ratio" in missing.sentence
    alone = [ResultRow("d", "m", 0, "ifim-sensitive", "f1-ratio", "alpha=0.01", 1.0, 5)]
    only = compare_method(summarize(alone), "d", "m", "f1-ratio", "alpha=0.01")
    assert only.wins is None and "only method" in only.sentence


# --- report and figures -----------------------------------------------------------------


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert len(data) > 5_000, path


def test_every_figure_is_a_png_and_the_report_embeds_it(written_run: Path) -> None:
    figures = written_run / "figures"
    names = {
        "maps__toy__cnn.png",
        "maps__toy__resnet18.png",
        "f1_ratio.png",
        "adversarial_correlation.png",
        "eigenvalue_spectrum.png",
        "seconds_per_image.png",
        # 2 models x 2 seeds = 4 blocks, 4 methods: the ranks' critical-difference diagrams
        "critical_difference.png",
        # the others: a table of ranks per metric family, one CD diagram per family
        "family_ranks.png",
        "critical_difference__faithfulness.png",
        "critical_difference__localization.png",
        "critical_difference__randomization.png",
        "critical_difference__robustness.png",
    }
    assert {p.name for p in figures.glob("*.png")} == names
    for name in names:
        _assert_png(figures / name)
        # every figure also as PDF and SVG, for papers
        assert (figures / name).with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
        assert b"<svg" in (figures / name).with_suffix(".svg").read_bytes()[:2000]
    report = (written_run / "report.md").read_text()
    embedded = set(re.findall(r"!\[[^\]]*\]\(figures/([^)]+)\)", report))
    assert embedded == names
    assert "R is at most C - 1" in report
    assert "2 of 40 images have a zero spectrum" in report  # one saturated image per seed file
    assert "`synthetic`" not in report.split("## What was run")[0]
    assert "Normalized maps" in report and "`gradcam`" in report
    run = report.split("## What was run", 1)[1].split("##", 1)[0]
    assert "**Seeds**: `0`, `1`" in run
    assert "**Methods**: `ifim-sensitive`, `ifim-insensitive`, `gradcam`, `saliency`" in run


def test_map_grid_puts_the_signal_first(written_run: Path) -> None:
    run = read_run_contents(written_run)
    ex = run.example(DATASET, "cnn", 0, "ifim-sensitive")
    assert ex is not None
    masks = ex.load()["masks"]
    assert select_examples(N_FIGURE, masks, 4) == [1, 3, 4, 0]


def test_write_report_is_deterministic(written_run: Path) -> None:
    before = {
        p.relative_to(written_run): p.read_bytes()
        for p in [
            written_run / "report.md",
            written_run / "summary.md",
            written_run / "summary.csv",
            *sorted((written_run / "figures").glob("*.png")),
        ]
    }
    path = write_report(written_run)
    assert path == written_run / "report.md"
    after = {p: (written_run / p).read_bytes() for p in before}
    assert after == before


def test_one_seed_no_masks_no_timing(tmp_path: Path) -> None:
    run = make_run(tmp_path, seeds=(3,), with_masks=False, with_timing=False)
    (run / "environment.json").unlink()
    report = write_report(run).read_text()
    figures = {p.name for p in (run / "figures").glob("*.png")}
    assert figures == {
        "maps__toy__cnn.png",
        "maps__toy__resnet18.png",
        "f1_ratio.png",
        "adversarial_correlation.png",
        "eigenvalue_spectrum.png",
        "critical_difference.png",  # two models: two blocks of one seed each
        "family_ranks.png",  # the other metrics, per family
        "critical_difference__faithfulness.png",
        "critical_difference__randomization.png",
        "critical_difference__robustness.png",
    }
    for name in figures:
        _assert_png(run / "figures" / name)
    assert "the dataset has no masks, so no boxes are drawn" in report
    assert "no positive seconds-per-image rows: timing figure not drawn" in report
    assert "some groups have no bootstrap interval" in report  # no per-example values
    assert "`environment.json` is not in the run folder." in report
    summary = (run / "summary.md").read_text()
    tables = [line for line in summary.splitlines() if line.startswith("|")]
    assert tables and not any("±" in line for line in tables)  # one seed: means alone
    assert "energy-in-mask" not in summary


def test_run_without_examples_or_ifim(tmp_path: Path) -> None:
    run = tmp_path / "bare"
    run.mkdir()
    rows = [
        {
            "dataset": "d",
            "model": "m",
            "seed": 0,
            "method": "gradcam",
            "metric": "f1-ratio",
            "setting": "alpha=0.01",
            "value": 1.2,
            "n": 4,
        },
        {
            "dataset": "d",
            "model": "m",
            "seed": 0,
            "method": "saliency",
            "metric": "f1-ratio",
            "setting": "alpha=0.01",
            "value": 1.4,
            "n": 4,
        },
    ]
    (run / "results.json").write_text(json.dumps(rows))
    report = write_report(run).read_text()
    assert [p.name for p in (run / "figures").glob("*.png")] == ["f1_ratio.png"]
    assert "no ifim-sensitive eigenvalues in the run: spectrum not drawn" in report
    assert "no adversarial-correlation rows: figure not drawn" in report
    assert "d / m, alpha=0.01: ifim-sensitive has no mean F1 ratio" in report
    with pytest.raises(FileNotFoundError, match=r"results\.json"):
        write_report(tmp_path / "nowhere")
    (run / "report.md").unlink()
    assert main([str(run)]) == 0 and (run / "report.md").read_text() == report
