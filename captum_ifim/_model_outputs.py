"""Models as they come: one rule reducing a model's output to the (N, C) logits.

Every method and metric reads a classifier's logits. Models from other libraries return
more: a Hugging Face ``transformers`` classifier an ``ImageClassifierOutput`` (a
``ModelOutput`` holding ``logits``, perhaps ``hidden_states``), others a dict or a tuple.
The rule, applied in this order by :func:`logits_of`:

1. a tensor is used as it is;
2. an object with a tensor attribute ``logits`` (a ``ModelOutput``, a dataclass, a
   named tuple) gives it;
3. a mapping gives its ``"logits"`` key, or its single tensor value;
4. a tuple or list gives its first element, when that is a tensor.

``output_key=`` overrides it: a string is a key (mappings) or an attribute (objects), an int
an index (tuples, lists, ``ModelOutput``), a callable ``output -> Tensor`` anything else.

:class:`LogitsModel` applies the rule as an ``nn.Module`` that is transparent to names: it
shares the model's submodules, parameters and buffers (``named_modules()``,
``get_submodule``, ``state_dict()`` are the model's), so a layer named on the model is the
same layer on the adapter, and hooks on its layers are hooks on the model's. The
library's entry points (:func:`captum_ifim.build_method`, :class:`captum_ifim.IFIMDecomposition`,
the metrics' forward passes) and the harness apply it; a model that returns a tensor
computes exactly what it did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor, fx, nn

#: ``None`` (the rule), a key or attribute name, an index, or ``output -> Tensor``.
OutputKey = str | int | Callable[[Any], Tensor] | None

_FIX = (
    "pass output_key= (a key or attribute name such as 'logits', an index such as 0, or a "
    "callable output -> Tensor)"
)


class OutputNotLogitsError(TypeError):
    """A model's output the rule cannot reduce to logits (a ``TypeError``), naming its type
    and the fix (``output_key=``)."""


def check_output_key(output_key: Any) -> None:
    """Raise unless ``output_key`` is ``None``, a non-empty string, an int or a callable.

    Raises:
        TypeError: Another type (a bool included).
        ValueError: An empty string.
    """
    if output_key is None or callable(output_key):
        return
    if isinstance(output_key, bool) or not isinstance(output_key, (str, int)):
        raise TypeError(
            "expected output_key to be None, a key or attribute name, an index or a callable "
            f"output -> Tensor, got {type(output_key).__name__}"
        )
    if isinstance(output_key, str) and not output_key:
        raise ValueError("expected output_key to be a non-empty name, got ''")


def _describe(output: Any) -> str:
    """The type of ``output`` and what it holds, for errors."""
    name = type(output).__name__
    if isinstance(output, Mapping):
        return f"a {name} with keys {[str(k) for k in output]}"
    if isinstance(output, (tuple, list)):
        return f"a {name} of {[type(item).__name__ for item in output]}"
    if dataclasses.is_dataclass(output):
        return f"a {name} with fields {[f.name for f in dataclasses.fields(output)]}"
    return f"a {name}"


def _tensor(value: Any, output: Any, how: str) -> Tensor:
    if isinstance(value, (Tensor, fx.Proxy)):
        return value  # type: ignore[return-value]
    raise OutputNotLogitsError(
        f"expected {how} of the model's output ({_describe(output)}) to be a tensor of "
        f"logits, got a {type(value).__name__}; {_FIX}"
    )


def _by_key(output: Any, key: str | int) -> Any:
    if isinstance(key, int):
        if isinstance(output, (tuple, list)):
            if -len(output) <= key < len(output):
                return output[key]
        elif isinstance(output, Mapping):
            values = list(output.values())  # a ModelOutput indexes its set fields
            if -len(values) <= key < len(values):
                return values[key]
        raise ValueError(
            f"expected output_key={key} to index the model's output, got {_describe(output)}"
        )
    if isinstance(output, Mapping) and key in output:
        return output[key]
    value = getattr(output, key, None) if not isinstance(output, (Tensor, fx.Proxy)) else None
    if value is None:
        raise ValueError(
            f"expected the model's output to hold {key!r} (a key or an attribute), got "
            f"{_describe(output)}"
        )
    return value


def logits_of(output: Any, output_key: OutputKey = None) -> Tensor:
    """The logits in a model's ``output``, by the rule of this module (or ``output_key``).

    Args:
        output: What the model returned.
        output_key: ``None`` for the rule; a key or attribute name, an index, or a
            callable ``output -> Tensor``.

    Returns:
        The tensor, as it is (no copy, gradients kept).

    Raises:
        OutputNotLogitsError: The output cannot be reduced (the message names its type
            and says to pass ``output_key=``), or the key or callable gives something else
            than a tensor (a ``TypeError``).
        ValueError: ``output_key`` names a key, attribute or index the output lacks.

    Example:
        >>> import torch
        >>> from captum_ifim import logits_of
        >>> logits = torch.zeros(2, 3)
        >>> logits_of({"logits": logits, "hidden": torch.ones(2, 8)}) is logits
        True
        >>> logits_of((logits, torch.ones(2, 8))) is logits
        True
        >>> logits_of({"scores": logits, "aux": logits + 1}, output_key="aux").sum().item()
        6.0
    """
    if isinstance(output, (Tensor, fx.Proxy)) and output_key is None:
        return output  # type: ignore[return-value]
    if callable(output_key):
        return _tensor(output_key(output), output, "the value output_key returned")
    if output_key is not None:
        return _tensor(_by_key(output, output_key), output, f"output_key={output_key!r}")
    logits = getattr(output, "logits", None)
    if isinstance(logits, Tensor):
        return logits
    if isinstance(output, Mapping):
        if "logits" in output:
            return _tensor(output["logits"], output, "'logits'")
        tensors = [value for value in output.values() if isinstance(value, Tensor)]
        if len(tensors) == 1:
            return tensors[0]
    elif isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    raise OutputNotLogitsError(
        "expected the model to return (N, C) logits: a tensor, an output with a tensor "
        "attribute .logits, a dict with a 'logits' key or a single tensor, or a tuple whose "
        f"first element is the logits; got {_describe(output)}; {_FIX}"
    )


def _symbolic_tracing() -> bool:
    tracing = getattr(fx._symbolic_trace, "is_fx_symbolic_tracing", None)
    return bool(tracing() if tracing is not None else fx._symbolic_trace.is_fx_tracing())


def _owner(forward_func: Callable[..., Any]) -> nn.Module | None:
    if isinstance(forward_func, nn.Module):
        return forward_func
    owner = getattr(forward_func, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


class LogitsModel(nn.Module):
    """A model (or forward function) whose output is reduced to the logits by :func:`logits_of`.

    Transparent to names: the adapter shares the model's submodules, parameters and
    buffers, so ``named_modules()``, ``get_submodule(name)``, ``parameters()`` and
    ``state_dict()`` are the model's, a layer named on the model is found under the same
    name here, and hooks that methods put on layers are put on the model's layers (and
    removed by them). ``train()``/``eval()`` set the model's flags. A forward function that
    is not a bound method of a module has no modules (methods that need layers refuse it).

    Args:
        model: An ``nn.Module`` or any callable forward function.
        output_key: As :func:`logits_of`.

    Attributes:
        wrapped: The model or function, as given (not a submodule: its children are ours).
        output_key: As given.

    Example:
        >>> import torch
        >>> from captum_ifim import LogitsModel
        >>> class Net(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.head = torch.nn.Linear(4, 3)
        ...     def forward(self, x):
        ...         return {"logits": self.head(x), "features": x}
        >>> net = Net()
        >>> adapter = LogitsModel(net)
        >>> adapter(torch.randn(2, 4)).shape, adapter.get_submodule("head") is net.head
        (torch.Size([2, 3]), True)
    """

    wrapped: Callable[..., Any]
    output_key: OutputKey

    def __init__(self, model: Callable[..., Any], output_key: OutputKey = None) -> None:
        super().__init__()
        if not callable(model):
            raise TypeError(
                f"expected model to be an nn.Module or a callable forward function, got "
                f"{type(model).__name__}"
            )
        check_output_key(output_key)
        object.__setattr__(self, "wrapped", model)
        object.__setattr__(self, "output_key", output_key)  # a callable module stays no child
        owner = _owner(model)
        if owner is not None:
            for name in ("_parameters", "_buffers", "_non_persistent_buffers_set", "_modules"):
                object.__setattr__(self, name, getattr(owner, name))
            self.training = owner.training

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        model: Any = self.wrapped
        if isinstance(model, nn.Module) and _symbolic_tracing():
            # torch.fx (DeepSHAP's preparation) traces through: the layers it meets are ours.
            return logits_of(model.forward(*args, **kwargs), self.output_key)
        return logits_of(model(*args, **kwargs), self.output_key)

    def train(self, mode: bool = True) -> LogitsModel:
        owner = _owner(self.wrapped)
        if owner is not None:
            owner.train(mode)
        self.training = mode
        return self

    def extra_repr(self) -> str:
        inner: Any = self.wrapped
        name = type(inner).__name__ if isinstance(inner, nn.Module) else repr(inner)
        return f"{name}, output_key={self.output_key!r}"


def as_logits_model(model: Callable[..., Any], output_key: OutputKey = None) -> LogitsModel:
    """``model`` behind :class:`LogitsModel` (an adapter already is one: kept, or re-keyed).

    Args:
        model: An ``nn.Module``, a :class:`LogitsModel`, or any callable forward function.
        output_key: As :func:`logits_of`; ``None`` keeps an adapter's own key.

    Raises:
        TypeError: ``model`` is not callable; a bad ``output_key``.

    Example:
        >>> import torch
        >>> from captum_ifim import as_logits_model
        >>> model = torch.nn.Linear(4, 3)
        >>> adapter = as_logits_model(model)
        >>> torch.equal(adapter(torch.ones(1, 4)), model(torch.ones(1, 4)))
        True
        >>> as_logits_model(adapter) is adapter
        True
    """
    if isinstance(model, LogitsModel):
        if output_key is None or output_key is model.output_key:
            return model
        return LogitsModel(model.wrapped, output_key)
    return LogitsModel(model, output_key)
