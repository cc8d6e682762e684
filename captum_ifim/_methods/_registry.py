"""The registry of attribution methods: every method by name, built for a model.

The harness and the contract tests loop over :func:`available_methods`; each name maps to
a :class:`MethodSpec` holding metadata and a factory. :func:`build_method` returns a
:class:`RegisteredMethod`, called like every other:
``attribute(inputs, target=None, additional_forward_args=None) -> Tensor`` with the inputs'
shape, device and dtype. Optional dependencies are imported only when a method is built.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from captum_ifim._methods._factories import (
    _CAM_OPTIONS,
    _cam,
    _deepshap,
    _ifim,
    _integrated_gradients,
    _saliency,
)
from captum_ifim._methods._method_spec import MethodSpec
from captum_ifim._methods._registered_method import RegisteredMethod

_REGISTRY: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            "ifim-sensitive",
            "iFIM task-sensitive map S(x) = x_sens (eq. 16)",
            _ifim("sensitive"),
            uses_target=False,
            low_map_method="ifim-insensitive",
        ),
        MethodSpec(
            "ifim-insensitive",
            "iFIM task-insensitive map I(x) = x - x_sens (eq. 17)",
            _ifim("insensitive"),
            uses_target=False,
        ),
        MethodSpec(
            "gradcam",
            "Grad-CAM (pytorch-grad-cam)",
            _cam("GradCAM", _CAM_OPTIONS),
            normalized_maps=True,
            needs_target_layer=True,
        ),
        MethodSpec(
            "gradcam++",
            "Grad-CAM++ (pytorch-grad-cam)",
            _cam("GradCAMPlusPlus", _CAM_OPTIONS),
            normalized_maps=True,
            needs_target_layer=True,
        ),
        MethodSpec(
            "scorecam",
            "Score-CAM (pytorch-grad-cam)",
            _cam("ScoreCAM", _CAM_OPTIONS | {"batch_size"}),
            normalized_maps=True,
            needs_target_layer=True,
        ),
        MethodSpec(
            "xgradcam",
            "XGrad-CAM (pytorch-grad-cam)",
            _cam("XGradCAM", _CAM_OPTIONS),
            normalized_maps=True,
            needs_target_layer=True,
        ),
        MethodSpec(
            "eigencam",
            "Eigen-CAM (pytorch-grad-cam), class-agnostic",
            _cam("EigenCAM", _CAM_OPTIONS),
            normalized_maps=True,
            needs_target_layer=True,
            uses_target=False,
        ),
        MethodSpec(
            "deepshap",
            "DeepSHAP (shap.DeepExplainer on a prepared copy of the model)",
            _deepshap,
            needs_background=True,
        ),
        MethodSpec("saliency", "Saliency |df_t/dx| (Captum)", _saliency),
        MethodSpec(
            "integrated-gradients",
            "Integrated gradients from a zero baseline (Captum)",
            _integrated_gradients,
        ),
    )
}


def available_methods() -> list[str]:
    """Names of every registered method, in a fixed order."""
    return list(_REGISTRY)


def get_method_spec(name: str) -> MethodSpec:
    """The :class:`MethodSpec` registered as ``name``.

    Raises:
        ValueError: Unknown name (the message lists the valid ones).
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"expected a method name among {available_methods()}, got {name!r}"
        ) from None


def build_method(
    name: str,
    model: nn.Module,
    *,
    target_layer: nn.Module | str | None = None,
    background: Tensor | None = None,
    **kwargs: Any,
) -> RegisteredMethod:
    """Build the method registered as ``name`` for ``model``.

    Args:
        name: One of :func:`available_methods`.
        model: The classifier, returning (N, C) outputs; not modified by any method.
        target_layer: For the CAMs: a submodule of ``model`` or its name; ``None`` takes
            :func:`default_target_layer`. Ignored by the other methods.
        background: For ``"deepshap"``: reference inputs (B, ...). Ignored otherwise.
        **kwargs: Options of the method, split between its constructor and its
            ``attribute`` call: ``output``, ``energy``, ``internal_batch_size``,
            ``eigenvalue_rtol``, ``eigenvalue_atol``, ``class_mass`` (iFIM); ``normalization``,
            ``reshape_transform`` and Score-CAM's ``batch_size`` (CAMs);
            ``check_additivity``, ``additivity_tolerance`` (DeepSHAP); ``abs`` (saliency);
            ``baselines``, ``n_steps``, ``method``, ``internal_batch_size``,
            ``multiply_by_inputs`` (integrated gradients).

    Returns:
        A :class:`RegisteredMethod`.

    Raises:
        ValueError: Unknown name, a missing background, a target layer that is not part
            of the model.
        TypeError: An option the method does not take.

    Example:
        >>> import torch
        >>> from captum_ifim import available_methods, build_method
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
        ...     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
        >>> x = torch.randn(3, 1, 8, 8)
        >>> build_method("gradcam", model).attribute(x, target=[0, 1, 1]).shape
        torch.Size([3, 1, 8, 8])
        >>> "deepshap" in available_methods()
        True
    """
    spec = get_method_spec(name)
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected model to be an nn.Module, got {type(model)}")
    method, attribute_kwargs = spec.factory(model, target_layer, background, **kwargs)
    return RegisteredMethod(spec, model, method, attribute_kwargs)
