"""``MethodSpec``: what the registry knows about one attribution method, as data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from captum.attr import Attribution

Factory = Callable[..., tuple[Attribution, dict[str, Any]]]


@dataclass(frozen=True)
class MethodSpec:
    """Metadata of a registered method, so a harness filters by data, not by name.

    Attributes:
        name: Registry name, e.g. ``"gradcam++"``.
        description: One line for reports.
        factory: ``(model, target_layer, background, **kwargs) -> (method, attribute
            kwargs)``; use :func:`build_method` rather than calling it.
        deterministic: The same call gives the same map (batched equals one by one).
        normalized_maps: Maps are rescaled per image (CAMs: ReLU and min-max to [0, 1]).
        needs_target_layer: Built on a layer's activations; :func:`default_target_layer`
            picks one when none is given.
        needs_background: Needs reference inputs (``background=``).
        uses_target: The map depends on the target class (False for the iFIM, an
            expectation over p(y|x), and for Eigen-CAM).
        low_map_method: The method whose map ranks the *low* pixel set in the contrastive
            perturbation test (eq. 24: ``"ifim-insensitive"`` for ``"ifim-sensitive"``);
            ``None`` means the method's own map.
    """

    name: str
    description: str
    factory: Factory
    deterministic: bool = True
    normalized_maps: bool = False
    needs_target_layer: bool = False
    needs_background: bool = False
    uses_target: bool = True
    low_map_method: str | None = None
