"""Your own attribution method as a :class:`MethodSpec`: a Captum-style class (or its import
path), a factory, an attribution object or a plain function, with its facts read from it or
declared.

:func:`custom_method_spec` returns a spec that :func:`captum_ifim.build_method` builds like a
registered one (``build_method(spec, model)``), without registering it: two runs may give one
name two definitions. Its options are fixed in the spec; its maps come back in the inputs'
shape (a map at a layer's resolution, as Captum's ``Layer*`` classes give, is summed over its
channels and upsampled, as the CAMs are).
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch.nn.functional as F
from captum.attr import Attribution
from torch import Tensor, nn

from captum_ifim._methods._method_spec import MethodSpec
from captum_ifim._registry_names import check_plain_name
from captum_ifim._validation import UnknownOptionError

#: The facts of a method that a user may declare (:class:`MethodSpec`'s fields).
FACT_NAMES = ("uses_target", "normalized_maps", "needs_background", "needs_target_layer")
#: Arguments of ``attribute`` the harness passes itself (``baselines``: the background of a
#: method that needs one).
_CALL_ARGUMENTS = frozenset({"inputs", "target", "additional_forward_args"})
#: The first constructor argument of a class built on the model (Captum's names).
_MODEL_ARGUMENTS = ("forward_func", "model")


def import_object(path: str) -> Any:
    """The object at ``"package.module:name"`` or ``"package.module.Name"``.

    Raises:
        ValueError: Not such a path, a module that cannot be imported, or no such name in it.
    """
    if not isinstance(path, str) or not path or path.startswith((".", ":")):
        raise ValueError(f"expected 'package.module:name' or 'package.module.Name', got {path!r}")
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"expected 'package.module:name' or 'package.module.Name', got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module {module_name!r} of {path!r}: {error}") from None
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            where = getattr(found, "__name__", module_name)
            raise ValueError(f"expected {path!r} to name an object, got no {part!r} in {where}")
        found = getattr(found, part)
    return found


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a class or function (of an object: of its class)."""
    target = obj if inspect.isclass(obj) or inspect.isroutine(obj) else type(obj)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def describe_object(obj: Any) -> str:
    """What a Python method object is, stably across processes: its qualified name, and for
    an instance its plain attributes (Captum keeps its options there) and nested attribution
    objects, or its own ``repr``; never a memory address or the model."""
    if inspect.isclass(obj) or inspect.isroutine(obj):
        return qualified_name(obj)
    if type(obj).__repr__ is not object.__repr__:
        return f"{qualified_name(obj)} {obj!r}"
    parts = []
    for key, value in sorted(vars(obj).items()) if hasattr(obj, "__dict__") else ():
        if isinstance(value, (str, bool, int, float, type(None))):
            parts.append(f"{key}={value!r}")
        elif hasattr(value, "attribute") and not isinstance(value, nn.Module):
            parts.append(f"{key}={describe_object(value)}")
    return qualified_name(obj) + (f"({', '.join(parts)})" if parts else "")


def _parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(function).parameters)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return {}


def _attribute_parameters(cls: Any) -> dict[str, inspect.Parameter]:
    return _parameters(cls.attribute)


def _takes_any(parameters: Mapping[str, inspect.Parameter]) -> bool:
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _required(parameters: Mapping[str, inspect.Parameter]) -> list[str]:
    return [
        name
        for name, p in parameters.items()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


def _check_names(
    where: str, given: Mapping[str, Any], parameters: Mapping[str, inspect.Parameter], taken: set
) -> None:
    """Raise for a name of ``given`` that is not a parameter (``taken`` ones are the
    harness's), naming the valid ones."""
    if not isinstance(given, Mapping):
        raise TypeError(f"expected {where} as a mapping of names, got {type(given).__name__}")
    valid = sorted(
        name
        for name, p in parameters.items()
        if name not in taken
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    )
    wrong = sorted(str(name) for name in given if name in taken or name not in valid)
    if wrong and not (_takes_any(parameters) and not set(wrong) & taken):
        raise UnknownOptionError(f"expected {where} among {valid}, got {wrong}")


def class_facts(cls: type) -> dict[str, bool]:
    """The facts of an attribution class read from its signatures: it needs a target layer
    when its constructor takes a required ``layer`` (Captum's ``Layer*`` classes,
    ``GuidedGradCam``), a background when its ``attribute`` takes required ``baselines``
    (``GradientShap``, ``DeepLiftShap``: passed as ``baselines=``), and it uses the target
    when ``attribute`` takes one. Its maps are not normalized.

    Example:
        >>> from captum.attr import GradientShap, LayerGradCam
        >>> class_facts(LayerGradCam)["needs_target_layer"], class_facts(GradientShap)
        (True, {'uses_target': True, 'normalized_maps': False, 'needs_background': True, \
'needs_target_layer': False})
    """
    init = _parameters(cls)
    attribute = _attribute_parameters(cls)
    return {
        "uses_target": "target" in attribute,
        "normalized_maps": False,
        "needs_background": "baselines" in _required(attribute),
        "needs_target_layer": "layer" in _required(init),
    }


def check_method_class(cls: Any, options: Mapping[str, Any], attribute_options: Mapping) -> None:
    """Raise unless ``cls`` is an attribution class built on a model (``cls(model[, layer],
    **options)``) whose constructor and ``attribute`` take ``options`` and
    ``attribute_options``; the message names the valid ones.

    Raises:
        TypeError: Not a class, or no ``attribute`` method.
        UnknownOptionError: An option it does not take (a ``TypeError`` and ``ValueError``).
        ValueError: A constructor not built on a model, or a required option missing.
    """
    name = qualified_name(cls)
    if not inspect.isclass(cls) or not callable(getattr(cls, "attribute", None)):
        raise TypeError(
            f"expected an attribution class (with an attribute(inputs, target=...) method, as "
            f"Captum's), got {name}"
        )
    init = _parameters(cls)
    first = next(iter(init), None)
    if first not in _MODEL_ARGUMENTS:
        raise ValueError(
            f"expected {name} to be built on the model (its first argument {_MODEL_ARGUMENTS}),"
            f" got {first!r}: give a factory = 'package.module:callable' that builds it"
        )
    facts = class_facts(cls)
    taken = {first, "layer"} if facts["needs_target_layer"] else {first}
    _check_names(f"options of {name}", options, init, taken)
    missing = [p for p in _required(init) if p not in taken and p not in options]
    if missing:
        raise ValueError(f"expected option(s) {missing} of {name}, got none")
    harness = _CALL_ARGUMENTS | ({"baselines"} if facts["needs_background"] else set())
    attribute = {k: v for k, v in _attribute_parameters(cls).items() if k != "self"}
    _check_names(f"attribute_options of {name}", attribute_options, attribute, set(harness))
    missing = [p for p in _required(attribute) if p not in harness and p not in attribute_options]
    if missing:
        raise ValueError(f"expected attribute_options {missing} of {name}, got none")


def check_factory(factory: Any, options: Mapping[str, Any]) -> dict[str, bool]:
    """Raise unless ``factory(model, **options)`` can be called; returns the facts its
    signature declares (``target_layer=`` and ``background=`` parameters).

    Raises:
        TypeError: Not callable.
        UnknownOptionError: An option it does not take.
    """
    name = qualified_name(factory)
    if not callable(factory):
        raise TypeError(f"expected a callable factory(model, **options), got {name}")
    parameters = _parameters(factory)
    first = next(iter(parameters), None)
    _check_names(f"options of factory {name}", options, parameters, {first} - {None})
    return {
        "needs_target_layer": "target_layer" in parameters,
        "needs_background": "background" in parameters,
    }


def _tupled(value: Any) -> Any:
    """Lists as tuples, nested (TOML has no tuples; Captum takes shapes as tuples)."""
    if isinstance(value, list | tuple):
        return tuple(_tupled(v) for v in value)
    if isinstance(value, Mapping):
        return {k: _tupled(v) for k, v in value.items()}
    return value


class _FunctionAttribution(Attribution):
    """A plain ``f(inputs, target) -> Tensor`` behind Captum's ``attribute``; given
    ``model=`` too when it takes it."""

    def __init__(self, model: nn.Module, function: Callable[..., Tensor]) -> None:
        super().__init__(model)
        self.function = function
        self.takes_model = "model" in _parameters(function)

    def attribute(
        self, inputs: Any, target: Any = None, additional_forward_args: Any = None
    ) -> Any:
        single = isinstance(inputs, tuple) and len(inputs) == 1  # Captum's metrics pass tuples
        x = inputs[0] if single else inputs
        maps = (
            self.function(x, target, model=self.forward_func)
            if self.takes_model
            else self.function(x, target)
        )
        return (maps,) if single else maps


class _InputShaped(Attribution):
    """A method whose maps may come at a layer's resolution, returning the inputs' shape:
    (N, K, *s) maps are summed over K, upsampled (bilinear or trilinear) and repeated over
    the inputs' channels, as the CAMs' maps are."""

    def __init__(self, model: nn.Module, method: Any) -> None:
        super().__init__(model)
        self.method = method

    @property
    def multiplies_by_inputs(self) -> bool:
        return bool(getattr(self.method, "multiplies_by_inputs", False))

    def attribute(
        self, inputs: Any, target: Any = None, additional_forward_args: Any = None, **kwargs: Any
    ) -> Any:
        maps = self.method.attribute(
            inputs, target=target, additional_forward_args=additional_forward_args, **kwargs
        )
        if isinstance(inputs, tuple) and len(inputs) == 1:  # Captum's form: tuple in, out
            one = maps[0] if isinstance(maps, tuple) and len(maps) == 1 else maps
            return (_input_shaped(inputs[0], one),)
        return _input_shaped(inputs, maps)


def _input_shaped(inputs: Any, maps: Any) -> Any:
    """``maps`` in the shape and dtype of ``inputs`` (see :class:`_InputShaped`)."""
    if not isinstance(inputs, Tensor) or not isinstance(maps, Tensor):
        return maps
    if maps.shape == inputs.shape or maps.dim() != inputs.dim() or len(maps) != len(inputs):
        return maps.to(inputs.dtype) if maps.shape == inputs.shape else maps
    summed = maps.sum(dim=1, keepdim=True)  # a map at a layer's resolution
    spatial = tuple(inputs.shape[2:])
    if tuple(summed.shape[2:]) != spatial:
        mode = "bilinear" if len(spatial) == 2 else "trilinear"
        summed = F.interpolate(summed, size=spatial, mode=mode, align_corners=False)
    return summed.expand_as(inputs).to(inputs.dtype).contiguous()


def _module_like(model: nn.Module, original: nn.Module) -> nn.Module:
    """The module of ``model`` (itself, or one it wraps) built as ``original``: the same
    submodule names and parameter shapes (the copy :func:`comparisons.compare` runs)."""

    def layout(module: nn.Module) -> list[Any]:
        names = [name for name, _ in module.named_modules()]
        return names + [(name, tuple(p.shape)) for name, p in module.named_parameters()]

    wanted = layout(original)
    for candidate in model.modules():
        if layout(candidate) == wanted:
            return candidate
    raise ValueError(
        f"expected the attribution object to be built on the model it explains, got one built "
        f"on a {type(original).__name__} the model {type(model).__name__} does not hold"
    )


def _rebound(method: Any, model: nn.Module) -> Any:
    """A copy of an attribution object built on another model, explaining ``model``: the
    references to that model, its modules and tensors, become ``model``'s."""
    original = getattr(method, "forward_func", None)
    original = getattr(method, "model", original) if original is None else original
    if not isinstance(original, nn.Module) or original is model:
        return method
    like = _module_like(model, original)
    memo: dict[int, Any] = {id(original): model}
    for name, module in original.named_modules():
        if name:
            memo[id(module)] = like.get_submodule(name)
    mapped = dict(like.named_parameters()) | dict(like.named_buffers())
    for name, tensor in (*original.named_parameters(), *original.named_buffers()):
        memo[id(tensor)] = mapped[name]
    return copy.deepcopy(method, memo)


def custom_method_spec(
    name: str,
    method: Any = None,
    *,
    factory: Any = None,
    options: Mapping[str, Any] | None = None,
    attribute_options: Mapping[str, Any] | None = None,
    description: str | None = None,
    **facts: bool,
) -> MethodSpec:
    """A :class:`MethodSpec` of your own method, for :func:`captum_ifim.build_method`.

    Args:
        name: Its name in results (a plain name).
        method: One of: an attribution class or its path (``"captum.attr.Occlusion"``),
            built as ``cls(model[, layer], **options)``; an attribution object (e.g.
            ``Occlusion(model)``, rebuilt for the model it is asked to explain when it was
            built on a copy of it); a plain function ``f(inputs, target) -> Tensor``, which
            explains the model it closes over, or ``f(inputs, target, model)``, given the
            model to explain (as the randomization test needs: it explains altered copies).
        factory: Instead of ``method``: ``factory(model, **options)`` or its path
            ``"package.module:callable"``, returning an object with ``attribute(inputs,
            target=..., additional_forward_args=...)``; given ``target_layer=`` and
            ``background=`` when it takes them (or the facts say it needs them).
        options: Constructor (or factory) options.
        attribute_options: Options of every ``attribute`` call.
        description: One line for reports (default: what was given).
        **facts: Declared facts (:data:`FACT_NAMES`) over those read from the class
            (:func:`class_facts`) or the factory's signature; otherwise the map uses the
            target and is not normalized.

    Raises:
        ValueError, TypeError: A bad name, path, class, factory, option or fact (the message
            names the valid options).

    Example:
        >>> import torch
        >>> from captum_ifim import build_method
        >>> spec = custom_method_spec("occlusion-2", "captum.attr.Occlusion",
        ...                           attribute_options={"sliding_window_shapes": [1, 2, 2]})
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)).eval()
        >>> build_method(spec, model).attribute(torch.rand(3, 1, 4, 4), target=0).shape
        torch.Size([3, 1, 4, 4])
    """
    check_plain_name("a method name", name)
    options, attribute_options = dict(options or {}), dict(attribute_options or {})
    unknown = sorted(set(facts) - set(FACT_NAMES))
    if unknown:
        raise ValueError(f"expected facts of {name!r} among {list(FACT_NAMES)}, got {unknown}")
    for fact, value in facts.items():
        if not isinstance(value, bool):
            raise TypeError(f"expected {fact} of {name!r} to be true or false, got {value!r}")
    if (method is None) == (factory is None):
        given = "both" if method is not None else "neither"
        raise ValueError(f"expected a method or a factory for {name!r}, got {given}")
    given = method if method is not None else factory
    if isinstance(method, str):
        method = import_object(method)
    if isinstance(factory, str):
        factory = import_object(factory)
    read: dict[str, bool] = {}
    if factory is not None:
        read = check_factory(factory, options)
        build = _factory_builder(factory, options)
    elif inspect.isclass(method):
        check_method_class(method, options, attribute_options)
        read = class_facts(method)
        build = _class_builder(method, options)
    elif callable(getattr(method, "attribute", None)):
        build = _object_builder(method, options)
    elif callable(method):
        if attribute_options or facts.get("needs_background") or facts.get("needs_target_layer"):
            raise ValueError(
                f"expected a function f(inputs, target) for {name!r} to take nothing else (no "
                "attribute_options, background or target layer): give a factory instead"
            )
        build = _function_builder(method, options)
    else:
        raise TypeError(
            f"expected {name!r} to be an attribution class, an object with attribute(), a "
            f"function f(inputs, target) or a factory, got {type(method).__name__}"
        )
    resolved = {"uses_target": True, "normalized_maps": False, **read, **facts}
    fixed = _tupled(attribute_options)

    def spec_factory(
        model: nn.Module, target: Any, background: Tensor | None, _: dict[str, Any]
    ) -> tuple[Attribution, dict[str, Any]]:
        layer = getattr(target, "layer", target)
        built = build(model, layer, background)
        extra = {"baselines": background} if background is not None and factory is None else {}
        return _InputShaped(model, built), {**fixed, **extra}

    return MethodSpec(
        name=name,
        description=description or _describe(given, options, attribute_options),
        factory=spec_factory,
        uses_target=resolved["uses_target"],
        normalized_maps=resolved["normalized_maps"],
        needs_background=resolved.get("needs_background", False),
        needs_target_layer=resolved.get("needs_target_layer", False),
    )


def _describe(given: Any, options: dict[str, Any], attribute_options: dict[str, Any]) -> str:
    """What was given and with which options (the run folder records it)."""
    text = given if isinstance(given, str) else describe_object(given)
    for key, values in (("options", options), ("attribute_options", attribute_options)):
        if values:
            text += f" {key}={dict(sorted(values.items()))}"
    return text


Builder = Callable[[nn.Module, "nn.Module | None", "Tensor | None"], Any]


def _class_builder(cls: type, options: dict[str, Any]) -> Builder:
    def build(model: nn.Module, layer: nn.Module | None, background: Tensor | None) -> Any:
        args = (model,) if layer is None else (model, layer)
        return cls(*args, **_tupled(options))

    return build


def _factory_builder(factory: Callable[..., Any], options: dict[str, Any]) -> Builder:
    def build(model: nn.Module, layer: nn.Module | None, background: Tensor | None) -> Any:
        given = {"target_layer": layer, "background": background}
        built = factory(model, **{k: v for k, v in given.items() if v is not None}, **options)
        if not callable(getattr(built, "attribute", None)):
            raise TypeError(
                f"expected factory {qualified_name(factory)} to return an object with "
                f"attribute(inputs, target=...), got {type(built).__name__}"
            )
        return built

    return build


def _object_builder(method: Any, options: dict[str, Any]) -> Builder:
    if options:
        raise ValueError(
            f"expected no options for an attribution object ({qualified_name(method)}, built "
            f"already), got {sorted(options)}: give them to its class instead"
        )

    def build(model: nn.Module, layer: nn.Module | None, background: Tensor | None) -> Any:
        return _rebound(method, model)

    return build


def _function_builder(function: Callable[..., Tensor], options: dict[str, Any]) -> Builder:
    if options:
        raise ValueError(
            f"expected no options for a function f(inputs, target) "
            f"({qualified_name(function)}), got {sorted(options)}: bind them with "
            "functools.partial"
        )

    def build(model: nn.Module, layer: nn.Module | None, background: Tensor | None) -> Any:
        return _FunctionAttribution(model, function)

    return build
