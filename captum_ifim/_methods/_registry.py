"""The registry of attribution methods: every method by name, built for a model.

The harness and the contract tests loop over :func:`available_methods`; each name maps to
a :class:`MethodSpec` holding metadata and a factory. :func:`build_method` returns a
:class:`RegisteredMethod`, called like every other:
``attribute(inputs, target=None, additional_forward_args=None) -> Tensor`` with the inputs'
shape, device and dtype. Optional dependencies are imported only when a method is built.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from captum.attr import Attribution
from torch import Tensor, nn

from captum_ifim._captum_compat import TargetType, _run_forward
from captum_ifim._targets import resolve_targets
from captum_ifim._validation import check_eval_mode

_CAPTUM_REQUIRES_GRAD_WARNING = "Input Tensor .* did not already require gradients"

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


class RegisteredMethod(Attribution):
    """A registry method built for one model, with its extra ``attribute`` options fixed.

    Refuses a model in training mode with BatchNorm or Dropout layers (as the iFIM does),
    so that every method sees the same deterministic function, and checks ``target``
    against the model's outputs for every method, including those that ignore it (one
    extra forward pass for methods without a ``checks_targets = True`` attribute). The
    method sees detached inputs (new leaves on the same data), so the caller's tensors
    keep their ``requires_grad``, ``.grad`` and graph.

    Attributes:
        spec: The :class:`MethodSpec`.
        method: The underlying Captum-style attribution object.
        attribute_kwargs: Options passed to every ``method.attribute`` call.
    """

    def __init__(
        self,
        spec: MethodSpec,
        model: nn.Module,
        method: Attribution,
        attribute_kwargs: Mapping[str, Any],
    ) -> None:
        Attribution.__init__(self, model)
        self.spec = spec
        self.model = model
        self.method = method
        self.attribute_kwargs = dict(attribute_kwargs)

    @property
    def name(self) -> str:
        return self.spec.name

    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> Tensor | tuple[Tensor, ...]:
        """Attributions of ``inputs`` for ``target`` (Captum's conventions).

        Args:
            inputs: A tensor (N, ...) or a tuple of tensors.
            target: An int, a list or a tensor of N classes; ``None`` is the predicted class.
            additional_forward_args: Extra arguments for the model, as in Captum.

        Returns:
            The inputs' type, shapes, device and dtype.
        """
        check_eval_mode(self.model)
        detached = (
            tuple(_detached(x) for x in inputs) if isinstance(inputs, tuple) else _detached(inputs)
        )
        if target is not None and not getattr(self.method, "checks_targets", False):
            with torch.no_grad():
                outputs = _run_forward(self.model, detached, None, additional_forward_args)
            resolve_targets(target, outputs)
        with warnings.catch_warnings():
            # Captum's gradient methods warn when they set requires_grad on the inputs;
            # here those are the detached copies made above, never the caller's tensors.
            warnings.filterwarnings("ignore", message=_CAPTUM_REQUIRES_GRAD_WARNING)
            return self.method.attribute(
                detached,
                target=target,
                additional_forward_args=additional_forward_args,
                **self.attribute_kwargs,
            )

    def __repr__(self) -> str:
        return f"RegisteredMethod({self.spec.name!r}, {self.attribute_kwargs})"


def _detached(x: Any) -> Any:
    return x.detach() if isinstance(x, Tensor) else x


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


#: Modules taken as the activation after the last convolution (default target layer).
_ACTIVATIONS = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
    nn.PReLU,
    nn.ReLU6,
)
_NORMALIZATIONS = (
    nn.modules.batchnorm._BatchNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
)


def default_target_layer(model: nn.Module) -> nn.Module:
    """The layer a CAM uses when none is given.

    * torchvision ResNet: ``model.layer4[-1]``, the last residual block's output.
    * Otherwise the last ``nn.Conv2d``; when it sits in an ``nn.Sequential`` followed,
      possibly after normalization layers, by an activation module, that activation
      (the rectified feature maps of Grad-CAM's paper). For torchvision VGG16 this is
      ``features[29]``, the ReLU after the last convolution (before the last max pool,
      so 4 x 4 maps at 64 x 64 inputs rather than 2 x 2).

    Raises:
        ValueError: The model has no ``nn.Conv2d``.
    """
    resnet = sys.modules.get("torchvision.models.resnet")
    if resnet is not None and isinstance(model, resnet.ResNet):
        return model.layer4[-1]
    convolutions = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convolutions:
        raise ValueError(
            f"expected a model with an nn.Conv2d to pick a default target layer, got a "
            f"{type(model).__name__} without one; pass target_layer="
        )
    name = convolutions[-1]
    parent_name, _, _ = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    layer = model.get_submodule(name)
    if isinstance(parent, nn.Sequential):
        siblings = list(parent.children())
        position = next(i for i, m in enumerate(siblings) if m is layer)
        for following in siblings[position + 1 :]:
            if isinstance(following, _ACTIVATIONS):
                return following
            if not isinstance(following, _NORMALIZATIONS):
                break
    return layer


def _ifim(component: str) -> Factory:
    def factory(
        model: nn.Module, target_layer: Any, background: Any, **kwargs: Any
    ) -> tuple[Attribution, dict[str, Any]]:
        from captum_ifim._ifim._ifim_decomposition import IFIMDecomposition

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
        from captum_ifim._baselines import _cam_attribution

        constructor, _ = _split_kwargs(class_name, kwargs, options, set())
        layer = default_target_layer(model) if target_layer is None else target_layer
        cam_class = getattr(_cam_attribution, class_name)
        return cam_class(model, layer, **constructor), {}

    return factory


_CAM_OPTIONS = {"reshape_transform", "normalization"}


def _deepshap(
    model: nn.Module, target_layer: Any, background: Any, **kwargs: Any
) -> tuple[Attribution, dict[str, Any]]:
    from captum_ifim._baselines._deepshap_attribution import DeepSHAP

    if background is None:
        raise ValueError("expected background= reference inputs (B, ...) for 'deepshap'")
    constructor, _ = _split_kwargs(
        "deepshap", kwargs, {"check_additivity", "additivity_tolerance"}, set()
    )
    return DeepSHAP(model, background, **constructor), {}


def _saliency(
    model: nn.Module, target_layer: Any, background: Any, **kwargs: Any
) -> tuple[Attribution, dict[str, Any]]:
    from captum.attr import Saliency

    _, attribute = _split_kwargs("saliency", kwargs, set(), {"abs"})
    return Saliency(model), attribute


def _integrated_gradients(
    model: nn.Module, target_layer: Any, background: Any, **kwargs: Any
) -> tuple[Attribution, dict[str, Any]]:
    from captum.attr import IntegratedGradients

    constructor, attribute = _split_kwargs(
        "integrated-gradients",
        kwargs,
        {"multiply_by_inputs"},
        {"baselines", "n_steps", "method", "internal_batch_size"},
    )
    return IntegratedGradients(model, **constructor), attribute


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
