"""Deletion and insertion curves and their AUC (Petsiuk et al., RISE, BMVC 2018).

Pixel locations are ordered by the channel-summed |map|, most important first. *Deletion*
replaces the first k locations of the input by a baseline, *insertion* starts from the
baseline and restores the first k locations, for k = 0, L/steps, ..., L (L locations).
The curve is the model's probability of the target class against k / L, and the score is
the area under it (trapezoid rule, in [0, 1]). A faithful map has a low deletion AUC
(the probability drops at once) and a high insertion AUC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead, check_output_head
from captum_ifim._validation import check_eval_mode, check_positive_int
from captum_ifim.metrics._forward import chunk_bounds, model_outputs, slice_args
from captum_ifim.metrics._pixel_selection import expand_to_input, pixel_ranks, spatial_saliency
from captum_ifim.metrics._predictive import class_log_probs
from captum_ifim.metrics._validation import (
    check_batch_tensor,
    check_input_tensor,
    check_labels,
    check_map,
    check_max_examples_per_batch,
    resolve_spatial_dims,
)

Mode = Literal["deletion", "insertion"]
Baseline = float | Tensor | Literal["blur"]


@dataclass(frozen=True)
class PerturbationCurve:
    """A deletion or insertion curve per example.

    Attributes:
        mode: ``"deletion"`` or ``"insertion"``.
        fractions: (steps + 1,) float64, k / L at each step, from 0 to 1.
        scores: (N, steps + 1) float64, the target-class probability at each step.
        auc: (N,) float64, the trapezoid area under ``scores`` over ``fractions``.
    """

    mode: Mode
    fractions: Tensor
    scores: Tensor
    auc: Tensor


def gaussian_blur(
    inputs: Tensor, kernel_size: int = 11, sigma: float = 5.0, spatial_dims: int = 2
) -> Tensor:
    """Blur the last ``spatial_dims`` dims (H, W or D, H, W) with a normalised Gaussian
    kernel, separably, with replicate padding.

    RISE's insertion baseline uses ``kernel_size=11, sigma=5`` (in pixels; in voxels for
    volumes).

    Args:
        inputs: ``(N, *channel dims, H, W)`` for 2 spatial dims, ``(N, *channel dims, D, H,
            W)`` for 3; finite, floating point, N > 0.
        kernel_size: Odd kernel width along every spatial dim.
        sigma: The Gaussian's standard deviation, > 0.
        spatial_dims: 2 (images) or 3 (volumes).

    Returns:
        The blurred inputs, same shape.

    Raises:
        TypeError: Not a floating tensor.
        ValueError: Too few dims, an empty batch, NaN or inf, the meta device, or a bad
            kernel.

    Example:
        >>> volume = torch.zeros(1, 1, 11, 11, 11)
        >>> volume[0, 0, 5, 5, 5] = 1.0
        >>> round(float(gaussian_blur(volume, 3, 1.0, spatial_dims=3).sum()), 6)
        1.0
    """
    if spatial_dims not in (2, 3):
        raise ValueError(
            f"expected 2 spatial dims (an image) or 3 (a volume) to blur, got {spatial_dims!r}"
        )
    check_batch_tensor(inputs, "inputs", floating=True)
    if inputs.dim() < spatial_dims + 1:
        shape = "(N, ..., H, W)" if spatial_dims == 2 else "(N, ..., D, H, W)"
        raise ValueError(f"expected inputs {shape} to blur, got {tuple(inputs.shape)}")
    check_positive_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0 or not sigma > 0:
        raise ValueError(f"expected an odd kernel_size and sigma > 0, got {kernel_size}, {sigma}")
    offsets = torch.arange(kernel_size, dtype=inputs.dtype, device=inputs.device)
    offsets = offsets - kernel_size // 2
    kernel_1d = torch.exp(-offsets.square() / (2 * sigma**2))
    kernel_1d = kernel_1d / kernel_1d.sum()
    pad = kernel_size // 2
    if spatial_dims == 3:
        depth, height, width = inputs.shape[-3:]
        volumes = inputs.reshape(-1, 1, depth, height, width)
        volumes = F.pad(volumes, (pad,) * 6, mode="replicate")
        volumes = F.conv3d(volumes, kernel_1d.view(1, 1, 1, 1, -1))
        volumes = F.conv3d(volumes, kernel_1d.view(1, 1, 1, -1, 1))
        volumes = F.conv3d(volumes, kernel_1d.view(1, 1, -1, 1, 1))
        return volumes.reshape(inputs.shape)
    height, width = inputs.shape[-2:]
    planes = inputs.reshape(-1, 1, height, width)
    planes = F.pad(planes, (pad, pad, pad, pad), mode="replicate")
    planes = F.conv2d(planes, kernel_1d.view(1, 1, 1, -1))
    planes = F.conv2d(planes, kernel_1d.view(1, 1, -1, 1))
    return planes.reshape(inputs.shape)


def _baseline_tensor(inputs: Tensor, baseline: Baseline, spatial: int) -> Tensor:
    if isinstance(baseline, str):
        if baseline != "blur":
            raise ValueError(
                f"expected baseline to be a number, a tensor or 'blur', got {baseline!r}"
            )
        if spatial not in (2, 3):
            raise ValueError(
                f"expected 2 spatial dims (an image) or 3 (a volume) for baseline='blur', "
                f"got {spatial}"
            )
        return gaussian_blur(inputs.detach(), spatial_dims=spatial)
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float, Tensor)):
        raise TypeError(
            f"expected baseline to be a number, a tensor or 'blur', got {type(baseline)}"
        )
    value = torch.as_tensor(baseline, dtype=inputs.dtype, device=inputs.device)
    try:
        return torch.broadcast_to(value, inputs.shape)
    except RuntimeError as error:
        raise ValueError(
            f"expected a baseline broadcastable to {tuple(inputs.shape)}, got {tuple(value.shape)}"
        ) from error


def perturbation_curve(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    *,
    mode: Mode = "deletion",
    baseline: Baseline = 0.0,
    steps: int = 32,
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    generator: torch.Generator | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> PerturbationCurve:
    """The deletion or insertion curve; see :func:`deletion_auc` for the arguments."""
    check_output_head(output)
    check_input_tensor(inputs, model=forward_func)
    spatial = resolve_spatial_dims(inputs.dim(), spatial_dims)
    check_map(attributions, inputs, spatial)
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"expected mode 'deletion' or 'insertion', got {mode!r}")
    check_positive_int(steps, "steps")
    check_max_examples_per_batch(max_examples_per_batch)
    base = _baseline_tensor(inputs, baseline, spatial)
    check_eval_mode(forward_func)

    def probabilities(x: Tensor, extra: Any, bound: int | None = None) -> Tensor:
        return class_log_probs(model_outputs(forward_func, x, extra, bound).double(), output).exp()

    clean = probabilities(inputs, additional_forward_args, max_examples_per_batch)
    num_examples = inputs.shape[0]
    num_classes = clean.shape[1]
    target_t: Any = target
    if target is None:
        target_t = clean.argmax(dim=1)
    elif isinstance(target, int) and not isinstance(target, bool):
        target_t = torch.full((num_examples,), target, dtype=torch.long)
    check_labels(target_t, num_examples, num_classes, "target")
    index = target_t.to(device=clean.device, dtype=torch.long).view(-1, 1)

    ranks = pixel_ranks(spatial_saliency(attributions, spatial), "top", generator)
    ranks = ranks.to(inputs.device)
    num_locations = ranks[0].numel()
    counts = [(i * num_locations + steps // 2) // steps for i in range(steps + 1)]

    def target_probability(k: int) -> Tensor:
        """p(target | x) with the k first-ranked locations deleted or inserted."""
        parts = []
        for start, stop in chunk_bounds(num_examples, max_examples_per_batch):
            mask = expand_to_input(ranks[start:stop] < k, inputs.dim())
            x, b = inputs[start:stop], base[start:stop]
            x = torch.where(mask, b, x) if mode == "deletion" else torch.where(mask, x, b)
            extra = slice_args(additional_forward_args, start, stop)
            parts.append(probabilities(x, extra).gather(1, index[start:stop])[:, 0])
        return torch.cat(parts)

    scores = []
    for k in counts:
        if (mode == "deletion" and k == 0) or (mode == "insertion" and k == num_locations):
            scores.append(clean.gather(1, index)[:, 0])
        else:
            scores.append(target_probability(k))
    curve = torch.stack(scores, dim=1).cpu()
    fractions = torch.tensor(counts, dtype=torch.float64) / num_locations
    auc = torch.trapezoid(curve, fractions, dim=1)
    return PerturbationCurve(mode=mode, fractions=fractions, scores=curve, auc=auc)


def deletion_auc(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    *,
    baseline: Baseline = 0.0,
    steps: int = 32,
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    generator: torch.Generator | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> PerturbationCurve:
    """Deletion curve and AUC (Petsiuk et al., 2018); lower is better.

    Args:
        forward_func: The classifier, outputs (N, C).
        inputs: ``(N, *channel dims, *spatial dims)``.
        attributions: The map (inputs' shape, channel dims may be 1).
        target: The class whose probability is tracked: (N,) labels, an int, or
            ``None`` for the clean prediction.
        baseline: What deleted pixels become: a number, a tensor broadcastable to the
            inputs, or ``"blur"`` (Gaussian blur of the input over its 2 or 3 spatial dims,
            kernel 11, sigma 5 pixels or voxels).
        steps: Number of steps; the model runs ``steps`` times on perturbed inputs.
        output: The output head.
        spatial_dims: Trailing dims that index a pixel; see :func:`spatial_saliency`.
        generator: Random tie-breaking among equal scores; ``None`` breaks ties by index.
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: Run the model on at most this many inputs at a time.

    Returns:
        A :class:`PerturbationCurve`; ``auc`` is the per-example score.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> x = torch.randn(2, 1, 4, 4)
        >>> deletion_auc(model, x, x, steps=4).auc.shape
        torch.Size([2])
    """
    return perturbation_curve(
        forward_func,
        inputs,
        attributions,
        target,
        mode="deletion",
        baseline=baseline,
        steps=steps,
        output=output,
        spatial_dims=spatial_dims,
        generator=generator,
        additional_forward_args=additional_forward_args,
        max_examples_per_batch=max_examples_per_batch,
    )


def insertion_auc(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    *,
    baseline: Baseline = "blur",
    steps: int = 32,
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    generator: torch.Generator | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> PerturbationCurve:
    """Insertion curve and AUC (Petsiuk et al., 2018); higher is better.

    Starts from ``baseline`` (default: the blurred input, as in RISE) and restores the
    most important pixels first. Arguments as :func:`deletion_auc`.
    """
    return perturbation_curve(
        forward_func,
        inputs,
        attributions,
        target,
        mode="insertion",
        baseline=baseline,
        steps=steps,
        output=output,
        spatial_dims=spatial_dims,
        generator=generator,
        additional_forward_args=additional_forward_args,
        max_examples_per_batch=max_examples_per_batch,
    )
