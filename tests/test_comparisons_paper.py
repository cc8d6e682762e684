"""The paper's knowledge in one module (``comparisons.paper``) and every result row declared
once (``RowSpec`` with a role): the claims read the rows of role "paper", the harness's
defaults are the paper's settings, and no other module spells a row's name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import comparisons.paper as paper
from comparisons.metrics import (
    CELL_ROWS,
    HARNESS_METRICS,
    MODEL_ROWS,
    PAIR_ROWS,
    ROW_SPECS,
    RowSpec,
    row_role,
    rows_with_role,
)
from comparisons.paper import CLAIMS, read_verdict

ROOT = Path(__file__).resolve().parents[1]


def _declaring_modules() -> dict[str, str]:
    """Row name -> the module that declares it (a metric entry's runner's, or the
    catalogue's for the rows the harness writes itself)."""
    declared = {
        row.name: entry.runner.__module__
        for entry in HARNESS_METRICS.values()
        for row in entry.rows
    }
    for row in (*CELL_ROWS, *MODEL_ROWS, *PAIR_ROWS):
        declared[row.name] = "comparisons.metrics._row_catalogue"
    return declared


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string constant of a module outside its docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = body[0] if body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_module_but_the_declaring_one_spells_a_row_name() -> None:
    declared = _declaring_modules()
    assert set(declared) == set(ROW_SPECS)
    offending = []
    for path in sorted((ROOT / "comparisons").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for line, text in _string_literals(path):
            if text in declared and declared[text] != module:
                offending.append(f"{path.relative_to(ROOT)}:{line} {text!r}")
    assert offending == [], "row names spelled outside the module that declares them"


def test_every_row_has_one_role_and_the_tables_read_them() -> None:
    from comparisons.reporting._markdown_tables import DETAIL_METRICS, MODEL_FACTS, PRECISION_RECALL

    assert [r.name for r in rows_with_role("paper")] == ["f1-ratio", "adversarial-correlation"]
    assert [r.name for r in rows_with_role("stand-in")] == ["f1-difference"]
    assert DETAIL_METRICS == (
        "f1-clean",
        "f1-high-perturbed",
        "f1-low-perturbed",
        "adversarial-correlation-std",
        "adversarial-correlation-undefined",
    )
    assert MODEL_FACTS == (
        "test-accuracy",
        "best-epoch",
        "train-seconds",
        "cue-accuracy-congruent",
        "cue-accuracy-incongruent",
        "cue-reliance",
    )
    assert PRECISION_RECALL == ("test-precision", "test-recall")
    assert {r.role for r in MODEL_ROWS} == {"model-fact"}
    assert {r.role for r in PAIR_ROWS} == {"pair"} and {r.role for r in CELL_ROWS} == {"cost"}
    assert row_role("deletion-auc") == "metric" and row_role("a-row-of-an-old-run") == "metric"
    with pytest.raises(ValueError, match="expected a role"):
        RowSpec("x", role="headline")  # type: ignore[arg-type]


def test_the_model_writes_only_declared_model_rows() -> None:
    import torch

    from comparisons.run._group_models import GroupModel
    from comparisons.training import classification_metrics

    labels = torch.tensor([0, 1, 1, 0])
    metrics = classification_metrics(labels, torch.tensor([0, 1, 0, 0]), 2)
    rows = GroupModel(torch.nn.Identity(), ("a", "b"), metrics).summary_values()
    written = {name for name, *_ in rows}
    assert written == {"test-accuracy", "test-precision", "test-recall"}
    assert written <= {r.name for r in MODEL_ROWS}


def test_the_claims_are_the_papers_figures_and_read_declared_rows() -> None:
    assert [(c.figure, c.metric, c.fallback) for c in CLAIMS] == [
        ("Fig. 3", "f1-ratio", "f1-difference"),
        ("Fig. 4", "adversarial-correlation", ""),
    ]
    assert paper.CLAIMED_METRICS == ("f1-ratio", "adversarial-correlation")
    assert paper.PAPER_METRICS == ("f1-ratio", "f1-difference", "adversarial-correlation")
    assert paper.RANKED_METRICS == ("f1-difference", "f1-ratio", "adversarial-correlation")
    assert paper.claim_of("f1-ratio") is CLAIMS[0] and paper.claim_of("deletion-auc") is None
    assert paper.REFERENCE == "ifim-sensitive"


def test_the_harness_defaults_are_the_papers_settings() -> None:
    """Sec. IV-E: 1, 2 and 3 % of the pixels, as the contrastive entry writes its settings."""
    fractions = HARNESS_METRICS["contrastive-perturbation"].defaults["fractions"]
    assert tuple(f"alpha={a:g}" for a in fractions) == CLAIMS[0].settings
    assert CLAIMS[1].settings == ()  # the paper gives no FGSM epsilon


def test_a_role_that_drifts_from_the_claims_fails(monkeypatch) -> None:
    monkeypatch.setattr(paper, "CLAIMS", CLAIMS[:1])
    monkeypatch.setattr(paper, "CLAIMED_METRICS", ("f1-ratio",))
    with pytest.raises(ImportError, match="role 'paper'"):
        paper._check_roles()


@pytest.mark.parametrize(
    ("outcomes", "complete", "verdict"),
    [
        (["reference", "reference"], True, "supported"),
        (["reference", "reference"], False, "inconclusive"),
        (["reference", ""], True, "inconclusive"),
        (["reference", "method"], True, "contradicted"),
        (["method"], False, "contradicted"),
        ([], True, "inconclusive"),
    ],
)
def test_how_a_verdict_is_read(outcomes, complete, verdict) -> None:
    assert read_verdict(outcomes, complete) == verdict
