"""One factory per method family: ``(model, target_layer, background, **options) ->
(method, attribute options)``. Use :func:`captum_ifim.build_method` rather than these."""

from __future__ import annotations

from typing import Any

from captum.attr import Attribution, IntegratedGradients, Saliency
from torch import nn

from captum_ifim._baselines._cam_attribution import CAMAttribution
from captum_ifim._baselines._cam_variants import EigenCAM, GradCAM, GradCAMPlusPlus, XGradCAM
from captum_ifim._baselines._deepshap_attribution import DeepSHAP
from captum_ifim._baselines._score_cam import ScoreCAM
from captum_ifim._baselines._target_layers import choose_target_layer
from captum_ifim._ifim._ifim_decomposition import IFIMDecomposition
from captum_ifim._methods._method_spec import Factory

_CAM_CLASSES: dict[str, type[CAMAttribution]] = {
    cls.__name__: cls for cls in (GradCAM, GradCAMPlusPlus, ScoreCAM, XGradCAM, EigenCAM)
}


def _split_kwargs(
    name: str, kwargs: dict[str, Any], constructor: set[str], attribute: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    unknown = set(kwargs) - constructor - attribute
    if unknown:
        raise TypeError(
            f"expected options of {name!r} among {sorted(constructor | attribute)}, "
            f"got {sorted(unknown)}"
        )
    return (
        {k: v for k, v in kwargs.items() if k in constructor},
        {k: v for k, v in kwargs.items() if k in attribute},
    )


def _ifim(component: str) -> Factory:
    def factory(
        model: nn.Module, target_layer: Any, background: Any, **kwargs: Any
    ) -> tuple[Attribution, dict[str, Any]]:
        constructor, attribute = _split_kwargs(
            f"ifim-{component}",
            kwargs,
            {"output", "eigenvalue_rtol", "eigenvalue_atol", "class_mass"},
            {"energy", "internal_batch_size"},
        )
        return IFIMDecomposition(model, **constructor), {"component": component, **attribute}

    return factory


def _cam(class_name: str, options: set[str]) -> Factory:
    def factory(
        model: nn.Module, target_layer: Any, background: Any, **kwargs: Any
    ) -> tuple[Attribution, dict[str, Any]]:
        constructor, _ = _split_kwargs(class_name, kwargs, options, set())
        cam_class = _CAM_CLASSES[class_name]
        return cam_class(model, choose_target_layer(model, target_layer), **constructor), {}

    return factory


_CAM_OPTIONS = {"reshape_transform", "normalization"}


def _deepshap(
    model: nn.Module, target_layer: Any, background: Any, **kwargs: Any
) -> tuple[Attribution, dict[str, Any]]:
    if background is None:
        raise ValueError("expected background= reference inputs (B, ...) for 'deepshap'")
    constructor, _ = _split_kwargs(
        "deepshap", kwargs, {"check_additivity", "additivity_tolerance"}, set()
    )
    return DeepSHAP(model, background, **constructor), {}


def _saliency(
    model: nn.Module, target_layer: Any, background: Any, **kwargs: Any
) -> tuple[Attribution, dict[str, Any]]:
    _, attribute = _split_kwargs("saliency", kwargs, set(), {"abs"})
    return Saliency(model), attribute


def _integrated_gradients(
    model: nn.Module, target_layer: Any, background: Any, **kwargs: Any
) -> tuple[Attribution, dict[str, Any]]:
    constructor, attribute = _split_kwargs(
        "integrated-gradients",
        kwargs,
        {"multiply_by_inputs"},
        {"baselines", "n_steps", "method", "internal_batch_size"},
    )
    return IntegratedGradients(model, **constructor), attribute
