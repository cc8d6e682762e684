"""A private copy of a model rewritten so that ``shap.DeepExplainer`` handles it exactly.

shap's PyTorch DeepExplainer puts a forward hook and a full backward hook on every leaf
module and replaces the gradient of each nonlinear leaf by the DeepLIFT multiplier
``delta out / delta in`` from the inputs and outputs the forward hook saved. That works
only on networks where

* every nonlinearity is a module (functional ``F.relu`` is differentiated as is),
* every module runs once per forward pass (ResNet's ``BasicBlock`` calls ``self.relu``
  twice; the second call overwrites what the first saved),
* nothing is computed in place (a full backward hook fails on an in-place ReLU), and
* max pooling windows do not overlap (shap unpools with ``max_unpool2d``, which keeps one
  of two values written to the same place; ResNet's 3 x 3, stride-2 stem pool breaks
  additivity), and
* every elementwise nonlinearity has a rule (shap has none for SiLU, Hardswish, ReLU6,
  Mish, ... and falls back to the plain gradient).

:func:`prepare_model_for_deepshap` returns a copy satisfying all five, computing the same
function (the modules it rebuilds with are in ``_rescale_modules.py``). What no rewrite
makes exact (LayerNorm, attention, softmax, products of two input-dependent tensors such as
squeeze-and-excitation gates) is found on the copy by ``_deepshap_support.py`` before shap
hooks anything. The copy shares the parameters' and buffers' storage with the model (no memory
is copied, and the model is never written to): its own ``Parameter`` objects have
``requires_grad=False``, so nothing shap does (``zero_grad``, attributes set on modules,
hooks) reaches the model.
"""

from __future__ import annotations

import copy
import functools
import operator
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from captum_ifim._baselines._rescale_modules import (
    ElementwiseRescale,
    MaxPoolAsReLUs,
    max_pool_overlaps,
    max_pool_rebuildable,
)
from captum_ifim._model_outputs import LogitsModel

#: Functional nonlinearities turned into modules (a fresh module per call site).
_FUNCTION_MODULES: dict[Any, Callable[[], nn.Module]] = {
    torch.relu: nn.ReLU,
    torch.relu_: nn.ReLU,
    F.relu: nn.ReLU,
    F.relu_: nn.ReLU,
    torch.sigmoid: nn.Sigmoid,
    torch.sigmoid_: nn.Sigmoid,
    F.sigmoid: nn.Sigmoid,
    torch.tanh: nn.Tanh,
    torch.tanh_: nn.Tanh,
    F.tanh: nn.Tanh,
}
_METHOD_MODULES: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "relu_": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "sigmoid_": nn.Sigmoid,
    "tanh": nn.Tanh,
    "tanh_": nn.Tanh,
}
#: In-place operators and methods with an out-of-place twin.
_INPLACE_OPERATORS: dict[Any, Any] = {
    operator.iadd: operator.add,
    operator.isub: operator.sub,
    operator.imul: operator.mul,
    operator.itruediv: operator.truediv,
    torch.relu_: torch.relu,
    torch.sigmoid_: torch.sigmoid,
    torch.tanh_: torch.tanh,
    F.relu_: F.relu,
}
_INPLACE_METHODS: dict[str, str] = {
    "add_": "add",
    "sub_": "sub",
    "mul_": "mul",
    "div_": "div",
    "clamp_": "clamp",
    "clamp_min_": "clamp_min",
    "clamp_max_": "clamp_max",
    "relu_": "relu",
    "sigmoid_": "sigmoid",
    "tanh_": "tanh",
}
#: Operations whose result may share memory with their input.
_VIEW_FUNCTIONS = {
    operator.getitem,
    torch.flatten,
    torch.reshape,
    torch.transpose,
    torch.permute,
    torch.squeeze,
    torch.unsqueeze,
    torch.narrow,
    torch.select,
    torch.split,
    torch.chunk,
    torch.unbind,
    torch.diagonal,
    torch.t,
}
_VIEW_METHODS = {
    "view",
    "view_as",
    "reshape",
    "reshape_as",
    "flatten",
    "unflatten",
    "transpose",
    "permute",
    "squeeze",
    "unsqueeze",
    "narrow",
    "select",
    "split",
    "chunk",
    "unbind",
    "diagonal",
    "expand",
    "expand_as",
    "t",
    "unfold",
    "as_strided",
    "detach",
    "contiguous",
}


#: Elementwise activation modules shap has no rule for, attributed with the rescale rule.
_ELEMENTWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.ReLU6,
    nn.Hardtanh,
    nn.CELU,
    nn.PReLU,
    nn.Softsign,
    nn.LogSigmoid,
    nn.Tanhshrink,
    nn.Hardshrink,
    nn.Softshrink,
    nn.Threshold,
)
#: Functional elementwise activations (beyond ReLU, sigmoid, tanh), made rescale modules.
_ELEMENTWISE_FUNCTIONS: frozenset[Any] = frozenset(
    {
        F.silu,
        F.gelu,
        F.elu,
        F.celu,
        F.selu,
        F.leaky_relu,
        F.softplus,
        F.mish,
        F.hardswish,
        F.hardsigmoid,
        F.relu6,
        F.hardtanh,
        F.logsigmoid,
        F.softsign,
        torch.selu,
        torch.celu,
    }
)


def _replace_modules(model: nn.Module) -> None:
    """Overlapping max pools as ReLUs; elementwise activations shap does not know as
    :class:`~._rescale_modules.ElementwiseRescale` (the copy's module, not the model's)."""
    for name, module in list(model.named_modules()):
        if not name:
            continue
        parent_name, _, child = name.rpartition(".")
        if max_pool_overlaps(module) and max_pool_rebuildable(module):
            replacement: nn.Module = MaxPoolAsReLUs(module)
        elif type(module) in _ELEMENTWISE_MODULES:
            replacement = ElementwiseRescale(module, repr(module))
        else:
            continue
        setattr(model.get_submodule(parent_name), child, replacement)


class _Tracer(fx.Tracer):
    """torch.fx's tracer, with the rescale modules kept as leaves (shap hooks them)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, ElementwiseRescale) or super().is_leaf_module(m, module_qualified_name)


def trace(model: nn.Module) -> fx.GraphModule:
    """``torch.fx.symbolic_trace`` with :class:`_Tracer`."""
    graph = _Tracer().trace(model)
    return fx.GraphModule(model, graph, type(model).__name__)


def _sharing_copy(model: nn.Module) -> nn.Module:
    """Deep copy with new ``Parameter``/buffer objects on the same storage, no gradients."""
    memo: dict[int, Any] = {}
    for parameter in model.parameters():
        memo[id(parameter)] = nn.Parameter(parameter.detach(), requires_grad=False)
    for buffer in model.buffers():
        memo[id(buffer)] = buffer.detach()
    return copy.deepcopy(model, memo)


def _fresh_name(root: nn.Module, base: str) -> str:
    parent_name, _, leaf = base.rpartition(".")
    parent = root.get_submodule(parent_name)
    index = 1
    while hasattr(parent, f"{leaf}_deepshap{index}"):
        index += 1
    return f"{base}_deepshap{index}"


def _add_module(graph_module: fx.GraphModule, base: str, module: nn.Module) -> str:
    name = _fresh_name(graph_module, base)
    graph_module.add_submodule(name, module)
    return name


def _aliases(node: fx.Node) -> bool:
    """Whether ``node`` is, or has been used to make, a tensor sharing its memory."""

    def is_view(candidate: fx.Node) -> bool:
        if candidate.op == "call_function":
            return candidate.target in _VIEW_FUNCTIONS
        return candidate.op == "call_method" and candidate.target in _VIEW_METHODS

    return is_view(node) or any(is_view(user) for user in node.users)


def _redirect_later_uses(graph: fx.Graph, mutated: fx.Node, result: fx.Node) -> None:
    """After an in-place op became out of place, later readers of its input get its result."""
    later = False
    for node in graph.nodes:
        if node is result:
            later = True
        elif later and mutated in node.all_input_nodes:
            node.replace_input_with(mutated, result)


def _first_input(node: fx.Node) -> Any:
    return node.args[0] if node.args else node.kwargs.get("input")


def _elementwise_function(node: fx.Node) -> ElementwiseRescale | None:
    """A rescale module for a call of a functional elementwise activation whose other
    arguments are constants (``F.silu(x)``, ``F.gelu(x, approximate="tanh")``)."""
    if node.op != "call_function" or node.target not in _ELEMENTWISE_FUNCTIONS:
        return None
    args = node.args[1:]
    kwargs = {k: v for k, v in node.kwargs.items() if k not in ("input", "inplace")}
    if any(isinstance(v, fx.Node) for v in (*args, *kwargs.values())):
        return None
    function: Any = node.target
    name = getattr(function, "__name__", str(function))
    shown = ", ".join([*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return ElementwiseRescale(
        functools.partial(function, *args, **kwargs),
        f"{name}({shown})" if shown else name,
    )


def _rewrite(graph_module: fx.GraphModule) -> list[str]:
    """Rewrite the graph in place; return what was left alone (for a warning)."""
    graph = graph_module.graph
    calls: Counter[str] = Counter()
    skipped: list[str] = []
    for node in list(graph.nodes):
        if node.op == "call_module":
            target = str(node.target)
            calls[target] += 1
            if calls[target] > 1:
                original = graph_module.get_submodule(target)
                shared = {id(t): t for t in [*original.parameters(), *original.buffers()]}
                node.target = _add_module(graph_module, target, copy.deepcopy(original, shared))
            continue
        if node.op not in ("call_function", "call_method"):
            continue
        table = _FUNCTION_MODULES if node.op == "call_function" else _METHOD_MODULES
        name = getattr(node.target, "__name__", str(node.target))
        in_place = (
            node.target in _INPLACE_OPERATORS
            or node.target in _INPLACE_METHODS
            or node.kwargs.get("inplace") is True
        )
        source = _first_input(node)
        if in_place and isinstance(source, fx.Node) and _aliases(source):
            skipped.append(f"in-place {name} on a view")
            continue
        elementwise = _elementwise_function(node)
        if node.target in table or elementwise is not None:
            new_module = table[node.target]() if elementwise is None else elementwise
            base = "rescale" if elementwise is not None else type(new_module).__name__.lower()
            module_name = _add_module(graph_module, base, new_module)
            with graph.inserting_after(node):
                replacement = graph.call_module(module_name, (source,))
            node.replace_all_uses_with(replacement)
            graph.erase_node(node)
        elif node.op == "call_function" and node.target in _INPLACE_OPERATORS:
            node.target = _INPLACE_OPERATORS[node.target]
            replacement = node
        elif node.op == "call_method" and node.target in _INPLACE_METHODS:
            node.target = _INPLACE_METHODS[str(node.target)]
            replacement = node
        elif node.kwargs.get("inplace") is True:
            node.kwargs = {**node.kwargs, "inplace": False}
            replacement = node
        else:
            continue
        if in_place and isinstance(source, fx.Node):
            _redirect_later_uses(graph, source, replacement)
    graph.lint()
    graph_module.recompile()
    return skipped


def prepare_model_for_deepshap(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode that shap's DeepExplainer attributes exactly.

    In-place modules are switched to out of place, overlapping max pools (1-D to 3-D) are
    rebuilt from ReLUs (:class:`~._rescale_modules.MaxPoolAsReLUs`), elementwise
    activations shap has no rule for become
    :class:`~._rescale_modules.ElementwiseRescale` modules, and, through a ``torch.fx``
    trace, every reused module gets one copy per call, functional activations become
    modules and in-place operators (``out += identity``) become out of place. Models that
    ``torch.fx`` cannot trace keep their own forward, with a warning.

    Args:
        model: Any ``nn.Module``; it is not modified.

    Returns:
        A module computing the same function; parameters and buffers share storage with
        ``model`` and do not require gradients.
    """
    if isinstance(model, LogitsModel) and isinstance(model.wrapped, nn.Module):
        model = model.wrapped  # traced as the model itself; DeepSHAP reads the logits
    prepared = _sharing_copy(model).eval()
    for module in prepared.modules():
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False  # type: ignore[assignment]
    _replace_modules(prepared)
    if not list(prepared.children()):
        return prepared
    try:
        traced = trace(prepared)
    except Exception as error:  # torch.fx raises many types for untraceable code
        warnings.warn(
            f"DeepSHAP could not trace the model with torch.fx ({type(error).__name__}: "
            f"{error}); it runs the model's own forward, where reused modules, functional "
            "nonlinearities and in-place operators are left as they are (the additivity "
            "check reports when that matters)",
            stacklevel=2,
        )
        return prepared
    skipped = _rewrite(traced)
    if skipped:
        warnings.warn(
            f"DeepSHAP left these operations in place: {sorted(set(skipped))}",
            stacklevel=2,
        )
    return traced.eval()
