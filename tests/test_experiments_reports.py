"""The experiment sections of the report (issue 24): the shortcut verdicts and the
robustness comparison, read from hand-made run folders whose answers are known, and the
embedded experiment configs.

A hand-made shortcut run: two cue strengths of one task (the same test images), three
seeds; the model relies on the cue at one strength and not at the other. One method
("ifim-sensitive") puts its energy on the cue exactly where the model relies on it; the
other ("saliency") never does. The rules must say so, and "not judged" when no strength is
reliant.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from comparisons._cli import main
from comparisons.config import EMBEDDED_CONFIGS, load_config
from comparisons.config._parse import quick_config_name
from comparisons.reporting import write_report
from comparisons.reporting._cell_values import Estimate
from comparisons.reporting._robust_report import (
    CHANGES,
    CHANGES_BY_MEANS,
    CONCENTRATES,
    SPREADS,
    STAYS,
    UNCHANGED,
    find_regimes,
    first_ranked_verdict,
    robust_section,
    subspace_verdict,
)
from comparisons.reporting._shortcut_report import (
    NO,
    NOT_JUDGED,
    NOT_RELIANT,
    PARTLY,
    RELIANT,
    YES,
    reliance_verdict,
    reveals_verdict,
    stays_off_verdict,
)
from comparisons.run_folder import (
    CellKey,
    GroupKey,
    ResultRow,
    per_example_table,
    read_run_contents,
)
from comparisons.run_folder._per_example import ExampleBlock, per_example_bytes
from comparisons.statistics import Interval, run_statistics

SEEDS = (0, 1, 2)
N_TEST = 40
#: Images 0, 2, 4, ... carry the cue; images 0..19 carry the signal (label 1).
CUE = np.arange(N_TEST) % 2 == 0
SIGNAL = np.arange(N_TEST) < N_TEST // 2
LABELS = SIGNAL.astype(np.int64)


def _interval(low: float, high: float) -> Estimate:
    return Estimate((low + high) / 2, Interval(low, high, "seeds+examples"), 10, 3)


# --- the rules on their own -------------------------------------------------------------


def test_reliance_rule_thresholds() -> None:
    assert reliance_verdict(Interval(0.25, 0.9, "seeds+examples")) == RELIANT
    assert reliance_verdict(Interval(-0.05, 0.08, "seeds+examples")) == NOT_RELIANT
    assert reliance_verdict(Interval(0.01, 0.09, "seeds+examples")) == NOT_RELIANT
    assert reliance_verdict(Interval(-0.1, 0.15, "seeds+examples")) == NOT_RELIANT
    assert reliance_verdict(Interval(-0.1, 0.25, "seeds+examples")) == PARTLY  # too wide
    assert reliance_verdict(Interval(0.05, 0.15, "seeds+examples")) == PARTLY  # small, not 0
    assert reliance_verdict(Interval(0.15, 0.5, "seeds+examples")) == PARTLY  # low <= 0.2
    assert reliance_verdict(Interval(math.nan, math.nan, "")) == NOT_JUDGED


def test_reveals_needs_the_energy_gain_and_the_pointing_game() -> None:
    assert reveals_verdict([_interval(0.1, 0.3)], [0.6]) == YES
    assert reveals_verdict([_interval(0.1, 0.3)], [0.4]) == NO  # points elsewhere
    assert reveals_verdict([_interval(-0.1, 0.3)], [0.9]) == NO  # no gain shown
    assert reveals_verdict([_interval(0.1, 0.3), _interval(-0.2, -0.1)], [0.9, 0.9]) == NO
    assert reveals_verdict([], []) == NOT_JUDGED
    assert reveals_verdict([_interval(0.1, 0.3)], [math.nan]) == NOT_JUDGED


def test_stays_off_needs_cue_energy_below_signal_energy() -> None:
    assert stays_off_verdict(_interval(-0.4, -0.1)) == YES
    assert stays_off_verdict(_interval(-0.4, 0.1)) == NO
    assert stays_off_verdict(Estimate(math.nan, Interval(math.nan, math.nan, ""), 0, 0)) == (
        NOT_JUDGED
    )


def test_subspace_and_ranking_rules() -> None:
    assert subspace_verdict(_interval(0.1, 0.2)) == SPREADS
    assert subspace_verdict(_interval(-0.2, -0.1)) == CONCENTRATES
    assert subspace_verdict(_interval(-0.1, 0.2)) == UNCHANGED
    assert subspace_verdict(_interval(-0.1, 0.2), constant=True) == NOT_JUDGED
    assert first_ranked_verdict("saliency", "saliency", None) == STAYS
    assert first_ranked_verdict("saliency", "gradcam", None) == CHANGES_BY_MEANS
    beats = SimpleNamespace(direction="higher", ci_low=0.1, ci_high=0.3)
    assert first_ranked_verdict("saliency", "gradcam", beats) == CHANGES  # type: ignore[arg-type]
    lower = SimpleNamespace(direction="lower", ci_low=-0.1, ci_high=0.3)
    assert first_ranked_verdict("saliency", "gradcam", lower) == CHANGES_BY_MEANS  # type: ignore[arg-type]


# --- a hand-made shortcut run -------------------------------------------------------------


def _write_cell(
    root: Path, dataset: str, model: str, seed: int, method: str, blocks: list[ExampleBlock]
) -> None:
    table = per_example_table(blocks, np.arange(N_TEST), LABELS, 2)
    key = CellKey(GroupKey(dataset, model, seed), method).key
    (root / "per_example").mkdir(exist_ok=True)
    (root / "per_example" / f"{key}.csv.gz").write_bytes(per_example_bytes(table))


def _block(metric: str, setting: str, where: np.ndarray, values: np.ndarray) -> ExampleBlock:
    positions = np.flatnonzero(where)
    return ExampleBlock(metric, setting, positions, values[positions])


def _accuracy_rows(dataset: str, seed: int, congruent: int, incongruent: int) -> list[ResultRow]:
    half = N_TEST // 2
    return [
        ResultRow(
            dataset, "shallow-cnn", seed, "", "cue-accuracy-congruent", "", congruent / half, half
        ),
        ResultRow(
            dataset,
            "shallow-cnn",
            seed,
            "",
            "cue-accuracy-incongruent",
            "",
            incongruent / half,
            half,
        ),
        ResultRow(
            dataset,
            "shallow-cnn",
            seed,
            "",
            "cue-reliance",
            "",
            (congruent - incongruent) / half,
            N_TEST,
        ),
    ]


def shortcut_run(root: Path, reliant_strength: bool = True) -> Path:
    """Two strengths, three seeds, two methods; the model relies on the cue at "cue-100"
    (when ``reliant_strength``) and not at "cue-0"."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows: list[ResultRow] = []
    for dataset in ("cue-100", "cue-0"):
        relies = dataset == "cue-100" and reliant_strength
        for seed in SEEDS:
            rows += (
                _accuracy_rows(dataset, seed, 19, 3 + seed)
                if relies
                else _accuracy_rows(dataset, seed, 18, 18 - (seed % 2))
            )
            for method in ("ifim-sensitive", "saliency"):
                follows = method == "ifim-sensitive" and relies
                noise = rng.uniform(0.0, 0.04, size=(4, N_TEST))
                cue_energy = (0.6 if follows else 0.03) + noise[0]
                signal_energy = (0.2 if follows else 0.5) + noise[1]
                on_cue = (noise[2] < (0.036 if follows else 0.0)).astype(np.float64)
                on_signal = (noise[3] < 0.02).astype(np.float64)
                blocks = [
                    _block("energy-in-mask", "", SIGNAL, signal_energy),
                    _block("energy-in-mask", "region=cue", CUE, cue_energy),
                    _block("pointing-game", "tolerance=1", SIGNAL, on_signal),
                    _block("pointing-game", "region=cue,tolerance=1", CUE, on_cue),
                ]
                _write_cell(root, dataset, "shallow-cnn", seed, method, blocks)
                for block in blocks:
                    values = block.values
                    rows.append(
                        ResultRow(
                            dataset,
                            "shallow-cnn",
                            seed,
                            method,
                            block.metric,
                            block.setting,
                            float(values.mean()),
                            int(values.size),
                        )
                    )
    (root / "results.json").write_text(json.dumps([dataclasses.asdict(r) for r in rows]))
    return root


def _verdict_rows(report: str) -> dict[str, list[str]]:
    """The verdict table's rows by method, from report.md."""
    text = report.split("#### Shortcut verdicts per method", 1)[1]
    table = [line for line in text.splitlines() if line.startswith("| shallow-cnn")]
    return {
        cells[1]: cells
        for line in table
        if (cells := [c.strip() for c in line.strip("|").split("|")])
    }


@pytest.fixture(scope="module")
def shortcut_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    run = shortcut_run(tmp_path_factory.mktemp("shortcut") / "run")
    return write_report(run).read_text()


def test_a_method_that_follows_the_cue_reveals_it_and_one_that_never_does_not(
    shortcut_report: str,
) -> None:
    assert "## Shortcut: do the maps find the cue the model uses?" in shortcut_report
    reliance = shortcut_report.split("How much each model relies on the cue", 1)[1]
    assert "| cue-100 | shallow-cnn | 3 |" in reliance and f"| {RELIANT} |" in reliance
    assert f"| {NOT_RELIANT} |" in reliance
    verdicts = _verdict_rows(shortcut_report)
    # columns: model, method, gain, pointing, reveals, cue - signal, stays off
    assert verdicts["ifim-sensitive"][4] == YES
    assert verdicts["saliency"][4] == NO
    # At the non-reliant strength both put less energy on the cue than on the signal.
    assert verdicts["ifim-sensitive"][6] == YES and verdicts["saliency"][6] == YES
    assert "![cue vs signal energy per method](figures/shortcut_energy.png)" in shortcut_report


def test_no_reliant_strength_means_not_judged(tmp_path: Path) -> None:
    report = write_report(shortcut_run(tmp_path / "run", reliant_strength=False)).read_text()
    verdicts = _verdict_rows(report)
    assert {v[4] for v in verdicts.values()} == {NOT_JUDGED}


def test_ordinary_runs_have_no_experiment_sections(tmp_path: Path) -> None:
    rows = [
        ResultRow("d", "m", s, "saliency", "f1-ratio", "alpha=0.01", v, 8)
        for s, v in [(0, 1.2), (1, 1.4)]
    ]
    (tmp_path / "results.json").write_text(json.dumps([dataclasses.asdict(r) for r in rows]))
    report = write_report(tmp_path).read_text()
    assert "Shortcut" not in report and "## Robustness" not in report


# --- a hand-made robustness run -------------------------------------------------------------


def robust_run(root: Path) -> Path:
    """A standard and a robust model, three seeds; the robust model's iFIM has a higher
    effective rank at every image, the same lambda_1."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    rows: list[ResultRow] = []
    everywhere = np.ones(N_TEST, dtype=bool)
    for model, rank in (("shallow-cnn", 1.2), ("shallow-cnn-robust", 1.6)):
        for seed in SEEDS:
            for method in ("ifim-sensitive", "saliency"):
                noise = rng.normal(0, 0.02, size=(4, N_TEST))
                blocks = [_block("energy-in-mask", "", SIGNAL, 0.4 + noise[0])]
                blocks.append(
                    _block(
                        "adversarial-correlation",
                        "eps=0.011",
                        everywhere,
                        (0.3 if method == "saliency" else 0.5) + noise[1],
                    )
                )
                if method == "ifim-sensitive":
                    blocks += [
                        _block("ifim-effective-rank", "", everywhere, rank + noise[2]),
                        _block("ifim-lambda-1", "", everywhere, 2.0 + noise[3]),
                    ]
                _write_cell(root, "mni-sks-3class", model, seed, method, blocks)
                rows += [
                    ResultRow(
                        "mni-sks-3class",
                        model,
                        seed,
                        method,
                        b.metric,
                        b.setting,
                        float(b.values.mean()),
                        int(b.values.size),
                    )
                    for b in blocks
                ]
    (root / "results.json").write_text(json.dumps([dataclasses.asdict(r) for r in rows]))
    return root


def test_the_robust_section_reads_the_spectrum_and_the_ranking(tmp_path: Path) -> None:
    run = read_run_contents(robust_run(tmp_path / "run"))
    statistics = run_statistics(run)
    models = (
        SimpleNamespace(name="shallow-cnn", training={}),
        SimpleNamespace(
            name="shallow-cnn-robust",
            architecture="shallow-cnn",
            training={"adversarial": {"attack": "pgd", "epsilon": 0.03}},
        ),
        SimpleNamespace(name="vit", training={}),
    )
    run = dataclasses.replace(run, config=SimpleNamespace(models=models))  # type: ignore[arg-type]
    regimes = find_regimes(run.config)
    assert regimes is not None and (regimes.standard, regimes.robust) == (
        "shallow-cnn",
        "shallow-cnn-robust",
    )
    section = robust_section(run, statistics, (), tmp_path / "figures", lambda result, alt: [alt])
    assert section is not None
    text = "\n".join(section.lines)
    assert "robust training spreads the sensitive subspace" in text
    assert "lambda_1 no change detected" in text
    # adversarial correlation is lower-is-better: saliency first under both models.
    ranking = next(t for t in section.tables if t.name.startswith("robust_first_ranked"))
    assert ranking.rows == (("adversarial-correlation eps=0.011", "saliency", "saliency", STAYS),)
    assert find_regimes(SimpleNamespace(models=models[:1])) is None  # type: ignore[arg-type]


# --- the embedded configs -------------------------------------------------------------------


def test_the_experiment_configs_are_embedded_with_their_quick_variants() -> None:
    for name in ("shortcut", "robust"):
        assert name in EMBEDDED_CONFIGS and quick_config_name(name) == f"{name}-quick"
        for variant in (name, f"{name}-quick"):
            text = resources.files("comparisons").joinpath(f"{variant}.toml").read_text()
            assert tomllib.loads(text)["run"]["name"] == variant
    assert quick_config_name("default") == "quick" and quick_config_name("x.toml") == "quick"


def test_the_experiment_configs_load() -> None:
    for name in ("shortcut", "shortcut-quick", "robust", "robust-quick"):
        config = load_config(name)
        assert config.name == name
    shortcut = load_config("shortcut")
    assert [d.options["cue_strength"] for d in shortcut.datasets] == [1.0, 0.9, 0.0]
    robust = load_config("robust")
    assert find_regimes(robust) is not None


@pytest.mark.parametrize(
    ("name", "heading"),
    [("shortcut", "#### Shortcut verdicts per method"), ("robust", "#### Robustness verdicts")],
)
def test_the_quick_variant_runs_and_writes_its_verdict_table(
    name: str, heading: str, tmp_path: Path
) -> None:
    output = tmp_path / "run"
    argv = ["run", "--config", name, "--quick", "--output", str(output)]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache"), "--no-progress"]) == 0
    report = (output / "report.md").read_text()
    assert f'name = "{name}-quick"' in report  # --quick with --config loads the variant
    assert heading in report
    tables = {p.name for p in (output / "tables").iterdir()}
    assert (
        "shortcut_verdicts.md" if name == "shortcut" else "robust_first_ranked__mni-sks-3class.md"
    ) in tables
