"""Models from outside the registry: a factory ``package.module:callable`` or a zoo name.

Zoo names are ``torchvision:<name>`` (``torchvision.models.get_model``), ``timm:<name>``
(``timm.create_model``) and ``monai:<Class>`` (``monai.networks.nets``). Nothing is ever
downloaded: zoo models are built with ``weights=None`` / ``pretrained=False``, and options
asking for pretrained weights are refused (give the weights as a file instead). For zoo
models the options the dataset determines are filled in when not given and when the
constructor takes them: ``num_classes`` (torchvision, timm), ``in_chans`` (timm) and
``spatial_dims``, ``in_channels``, ``out_channels`` (MONAI). A factory gets its options
exactly as written.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

ZOOS: tuple[str, ...] = ("torchvision", "timm", "monai")
_FACTORY = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_ZOO = re.compile(r"^(?P<zoo>[a-z]+):(?P<name>[\w.\-]+)$")
#: Options that ask for weights from elsewhere, and the only value each may have.
_DOWNLOAD_OPTIONS: Mapping[str, Any] = {
    "weights": None,
    "weights_backbone": None,
    "pretrained": False,
    "pretrained_backbone": False,
    "pretrained_cfg": None,
    "pretrained_cfg_overlay": None,
    "checkpoint_path": "",
}


def check_factory_name(factory: str) -> None:
    """``factory`` has the form ``package.module:callable``.

    Raises:
        ValueError: It does not.
    """
    if not isinstance(factory, str) or not _FACTORY.match(factory):
        raise ValueError(
            f"expected factory as 'package.module:callable' (e.g. 'my_models:build'), "
            f"got {factory!r}"
        )


def check_zoo_name(zoo: str) -> tuple[str, str]:
    """``(zoo, name)`` of ``"torchvision:resnet50"``.

    Raises:
        ValueError: Not ``<zoo>:<name>`` with a zoo among :data:`ZOOS`.
    """
    match = _ZOO.match(zoo) if isinstance(zoo, str) else None
    if match is None or match["zoo"] not in ZOOS:
        raise ValueError(
            f"expected zoo as '<zoo>:<name>' with <zoo> among {list(ZOOS)} (e.g. "
            f"'torchvision:resnet50'), got {zoo!r}"
        )
    return match["zoo"], match["name"]


def check_no_download(options: Mapping[str, Any], where: str) -> None:
    """Refuse options that would fetch pretrained weights.

    Raises:
        ValueError: Naming the option and what to do instead.
    """
    for key, allowed in _DOWNLOAD_OPTIONS.items():
        if key in options and options[key] != allowed and options[key] is not allowed:
            raise ValueError(
                f"expected no pretrained weights from the internet in {where} (nothing is "
                f"downloaded), got {key} = {options[key]!r}: leave it out and give the "
                f"trained weights as a file with weights = 'path'"
            )


def resolve_factory(factory: str) -> Callable[..., Any]:
    """The callable ``package.module:callable`` names, imported.

    Raises:
        ImportError: The module cannot be imported (naming it and why).
        ValueError: It has no such attribute, or that is not callable.
    """
    check_factory_name(factory)
    module_name, _, attribute = factory.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise ImportError(
                f"factory {factory!r}: cannot import module {module_name!r}: no module named "
                f"{error.name!r} (is it installed, or its folder on PYTHONPATH?)"
            ) from error
        raise ImportError(
            f"factory {factory!r}: importing module {module_name!r} failed because it imports "
            f"a missing module: {error}"
        ) from error
    except Exception as error:  # a module that raises while imported
        raise ImportError(
            f"factory {factory!r}: importing module {module_name!r} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            names = [n for n in dir(module) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=3)
            raise ValueError(
                f"factory {factory!r}: module {module_name!r} has no attribute {attribute!r}"
                + (f" (close: {close})" if close else "")
            )
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"factory {factory!r}: expected a callable, got {type(target).__name__}")
    return target


def source_fingerprint(factory: str) -> str:
    """A hash of the source file of the factory's module ('' when it has none), so that a
    cached model trained from an edited factory is not reused."""
    module = importlib.import_module(factory.partition(":")[0])
    try:
        path = inspect.getsourcefile(module)
    except TypeError:  # a built-in module
        return ""
    if path is None or not Path(path).is_file():
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _call(builder: Callable[..., Any], label: str, options: Mapping[str, Any]) -> nn.Module:
    try:
        model = builder(**options)
    except Exception as error:
        raise ValueError(
            f"{label} with options {dict(options)} raised {type(error).__name__}: {error}"
        ) from error
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected {label} to return an nn.Module, got {type(model).__name__}")
    return model


def _accepts(builder: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _unknown_zoo_name(zoo: str, name: str, names: list[str]) -> ValueError:
    close = difflib.get_close_matches(name, names, n=5)
    return ValueError(
        f"expected a {zoo} model name, got unknown {name!r}"
        + (f": close names {close}" if close else "")
    )


def zoo_version(zoo: str) -> str:
    """The installed version of the zoo's package (part of a trained zoo model's cache key)."""
    return str(getattr(importlib.import_module(zoo), "__version__", ""))


def build_zoo_model(
    zoo_name: str,
    options: Mapping[str, Any],
    *,
    in_channels: int,
    num_classes: int,
    spatial_dims: int,
) -> nn.Module:
    """A zoo model with random weights (never downloaded), in training mode.

    Args:
        zoo_name: ``"torchvision:<name>"``, ``"timm:<name>"`` or ``"monai:<Class>"``.
        options: Its keyword arguments.
        in_channels, num_classes, spatial_dims: What the model gets and returns, filled in
            for the options the constructor takes and ``options`` leaves out.

    Raises:
        ImportError: The zoo's package is not installed.
        ValueError: An unknown name, options asking for a download, or a constructor error.
    """
    zoo, name = check_zoo_name(zoo_name)
    check_no_download(options, f"zoo = {zoo_name!r}")
    kwargs = dict(options)
    try:
        module = importlib.import_module(zoo)
    except ImportError as error:
        raise ImportError(f"zoo = {zoo_name!r} needs the package {zoo!r}: {error}") from error
    builder: Callable[..., Any]
    if zoo == "torchvision":
        models = importlib.import_module("torchvision.models")
        names = list(models.list_models())
        if name not in names:
            raise _unknown_zoo_name(zoo, name, names)
        builder = models.get_model_builder(name)
        kwargs.setdefault("num_classes", num_classes)
        kwargs["weights"] = None
    elif zoo == "timm":
        if not module.is_model(name):
            raise _unknown_zoo_name(zoo, name, list(module.list_models()))
        kwargs.setdefault("num_classes", num_classes)
        kwargs.setdefault("in_chans", in_channels)
        kwargs["pretrained"] = False

        def builder(**kw: Any) -> nn.Module:
            return module.create_model(name, **kw)

    else:
        nets = importlib.import_module("monai.networks.nets")
        candidate = getattr(nets, name, None)
        if not (inspect.isclass(candidate) and issubclass(candidate, nn.Module)):
            names = [n for n in dir(nets) if inspect.isclass(getattr(nets, n, None))]
            raise _unknown_zoo_name(zoo, name, names)
        builder = candidate
        for key, value in (
            ("spatial_dims", spatial_dims),
            ("in_channels", in_channels),
            ("out_channels", num_classes),
        ):
            if _accepts(builder, key):
                kwargs.setdefault(key, value)
        if _accepts(builder, "pretrained"):
            kwargs["pretrained"] = False
    return _call(builder, f"zoo model {zoo_name!r}", kwargs)


def build_factory_model(factory: str, options: Mapping[str, Any]) -> nn.Module:
    """``callable(**options)`` of ``package.module:callable``, in training mode.

    Raises:
        ImportError: The module cannot be imported (naming it and why).
        ValueError: Options asking for a download, a missing callable, or its error.
        TypeError: It does not return an ``nn.Module``.
    """
    check_no_download(options, f"factory = {factory!r}")
    return _call(resolve_factory(factory), f"factory {factory!r}", options)
