"""One factory per method family, with the family's options and their value checks.

A factory gets the model, the chosen target layer, the checked background and the
constructor options, and returns the method and the ``attribute`` options it fixes. Which
option goes where is data of the :class:`~captum_ifim.MethodSpec` (the ``*_OPTIONS`` sets
below); the value checks call the checks each method makes itself, so that
:meth:`~captum_ifim.MethodSpec.check_options` refuses exactly what building or calling the
method would refuse. Use :func:`captum_ifim.build_method` rather than these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

from captum.attr import Attribution, IntegratedGradients, Saliency
from torch import Tensor, nn

from captum_ifim._baselines._cam_attribution import CAMAttribution, check_cam_settings
from captum_ifim._baselines._deepshap_attribution import DeepSHAP, check_deepshap_settings
from captum_ifim._captum_compat import INTEGRATION_METHODS
from captum_ifim._ifim._ifim_decomposition import IFIMDecomposition, check_ifim_settings
from captum_ifim._methods._method_spec import Factory
from captum_ifim._validation import check_bool, check_choice, check_energy, check_positive_int

IFIM_CONSTRUCTOR_OPTIONS = frozenset(
    {"output", "eigenvalue_rtol", "eigenvalue_atol", "class_mass", "backward"}
)
IFIM_ATTRIBUTE_OPTIONS = frozenset({"energy", "internal_batch_size"})
CAM_OPTIONS = frozenset({"reshape_transform", "normalization"})
SCORE_CAM_OPTIONS = CAM_OPTIONS | {"batch_size", "precision"}
DEEPSHAP_OPTIONS = frozenset({"check_additivity", "additivity_tolerance", "batch_size"})
SALIENCY_ATTRIBUTE_OPTIONS = frozenset({"abs"})
INTEGRATED_GRADIENTS_CONSTRUCTOR_OPTIONS = frozenset({"multiply_by_inputs"})
INTEGRATED_GRADIENTS_ATTRIBUTE_OPTIONS = frozenset(
    {"baselines", "n_steps", "method", "internal_batch_size"}
)


def _given(options: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {name: options[name] for name in names if name in options}


def ifim_factory(component: str) -> Factory:
    """``IFIMDecomposition(model, **options)`` returning the ``component`` map."""

    def build(
        model: nn.Module, target_layer: Any, background: Any, options: dict[str, Any]
    ) -> tuple[Attribution, dict[str, Any]]:
        return IFIMDecomposition(model, **options), {"component": component}

    return build


def check_ifim_options(options: Mapping[str, Any]) -> None:
    """The iFIM's own checks: output head, class mass, tolerances, eq. 13's energy, batch."""
    check_ifim_settings(**_given(options, IFIM_CONSTRUCTOR_OPTIONS))
    if "energy" in options:
        check_energy(options["energy"])
    if "internal_batch_size" in options:
        check_positive_int(options["internal_batch_size"], "internal_batch_size", allow_none=True)


def cam_factory(cam_class: type[CAMAttribution]) -> Factory:
    """``cam_class(model, target_layer, **options)``."""

    def build(
        model: nn.Module, target_layer: Any, background: Any, options: dict[str, Any]
    ) -> tuple[Attribution, dict[str, Any]]:
        return cam_class(model, target_layer, **options), {}

    return build


def check_cam_options(options: Mapping[str, Any]) -> None:
    """A CAM's own checks: ``reshape_transform`` callable, a known ``normalization``; and
    Score-CAM's positive ``batch_size`` and known ``precision``."""
    from captum_ifim._baselines._score_cam import PRECISIONS

    check_cam_settings(**_given(options, CAM_OPTIONS))
    if "batch_size" in options:
        check_positive_int(options["batch_size"], "batch_size")
    if "precision" in options and options["precision"] not in PRECISIONS:
        raise ValueError(f"expected precision in {PRECISIONS}, got {options['precision']!r}")


def cam_option_facts(options: Mapping[str, Any]) -> dict[str, Any]:
    """What a CAM's options change of its facts: ``normalization="none"`` returns the signed
    map, not rescaled per image (``normalized_maps`` false)."""
    if "normalization" not in options:
        return {}
    return {"normalized_maps": options["normalization"] != "none"}


def deepshap_factory(
    model: nn.Module, target_layer: Any, background: Any, options: dict[str, Any]
) -> tuple[Attribution, dict[str, Any]]:
    """``DeepSHAP(model, background, **options)``."""
    return DeepSHAP(model, background, **options), {}


def check_deepshap_options(options: Mapping[str, Any]) -> None:
    """DeepSHAP's own checks: a bool ``check_additivity``, a tolerance > 0, a batch size."""
    check_deepshap_settings(**_given(options, DEEPSHAP_OPTIONS))


def saliency_factory(
    model: nn.Module, target_layer: Any, background: Any, options: dict[str, Any]
) -> tuple[Attribution, dict[str, Any]]:
    """Captum's ``Saliency(model)``."""
    return Saliency(model), {}


def check_saliency_options(options: Mapping[str, Any]) -> None:
    """``abs`` is a bool."""
    if "abs" in options:
        check_bool(options["abs"], "abs")


def integrated_gradients_factory(
    model: nn.Module, target_layer: Any, background: Any, options: dict[str, Any]
) -> tuple[Attribution, dict[str, Any]]:
    """Captum's ``IntegratedGradients(model, **options)``."""
    return IntegratedGradients(model, **options), {}


#: The most integration steps integrated gradients takes: Captum's examples use 50 to 300,
#: and a sum over more points than this changes nothing measurable while each costs a pass.
MAX_INTEGRATION_STEPS = 10_000


def check_integrated_gradients_options(options: Mapping[str, Any]) -> None:
    """What Captum asserts, as errors: positive ``n_steps`` and batch size, a known
    integration ``method``, a bool ``multiply_by_inputs``; ``baselines`` None, finite
    numbers or tensors (their shapes need the inputs)."""
    if "n_steps" in options:
        check_positive_int(options["n_steps"], "n_steps")
        if options["n_steps"] > MAX_INTEGRATION_STEPS:
            raise ValueError(
                f"expected n_steps <= {MAX_INTEGRATION_STEPS} (each step is a forward and "
                f"backward pass of every image, held in memory at once without "
                f"internal_batch_size), got {options['n_steps']}"
            )
    if "internal_batch_size" in options:
        check_positive_int(options["internal_batch_size"], "internal_batch_size", allow_none=True)
    if "method" in options:
        check_choice("method", options["method"], INTEGRATION_METHODS)
    if "multiply_by_inputs" in options:
        check_bool(options["multiply_by_inputs"], "multiply_by_inputs")
    baselines = options.get("baselines")
    for baseline in baselines if isinstance(baselines, tuple) else (baselines,):
        if baseline is None and not isinstance(baselines, tuple):
            continue
        if isinstance(baseline, Tensor):
            finite = baseline.device.type != "meta" and bool(baseline.isfinite().all())
        elif isinstance(baseline, Real) and not isinstance(baseline, bool):
            finite = math.isfinite(baseline)
        else:
            raise TypeError(
                "expected baselines to be None, a number, a tensor or a tuple of numbers and "
                f"tensors, got {type(baseline).__name__}"
            )
        if not finite:
            raise ValueError("expected finite baselines holding data, got NaN, inf or meta")
