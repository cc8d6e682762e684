"""Adversarial correlation (Sec. IV-F): Pearson correlation of clean and FGSM maps.

For every sample the maps M(x) and M(x_adv), x_adv from :func:`fgsm` (eq. 27), are
flattened and correlated. A constant map has no correlation: it is ``nan``, counted in
``num_undefined`` and left out of the mean and std, never turned into 0.

Reading (paper, Sec. IV-F): a lower correlation means the map changes more under the
perturbation; that is sensitivity, not by itself evidence of faithfulness. The robustness
literature reads a higher correlation as a more stable explanation, so the metric has no
"better" direction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead
from captum_ifim._validation import check_eval_mode
from captum_ifim.metrics._correlation import pearson_per_sample
from captum_ifim.metrics._explainer_calls import compute_maps, explain_fn
from captum_ifim.metrics._fgsm import fgsm
from captum_ifim.metrics._forward import model_outputs
from captum_ifim.metrics._predictive import predicted_labels
from captum_ifim.metrics._validation import (
    check_batch_tensor,
    check_input_tensor,
    check_positive_int,
)

MapTarget = Literal["label", "prediction"]


@dataclass(frozen=True)
class CorrelationSummary:
    """Per-example correlations with their mean and std over the defined ones.

    Attributes:
        per_example: (N,) float64, ``nan`` where undefined (a constant map).
        mean: Mean over the defined values (``nan`` if none).
        std: Population standard deviation (ddof = 0) over the defined values.
        num_valid: How many values are defined.
        num_undefined: How many are ``nan`` (constant maps).
    """

    per_example: Tensor
    mean: float
    std: float
    num_valid: int
    num_undefined: int

    @classmethod
    def from_values(cls, values: Tensor | Sequence[Tensor]) -> CorrelationSummary:
        """Summarise per-example values (or a list of batches of them)."""
        if not isinstance(values, Tensor):
            values = torch.cat([v.flatten() for v in values])
        values = values.detach().flatten().double().cpu()
        valid = values[~values.isnan()]
        num_valid = int(valid.numel())
        mean = float(valid.mean()) if num_valid else float("nan")
        std = float(valid.std(correction=0)) if num_valid else float("nan")
        return cls(values, mean, std, num_valid, int(values.numel()) - num_valid)


def adversarial_correlation(
    forward_func: Callable[..., Any],
    explainer: Any,
    inputs: Tensor,
    labels: Tensor,
    epsilon: float,
    *,
    map_target: MapTarget | Tensor | int = "label",
    output: OutputHead = "logits",
    clamp: tuple[float, float] | None = None,
    adversarial_inputs: Tensor | None = None,
    clean_maps: Tensor | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> CorrelationSummary:
    """Per-sample Pearson correlation of M(x) and M(x_adv) (Sec. IV-F).

    Args:
        forward_func: The classifier, outputs (N, C).
        explainer: Anything with ``attribute(inputs, target=...)`` (Captum style) or a
            callable ``f(inputs, target=...)`` returning maps with N rows.
        inputs: (N, ...) clean inputs of the model's dtype and device.
        labels: (N,) true labels, used by FGSM (eq. 27).
        epsilon: FGSM radius (see :func:`fgsm`).
        map_target: The class both maps explain: ``"label"`` (the true label),
            ``"prediction"`` (the clean prediction) or explicit targets.
        output: The output head.
        clamp: Valid value range for FGSM, or ``None``.
        adversarial_inputs: Precomputed x_adv (to share one attack across methods);
            ``None`` runs :func:`fgsm`.
        clean_maps: Precomputed M(x) (N, ...) of ``inputs`` from the same explainer and
            targets (to reuse maps already computed); ``None`` computes them.
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: Bound on inputs per model or explainer call.

    Returns:
        A :class:`CorrelationSummary`.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
        >>> x, y = torch.randn(3, 1, 2, 2), torch.tensor([0, 1, 1])
        >>> res = adversarial_correlation(model, lambda x, target: x, x, y, 0.05)
        >>> res.per_example.shape
        torch.Size([3])
    """
    check_input_tensor(inputs, model=forward_func)
    check_positive_int(max_examples_per_batch, "max_examples_per_batch", allow_none=True)
    check_eval_mode(forward_func)
    explain_fn(explainer)
    if clean_maps is not None:
        check_batch_tensor(clean_maps, "clean_maps")
    if adversarial_inputs is None:
        adversarial_inputs = fgsm(
            forward_func,
            inputs,
            labels,
            epsilon,
            output=output,
            clamp=clamp,
            additional_forward_args=additional_forward_args,
            max_examples_per_batch=max_examples_per_batch,
        )
    else:
        check_input_tensor(adversarial_inputs, "adversarial_inputs")
        if adversarial_inputs.shape != inputs.shape:
            raise ValueError(
                f"expected adversarial_inputs of shape {tuple(inputs.shape)}, got "
                f"{tuple(adversarial_inputs.shape)}"
            )
    if isinstance(map_target, str):
        if map_target == "label":
            target: Tensor | int = labels
        elif map_target == "prediction":
            outputs = model_outputs(
                forward_func, inputs, additional_forward_args, max_examples_per_batch
            )
            target = predicted_labels(outputs, output)
        else:
            raise ValueError(
                f"expected map_target 'label', 'prediction', or targets, got {map_target!r}"
            )
    else:
        target = map_target
    args = (target, additional_forward_args, max_examples_per_batch)
    if clean_maps is None:
        clean_maps = compute_maps(explainer, inputs, *args)
    elif not isinstance(clean_maps, Tensor) or clean_maps.shape[0] != inputs.shape[0]:
        shape = tuple(clean_maps.shape) if isinstance(clean_maps, Tensor) else clean_maps
        raise ValueError(
            f"expected clean_maps with {inputs.shape[0]} rows (one per input), got {shape}"
        )
    adversarial_maps = compute_maps(explainer, adversarial_inputs, *args)
    return CorrelationSummary.from_values(pearson_per_sample(clean_maps, adversarial_maps))
