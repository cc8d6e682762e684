"""Model-parameter randomization sanity check (Adebayo et al., NeurIPS 2018).

On a deep copy of the model, layers are re-initialised from the output towards the input
(``"cascading"``: cumulatively; ``"independent"``: one at a time, the others trained) and
the map is recomputed after each step. A map that reflects the model should change, so
a *lower* similarity to the original map is better. Similarities per example and layer:
Spearman rank correlation of |maps| and of signed maps, and Pearson of signed maps.
The caller's model is never modified.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from captum_ifim._validation import check_choice, check_eval_mode
from captum_ifim.metrics._correlation import pearson_per_sample, spearman_per_sample
from captum_ifim.metrics._explainer_calls import compute_maps
from captum_ifim.metrics._validation import (
    check_callable,
    check_input_tensor,
    check_max_examples_per_batch,
    check_target_count,
)

Order = Literal["cascading", "independent"]
Reinit = Callable[[nn.Module, torch.Generator], None]


@dataclass(frozen=True)
class RandomizationResult:
    """Similarity of each randomized model's maps to the original maps.

    Attributes:
        layers: Names of the re-initialised modules, in the order they were randomized.
        order: ``"cascading"`` or ``"independent"``.
        spearman_abs: (L, N) float64, Spearman rank correlation of ``|maps|``.
        spearman: (L, N) float64, Spearman rank correlation of signed maps.
        pearson: (L, N) float64, Pearson correlation of signed maps.
            ``nan`` where a map is constant.
    """

    layers: tuple[str, ...]
    order: Order
    spearman_abs: Tensor
    spearman: Tensor
    pearson: Tensor


def default_layers(model: nn.Module) -> list[str]:
    """Modules owning a weight with >= 2 dims (Linear, Conv, ...), output side first.

    Registration order is taken as the forward order; pass ``layers`` explicitly when a
    model registers its modules in another order.
    """
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(getattr(module, "weight", None), nn.Parameter) and module.weight.dim() >= 2
    ]
    return names[::-1]


def default_reinit(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default Linear/Conv init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), for every
    parameter the module owns directly, drawn on the CPU from ``generator``."""
    weight = getattr(module, "weight", None)
    fan_in = weight[0].numel() if isinstance(weight, Tensor) and weight.dim() >= 2 else 1
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        for parameter in module.parameters(recurse=False):
            draws = torch.empty(parameter.shape, dtype=parameter.dtype)
            parameter.copy_(draws.uniform_(-bound, bound, generator=generator))


def model_parameter_randomization(
    model: nn.Module,
    explainer_factory: Callable[[nn.Module], Any],
    inputs: Tensor,
    target: Tensor | int | None = None,
    *,
    layers: Sequence[str] | None = None,
    order: Order = "cascading",
    seed: int = 0,
    reinit: Reinit = default_reinit,
    additional_forward_args: Any = None,
    max_examples_per_batch: int | None = None,
) -> RandomizationResult:
    """Cascading (or independent) model-parameter randomization test.

    Args:
        model: The trained model; deep-copied, never modified.
        explainer_factory: Builds an explainer for a model, e.g.
            ``lambda m: Saliency(m)`` or ``lambda m: build_method("gradcam", m, ...)``;
            called on the copy once for the original maps and once per step.
        inputs: (N, ...).
        target: Passed to the explainer as ``target`` (e.g. the clean predictions).
        layers: Module names (as in ``model.named_modules()``) in randomization order;
            ``None`` takes :func:`default_layers` (output side first).
        order: ``"cascading"`` keeps earlier randomizations; ``"independent"`` restores
            the trained weights before each layer.
        seed: Seeds the ``torch.Generator`` of the re-initialisation.
        reinit: ``reinit(module, generator)`` re-initialises one module in place.
        additional_forward_args: Passed to the explainer, as in Captum.
        max_examples_per_batch: Bound on inputs per explainer call.

    Returns:
        A :class:`RandomizationResult` with (L, N) similarities.

    Example:
        >>> from captum.attr import Saliency
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(),
        ...                             torch.nn.Linear(3, 2)).eval()
        >>> res = model_parameter_randomization(model, Saliency, torch.randn(2, 4), 0)
        >>> res.layers, res.spearman_abs.shape
        (('2', '0'), torch.Size([2, 2]))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected model to be an nn.Module, got {type(model).__name__}")
    check_callable(explainer_factory, "explainer_factory")
    check_input_tensor(inputs)
    check_target_count(target, inputs.shape[0])
    check_choice("order", order, ("cascading", "independent"))
    check_max_examples_per_batch(max_examples_per_batch)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"expected seed to be an int, got {type(seed).__name__}")
    check_eval_mode(model)
    names = list(default_layers(model) if layers is None else layers)
    modules = dict(model.named_modules())
    unknown = [name for name in names if name not in modules]
    if unknown or not names:
        raise ValueError(
            f"expected layer names from model.named_modules(), got unknown {unknown}"
            if unknown
            else "expected at least one layer to randomize, got none"
        )

    work = copy.deepcopy(model)
    work_modules = dict(work.named_modules())
    trained = copy.deepcopy(work.state_dict())
    args = (target, additional_forward_args, max_examples_per_batch)
    original = compute_maps(explainer_factory(work), inputs, *args)
    generator = torch.Generator().manual_seed(seed)
    rows: dict[str, list[Tensor]] = {"spearman_abs": [], "spearman": [], "pearson": []}
    for name in names:
        if order == "independent":
            work.load_state_dict(trained)
        reinit(work_modules[name], generator)
        maps = compute_maps(explainer_factory(work), inputs, *args)
        if maps.shape != original.shape:
            raise ValueError(
                f"expected maps of shape {tuple(original.shape)}, got {tuple(maps.shape)}"
            )
        rows["spearman_abs"].append(spearman_per_sample(original.abs(), maps.abs()).cpu())
        rows["spearman"].append(spearman_per_sample(original, maps).cpu())
        rows["pearson"].append(pearson_per_sample(original, maps).cpu())
    return RandomizationResult(
        layers=tuple(names),
        order=order,
        spearman_abs=torch.stack(rows["spearman_abs"]),
        spearman=torch.stack(rows["spearman"]),
        pearson=torch.stack(rows["pearson"]),
    )
