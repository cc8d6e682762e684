"""Contrastive pixel perturbation and its F1 ratio (Sec. IV-E, eqs. 23-26).

For each fraction alpha, k = ceil(alpha * H * W) pixel locations (k = ceil(alpha * D * H *
W) voxels of a volume) are selected twice: the *high* set, TopK of the high map (eq. 23),
and the *low* set (eq. 24). Each set is replaced by noise eta(p) (eqs. 25-26) and the
model's F1 score is measured on both perturbed sets; ``ratio = F1(low set perturbed) /
F1(high set perturbed)``. Higher is better: perturbing the pixels a map ranks first should
hurt more than perturbing those it ranks last.

The low set (eq. 24; docs/metrics.md, "Contrastive perturbation and the F1 ratio"): with a
separate low map (iFIM: I(x)), ``"bottomk_insensitive"`` is BottomK(|I(x)|) as eq. 24 is
printed and ``"topk_insensitive"`` is TopK(|I(x)|), in case eq. 24 is a typo. With one map
(every other method) the low set is BottomK(|M|) of the same map, reported as
``"bottomk_same_map"``.

Noise: one field eta of the inputs' shape, Gaussian with the given (dataset) mean and std,
drawn from a ``torch.Generator`` seeded with ``seed``. The same seed and input shape give
the same draws for every method; or pass the field itself as ``noise``. To pool a test
set over batches, call :func:`contrastive_perturbation_predictions` per batch with a
per-batch seed (or a slice of one field), concatenate with
:meth:`ContrastivePredictions.cat` and score once with :func:`f1_ratio`: F1 is a
dataset-level score, never an average of batch F1s.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead, check_output_head
from captum_ifim._validation import check_choice, check_eval_mode, check_positive_int
from captum_ifim.metrics._forward import chunk_bounds, model_outputs, slice_args
from captum_ifim.metrics._pixel_selection import (
    Which,
    expand_to_input,
    num_selected_pixels,
    pixel_ranks,
    spatial_saliency,
)
from captum_ifim.metrics._predictive import num_classes_of, predicted_labels
from captum_ifim.metrics._validation import (
    check_fractions,
    check_holds_data,
    check_input_tensor,
    check_labels,
    check_map,
    check_max_examples_per_batch,
    resolve_spatial_dims,
)

LowRule = Literal["bottomk_insensitive", "topk_insensitive"]
LOW_RULES: tuple[str, ...] = get_args(LowRule)
#: The low-set rule reported when no separate low map is given (BottomK of the same map).
SAME_MAP_RULE = "bottomk_same_map"
TieBreak = Literal["random", "index"]
F1Average = Literal["binary", "macro"]


@dataclass(frozen=True)
class ContrastivePredictions:
    """Per-example predicted labels on clean and perturbed inputs, poolable over batches.

    Attributes:
        fractions: The fractions alpha (F of them).
        num_pixels: k for each fraction.
        labels: (N,) the true labels.
        clean: (N,) predictions on the clean inputs.
        high: (F, N) predictions after perturbing the high set (eq. 25).
        low: (F, N) predictions after perturbing the low set (eq. 26).
        num_classes: The number of classes.
        low_rule: ``"bottomk_insensitive"``, ``"topk_insensitive"`` or
            ``"bottomk_same_map"``.
    """

    fractions: tuple[float, ...]
    num_pixels: tuple[int, ...]
    labels: Tensor
    clean: Tensor
    high: Tensor
    low: Tensor
    num_classes: int
    low_rule: str

    @staticmethod
    def cat(parts: Sequence[ContrastivePredictions]) -> ContrastivePredictions:
        """Concatenate the predictions of several batches of one evaluation."""
        if not parts:
            raise ValueError("expected at least one ContrastivePredictions, got none")
        first = parts[0]
        for part in parts[1:]:
            same = (part.fractions, part.num_pixels, part.num_classes, part.low_rule) == (
                first.fractions,
                first.num_pixels,
                first.num_classes,
                first.low_rule,
            )
            if not same:
                raise ValueError(
                    "expected batches with the same fractions, k, classes and low rule, got "
                    f"{(part.fractions, part.num_pixels, part.num_classes, part.low_rule)} and "
                    f"{(first.fractions, first.num_pixels, first.num_classes, first.low_rule)}"
                )
        return ContrastivePredictions(
            fractions=first.fractions,
            num_pixels=first.num_pixels,
            labels=torch.cat([p.labels for p in parts]),
            clean=torch.cat([p.clean for p in parts]),
            high=torch.cat([p.high for p in parts], dim=1),
            low=torch.cat([p.low for p in parts], dim=1),
            num_classes=first.num_classes,
            low_rule=first.low_rule,
        )


@dataclass(frozen=True)
class ContrastivePerturbationResult:
    """The F1 scores and ratio of the contrastive perturbation, per fraction.

    Attributes:
        fractions: The fractions alpha (F of them).
        num_pixels: k for each fraction (per image).
        f1_clean: F1 on the clean inputs.
        f1_high: (F,) float64, F1 after perturbing the high set.
        f1_low: (F,) float64, F1 after perturbing the low set.
        ratio: (F,) float64, ``f1_low / f1_high``; ``inf`` where ``f1_high`` is 0 and
            ``f1_low`` is not, ``nan`` where both are 0 (a warning is issued).
        low_rule: How the low set was chosen (see the module docstring).
        average: ``"binary"`` (positive class 1) for two classes, else ``"macro"``.
        num_examples: N.
    """

    fractions: tuple[float, ...]
    num_pixels: tuple[int, ...]
    f1_clean: float
    f1_high: Tensor
    f1_low: Tensor
    ratio: Tensor
    low_rule: str
    average: F1Average
    num_examples: int


def f1(labels: Tensor, predictions: Tensor, num_classes: int) -> float:
    """F1 from scikit-learn: binary (positive class 1) for 2 classes, else macro-averaged.

    Macro averaging runs over the classes present in ``labels`` or ``predictions``
    (scikit-learn's default), so a class predicted but never true counts as 0 and a class
    absent from both does not count. Undefined precision or recall counts as 0.

    Raises:
        TypeError: Labels or predictions that are not integer tensors.
        ValueError: Shapes other than (N,) for both, values outside [0, num_classes), or a
            ``num_classes`` that is not a positive int.
    """
    check_positive_int(num_classes, "num_classes")
    if not isinstance(labels, Tensor):
        raise TypeError(f"expected labels to be a torch.Tensor, got {type(labels).__name__}")
    check_labels(labels, labels.numel(), num_classes, "labels")
    check_labels(predictions, labels.numel(), num_classes, "predictions")
    try:
        from sklearn.metrics import f1_score
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the F1 ratio needs scikit-learn: pip install 'captum-ifim[metrics]'"
        ) from error
    y_true = labels.detach().cpu().numpy()
    y_pred = predictions.detach().cpu().numpy()
    if num_classes == 2:
        score = f1_score(y_true, y_pred, average="binary", pos_label=1, zero_division=0.0)
    else:
        score = f1_score(y_true, y_pred, average="macro", zero_division=0.0)
    return float(score)


def f1_ratio(predictions: ContrastivePredictions) -> ContrastivePerturbationResult:
    """F1 scores and the ratio ``F1(low perturbed) / F1(high perturbed)`` per fraction.

    Raises:
        TypeError: ``predictions`` is not a :class:`ContrastivePredictions`.
    """
    if not isinstance(predictions, ContrastivePredictions):
        raise TypeError(
            "expected predictions to be a ContrastivePredictions (from "
            f"contrastive_perturbation_predictions), got {type(predictions).__name__}"
        )
    return _f1_ratio(predictions, stacklevel=3)


def _f1_ratio(
    predictions: ContrastivePredictions, stacklevel: int
) -> ContrastivePerturbationResult:
    labels, num_classes = predictions.labels, predictions.num_classes
    f1_high = torch.tensor(
        [f1(labels, p, num_classes) for p in predictions.high], dtype=torch.float64
    )
    f1_low = torch.tensor(
        [f1(labels, p, num_classes) for p in predictions.low], dtype=torch.float64
    )
    ratio = f1_low / f1_high
    if (f1_high == 0).any():
        zero = [f for f, z in zip(predictions.fractions, (f1_high == 0).tolist(), strict=True) if z]
        warnings.warn(
            f"F1 after perturbing the high set is 0 at fractions {zero}: the ratio is inf "
            "there (nan where the low-set F1 is 0 too)",
            stacklevel=stacklevel,
        )
    return ContrastivePerturbationResult(
        fractions=predictions.fractions,
        num_pixels=predictions.num_pixels,
        f1_clean=f1(labels, predictions.clean, num_classes),
        f1_high=f1_high,
        f1_low=f1_low,
        ratio=ratio,
        low_rule=predictions.low_rule,
        average="binary" if num_classes == 2 else "macro",
        num_examples=int(labels.shape[0]),
    )


def gaussian_noise(
    like: Tensor,
    mean: float | Tensor = 0.0,
    std: float | Tensor = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A noise field eta of ``like``'s shape, dtype and device: ``mean + std * N(0, 1)``.

    Drawn on the CPU from ``generator`` (a fresh unseeded one if ``None``) and then moved,
    so a seed gives the same field on every device.

    Args:
        like: Tensor (N, ...) whose shape, dtype and device the noise takes.
        mean: A float or a tensor broadcastable to one sample (e.g. per channel (C, 1, 1)).
        std: Same as ``mean``; must be >= 0.

    Returns:
        The noise, shape of ``like``.

    Raises:
        TypeError: ``like`` is not a floating tensor.
        ValueError: ``like`` on the meta device, or a bad mean or std.
    """
    if not isinstance(like, Tensor):
        raise TypeError(f"expected like to be a torch.Tensor, got {type(like).__name__}")
    if not like.is_floating_point():
        raise TypeError(f"expected like to be floating point, got {like.dtype}")
    check_holds_data(like, "like")
    mean_t = torch.as_tensor(mean, dtype=like.dtype)
    std_t = torch.as_tensor(std, dtype=like.dtype)
    if not (torch.isfinite(std_t).all() and (std_t >= 0).all() and torch.isfinite(mean_t).all()):
        raise ValueError(f"expected finite noise mean and std >= 0, got mean={mean}, std={std}")
    sample_shape = like.shape[1:]
    for name, value in (("mean", mean_t), ("std", std_t)):
        try:
            fits = torch.broadcast_shapes(value.shape, sample_shape) == sample_shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"expected noise {name} broadcastable to one sample {tuple(sample_shape)}, "
                f"got shape {tuple(value.shape)}"
            )
    draws = torch.randn(like.shape, generator=generator, dtype=like.dtype)
    return (mean_t + std_t * draws).to(like.device)


def _ranks(
    attributions: Tensor,
    which: Which,
    spatial_dims: int,
    seed: int,
    tie: TieBreak,
) -> Tensor:
    generator = torch.Generator().manual_seed(seed) if tie == "random" else None
    return pixel_ranks(spatial_saliency(attributions, spatial_dims), which, generator)


def contrastive_perturbation_predictions(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    labels: Tensor,
    high_attributions: Tensor,
    low_attributions: Tensor | None = None,
    *,
    fractions: Sequence[float] = (0.01, 0.02, 0.03),
    low_rule: LowRule = "bottomk_insensitive",
    noise_mean: float | Tensor = 0.0,
    noise_std: float | Tensor = 1.0,
    seed: int = 0,
    noise: Tensor | None = None,
    tie_break: TieBreak = "random",
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> ContrastivePredictions:
    """Predictions on clean inputs and after perturbing the high and the low set (eqs. 23-26).

    Use this per batch and :meth:`ContrastivePredictions.cat` + :func:`f1_ratio` to pool a
    test set; :func:`contrastive_perturbation` does both for one batch. Arguments are
    those of :func:`contrastive_perturbation`.
    """
    check_output_head(output)
    check_input_tensor(inputs, model=forward_func)
    spatial = resolve_spatial_dims(inputs.dim(), spatial_dims)
    check_map(high_attributions, inputs, spatial, "high_attributions")
    if low_attributions is not None:
        check_map(low_attributions, inputs, spatial, "low_attributions")
    check_choice("low_rule", low_rule, LOW_RULES)
    check_choice("tie_break", tie_break, get_args(TieBreak))
    alphas = check_fractions(fractions)
    check_max_examples_per_batch(max_examples_per_batch)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"expected seed to be an int, got {type(seed).__name__}")
    if noise is None:
        noise = gaussian_noise(inputs, noise_mean, noise_std, torch.Generator().manual_seed(seed))
    elif not isinstance(noise, Tensor) or noise.shape != inputs.shape:
        shape = tuple(noise.shape) if isinstance(noise, Tensor) else type(noise).__name__
        raise ValueError(f"expected noise of the inputs' shape {tuple(inputs.shape)}, got {shape}")
    noise = noise.to(device=inputs.device, dtype=inputs.dtype)
    check_eval_mode(forward_func)

    clean_outputs = model_outputs(
        forward_func, inputs, additional_forward_args, max_examples_per_batch
    )
    num_classes = num_classes_of(clean_outputs, output)
    check_labels(labels, inputs.shape[0], num_classes)

    low_which: Which = "bottom"
    if low_attributions is None:
        low_map, rule_used = high_attributions, SAME_MAP_RULE
    else:
        low_which = "bottom" if low_rule == "bottomk_insensitive" else "top"
        low_map, rule_used = low_attributions, low_rule
    high_ranks = _ranks(high_attributions, "top", spatial, seed, tie_break).to(inputs.device)
    low_ranks = _ranks(low_map, low_which, spatial, seed, tie_break).to(inputs.device)
    num_locations = high_ranks[0].numel()
    ks = tuple(num_selected_pixels(alpha, num_locations) for alpha in alphas)

    def predict_replaced(ranks: Tensor, k: int) -> Tensor:
        """Predictions with the k first-ranked locations replaced by noise (eqs. 25-26)."""
        parts = []
        for start, stop in chunk_bounds(inputs.shape[0], max_examples_per_batch):
            mask = expand_to_input(ranks[start:stop] < k, inputs.dim())
            perturbed = torch.where(mask, noise[start:stop], inputs[start:stop])
            extra = slice_args(additional_forward_args, start, stop)
            parts.append(predicted_labels(model_outputs(forward_func, perturbed, extra), output))
        return torch.cat(parts)

    high = [predict_replaced(high_ranks, k) for k in ks]
    low = [predict_replaced(low_ranks, k) for k in ks]
    return ContrastivePredictions(
        fractions=alphas,
        num_pixels=ks,
        labels=labels.detach().to(torch.long).cpu(),
        clean=predicted_labels(clean_outputs, output).cpu(),
        high=torch.stack(high).cpu(),
        low=torch.stack(low).cpu(),
        num_classes=num_classes,
        low_rule=rule_used,
    )


def contrastive_perturbation(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    labels: Tensor,
    high_attributions: Tensor,
    low_attributions: Tensor | None = None,
    *,
    fractions: Sequence[float] = (0.01, 0.02, 0.03),
    low_rule: LowRule = "bottomk_insensitive",
    noise_mean: float | Tensor = 0.0,
    noise_std: float | Tensor = 1.0,
    seed: int = 0,
    noise: Tensor | None = None,
    tie_break: TieBreak = "random",
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> ContrastivePerturbationResult:
    """The F1 ratio of contrastive pixel perturbation (Sec. IV-E, eqs. 23-26).

    Args:
        forward_func: The classifier, outputs (N, C); in eval mode if it has BatchNorm
            or Dropout.
        inputs: ``(N, *channel dims, *spatial dims)``, e.g. (N, C, H, W).
        labels: (N,) true labels in [0, num_classes).
        high_attributions: The map whose ``TopK |.|`` is the high set (iFIM: S(x)); the
            inputs' shape, channel dims may be 1.
        low_attributions: The map the low set comes from (iFIM: I(x)); ``None`` takes
            BottomK of ``high_attributions`` (one-map methods).
        fractions: alpha values in (0, 1].
        low_rule: How the low set is taken from ``low_attributions``:
            ``"bottomk_insensitive"`` (eq. 24 as printed) or ``"topk_insensitive"``.
        noise_mean: Mean of the Gaussian noise (the dataset's pixel mean; a float or
            per channel, broadcastable to one sample).
        noise_std: Its standard deviation.
        seed: Seeds the noise and the random tie-breaking; the same seed gives every
            method the same draws.
        noise: A pre-drawn noise field of the inputs' shape; replaces the one drawn from
            ``noise_mean``, ``noise_std`` and ``seed`` (``seed`` still breaks ties).
        tie_break: ``"random"`` (a seeded permutation) or ``"index"`` (row-major order)
            among equal scores.
        output: The output head: ``"logits"``, ``"probs"``, ``"log_probs"`` or
            ``"sigmoid"`` (single logit).
        spatial_dims: Trailing dims that index a pixel; see :func:`spatial_saliency`.
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: Run the model on at most this many inputs at a time.

    Returns:
        A :class:`ContrastivePerturbationResult` (F1 on clean, high-perturbed and
        low-perturbed inputs, and the ratio, per fraction).

    Example:
        >>> _ = torch.manual_seed(1)
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> x = torch.randn(8, 1, 4, 4)
        >>> y = model(x).argmax(dim=1)
        >>> res = contrastive_perturbation(model, x, y, x.abs(), fractions=(0.25,))
        >>> res.f1_clean, res.num_pixels, res.low_rule
        (1.0, (4,), 'bottomk_same_map')
    """
    predictions = contrastive_perturbation_predictions(
        forward_func,
        inputs,
        labels,
        high_attributions,
        low_attributions,
        fractions=fractions,
        low_rule=low_rule,
        noise_mean=noise_mean,
        noise_std=noise_std,
        seed=seed,
        noise=noise,
        tie_break=tie_break,
        output=output,
        spatial_dims=spatial_dims,
        additional_forward_args=additional_forward_args,
        max_examples_per_batch=max_examples_per_batch,
    )
    return _f1_ratio(predictions, stacklevel=3)
