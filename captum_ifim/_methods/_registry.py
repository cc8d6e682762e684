"""The registry of attribution methods: every method by name, built for a model.

The harness and the contract tests loop over :func:`available_methods`; each name maps to
a :class:`MethodSpec` holding its facts, its options and a factory. :func:`build_method`
checks the options, chooses the target layer, and returns a :class:`RegisteredMethod`,
called like every other: ``attribute(inputs, target=None, additional_forward_args=None)
-> Tensor`` with the inputs' shape, device and dtype. Optional dependencies are imported
only when a method is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from torch import Tensor, nn

from captum_ifim._baselines._cam_variants import EigenCAM, GradCAM, GradCAMPlusPlus, XGradCAM
from captum_ifim._baselines._score_cam import ScoreCAM
from captum_ifim._baselines._target_layers import cam_target
from captum_ifim._methods._cam_specs import CAM_VARIANT_SPECS
from captum_ifim._methods._captum_specs import CAPTUM_SPECS
from captum_ifim._methods._factories import (
    CAM_OPTIONS,
    DEEPSHAP_OPTIONS,
    IFIM_ATTRIBUTE_OPTIONS,
    IFIM_CONSTRUCTOR_OPTIONS,
    INTEGRATED_GRADIENTS_ATTRIBUTE_OPTIONS,
    INTEGRATED_GRADIENTS_CONSTRUCTOR_OPTIONS,
    SALIENCY_ATTRIBUTE_OPTIONS,
    SCORE_CAM_OPTIONS,
    cam_factory,
    cam_option_facts,
    check_cam_options,
    check_deepshap_options,
    check_ifim_options,
    check_integrated_gradients_options,
    check_saliency_options,
    deepshap_factory,
    ifim_factory,
    integrated_gradients_factory,
    saliency_factory,
)
from captum_ifim._methods._layer_ifim_spec import LAYER_IFIM_SPEC
from captum_ifim._methods._method_spec import MethodSpec
from captum_ifim._methods._registered_method import RegisteredMethod
from captum_ifim._model_outputs import OutputKey, as_logits_model, check_output_key
from captum_ifim._registry_names import check_new_name

_SPECS = (
    MethodSpec(
        name="ifim-sensitive",
        description="iFIM task-sensitive map S(x) = x_sens (eq. 16)",
        factory=ifim_factory("sensitive"),
        constructor_options=IFIM_CONSTRUCTOR_OPTIONS,
        attribute_options=IFIM_ATTRIBUTE_OPTIONS,
        check_values=check_ifim_options,
        uses_target=False,
        has_spectrum=True,
        low_map_method="ifim-insensitive",
        needs_module=False,
    ),
    MethodSpec(
        name="ifim-insensitive",
        description="iFIM task-insensitive map I(x) = x - x_sens (eq. 17)",
        factory=ifim_factory("insensitive"),
        constructor_options=IFIM_CONSTRUCTOR_OPTIONS,
        attribute_options=IFIM_ATTRIBUTE_OPTIONS,
        check_values=check_ifim_options,
        uses_target=False,
        needs_module=False,
    ),
    MethodSpec(
        name="gradcam",
        description="Grad-CAM (pytorch-grad-cam)",
        factory=cam_factory(GradCAM),
        constructor_options=CAM_OPTIONS,
        check_values=check_cam_options,
        normalized_maps=True,
        option_facts=cam_option_facts,
        needs_target_layer=True,
    ),
    MethodSpec(
        name="gradcam++",
        description="Grad-CAM++ (pytorch-grad-cam)",
        factory=cam_factory(GradCAMPlusPlus),
        constructor_options=CAM_OPTIONS,
        check_values=check_cam_options,
        normalized_maps=True,
        option_facts=cam_option_facts,
        needs_target_layer=True,
    ),
    MethodSpec(
        name="scorecam",
        description="Score-CAM (pytorch-grad-cam)",
        factory=cam_factory(ScoreCAM),
        constructor_options=SCORE_CAM_OPTIONS,
        check_values=check_cam_options,
        normalized_maps=True,
        option_facts=cam_option_facts,
        needs_target_layer=True,
    ),
    MethodSpec(
        name="xgradcam",
        description="XGrad-CAM (pytorch-grad-cam)",
        factory=cam_factory(XGradCAM),
        constructor_options=CAM_OPTIONS,
        check_values=check_cam_options,
        normalized_maps=True,
        option_facts=cam_option_facts,
        needs_target_layer=True,
    ),
    MethodSpec(
        name="eigencam",
        description="Eigen-CAM (pytorch-grad-cam), class-agnostic",
        factory=cam_factory(EigenCAM),
        constructor_options=CAM_OPTIONS,
        check_values=check_cam_options,
        normalized_maps=True,
        option_facts=cam_option_facts,
        needs_target_layer=True,
        uses_target=False,
    ),
    MethodSpec(
        name="deepshap",
        description="DeepSHAP (shap.DeepExplainer on a prepared copy of the model)",
        factory=deepshap_factory,
        constructor_options=DEEPSHAP_OPTIONS,
        check_values=check_deepshap_options,
        needs_background=True,
    ),
    MethodSpec(
        name="saliency",
        description="Saliency |df_t/dx| (Captum)",
        factory=saliency_factory,
        attribute_options=SALIENCY_ATTRIBUTE_OPTIONS,
        check_values=check_saliency_options,
        needs_module=False,
    ),
    MethodSpec(
        name="integrated-gradients",
        description="Integrated gradients from a zero baseline (Captum)",
        factory=integrated_gradients_factory,
        constructor_options=INTEGRATED_GRADIENTS_CONSTRUCTOR_OPTIONS,
        attribute_options=INTEGRATED_GRADIENTS_ATTRIBUTE_OPTIONS,
        check_values=check_integrated_gradients_options,
        needs_module=False,
    ),
    *CAM_VARIANT_SPECS,
    *CAPTUM_SPECS,
    LAYER_IFIM_SPEC,
)

#: The paper's comparison: the iFIM maps, the references it compares against (Grad-CAM,
#: Grad-CAM++, Score-CAM, XGrad-CAM, Eigen-CAM, DeepSHAP) and Captum's saliency and
#: integrated gradients. The method set ``"paper"``, the harness's default.
PAPER_METHODS = (
    "ifim-sensitive",
    "ifim-insensitive",
    "gradcam",
    "gradcam++",
    "scorecam",
    "xgradcam",
    "eigencam",
    "deepshap",
    "saliency",
    "integrated-gradients",
)
#: The named method sets of :func:`method_set`.
METHOD_SETS = ("paper", "all")

_METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in _SPECS}
#: Every method by name, in registry order, read-only (a view: registered methods join it).
_REGISTRY: Mapping[str, MethodSpec] = MappingProxyType(_METHODS)


def register_method(spec: MethodSpec) -> MethodSpec:
    """Add a method of your own: :func:`build_method` builds it by name and
    :func:`available_methods` lists it (after the registry's own), so the harness runs it
    through every metric and the contract tests can loop over it.

    ``spec.factory(model, layer, background, constructor_options)`` returns the
    Captum-style method and the fixed options of its ``attribute`` call (see
    :class:`MethodSpec`); ``layer`` and ``background`` are ``None`` unless the spec
    says ``needs_target_layer`` / ``needs_background``.

    Returns:
        ``spec``.

    Raises:
        TypeError: ``spec`` is not a :class:`MethodSpec`.
        ValueError: Its name is not a plain name or is taken.
    """
    if not isinstance(spec, MethodSpec):
        raise TypeError(f"expected a MethodSpec, got {type(spec).__name__}")
    check_new_name("method", spec.name, _METHODS)
    if spec.low_map_method is not None and spec.low_map_method not in _METHODS:
        raise ValueError(
            f"expected low_map_method of {spec.name!r} to be a registered method, got "
            f"{spec.low_map_method!r}"
        )
    _METHODS[spec.name] = spec
    return spec


def available_methods() -> list[str]:
    """Names of every registered method, in registry order (the paper's method first)."""
    return list(_REGISTRY)


def method_set(name: str) -> list[str]:
    """The methods a set names: ``"paper"`` (:data:`PAPER_METHODS`, the paper's comparison,
    the harness's default) or ``"all"`` (every registered method, yours included).

    Raises:
        ValueError: Not a set name (the message lists them).

    Example:
        >>> from captum_ifim import method_set
        >>> method_set("paper")[:2]
        ['ifim-sensitive', 'ifim-insensitive']
        >>> set(method_set("paper")) <= set(method_set("all"))
        True
    """
    if name == "paper":
        return list(PAPER_METHODS)
    if name == "all":
        return available_methods()
    raise ValueError(f"expected a method set among {list(METHOD_SETS)}, got {name!r}")


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
    name: str | MethodSpec,
    model: nn.Module | Callable[..., Any],
    *,
    target_layer: nn.Module | str | None = None,
    background: Tensor | None = None,
    output_key: OutputKey = None,
    **kwargs: Any,
) -> RegisteredMethod:
    """Build the method registered as ``name`` for ``model``.

    Args:
        name: One of :func:`available_methods`, or a :class:`MethodSpec` not registered
            (e.g. of :func:`~captum_ifim.methods.custom_method_spec`).
        model: The classifier, returning (N, C) logits, or an output holding them (a
            ``ModelOutput`` with ``.logits``, a dict, a tuple: reduced by
            :func:`~captum_ifim.logits_of`); not modified by any method. A method whose
            spec does not say ``needs_module`` (saliency, integrated gradients, the iFIM)
            also takes a forward function, as Captum does.
        target_layer: For the CAMs: a submodule of ``model`` or its name; ``None`` takes
            :func:`~captum_ifim.default_target_layer`, with the reshape its family needs
            (the table of ``docs/baselines.md``). Ignored by the other methods.
        background: For ``"deepshap"``: reference inputs (B, ...). Ignored otherwise.
        output_key: Where the logits are in the model's output, when the rule of
            :func:`~captum_ifim.logits_of` does not find them: a key or attribute name,
            an index, or a callable ``output -> Tensor``.
        **kwargs: Options of the method (``spec.options``), checked first by
            :meth:`MethodSpec.check_options` and split between its constructor and its
            ``attribute`` call: ``output``, ``energy``, ``internal_batch_size``,
            ``eigenvalue_rtol``, ``eigenvalue_atol``, ``class_mass`` (iFIM); ``normalization``,
            ``reshape_transform`` and Score-CAM's ``batch_size`` (CAMs);
            ``check_additivity``, ``additivity_tolerance`` (DeepSHAP); ``abs`` (saliency);
            ``baselines``, ``n_steps``, ``method``, ``internal_batch_size``,
            ``multiply_by_inputs`` (integrated gradients).

    Returns:
        A :class:`RegisteredMethod`.

    Raises:
        UnknownOptionError: An option the method does not take (a ``TypeError`` and a
            ``ValueError``).
        ValueError: Unknown name, a bad option value, a missing background, a target
            layer that is not part of the model.
        TypeError: A model that is not callable, a forward function for a method that
            needs an ``nn.Module`` (``spec.needs_module``), an option value of a wrong type.

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
    spec = name if isinstance(name, MethodSpec) else get_method_spec(name)
    name = spec.name
    if not callable(model):
        raise TypeError(
            f"expected model to be an nn.Module or a forward function, got {type(model)}"
        )
    if (spec.needs_module or spec.needs_target_layer) and not isinstance(model, nn.Module):
        raise TypeError(
            f"expected model to be an nn.Module for {name!r}, which needs its layers, got a "
            f"{type(model).__name__}; methods that take a forward function: "
            f"{working_methods(model)}"
        )
    check_output_key(output_key)
    spec.check_options(kwargs)
    layer = (
        cam_target(model, target_layer)
        if spec.needs_target_layer and isinstance(model, nn.Module)
        else None
    )
    if spec.needs_background and background is None:
        raise ValueError(f"expected background= reference inputs (B, ...) for {name!r}")
    constructor, attribute = spec.split_options(kwargs)
    forward = as_logits_model(model, output_key)  # transparent: same layers and names
    method, fixed = spec.factory(
        forward, layer, background if spec.needs_background else None, constructor
    )
    return RegisteredMethod(
        spec, forward, method, {**fixed, **attribute}, lambda: working_methods(model, exclude=name)
    )


#: The methods that attribute through a rule per module (DeepLIFT's multipliers, LRP's
#: rules, DeepSHAP's): where one has no rule for a module of a model, the others are not
#: expected to work on it either, so none of them is offered in its place.
_RULE_BASED = frozenset({"deepshap", "deeplift", "deeplift-shap", "layer-deeplift", "lrp"})


def working_methods(model: nn.Module | Callable[..., Any], exclude: str | None = None) -> list[str]:
    """Registry methods expected to work on ``model``: every method but ``exclude`` (the
    one that could not, and the other rule-based methods when it is one), the CAMs only
    when a target layer can be chosen for the model, only those without ``needs_module``
    for a forward function."""
    if exclude in _RULE_BASED:
        return [n for n in working_methods(model) if n not in _RULE_BASED]
    if not isinstance(model, nn.Module):
        return [n for n in available_methods() if n != exclude and not _REGISTRY[n].needs_module]
    try:
        cam_target(model)
        cams = True
    except (ValueError, TypeError):
        cams = False
    return [
        name
        for name in available_methods()
        if name != exclude and (cams or not _REGISTRY[name].needs_target_layer)
    ]
