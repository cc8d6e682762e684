"""Each benchmarked method as a zero-argument call on one model and one batch."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from captum_ifim import build_method
from comparisons.speed._naive import naive_ifim_map
from comparisons.speed._timed_cell import METHODS

#: Registry names of the methods built with :func:`captum_ifim.build_method`.
_REGISTERED = {"gradcam": "gradcam", "scorecam": "scorecam", "deepshap": "deepshap"}


def method_call(
    method: str,
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    background: Tensor,
    class_mass: float | None = None,
) -> Callable[[], Tensor | tuple[Tensor, ...]]:
    """What a user calls for ``method``, bound to one batch.

    * ``ifim``, ``ifim-mass``: ``build_method("ifim-sensitive", model[, class_mass=...])``,
      called without a target (the iFIM does not take one).
    * ``saliency``: Captum's ``Saliency`` as the registry builds it, called directly with
      the targets (the registry's wrapper would add a forward pass to check them).
    * ``naive``: :func:`comparisons.speed.naive_ifim_map`.
    * ``gradcam``, ``scorecam``, ``deepshap``: ``build_method(name, model,
      background=background)`` with the targets (they check the targets themselves).

    Args:
        method: One of :data:`comparisons.speed.METHODS`.
        model: A classifier in eval mode.
        inputs: The batch (N, channels, H, W) or (N, channels, D, H, W).
        targets: (N,) classes, e.g. the predicted ones.
        background: DeepSHAP's reference inputs (B, ...), shaped like one input.
        class_mass: The probability mass of ``ifim-mass``.

    Returns:
        A call returning the map, of the inputs' shape.

    Raises:
        ValueError: An unknown method, or ``ifim-mass`` without ``class_mass``.
    """
    if method == "ifim":
        ifim = build_method("ifim-sensitive", model)
        return lambda: ifim.attribute(inputs)
    if method == "ifim-mass":
        if class_mass is None:
            raise ValueError("expected class_mass in (0, 1] for 'ifim-mass', got None")
        restricted = build_method("ifim-sensitive", model, class_mass=class_mass)
        return lambda: restricted.attribute(inputs)
    if method == "saliency":
        saliency = build_method("saliency", model).method
        return lambda: saliency.attribute(inputs, target=targets)
    if method == "naive":
        return lambda: naive_ifim_map(model, inputs)
    if method in _REGISTERED:
        built = build_method(_REGISTERED[method], model, background=background)
        return lambda: built.attribute(inputs, target=targets)
    raise ValueError(f"expected a method among {METHODS}, got {method!r}")
