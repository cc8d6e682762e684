"""The predictive distribution behind a model output: class log-probabilities, labels, loss, KL.

The output heads are those of :class:`captum_ifim.IFIMDecomposition`: ``"logits"``,
``"probs"``, ``"log_probs"`` (softmax classifiers with C >= 2 outputs) and ``"sigmoid"``
(independent Bernoulli per logit). Label-based metrics need classes: for ``"sigmoid"``
only the single-logit binary model (classes 0 and 1) has them. Every function checks the
outputs against the head with the iFIM's own check
(:func:`~captum_ifim._ifim._output_heads.check_outputs`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead, _as_logits, check_outputs


def _bernoulli_log_probs(logits: Tensor) -> Tensor:
    """(..., 2): log(1 - sigmoid(z)), log sigmoid(z)."""
    return torch.stack([F.logsigmoid(-logits), F.logsigmoid(logits)], dim=-1)


def num_classes_of(outputs: Tensor, output: OutputHead) -> int:
    """The number of classes a label can take: C, or 2 for a single sigmoid logit.

    Raises:
        ValueError: The outputs do not fit the head (the iFIM's check, so that e.g. logits
            passed as ``"probs"`` are refused), or a multi-logit ``"sigmoid"`` model.
    """
    check_outputs(outputs, output)
    if output == "sigmoid":
        if outputs.shape[1] != 1:
            raise ValueError(
                "expected a single logit for class labels with output='sigmoid', got "
                f"{outputs.shape[1]} outputs (multi-label models have no single class label)"
            )
        return 2
    if outputs.shape[1] < 2:
        raise ValueError(
            f"expected C >= 2 outputs for output={output!r}, got C = {outputs.shape[1]}; "
            "use output='sigmoid' for a single-logit binary model"
        )
    return outputs.shape[1]


def class_log_probs(outputs: Tensor, output: OutputHead) -> Tensor:
    """log p(y | x) of shape (N, num_classes), differentiable, in the outputs' dtype."""
    num_classes_of(outputs, output)
    if output == "sigmoid":
        return _bernoulli_log_probs(outputs[:, 0])
    return torch.log_softmax(_as_logits(outputs, output), dim=1)


def predicted_labels(outputs: Tensor, output: OutputHead) -> Tensor:
    """The most probable class (N,) long; a single sigmoid logit predicts 1 iff z > 0."""
    return class_log_probs(outputs, output).argmax(dim=1)


def cross_entropy_sum(outputs: Tensor, labels: Tensor, output: OutputHead) -> Tensor:
    """Sum over the batch of -log p(labels | x): the loss L of eq. 27."""
    return F.nll_loss(class_log_probs(outputs, output), labels, reduction="sum")


def kl_divergence(outputs_p: Tensor, outputs_q: Tensor, output: OutputHead) -> Tensor:
    """KL(p || q) per example (N,) in float64 between the distributions of two outputs.

    For ``"sigmoid"`` the outputs are independent Bernoullis and the KL is their sum.
    """
    check_outputs(outputs_p, output)
    check_outputs(outputs_q, output)
    if output == "sigmoid":
        log_p = _bernoulli_log_probs(outputs_p.double())
        log_q = _bernoulli_log_probs(outputs_q.double())
    else:
        log_p = class_log_probs(outputs_p.double(), output)
        log_q = class_log_probs(outputs_q.double(), output)
    p = log_p.exp()
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))
    return terms.flatten(1).sum(dim=1)
