"""Random-logit randomization check (Sixt et al., 2020).

A map that explains the class asked for should differ from the map of another class: the
explainer is run for the target class and for a class drawn uniformly from the others, and
the two maps are compared; lower similarity is better. Beside the model-parameter
randomization (:func:`model_parameter_randomization`), which randomizes the weights instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, get_args

import torch
from torch import Tensor

from captum_ifim._targets import target_indices
from captum_ifim._validation import check_bool, check_choice, check_eval_mode
from captum_ifim.metrics._correlation import _pearson, average_ranks
from captum_ifim.metrics._explainer_calls import compute_maps
from captum_ifim.metrics._forward import model_outputs, slice_args
from captum_ifim.metrics._ssim import flat_ssim
from captum_ifim.metrics._validation import (
    check_callable,
    check_input_tensor,
    check_max_examples_per_batch,
    check_target_count,
)

Similarity = Literal["ssim", "pearson", "spearman"]
SIMILARITIES: tuple[str, ...] = get_args(Similarity)


def _normalized_by_max(maps: Tensor) -> Tensor:
    """Each map divided by its own maximum ``|value|`` (an all-zero map is left as is)."""
    peak = maps.flatten(1).abs().max(dim=1).values
    shape = (-1,) + (1,) * (maps.dim() - 1)
    return maps / torch.where(peak > 0, peak, torch.ones_like(peak)).view(shape)


def draw_other_classes(target: Tensor, num_classes: int, generator: torch.Generator) -> Tensor:
    """One class per example drawn uniformly from the ``num_classes - 1`` classes other
    than its target, from ``generator`` (on the generator's device, then moved to the
    target's): a draw r in [0, C - 2] maps to r, or r + 1 from the target on."""
    draws = torch.randint(
        num_classes - 1, tuple(target.shape), generator=generator, device=generator.device
    ).to(target.device)
    return draws + (draws >= target).long()


def random_logit(
    forward_func: Callable[..., Any],
    explainer: Any,
    inputs: Tensor,
    target: Tensor | int | list[int],
    *,
    similarity: Similarity = "ssim",
    normalize: bool = True,
    other_target: Tensor | None = None,
    generator: torch.Generator | None = None,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> Tensor:
    """Random-logit test (Sixt et al., 2020): similarity of the target class's map and a
    random other class's map; lower is better.

    ``sim(M_y(x), M_y'(x))`` with y' uniform over the classes other than y. With
    ``normalize`` each map is first divided by its own maximum ``|value|`` (Quantus's
    ``RandomLogit`` divides by the maximum over the whole batch, so its value for one
    image depends on the others in its batch). ``"ssim"`` is Quantus's default similarity:
    SSIM of the flattened maps over windows of 7 entries.

    Args:
        forward_func: The model; one forward pass on the first input counts its classes
            (C >= 2).
        explainer: Anything with ``attribute(inputs, target=...)`` or such a callable.
        inputs: (N, ...), of the model's dtype and device.
        target: The class explained: an int (all inputs) or one per input (e.g. the labels
            or the predictions).
        similarity: ``"ssim"``, ``"pearson"`` or ``"spearman"`` of the flattened maps.
        normalize: Divide each map by its maximum ``|value|`` first.
        other_target: (N,) the other classes to use instead of drawing them (each in
            [0, C) and not its target).
        generator: Draws the other classes; ``None``: a CPU generator seeded with 0.
        additional_forward_args: Passed to the model and the explainer, as in Captum.
        max_examples_per_batch: At most this many inputs per explainer or model call.

    Returns:
        (N,) float64; ``nan`` for a Pearson or Spearman with a constant map.

    Example:
        >>> from captum.attr import Saliency
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
        >>> x = torch.randn(2, 1, 4, 4)
        >>> random_logit(model, Saliency(model), x, 0, similarity="pearson").shape
        torch.Size([2])
    """
    check_callable(forward_func, "forward_func")
    check_input_tensor(inputs, model=forward_func)
    check_eval_mode(forward_func)
    check_choice("similarity", similarity, SIMILARITIES)
    check_bool(normalize, "normalize")
    check_max_examples_per_batch(max_examples_per_batch)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"expected generator to be a torch.Generator, got {type(generator)}")
    if target is None:
        raise ValueError("expected a target (the class explained), got None")
    num = inputs.shape[0]
    check_target_count(target, num)
    first = model_outputs(forward_func, inputs[:1], slice_args(additional_forward_args, 0, 1))
    num_classes = int(first.shape[1])
    if num_classes < 2:
        raise ValueError(f"expected a model with C >= 2 outputs, got C = {num_classes}")
    classes = target_indices(target, num, num_classes, inputs.device)
    if other_target is None:
        generator = torch.Generator().manual_seed(0) if generator is None else generator
        others = draw_other_classes(classes, num_classes, generator)
    else:
        if not (isinstance(other_target, Tensor) and tuple(other_target.shape) == (num,)):
            shape = getattr(other_target, "shape", type(other_target).__name__)
            raise ValueError(f"expected other_target a tensor of shape ({num},), got {shape}")
        others = target_indices(other_target, num, num_classes, inputs.device)
        if (others == classes).any():
            raise ValueError("expected other_target to differ from target everywhere")
    args = (additional_forward_args, max_examples_per_batch)
    maps = compute_maps(explainer, inputs, classes, *args).double()
    other_maps = compute_maps(explainer, inputs, others, *args).double()
    if maps.shape != other_maps.shape:
        raise ValueError(
            f"expected maps of one shape, got {tuple(maps.shape)} and {tuple(other_maps.shape)}"
        )
    if normalize:
        maps, other_maps = _normalized_by_max(maps), _normalized_by_max(other_maps)
    if similarity == "ssim":
        return flat_ssim(maps, other_maps)
    if similarity == "spearman":
        return _pearson(average_ranks(maps), average_ranks(other_maps))
    return _pearson(maps, other_maps)
