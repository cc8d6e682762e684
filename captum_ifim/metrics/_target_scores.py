"""The target-class score of perturbed inputs, shared by the perturbation metrics.

Quantus's faithfulness metrics read either the softmax probability of the target class
(``softmax=True``, its default for pixel flipping, region perturbation, IROF, ROAD and
monotonicity correlation) or the raw model output (``softmax=False``, its default for
faithfulness correlation). ``score="probability"`` and ``score="output"`` are those two;
the probability follows the output head (``output=``) as every metric here does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead, check_output_head
from captum_ifim._validation import check_choice, check_eval_mode
from captum_ifim.metrics._forward import model_outputs, slice_args
from captum_ifim.metrics._predictive import class_log_probs
from captum_ifim.metrics._validation import (
    check_input_tensor,
    check_labels,
    check_max_examples_per_batch,
    check_target_count,
)

Score = Literal["probability", "output"]
SCORES: tuple[str, ...] = get_args(Score)


@dataclass(frozen=True)
class TargetScorer:
    """Scores inputs for their example's target class.

    Attributes:
        clean: (N,) float64, the score of the unperturbed inputs.
        clean_predictions: (N,) long, the unperturbed predicted classes.
        target: (N,) long, on the inputs' device.
        score_chunk: ``score_chunk(x, start, stop)`` gives ``(scores, predictions)`` of
            inputs ``x`` that stand for examples ``start:stop`` (their target and extra
            forward args), float64 and long, both ``(len(x),)``; ``x`` may hold the slice
            several times over (rows ``start:stop``, then the same examples again), each
            copy a different perturbation, scored in one forward pass.
    """

    clean: Tensor
    clean_predictions: Tensor
    target: Tensor
    score_chunk: Callable[..., tuple[Tensor, Tensor]]


def target_scorer(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    target: Tensor | int | None,
    *,
    score: Score,
    output: OutputHead,
    additional_forward_args: Any,
    max_examples_per_batch: int | None,
) -> TargetScorer:
    """Check the model, inputs and target, and score the clean inputs.

    ``target=None`` is the clean prediction; an int is one class for every example.

    Raises:
        ValueError: Bad inputs, a model in training mode with batch-dependent layers,
            outputs that do not fit ``output``, or a target out of range.
        TypeError: Inputs or a target of a wrong type.
    """
    check_output_head(output)
    check_choice("score", score, SCORES)
    check_input_tensor(inputs, model=forward_func)
    check_max_examples_per_batch(max_examples_per_batch)
    check_target_count(target, inputs.shape[0])
    check_eval_mode(forward_func)

    def scores_of(outputs: Tensor) -> tuple[Tensor, Tensor]:
        """Per-class scores and the predicted classes (the head checks the outputs)."""
        outputs = outputs.double()
        log_probs = class_log_probs(outputs, output)
        values = log_probs.exp() if score == "probability" else outputs
        return values, log_probs.argmax(dim=1)

    clean_all, clean_predictions = scores_of(
        model_outputs(forward_func, inputs, additional_forward_args, max_examples_per_batch)
    )
    num_examples = inputs.shape[0]
    target_t: Any = target
    if target is None:
        target_t = clean_predictions
    elif isinstance(target, int) and not isinstance(target, bool):
        target_t = torch.full((num_examples,), target, dtype=torch.long)
    elif isinstance(target, Tensor) and target.dim() == 0:
        target_t = target.expand(num_examples)
    check_labels(target_t, num_examples, clean_all.shape[1], "target")
    index = target_t.to(device=clean_all.device, dtype=torch.long)

    def score_chunk(x: Tensor, start: int, stop: int) -> tuple[Tensor, Tensor]:
        repeats = x.shape[0] // (stop - start)
        extra = slice_args(additional_forward_args, start, stop)
        if repeats > 1 and extra is not None:
            extra = tuple(
                a.repeat(repeats, *([1] * (a.dim() - 1))) if isinstance(a, Tensor) else a
                for a in extra
            )
        values, predictions = scores_of(model_outputs(forward_func, x, extra))
        rows = index[start:stop].repeat(repeats).view(-1, 1)
        return values.gather(1, rows)[:, 0], predictions

    return TargetScorer(
        clean=clean_all.gather(1, index.view(-1, 1))[:, 0],
        clean_predictions=clean_predictions,
        target=index,
        score_chunk=score_chunk,
    )
