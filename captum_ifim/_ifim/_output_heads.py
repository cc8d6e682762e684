"""Output heads: how a model's outputs define the predictive distribution and its iFIM.

Every head is reduced to the same factored form. For each sample, ``m`` scalar functions
``h_j(x)`` (the *rows*) and an ``m x m`` positive semidefinite matrix ``M`` (the *metric*)
give the iFIM as

    F(x) = J^T M J,   J = d h / d x   (m x d).

This is eq. 4 rewritten with fewer gradients (docs/theory.md, "C - 1 gradients suffice: the
logit-difference form", and "Other output heads"):

* softmax over logits z (``"logits"``; ``"probs"`` and ``"log_probs"`` use z = log p):
  rows ``s_c = z_c - z_r`` for the ``C - 1`` classes c != r, with r the most probable class,
  and ``M = diag(q) - q q^T``, q = p without entry r. For C = 2 this is eq. 12.
* independent Bernoulli per logit (``"sigmoid"``): rows ``z_k``, ``M = diag(p_k (1 - p_k))``.
* many classes, restricted to the most probable classes S holding a probability mass
  (softmax heads, ``class_mass < 1``): rows ``log p_c`` for c in S and ``M = diag(p_S)``,
  which is eq. 4 with the terms of the other classes dropped. The error is the positive
  semidefinite matrix ``F - F_S = sum_{c not in S} p_c g_c g_c^T``, so
  ``||F - F_S||_2 <= trace(F - F_S) = sum_{c not in S} p_c ||g_c||^2
  <= (1 - mass(S)) max_{c not in S} ||g_c||^2``. It costs |S| backward passes instead of C - 1.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, get_args

import torch
from torch import Tensor

OutputHead = Literal["logits", "probs", "log_probs", "sigmoid"]
OUTPUT_HEADS: tuple[str, ...] = get_args(OutputHead)

#: Absolute tolerance on ``sum(p) == 1`` for ``output="probs"``/``"log_probs"``.
_PROBABILITY_SUM_ATOL = 1e-3


def check_output_head(output: str) -> None:
    """Raise ``ValueError`` unless ``output`` names a known head."""
    if output not in OUTPUT_HEADS:
        raise ValueError(f"expected output to be one of {OUTPUT_HEADS}, got {output!r}")


def check_outputs(outputs: Tensor, output: OutputHead) -> None:
    """Raise ``ValueError`` unless model outputs (N, C) fit the output head.

    The one check of every place that reads outputs through a head (the iFIM and the
    metrics): a known head, finite values (``-inf`` allowed for ``"log_probs"``), C >= 2 for
    the softmax heads, and for ``"probs"``/``"log_probs"`` probabilities in [0, 1] whose rows
    sum to 1, so that raw logits passed as ``"probs"`` are refused rather than read as
    probabilities.
    """
    check_output_head(output)
    if not isinstance(outputs, Tensor) or outputs.dim() != 2:
        shape = tuple(outputs.shape) if isinstance(outputs, Tensor) else type(outputs).__name__
        raise ValueError(f"expected the model output to be a tensor of shape (N, C), got {shape}")
    values = outputs.detach()
    if output == "log_probs":
        if values.isnan().any() or (values == float("inf")).any():
            raise ValueError("expected log-probabilities without NaN or +inf, got some")
    elif not torch.isfinite(values).all():
        raise ValueError("expected finite model outputs, got NaN or inf")
    num_outputs = outputs.shape[1]
    if output != "sigmoid" and num_outputs < 2:
        raise ValueError(
            f"expected C >= 2 outputs for output={output!r}, got C = {num_outputs}; "
            "use output='sigmoid' for a single-logit binary model"
        )
    if output == "sigmoid" and num_outputs < 1:
        raise ValueError("expected at least one output for output='sigmoid', got 0")
    if output in ("probs", "log_probs"):
        probs = outputs.detach() if output == "probs" else outputs.detach().exp()
        if output == "probs" and ((probs < 0).any() or (probs > 1).any()):
            raise ValueError(
                "expected probabilities in [0, 1] for output='probs', got values in "
                f"[{probs.min().item():.4g}, {probs.max().item():.4g}]; "
                "use output='logits' for raw scores"
            )
        sums = probs.sum(dim=1, dtype=torch.float64)
        if ((sums - 1).abs() > _PROBABILITY_SUM_ATOL).any():
            raise ValueError(
                f"expected rows of output={output!r} to sum to 1 (after exp for log_probs), "
                f"got sums in [{sums.min().item():.4g}, {sums.max().item():.4g}]"
            )


def _as_logits(outputs: Tensor, output: OutputHead) -> Tensor:
    """Logits z with softmax(z) = p. For probabilities, z = log p is exact when sum p = 1."""
    if output == "logits" or output == "log_probs":
        return outputs
    tiny = torch.finfo(outputs.dtype).tiny
    return outputs.clamp_min(tiny).log()


class FisherFactor(NamedTuple):
    """``F = J^T M J`` with J the input Jacobian of ``rows``.

    Attributes:
        rows: (N, m), attached to the autograd graph.
        metric: M, (N, m, m) float64, detached, positive semidefinite.
        probs: (N, C) detached predictive probabilities (per-output Bernoulli
            probabilities for ``"sigmoid"``).
        retained_mass: (N,) float64, the probability mass of the classes kept
            (1 unless ``class_mass`` restricted them).
    """

    rows: Tensor
    metric: Tensor
    probs: Tensor
    retained_mass: Tensor


def check_class_mass(class_mass: float | None) -> None:
    """Raise unless ``class_mass`` is None or in (0, 1]."""
    if class_mass is None:
        return
    if isinstance(class_mass, bool) or not isinstance(class_mass, (int, float)):
        raise TypeError(f"expected class_mass to be a float in (0, 1] or None, got {class_mass!r}")
    if not 0 < class_mass <= 1:
        raise ValueError(f"expected class_mass in (0, 1] or None, got {class_mass}")


def _most_probable_classes(probs: Tensor, class_mass: float) -> tuple[Tensor, Tensor]:
    """Per sample, the fewest most probable classes holding ``class_mass``, padded.

    Returns:
        ``(classes, kept)``: (N, s) class indices in descending probability and a
        (N, s) bool mask of those inside the set (padding repeats the last class).
    """
    sorted_probs, order = probs.sort(dim=1, descending=True)
    before = sorted_probs.cumsum(dim=1) - sorted_probs
    kept = before < class_mass
    width = int(kept.sum(dim=1).max())
    return order[:, :width], kept[:, :width]


def fisher_factor(
    outputs: Tensor, output: OutputHead = "logits", class_mass: float | None = None
) -> FisherFactor:
    """Factor the iFIM of a model output as rows and a metric.

    Args:
        outputs: Model output of shape (N, C), still attached to the autograd graph.
        output: Which distribution the outputs define; see the module docstring.
        class_mass: For the softmax heads, keep only the most probable classes holding
            this probability mass (see the module docstring for the error bound);
            ``None`` or a mass that needs every class gives the exact iFIM.

    Returns:
        A :class:`FisherFactor`; m = C - 1 for the exact softmax heads, C for
        ``"sigmoid"`` and the largest class set for ``class_mass``.

    Raises:
        ValueError: if the outputs are not (N, C) or do not fit the head.
    """
    check_class_mass(class_mass)
    check_outputs(outputs, output)
    num_samples, num_classes = outputs.shape
    full_mass = outputs.new_ones(num_samples, dtype=torch.float64)
    if output == "sigmoid":
        probs = torch.sigmoid(outputs.detach().double())
        metric = torch.diag_embed(probs * (1 - probs))
        return FisherFactor(outputs, metric, probs.to(outputs.dtype), full_mass)

    logits = _as_logits(outputs, output)
    log_probs = torch.log_softmax(logits.detach().double(), dim=1)
    probs = log_probs.exp()
    if class_mass is not None:
        classes, kept = _most_probable_classes(probs, class_mass)
        if classes.shape[1] < num_classes - 1:
            weights = probs.gather(1, classes) * kept
            rows = torch.log_softmax(logits, dim=1).gather(1, classes)
            retained = weights.sum(dim=1)
            return FisherFactor(rows, torch.diag_embed(weights), probs.to(outputs.dtype), retained)
    reference = probs.argmax(dim=1, keepdim=True)
    class_ids = torch.arange(num_classes, device=logits.device).expand(num_samples, -1)
    others = class_ids[class_ids != reference].view(num_samples, num_classes - 1)
    rows = logits.gather(1, others) - logits.gather(1, reference)
    q = probs.gather(1, others)
    metric = torch.diag_embed(q) - q.unsqueeze(2) * q.unsqueeze(1)
    return FisherFactor(rows, metric, probs.to(outputs.dtype), full_mass)
