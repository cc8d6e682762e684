"""The paper's knowledge in one place: its reference method, its metrics and settings, its
claims, and how a claim's verdict is read.

Sengupta & Anastasio compare the iFIM's task-sensitive map S(x) (eq. 16) with post-hoc
attribution methods and claim that it does best on two metrics, for every task and
classifier:

- **Fig. 3** (Sec. IV-E): "the iFIM achieved the highest ratio among all evaluated methods":
  the contrastive pixel-perturbation F1 ratio (eqs. 23-26), at alpha = 1, 2 and 3 % of the
  pixels. Where a method's ratio is infinite (F1 = 0 after perturbing its high set), the
  finite dF1 stands in for it;
- **Fig. 4** (Sec. IV-F): "the task-sensitive iFIM-map exhibited the lowest clean/adversarial
  correlation": the Pearson correlation of the maps of clean and FGSM inputs (eq. 27), at
  an epsilon the paper does not give.

The rows themselves are declared by the harness's metric entries
(:mod:`comparisons.metrics`), with the role ``"paper"`` or ``"stand-in"``; this module says
which claim reads which row (checked at import), and how the paired tests of the reference
against every other method become a verdict (:func:`read_verdict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from comparisons.metrics import (
    ADVERSARIAL_CORRELATION_ROW,
    F1_DIFFERENCE_ROW,
    F1_RATIO_ROW,
    TEST_PRECISION_ROW,
    TEST_RECALL_ROW,
    RowSpec,
    rows_with_role,
)

#: The method the paper's claims are about, compared with every other: the iFIM's
#: task-sensitive map S(x) (eq. 16).
REFERENCE = "ifim-sensitive"
#: Its complement, the task-insensitive map I(x) (eq. 17), beside it in Figs. 1 and 2.
COMPLEMENT = "ifim-insensitive"

#: Family-wise significance level of the Holm-adjusted paired tests behind a verdict.
ALPHA = 0.05

Verdict = Literal["supported", "contradicted", "inconclusive"]
#: What one paired test says: ``"reference"`` or ``"method"`` is significantly better, or
#: ``""``: not separated (or no test).
Outcome = Literal["reference", "method", ""]


@dataclass(frozen=True)
class Claim:
    """One of the paper's claims about the reference method.

    Attributes:
        figure: The paper's figure, e.g. ``"Fig. 3"``.
        section: Where the paper makes it, e.g. ``"Sec. IV-E"``.
        row: The result row it is about.
        stand_in: The finite row judged instead where ``row`` is infinite in a seed, or
            ``None``.
        extreme: The reference's place the claim states, ``"highest"`` or ``"lowest"``.
        label: The row in words, e.g. ``"F1 ratio"``.
        words: The claim in a sentence.
        settings: The paper's settings of the row, as the rows write them
            (``"alpha=0.01"``); empty where the paper does not give them.
    """

    figure: str
    section: str
    row: RowSpec
    stand_in: RowSpec | None
    extreme: str
    label: str
    words: str
    settings: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        """The result-row metric the claim is about."""
        return self.row.name

    @property
    def fallback(self) -> str:
        """The stand-in's result-row metric, ``""`` without one."""
        return "" if self.stand_in is None else self.stand_in.name


#: The paper's two claims, in the order of its figures.
CLAIMS: tuple[Claim, ...] = (
    Claim(
        figure="Fig. 3",
        section="Sec. IV-E",
        row=F1_RATIO_ROW,
        stand_in=F1_DIFFERENCE_ROW,
        extreme="highest",
        label="F1 ratio",
        words="the iFIM has the highest F1 ratio",
        settings=("alpha=0.01", "alpha=0.02", "alpha=0.03"),
    ),
    Claim(
        figure="Fig. 4",
        section="Sec. IV-F",
        row=ADVERSARIAL_CORRELATION_ROW,
        stand_in=None,
        extreme="lowest",
        label="adversarial correlation",
        words="the iFIM map has the lowest clean/adversarial correlation",
    ),
)

#: The metrics the claims are about, in the order of the figures.
CLAIMED_METRICS: tuple[str, ...] = tuple(c.metric for c in CLAIMS)
#: The paper's metrics as the report shows them: each claim's metric, then its stand-in.
PAPER_METRICS: tuple[str, ...] = tuple(m for c in CLAIMS for m in (c.metric, c.fallback) if m)
#: The same, stand-ins first (finite where the claim's metric is not): the rank diagrams.
RANKED_METRICS: tuple[str, ...] = tuple(m for c in CLAIMS for m in (c.fallback, c.metric) if m)
#: The paper's Table II: the classifiers' test precision and recall, per class and macro.
TABLE_II: tuple[RowSpec, ...] = (TEST_PRECISION_ROW, TEST_RECALL_ROW)


def claim_of(metric: str) -> Claim | None:
    """The claim about result-row ``metric``, ``None`` for a metric no claim is about."""
    return next((c for c in CLAIMS if c.metric == metric), None)


def read_verdict(outcomes: Sequence[Outcome], complete: bool = True) -> Verdict:
    """A claim's verdict from the paired tests of the reference against the other methods.

    **Contradicted** when some method is significantly better than the reference;
    **supported** when there are tests, every part of the claim was tested (``complete``)
    and the reference is significantly better in every one; **inconclusive** otherwise.
    The claims are about every evaluated method, so a method of the run whose cells failed
    or did not run leaves the claim incomplete.

    Args:
        outcomes: One per test, Holm-adjusted at :data:`ALPHA` over the tests judged
            together.
        complete: Whether every setting the claim covers had a test, against every method
            of the run's plan.

    >>> read_verdict(["reference", "reference"]), read_verdict(["reference", ""])
    ('supported', 'inconclusive')
    >>> read_verdict(["reference", "method"]), read_verdict([])
    ('contradicted', 'inconclusive')
    """
    if "method" in outcomes:
        return "contradicted"
    if outcomes and complete and all(o == "reference" for o in outcomes):
        return "supported"
    return "inconclusive"


def _check_roles() -> None:
    """The rows declared with the role ``"paper"`` are those the claims are about, and each
    stand-in is declared a ``"stand-in"``: a role and a claim cannot drift apart."""
    declared = sorted(r.name for r in rows_with_role("paper"))
    stand_ins = sorted(r.name for r in rows_with_role("stand-in"))
    if declared != sorted(CLAIMED_METRICS) or stand_ins != sorted(
        c.fallback for c in CLAIMS if c.fallback
    ):
        raise ImportError(
            f"expected the rows of role 'paper' {declared} and 'stand-in' {stand_ins} to be "
            f"those of the paper's claims, got claims about {list(CLAIMED_METRICS)} with "
            f"stand-ins {[c.fallback for c in CLAIMS if c.fallback]}"
        )


_check_roles()
