"""Each benchmarked method as a zero-argument call on one model and one batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from captum_ifim import build_method, get_method_spec
from comparisons.speed._naive import naive_ifim_map
from comparisons.speed._timed_cell import NAIVE, timed_methods


def method_call(
    method: str,
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    background: Tensor,
    class_mass: float | None = None,
    backward: str | None = None,
) -> Callable[[], Tensor | tuple[Tensor, ...]]:
    """What a user calls for ``method``, bound to one batch.

    * A registry name: ``build_method(method, model[, background=...][, class_mass=...])``,
      called with the targets where the method uses them (they check them themselves), and
      without for the iFIM (an expectation over p(y|x) that takes none).
    * ``saliency``: Captum's ``Saliency`` as the registry builds it, called directly with
      the targets (the registry's wrapper would add a forward pass to check them).
    * ``naive``: :func:`comparisons.speed.naive_ifim_map`.

    Args:
        method: One of :func:`~comparisons.speed._timed_cell.timed_methods`.
        model: A classifier in eval mode.
        inputs: The batch (N, channels, H, W) or (N, channels, D, H, W).
        targets: (N,) classes, e.g. the predicted ones.
        background: DeepSHAP's reference inputs (B, ...), shaped like one input.
        class_mass: The iFIM's ``class_mass`` option; ``None``: not passed.
        backward: The iFIM's ``backward`` option (``"sequential"``, ``"batched"``,
            ``"auto"``); ``None``: not passed (the default, ``"auto"``).

    Returns:
        A call returning the map, of the inputs' shape.

    Raises:
        ValueError: An unknown method, or a ``class_mass`` or ``backward`` for a method
            without the option.
    """
    if method not in timed_methods():
        raise ValueError(f"expected a method among {timed_methods()}, got {method!r}")
    if method == NAIVE:
        return lambda: naive_ifim_map(model, inputs)
    spec = get_method_spec(method)
    options: dict[str, Any] = {}
    if class_mass is not None:
        if "class_mass" not in spec.options:
            raise ValueError(f"expected class_mass=None for {method!r}, got {class_mass}")
        options["class_mass"] = class_mass
    if backward is not None:
        if "backward" not in spec.options:
            raise ValueError(f"expected backward=None for {method!r}, got {backward!r}")
        options["backward"] = backward
    built = build_method(
        method, model, background=background if spec.needs_background else None, **options
    )
    if method == "saliency":
        saliency = built.method
        return lambda: saliency.attribute(inputs, target=targets)
    if not spec.uses_target:
        return lambda: built.attribute(inputs)
    return lambda: built.attribute(inputs, target=targets)
