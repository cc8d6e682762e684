"""IROF, iterative removal of features (Rieger & Hansen, 2020), as Quantus 0.6's ``IROF``.

The image is cut into segments (scikit-image's SLIC superpixels, as Quantus; a grid of
squares or, in a volume, of cubes), the segments are ranked by their mean attribution and
replaced by the baseline one after another, most relevant first. The curve is the target
probability relative to the clean one, ``c_k = f_y(x^(k)) / f_y(x)`` after k of the S
segments, and the score is the area over it, ``AOC = 1 - int_0^1 c(t) dt`` with
``t = k / S`` (trapezoid rule); higher is better. Quantus reports
``S - np.trapz(c_1..c_S, dx=1)`` instead, which grows with S.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from captum_ifim._ifim._output_heads import OutputHead
from captum_ifim._validation import check_positive_int
from captum_ifim.metrics._pixel_flipping import grid_segments
from captum_ifim.metrics._replacement_values import Replacement, replacement_values
from captum_ifim.metrics._segment_removal import (
    descending_ranks,
    location_attributions,
    removal_curve,
    segment_sums,
)
from captum_ifim.metrics._target_scores import Score, target_scorer
from captum_ifim.metrics._validation import check_map, check_nonnegative, resolve_spatial_dims

Segmentation = Literal["slic", "grid"]


@dataclass(frozen=True)
class IROFResult:
    """IROF per example.

    Attributes:
        segments: ``(N, *spatial dims)`` long, each location's segment, 0..S_n - 1.
        num_segments: (N,) long, S_n.
        curves: (N, max S_n + 1) float64, ``c_k`` for k = 0..S_n (``c_0 = 1``), ``nan``
            after S_n. Quantus's curve is ``curves[n, 1:S_n + 1]``.
        aoc: (N,) float64, ``1 - trapezoid(c, k / S_n)``; higher is better.
    """

    segments: Tensor
    num_segments: Tensor
    curves: Tensor
    aoc: Tensor


def slic_segments(
    inputs: Tensor, n_segments: int = 100, compactness: float = 10.0, spatial_dims: int = 2
) -> Tensor:
    """SLIC superpixels of each image as Quantus makes them: scikit-image's
    ``slic(image (H, W, C) float64, n_segments, compactness, start_label=0)``.

    Args:
        inputs: ``(N, *channel dims, H, W)``; the channel dims are flattened into C.

    Returns:
        (N, H, W) long labels, renumbered 0..S_n - 1 per image, on the inputs' device.

    Raises:
        ImportError: scikit-image is missing (``pip install 'captum-ifim[metrics]'``).
        ValueError: Not 2 spatial dims.
    """
    if spatial_dims != 2:
        raise ValueError(
            f"expected 2 spatial dims for SLIC superpixels, got {spatial_dims} "
            "(use segmentation='grid' for volumes)"
        )
    try:
        from skimage.segmentation import slic
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "IROF's SLIC superpixels need scikit-image: pip install 'captum-ifim[metrics]'"
        ) from error
    height, width = inputs.shape[-2:]
    images = inputs.detach().reshape(inputs.shape[0], -1, height, width)
    labels = []
    for image in images.cpu().double().numpy():
        label = slic(
            image.transpose(1, 2, 0),
            n_segments=n_segments,
            compactness=compactness,
            start_label=0,
            channel_axis=-1,
        )
        labels.append(torch.unique(torch.from_numpy(label), return_inverse=True)[1])
    return torch.stack(labels).to(inputs.device)


def irof(
    forward_func: Callable[..., Any],
    inputs: Tensor,
    attributions: Tensor,
    target: Tensor | int | None = None,
    *,
    segmentation: Segmentation | Tensor | None = None,
    n_segments: int = 100,
    compactness: float = 10.0,
    grid_size: int = 8,
    baseline: Replacement = "mean",
    absolute: bool = False,
    score: Score = "probability",
    output: OutputHead = "logits",
    spatial_dims: int | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> IROFResult:
    """IROF (Rieger & Hansen, 2020); higher is better.

    Args:
        forward_func: The classifier, outputs (N, C).
        inputs: ``(N, *channel dims, *spatial dims)``.
        attributions: The map (inputs' shape, channel dims may be 1); a segment's
            attribution is the mean of its locations' channel sums.
        target: (N,) labels, an int, or ``None`` for the clean prediction.
        segmentation: ``"slic"`` (:func:`slic_segments`, images only), ``"grid"``
            (``grid_size``-sided squares or cubes, centred as in region perturbation), your
            own ``(N, *spatial dims)`` integer labels, or ``None``: SLIC for images, the grid
            for volumes.
        n_segments: SLIC's target number of segments (scikit-image's default 100).
        compactness: SLIC's compactness (scikit-image's default 10), relative to the
            intensity range of the inputs.
        grid_size: The side of a grid cell in pixels (voxels).
        baseline: What a removed segment becomes; Quantus's default ``"mean"`` is each
            example's mean (of its clean input: Quantus takes the mean of the batch as
            perturbed so far, see docs/metrics.md), or as in
            :func:`~captum_ifim.metrics.faithfulness_correlation`.
        absolute: Rank by ``|map|`` (Quantus's ``abs``, off by default).
        score: ``"probability"`` (Quantus's ``softmax=True``) or ``"output"``.
        output: The output head.
        spatial_dims: Trailing dims that index a location.
        additional_forward_args: Extra forward arguments, as in Captum.
        max_examples_per_batch: At most this many inputs per forward pass.

    Returns:
        An :class:`IROFResult`; ``aoc`` is the per-example score.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> x = torch.randn(2, 1, 4, 4)
        >>> irof(model, x, x, segmentation="grid", grid_size=2).num_segments.tolist()
        [4, 4]
    """
    scorer = target_scorer(
        forward_func,
        inputs,
        target,
        score=score,
        output=output,
        additional_forward_args=additional_forward_args,
        max_examples_per_batch=max_examples_per_batch,
    )
    spatial = resolve_spatial_dims(inputs.dim(), spatial_dims)
    check_map(attributions, inputs, spatial)
    check_positive_int(n_segments, "n_segments")
    check_positive_int(grid_size, "grid_size")
    check_nonnegative(compactness, "compactness")
    base = replacement_values(inputs, baseline)
    values = location_attributions(attributions, spatial, absolute)
    spatial_shape = tuple(values.shape[1:])
    segments = _segments(
        inputs, segmentation, spatial, spatial_shape, n_segments, compactness, grid_size
    )
    segments = segments.to(values.device)
    counts = segments.flatten(1).amax(dim=1) + 1
    most = int(counts.max())
    flat = segments.flatten(1)
    sums = segment_sums(values, segments, most)
    sizes = torch.zeros_like(sums).scatter_add_(1, flat, torch.ones_like(values.flatten(1)))
    means = torch.where(sizes > 0, sums / sizes.clamp(min=1), torch.full_like(sums, -torch.inf))
    removal_step = descending_ranks(means).gather(1, flat).view_as(values)
    scores, _ = removal_curve(scorer, inputs, base, removal_step, most, max_examples_per_batch)
    curves = scores / scores[:, :1]
    steps = torch.arange(most + 1, dtype=torch.float64)
    counts_cpu = counts.cpu()
    curves = torch.where(steps <= counts_cpu.unsqueeze(1), curves, torch.nan)
    aoc = torch.stack(
        [
            1 - torch.trapezoid(curves[n, : int(s) + 1], steps[: int(s) + 1] / int(s))
            for n, s in enumerate(counts_cpu)
        ]
    )
    return IROFResult(segments=segments, num_segments=counts_cpu, curves=curves, aoc=aoc)


def _segments(
    inputs: Tensor,
    segmentation: Segmentation | Tensor | None,
    spatial: int,
    spatial_shape: tuple[int, ...],
    n_segments: int,
    compactness: float,
    grid_size: int,
) -> Tensor:
    """(N, *spatial) long labels 0..S_n - 1 per example."""
    if segmentation is None:
        segmentation = "slic" if spatial == 2 else "grid"
    if isinstance(segmentation, Tensor):
        expected = (inputs.shape[0], *spatial_shape)
        if segmentation.is_floating_point() or segmentation.is_complex():
            raise TypeError(f"expected integer segment labels, got {segmentation.dtype}")
        if tuple(segmentation.shape) != expected:
            raise ValueError(
                f"expected segment labels of shape {expected}, got {tuple(segmentation.shape)}"
            )
        flat = segmentation.flatten(1).long().cpu()
        relabelled = [torch.unique(row, return_inverse=True)[1] for row in flat]
        return torch.stack(relabelled).view(expected)
    if segmentation == "slic":
        return slic_segments(inputs, n_segments, compactness, spatial)
    if segmentation == "grid":
        if grid_size > min(spatial_shape):
            raise ValueError(
                f"expected grid_size <= the smallest spatial side {min(spatial_shape)}, "
                f"got {grid_size}"
            )
        cells = grid_segments(spatial_shape, grid_size)
        return cells.expand(inputs.shape[0], *spatial_shape).clone()
    raise ValueError(
        f"expected segmentation 'slic', 'grid', a tensor of labels or None, got {segmentation!r}"
    )
