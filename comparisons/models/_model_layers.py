"""What a ``[[models]]`` entry (or :func:`comparisons.compare`) says about its own outputs and
layers: where the logits are (``output_key``), and the CAMs' target layer and reshape.

``output_key`` (a key or attribute name, or an index) is the rule of
:func:`captum_ifim.logits_of`'s override; a model from a factory, a zoo, a file or Python is
put behind :class:`captum_ifim.LogitsModel` (transparent to names), so a Hugging Face
classifier returning an ``ImageClassifierOutput`` trains and is explained as it comes.

``target_layer`` names a module of the model as built (``vit.layers.5.layernorm_before``),
whatever preprocessing the harness puts in front of it; ``reshape`` is a name of
:data:`captum_ifim._baselines._reshape_transforms.RESHAPE_NAMES` (``"token-grid"``,
``"token-grid:2"``, ``"channels-last"``, ``"none"``) or the path
``"package.module:callable"`` of a callable applied to the layer's output (and gradient),
returning (N, K, *spatial) maps. Both go to every method that takes them (the CAMs); a
reshape given without a layer applies to the default layer.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor, nn

from captum_ifim import MethodSpec
from captum_ifim._baselines._reshape_transforms import named_reshape_transform
from comparisons.models._external import check_factory_name, resolve_factory
from comparisons.models._preprocessing import PreprocessedModel


def check_output_key_value(value: Any, where: str) -> None:
    """A config's ``output_key``: a non-empty string or an int.

    Raises:
        TypeError: Another type.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise TypeError(
            f"expected output_key in {where} to be a key or attribute name (e.g. 'logits') or "
            f"an index (e.g. 0), got {value!r}"
        )


def reshape_transform(text: str) -> Callable[[Tensor], Tensor]:
    """The reshape a config names: a name of ``RESHAPE_NAMES`` or an importable
    ``"package.module:callable"``.

    Raises:
        ValueError: An unknown name, or a path whose attribute is missing or not callable.
        ImportError: A path whose module cannot be imported.
        TypeError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected reshape to be a name or 'package.module:callable', got {text!r}")
    if ":" in text and not text.startswith("token-grid"):
        check_factory_name(text)
        return resolve_factory(text)
    return named_reshape_transform(text)


def user_network(model: nn.Module) -> nn.Module:
    """The model as its entry builds it: behind the harness's preprocessing, if any."""
    return model.model if isinstance(model, PreprocessedModel) else model


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The module ``name`` of the model as built (``model`` may be behind its preprocessing).

    Raises:
        ValueError: No such module (the message gives close names).
    """
    network = user_network(model)
    try:
        return network.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in network.named_modules() if n]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" (close: {close})" if close else f" (e.g. {names[-3:]})"
        raise ValueError(
            f"expected target_layer to name a module of the model, got {name!r}{hint}"
        ) from None


def cam_options(entry: Any, spec: MethodSpec, model: nn.Module) -> dict[str, Any]:
    """``build_method``'s ``target_layer=`` and ``reshape_transform=`` for ``spec`` on the
    entry's ``model`` (empty for a method without a target layer, or an entry that sets
    neither). ``entry`` is a :class:`comparisons.config.ModelEntry` or ``None``.

    Raises:
        ValueError, ImportError: As :func:`find_layer` and :func:`reshape_transform`.
    """
    if entry is None or not spec.needs_target_layer:
        return {}
    options: dict[str, Any] = {}
    if entry.target_layer is not None:
        options["target_layer"] = find_layer(model, entry.target_layer)
    if entry.reshape is not None and "reshape_transform" in spec.options:
        options["reshape_transform"] = reshape_transform(entry.reshape)
    return options


def check_model_layers(entry: Any, model: nn.Module) -> None:
    """The entry's ``target_layer`` is a module of ``model`` (once it is built).

    Raises:
        ValueError: It is not.
    """
    if entry.target_layer is not None:
        find_layer(model, entry.target_layer)


def layer_record(entry: Any) -> Mapping[str, Any]:
    """The entry's output and layer settings that are set, for its record."""
    names = ("output_key", "target_layer", "reshape")
    return {name: getattr(entry, name) for name in names if getattr(entry, name) is not None}
