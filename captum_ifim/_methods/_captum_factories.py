"""Captum's attribution classes behind the registry: one adapter, run on a prepared copy.

:class:`CaptumMethod` turns a registry entry (:class:`CaptumEntry`: the Captum class, its
family and its defaults, as data) into a Captum call on one image tensor and gives back a
map of the inputs' shape, device and dtype:

* **Defaults a user would pick**, computed from the inputs at each call: baselines (zeros,
  a number, or the background for the SHAP methods), Occlusion's window and stride as a
  fraction of the image, a grid or SLIC feature mask for the sampling methods.
* **Randomness per image**: the sampling methods and ``noise_tunnel`` draw from torch's
  and NumPy's generators seeded with ``seed`` for each image, restored afterwards, so a map
  does not depend on the batch the image came in and the caller's random state is left
  as found.
* **The model untouched**: the methods that hook modules (DeepLift, LRP, guided
  backpropagation, deconvolution and every Layer* class) run on a private copy
  (``torch.fx`` trace where it works: in-place operators out of place, functional ReLUs as
  modules, one module per call), never on the model. The copy shares the model's
  parameters (LRP's own copy does not: Captum writes its state dict back after the call).
* **Refusals before any hook**: a module with no rule for the method (LRP without a rule,
  DeepLift on a non-linearity it does not know, an operation no DeepLIFT rule handles)
  raises :class:`CaptumUnsupportedModelError` naming the module's class and dotted name;
  :func:`captum_ifim.build_method` adds the registry methods that work.
* **Layer* classes at the CAM layer**: the attribution of the layer's map (after the
  family's reshape, as the CAMs read it) summed over its channels, upsampled with Captum's
  ``LayerAttribution.interpolate`` (bilinear in 2-D, trilinear in 3-D) and repeated over
  the input's channels, as the CAMs' maps are.
"""

from __future__ import annotations

import contextlib
import copy
import math
import operator
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, ClassVar

import captum.attr
import numpy as np
import torch
from captum.attr import Attribution, LayerAttribution, NoiseTunnel
from torch import Tensor, fx, nn

from captum_ifim._baselines._deepshap_support import (
    EXACT_MODULES,
    InexactOperation,
    UnsupportedModelError,
    in_place_operations,
    inexact_operations,
)
from captum_ifim._baselines._model_preparation import _rewrite, _sharing_copy, trace
from captum_ifim._baselines._sample_forward import sample_arguments
from captum_ifim._baselines._target_layers import CAMTarget
from captum_ifim._captum_compat import (
    DEEPLIFT_NON_LINEAR,
    INTEGRATION_METHODS,
    LRP_LAYERS_WITH_RULES,
    LRP_NON_LINEAR_LAYERS,
    Addition_Module,
    IdentityRule,
    TargetType,
    _format_additional_forward_args,
    _format_output,
    _format_tensor_into_tuples,
    _is_tuple,
    linear_model,
    log_usage,
)
from captum_ifim._methods._feature_masks import (
    FEATURE_MASKS,
    grid_feature_mask,
    slic_feature_mask,
)
from captum_ifim._validation import check_bool, check_choice, check_positive_int

#: NoiseTunnel's ``nt_type`` values.
NT_TYPES: tuple[str, ...] = ("smoothgrad", "smoothgrad_sq", "vargrad")
#: The keys ``noise_tunnel`` takes: NoiseTunnel.attribute's own arguments.
NOISE_TUNNEL_KEYS: tuple[str, ...] = ("nt_type", "nt_samples", "nt_samples_batch_size", "stdevs")
#: The most integration steps (as the registry's integrated gradients allows).
MAX_STEPS = 10_000

#: Modules that only pass values on (identity, eval-mode dropout): LRP passes the relevance
#: through them unchanged (Captum's ``IdentityRule``), as a user would set. ``nn.Flatten``
#: becomes ``torch.flatten`` in the traced copy.
SHAPE_ONLY_MODULES: tuple[type[nn.Module], ...] = (nn.Identity, nn.modules.dropout._DropoutNd)
#: Leaf modules LRP attributes: Captum's rules, its non-linearities, and the above.
LRP_MODULES: tuple[type[nn.Module], ...] = (
    *LRP_LAYERS_WITH_RULES,
    *LRP_NON_LINEAR_LAYERS,
    *SHAPE_ONLY_MODULES,
)
#: Leaf modules with Captum's DeepLift rules or linear in their input (eval mode).
_SHAP_NONLINEAR = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SELU, nn.GELU, nn.Sigmoid, nn.Tanh)
DEEPLIFT_MODULES: tuple[type[nn.Module], ...] = (
    *(
        m
        for m in EXACT_MODULES
        if not issubclass(m, _SHAP_NONLINEAR) and m.__module__[:5] == "torch"
    ),
    *DEEPLIFT_NON_LINEAR,
)
_MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
#: Captum's notices that it hooks modules (here a private copy's) and sets requires_grad
#: (here on detached inputs).
_CAPTUM_NOTICES = (
    "Setting (forward, )?backward hooks",
    "Input Tensor .* did not already require gradients",
)


class CaptumUnsupportedModelError(UnsupportedModelError):
    """A Captum class has no rule for a module of the model; nothing was hooked.

    Attributes:
        method: The Captum class.
        operations: The modules it has no rule for, in the model's order (class and
            dotted name).
        reason: What the class needs, for the message.
        alternatives: Registry methods that work on the model (filled in by
            :func:`captum_ifim.build_method`).
    """

    def __init__(
        self,
        method: str,
        operations: Any,
        alternatives: Any = (),
        reason: str = "",
    ) -> None:
        self.reason = reason
        super().__init__(method, operations, alternatives)

    def _message(self) -> str:
        first = self.operations[0]
        names = ", ".join(str(op) for op in self.operations[:5])
        more = f" and {len(self.operations) - 5} more" if len(self.operations) > 5 else ""
        works = (
            f"Methods that work on this model: {', '.join(self.alternatives)}."
            if self.alternatives
            else "Methods without module rules (saliency, integrated-gradients, "
            "input-x-gradient, occlusion, the CAMs) work on it."
        )
        return (
            f"expected a model that Captum's {self.method} can attribute, got one with "
            f"{first} ({names}{more}); {self.reason}. {works}"
        )

    def with_alternatives(self, alternatives: Any) -> CaptumUnsupportedModelError:
        """The same error naming the methods that work."""
        return CaptumUnsupportedModelError(
            self.method, self.operations, tuple(alternatives), self.reason
        )


@dataclass(frozen=True)
class CaptumEntry:
    """One Captum class as a registry method, as data (a row of the docs table).

    Attributes:
        name: Registry name (``"guided-backprop"``).
        captum_class: The class's name in ``captum.attr``.
        family: ``"gradient"``, ``"perturbation"``, ``"lrp"`` or ``"layer"``.
        description: One line for reports.
        defaults: Every option the entry takes besides ``noise_tunnel`` and ``seed``, with
            its default (``multiply_by_inputs`` goes to the constructor, the rest to
            ``attribute``).
        rules: ``"deeplift"`` or ``"lrp"``: the copy is checked for modules without a rule.
        layer: Attributes the CAM target layer, upsampled to the input.
        target_layer: Built on the CAM target layer (the Layer* classes, GuidedGradCam).
        needs_background: Baselines are the ``background`` (GradientShap, DeepLiftShap).
        stochastic: Draws random numbers (seeded per image).
        multiplies_by_inputs: Captum's flag with the defaults (NoiseTunnel reads it).
        hooks_modules: Runs on a prepared copy (hooks modules or needs the layer).
        interpretable_model: Lime's surrogate, a class of ``captum._utils.models`` built
            for each call (Captum's default lasso, alpha 0.01, gives all-zero maps where the
            class score moves by less than that, as on an untrained network; Captum's Lime
            tutorial fits a linear regression).
        noise_tunnel: Takes the ``noise_tunnel`` option.
    """

    name: str
    captum_class: str
    family: str
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    rules: str | None = None
    layer: bool = False
    target_layer: bool = False
    needs_background: bool = False
    stochastic: bool = False
    multiplies_by_inputs: bool = False
    hooks_modules: bool = False
    interpretable_model: str | None = None
    noise_tunnel: bool = True

    @property
    def constructor_options(self) -> frozenset[str]:
        return frozenset(self.defaults) & {"multiply_by_inputs"}

    @property
    def attribute_options(self) -> frozenset[str]:
        extra = {"noise_tunnel", "seed"} if self.noise_tunnel else {"seed"}
        return (frozenset(self.defaults) - self.constructor_options) | extra


# Option checks ------------------------------------------------------------------------------


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"expected {name} to be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite {name}, got {value}")
    return float(value)


def _check_baselines(value: Any) -> None:
    if value == "zeros" and isinstance(value, str):
        return
    if isinstance(value, str):
        raise ValueError(f"expected baselines 'zeros' or a finite number, got {value!r}")
    _real(value, "baselines")


def _check_fraction(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not 0 < _real(value, name) <= 1:
            raise ValueError(f"expected {name} in (0, 1] (of the image's side), got {value}")

    return check


def _check_stdevs(value: Any, name: str = "stdevs") -> None:
    if _real(value, name) < 0:
        raise ValueError(f"expected {name} >= 0, got {value}")


def _check_steps(value: Any) -> None:
    check_positive_int(value, "n_steps")
    if value > MAX_STEPS:
        raise ValueError(f"expected n_steps <= {MAX_STEPS}, got {value}")


def _check_seed(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError(f"expected seed to be an int in [0, 2**63), got {value!r}")


def check_noise_tunnel(value: Any) -> None:
    """``None`` or a mapping of NoiseTunnel.attribute's arguments (:data:`NOISE_TUNNEL_KEYS`)."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise TypeError(
            f"expected noise_tunnel to be None or a mapping of {list(NOISE_TUNNEL_KEYS)}, "
            f"got {value!r}"
        )
    unknown = sorted(str(k) for k in value if k not in NOISE_TUNNEL_KEYS)
    if unknown:
        raise ValueError(
            f"expected noise_tunnel keys among {list(NOISE_TUNNEL_KEYS)}, got {unknown}"
        )
    if "nt_type" in value:
        check_choice("noise_tunnel's nt_type", value["nt_type"], NT_TYPES)
    if "nt_samples" in value:
        check_positive_int(value["nt_samples"], "noise_tunnel's nt_samples")
    if "nt_samples_batch_size" in value:
        check_positive_int(
            value["nt_samples_batch_size"], "noise_tunnel's nt_samples_batch_size", True
        )
    if "stdevs" in value:
        _check_stdevs(value["stdevs"], "noise_tunnel's stdevs")


#: One check per option name, the same for every entry that takes it.
OPTION_CHECKS: dict[str, Callable[[Any], None]] = {
    "baselines": _check_baselines,
    "n_steps": _check_steps,
    "method": lambda v: check_choice("method", v, INTEGRATION_METHODS),
    "internal_batch_size": lambda v: check_positive_int(v, "internal_batch_size", True),
    "multiply_by_inputs": lambda v: check_bool(v, "multiply_by_inputs"),
    "n_samples": lambda v: check_positive_int(v, "n_samples"),
    "perturbations_per_eval": lambda v: check_positive_int(v, "perturbations_per_eval"),
    "stdevs": _check_stdevs,
    "relu_attributions": lambda v: check_bool(v, "relu_attributions"),
    "window_fraction": _check_fraction("window_fraction"),
    "stride_fraction": _check_fraction("stride_fraction"),
    "feature_mask": lambda v: check_choice("feature_mask", v, FEATURE_MASKS),
    "grid_cells": lambda v: check_positive_int(v, "grid_cells"),
    "slic_segments": lambda v: check_positive_int(v, "slic_segments"),
    "noise_tunnel": check_noise_tunnel,
    "seed": _check_seed,
}


def check_captum_options(options: Mapping[str, Any]) -> None:
    """Raise for a bad value of any option of a Captum entry (names already checked)."""
    for name, value in options.items():
        OPTION_CHECKS[name](value)


# The prepared copy --------------------------------------------------------------------------


class _LayerOutput(nn.Identity):
    """Marks the target layer's output in a traced copy (Captum's layer classes hook it)."""


def _layer_output_node(graph: fx.Graph, name: str) -> fx.Node | None:
    """The last node computed inside module ``name`` (its output), by fx's module stack."""
    inside = [
        node
        for node in graph.nodes
        if any(entry[0] == name for entry in (node.meta.get("nn_module_stack") or {}).values())
    ]
    return inside[-1] if inside else None


def _mark_layer(graph_module: fx.GraphModule, name: str) -> nn.Module | None:
    """Insert a :class:`_LayerOutput` after module ``name``'s output; ``None`` if not found."""
    graph = graph_module.graph
    output = _layer_output_node(graph, name)
    if output is None:
        return None
    inside = {
        node
        for node in graph.nodes
        if any(entry[0] == name for entry in (node.meta.get("nn_module_stack") or {}).values())
    }
    marker = _LayerOutput()
    graph_module.add_submodule("captum_layer_output", marker)
    with graph.inserting_after(output):
        marked = graph.call_module("captum_layer_output", (output,))
    for user in list(output.users):
        if user is not marked and user not in inside:
            user.replace_input_with(output, marked)
    graph.lint()
    graph_module.recompile()
    return marker


def _prepare_for_lrp(graph_module: fx.GraphModule) -> None:
    """``nn.Flatten``/``nn.Unflatten`` calls as ``torch.flatten``/``torch.unflatten`` (LRP
    has no rule for them as modules: Captum's IdentityRule keeps the output's shape; it
    passes the relevance through a function call as through a reshape), and sums of two
    computed tensors (residual connections) as Captum's ``Addition_Module``, which its LRP
    splits the relevance over (its documented way for skip connections)."""
    graph = graph_module.graph
    for node in list(graph.nodes):
        is_sum = node.op == "call_function" and node.target in (operator.add, torch.add)
        computed = [a for a in node.args[:2] if isinstance(a, fx.Node) and a.op != "get_attr"]
        if is_sum and len(computed) == 2 and not node.kwargs:
            name = f"lrp_addition_{len(graph_module._modules)}"
            graph_module.add_submodule(name, Addition_Module())
            with graph.inserting_after(node):
                replacement = graph.call_module(name, tuple(computed))
            node.replace_all_uses_with(replacement)
            graph.erase_node(node)
            continue
        if node.op != "call_module":
            continue
        module = graph_module.get_submodule(str(node.target))
        if isinstance(module, nn.Flatten):
            args: tuple[Any, ...] = (node.args[0], module.start_dim, module.end_dim)
            function: Any = torch.flatten
        elif isinstance(module, nn.Unflatten):
            args, function = (node.args[0], module.dim, module.unflattened_size), torch.unflatten
        else:
            continue
        with graph.inserting_after(node):
            replacement = graph.call_function(function, args)
        node.replace_all_uses_with(replacement)
        graph.erase_node(node)
    graph.lint()
    graph_module.recompile()
    graph_module.delete_all_unused_submodules()


def prepare_copy(
    model: nn.Module, layer_name: str | None, own_storage: bool = False
) -> tuple[nn.Module, nn.Module | None, bool]:
    """A copy of ``model`` in eval mode for hooking, and the layer to attribute in it.

    Traced with ``torch.fx`` where possible (in-place operators out of place, functional
    ReLU/sigmoid/tanh as modules, one module per call; the layer's output marked by an
    identity module); otherwise the plain copy, with in-place modules switched off.

    Returns:
        ``(copy, layer in the copy or None, traced)``.
    """
    inner = getattr(model, "wrapped", None)
    if isinstance(inner, nn.Module) and inner is not model and hasattr(model, "output_key"):
        # The registry's logits adapter (same submodules and names): torch.fx cannot trace
        # its forward(*args), so the wrapped model is prepared and wrapped again.
        prepared_inner, layer, was_traced = prepare_copy(inner, layer_name, own_storage)
        return type(model)(prepared_inner, model.output_key), layer, was_traced
    prepared = copy.deepcopy(model) if own_storage else _sharing_copy(model)
    prepared.eval()
    for parameter in prepared.parameters():  # the copy's own Parameter objects
        parameter.requires_grad_(True)  # Captum hooks tensors that need a gradient
    for module in prepared.modules():
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False  # type: ignore[assignment]
    types = {name: type(module).__name__ for name, module in prepared.named_modules()}
    try:
        traced = trace(prepared)
        traced.original_types = types  # type: ignore[assignment]
        _rewrite(traced)
        if own_storage:
            _prepare_for_lrp(traced)
    except Exception:  # torch.fx raises many types for untraceable code
        layer = prepared.get_submodule(layer_name) if layer_name is not None else None
        return prepared, layer, False
    if layer_name is None:
        return traced.eval(), None, True
    marker = _mark_layer(traced, layer_name)
    if marker is None:  # the layer is not called in the traced forward
        return prepared, prepared.get_submodule(layer_name), False
    return traced.eval(), marker, True


def _original(name: str) -> str:
    return name.split("_deepshap")[0]


def unsupported_modules(
    prepared: nn.Module, allowed: tuple[type[nn.Module], ...], called_only: bool = False
) -> list[InexactOperation]:
    """Leaf modules of the copy whose type is not ``allowed``, named as in the model.

    A traced copy keeps, as bare ``nn.Module`` containers of their parameters, the modules
    fx traced through (a ``LayerNorm`` subclass becomes ``F.layer_norm``): they are named by
    the class they had (``original_types``), and skipped with ``called_only`` (a method
    that hooks only the modules the forward calls).
    """
    called = None
    if called_only and isinstance(prepared, fx.GraphModule):
        called = {str(n.target) for n in prepared.graph.nodes if n.op == "call_module"}
    types = getattr(prepared, "original_types", {})
    return [
        InexactOperation(types.get(name, type(module).__name__), _original(name))
        for name, module in prepared.named_modules()
        if name
        and not list(module.children())
        and not isinstance(module, allowed)
        and (called is None or name in called)
    ]


def _check_rules(
    entry: CaptumEntry, prepared: nn.Module, example: tuple[Any, ...], traced: bool
) -> None:
    """Raise :class:`CaptumUnsupportedModelError` for what the entry's rules cannot handle
    (and, on a copy fx could not trace, for in-place changes of what the hooks wrap)."""
    if entry.rules is None:
        return
    inner = getattr(prepared, "wrapped", None)  # the registry's logits adapter
    prepared = inner if isinstance(inner, nn.Module) else prepared
    if entry.rules == "lrp":
        found = unsupported_modules(prepared, LRP_MODULES)
        reason = (
            "LRP needs a rule for every module (Captum has rules for 2-D convolutions, "
            "linear layers, 2-D batch norm and pooling, and ReLU, tanh and dropout)"
        )
    else:
        pools = {n for n, m in prepared.named_modules() if isinstance(m, _MAX_POOLS)}
        graph = [op for op in inexact_operations(prepared, example) if op.where not in pools]
        found = unsupported_modules(prepared, DEEPLIFT_MODULES, called_only=True)
        names = {(op.operation, op.where) for op in found}
        found += [op for op in graph if (op.operation, op.where) not in names]
        order = {_original(name): i for i, (name, _) in enumerate(prepared.named_modules())}
        found.sort(key=lambda op: order.get(op.where, len(order)))  # the model's order
        reason = (
            "DeepLift's rescale rule covers ReLU, ELU, LeakyReLU, Sigmoid, Tanh, Softplus, "
            "Softmax and max pooling; any other non-linearity would get its plain gradient"
        )
    in_place = [] if traced else in_place_operations(prepared, example)
    if in_place:
        found, reason = (
            in_place,
            "its hooks cannot run with an in-place change of a module's output",
        )
    if found:
        raise CaptumUnsupportedModelError(entry.captum_class, found, reason=reason)


# The adapter ---------------------------------------------------------------------------------


def _state_key(model: Any) -> tuple[Any, ...]:
    """What a prepared copy depends on: each parameter's and buffer's storage, version,
    shape, dtype and device (a step of training, ``.to()`` or a new layer changes it)."""
    if not isinstance(model, nn.Module):
        return (id(model),)
    tensors = [*model.parameters(), *model.buffers()]
    return tuple((t.data_ptr(), t._version, t.shape, t.dtype, t.device) for t in tensors)


@contextlib.contextmanager
def _seeded(seed: int, devices: list[torch.device]) -> Iterator[None]:
    """torch's and NumPy's global generators seeded with ``seed`` (Captum's GradientShap
    draws its path points from NumPy), and restored afterwards."""
    state = np.random.get_state()  # noqa: NPY002 (Captum draws from the global one)
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)  # noqa: NPY002
            yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _sample_target(target: TargetType, index: int) -> TargetType:
    if target is None or isinstance(target, int):
        return target
    if isinstance(target, Tensor):
        return target if target.dim() == 0 or target.numel() == 1 else target[index : index + 1]
    return [target[index]] if len(target) > 1 else list(target)


class CaptumMethod(Attribution):
    """A Captum attribution class with the registry's defaults (see the module docstring).

    Args:
        model: The classifier (never hooked or modified).
        entry: The :class:`CaptumEntry`.
        target: The CAM target (layer and reshape) for a Layer* entry; ``None`` otherwise.
        background: Reference inputs (B, ...) for the SHAP entries.
        multiply_by_inputs: Captum's constructor flag, where the class takes it.
    """

    checks_targets: ClassVar[bool] = False

    def __init__(
        self,
        model: nn.Module,
        entry: CaptumEntry,
        target: CAMTarget | None = None,
        background: Tensor | None = None,
        **constructor: Any,
    ) -> None:
        Attribution.__init__(self, model)
        self.model = model
        self.entry = entry
        self.target = target
        self.background = background.detach() if background is not None else None
        self._cache: tuple[Any, tuple[nn.Module, nn.Module | None, bool], set[Any]] | None = None
        self.constructor = {
            **{k: entry.defaults[k] for k in entry.constructor_options},
            **constructor,
        }

    @property
    def multiplies_by_inputs(self) -> bool:
        return bool(self.constructor.get("multiply_by_inputs", self.entry.multiplies_by_inputs))

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        target: TargetType = None,
        additional_forward_args: Any = None,
        **options: Any,
    ) -> Tensor | tuple[Tensor]:
        """The entry's Captum attribution of each image for its target, in the inputs'
        shape, device and dtype (a tuple for a tuple input)."""
        with warnings.catch_warnings():
            for message in _CAPTUM_NOTICES:
                warnings.filterwarnings("ignore", message=message)
            return self._attribute(inputs, target, additional_forward_args, options)

    def _attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        target: TargetType,
        additional_forward_args: Any,
        options: dict[str, Any],
    ) -> Tensor | tuple[Tensor]:
        is_tuple = _is_tuple(inputs)
        formatted = _format_tensor_into_tuples(inputs)
        if len(formatted) != 1:
            raise ValueError(f"expected a single image tensor, got {len(formatted)} inputs")
        x = formatted[0].detach()
        if x.dim() not in (4, 5):
            raise ValueError(
                f"expected images (N, C, H, W) or volumes (N, C, D, H, W), got {tuple(x.shape)}"
            )
        settings = {**self.entry.defaults, "noise_tunnel": None, "seed": 0, **options}
        check_captum_options({k: v for k, v in settings.items() if k in OPTION_CHECKS})
        extra = tuple(_format_additional_forward_args(additional_forward_args) or ())
        layer_name = self.target.name if self.target is not None else None
        forward: nn.Module = self.model
        layer = None
        if self.entry.hooks_modules:
            example = (x[:1], *sample_arguments(extra, 0, x.shape[0]))
            forward, layer = self._prepared(example, layer_name)
            self._check_layer_layout()
        method = self._captum(forward, layer)
        tunnel = settings["noise_tunnel"]
        if tunnel is not None:
            method = NoiseTunnel(method)
        per_image = self.entry.stochastic or tunnel is not None
        if not (per_image or settings.get("feature_mask") == "slic"):
            result = self._call(method, x, target, extra, settings)
        else:
            rows = []
            for index in range(x.shape[0]):
                devices = [x.device] if x.device.type == "cuda" else []
                with _seeded(settings["seed"], devices):
                    rows.append(
                        self._call(
                            method,
                            x[index : index + 1],
                            _sample_target(target, index),
                            sample_arguments(extra, index, x.shape[0]),
                            settings,
                        )
                    )
            result = torch.cat(rows)
        if self.entry.layer:
            result = self._to_input(result, x)
        mapped = result.detach().to(device=x.device, dtype=x.dtype)
        return _format_output(is_tuple, (mapped.expand_as(x).contiguous(),))

    def _prepared(
        self, example: tuple[Any, ...], layer_name: str | None
    ) -> tuple[nn.Module, nn.Module | None]:
        """The prepared copy and its layer, checked for the entry's rules. A copy sharing
        the model's tensors is kept while they are the same tensors (storage, version,
        shape, dtype, device) and checked once per input shape; LRP's own copy (Captum
        writes its state dict back) is made at each call, so it has the model's values."""
        own = self.entry.rules == "lrp"
        key = None if own else _state_key(self.model)
        if own or self._cache is None or self._cache[0] != key:
            self._cache = (key, prepare_copy(self.model, layer_name, own_storage=own), set())
        _, (forward, layer, traced), checked = self._cache
        shape = (tuple(example[0].shape[1:]), example[0].dtype, example[0].device)
        if shape not in checked:
            _check_rules(self.entry, forward, example, traced)
            checked.add(shape)
        return forward, layer

    def _captum(self, forward: nn.Module, layer: nn.Module | None) -> Attribution:
        cls = getattr(captum.attr, self.entry.captum_class)
        if self.entry.rules == "lrp":
            for module in forward.modules():
                if isinstance(module, SHAPE_ONLY_MODULES):
                    module.rule = IdentityRule()
        args = (forward, layer) if layer is not None else (forward,)
        fixed = {}
        if self.entry.interpretable_model is not None:
            fixed["interpretable_model"] = getattr(linear_model, self.entry.interpretable_model)()
        return cls(*args, **fixed, **self.constructor)

    def _check_layer_layout(self) -> None:
        """Layer GradCAM averages the gradient over dims 2+, which a token layout breaks."""
        needs_grid = self.entry.captum_class in ("LayerGradCam", "GuidedGradCam")
        if needs_grid and self.target is not None and self.target.reshape_transform is not None:
            raise CaptumUnsupportedModelError(
                self.entry.captum_class,
                [InexactOperation("a token or channels-last layer", self.target.name)],
                reason="it averages the layer's gradient over the dimensions after the "
                "channels, which needs channels-first maps (pytorch-grad-cam's 'gradcam' "
                "reshapes tokens to a grid)",
            )

    def _call(
        self,
        method: Attribution,
        x: Tensor,
        target: TargetType,
        extra: tuple[Any, ...],
        settings: Mapping[str, Any],
    ) -> Tensor:
        kwargs = self._kwargs(x, settings)
        tunnel = settings["noise_tunnel"]
        if tunnel is not None:
            kwargs.update(tunnel)
        return method.attribute(x, target=target, additional_forward_args=extra or None, **kwargs)

    def _kwargs(self, x: Tensor, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Captum's ``attribute`` arguments from the options, for inputs ``x``."""
        defaults = self.entry.defaults
        kwargs: dict[str, Any] = {}
        for name in defaults:
            if name in ("multiply_by_inputs", "window_fraction", "stride_fraction",
                        "feature_mask", "grid_cells", "slic_segments", "baselines"):  # fmt: skip
                continue
            kwargs[name] = settings[name]
        if "baselines" in defaults:
            value = settings["baselines"]
            kwargs["baselines"] = 0.0 if value == "zeros" else float(value)
        if self.entry.needs_background:
            assert self.background is not None  # build_method checks it
            background = self.background.to(device=x.device, dtype=x.dtype)
            if background.shape[0] == 1:  # DeepLiftShap needs two; the mean of one is it
                background = background.expand(2, *background.shape[1:])
            kwargs["baselines"] = background
        if "window_fraction" in defaults:
            spatial = x.shape[2:]
            window = [max(1, round(s * settings["window_fraction"])) for s in spatial]
            stride = [max(1, round(s * settings["stride_fraction"])) for s in spatial]
            kwargs["sliding_window_shapes"] = (x.shape[1], *window)
            kwargs["strides"] = (x.shape[1], *stride)
        if "feature_mask" in defaults:
            if settings["feature_mask"] == "slic":  # one image per call (see attribute)
                kwargs["feature_mask"] = slic_feature_mask(x, settings["slic_segments"])
            else:
                kwargs["feature_mask"] = grid_feature_mask(
                    tuple(x.shape[2:]), settings["grid_cells"], x.device
                )
        return kwargs

    def _to_input(self, attribution: Tensor, x: Tensor) -> Tensor:
        """A layer's attribution as a map over the input: the family's reshape, the sum over
        channels, Captum's interpolation; (N, 1, *spatial)."""
        assert self.target is not None
        if self.target.reshape_transform is not None:
            attribution = self.target.reshape_transform(attribution)
        if attribution.dim() != x.dim():
            raise ValueError(
                f"expected the target layer {self.target.name!r} to give (N, K, *spatial) maps "
                f"with {x.dim() - 2} spatial dimensions, got {tuple(attribution.shape)}; "
                "choose another target_layer="
            )
        summed = attribution.sum(dim=1, keepdim=True)
        mode = "bilinear" if x.dim() == 4 else "trilinear"
        return LayerAttribution.interpolate(summed, tuple(x.shape[2:]), mode)


def captum_factory(entry: CaptumEntry) -> Any:
    """The registry factory of ``entry``: ``CaptumMethod(model, entry, ...)``."""

    def build(
        model: nn.Module, target: Any, background: Tensor | None, options: dict[str, Any]
    ) -> tuple[Attribution, dict[str, Any]]:
        return CaptumMethod(model, entry, target, background, **options), {}

    return build
