"""The registry entry of the layer iFIM (``"layer-ifim"``): :class:`LayerIFIMMap` at the
CAMs' target layer, so the harness benchmarks it beside the input-space iFIM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from captum.attr import Attribution
from torch import nn

from captum_ifim._ifim._ifim_decomposition import check_ifim_settings
from captum_ifim._ifim._layer_ifim_map import LayerIFIMMap
from captum_ifim._ifim._location_scores import LOCATION_SUMMARIES
from captum_ifim._methods._factories import IFIM_ATTRIBUTE_OPTIONS
from captum_ifim._methods._method_spec import MethodSpec
from captum_ifim._validation import check_choice, check_energy, check_positive_int

LAYER_IFIM_CONSTRUCTOR_OPTIONS = frozenset(
    {"output", "eigenvalue_rtol", "eigenvalue_atol", "class_mass", "location_summary"}
)


def _build(
    model: nn.Module, target: Any, background: Any, options: dict[str, Any]
) -> tuple[Attribution, dict[str, Any]]:
    return LayerIFIMMap(model, target, **options), {}


def _check(options: Mapping[str, Any]) -> None:
    settings = {k: v for k, v in options.items() if k in LAYER_IFIM_CONSTRUCTOR_OPTIONS}
    if "location_summary" in settings:
        check_choice("location_summary", settings.pop("location_summary"), LOCATION_SUMMARIES)
    check_ifim_settings(**settings)
    if "energy" in options:
        check_energy(options["energy"])
    if "internal_batch_size" in options:
        check_positive_int(options["internal_batch_size"], "internal_batch_size", allow_none=True)


LAYER_IFIM_SPEC = MethodSpec(
    name="layer-ifim",
    description="Layer iFIM: per-location a_sens at the CAM layer (eqs. 14-16), upsampled",
    factory=_build,
    constructor_options=LAYER_IFIM_CONSTRUCTOR_OPTIONS,
    attribute_options=IFIM_ATTRIBUTE_OPTIONS,
    check_values=_check,
    needs_target_layer=True,
    uses_target=False,
)
