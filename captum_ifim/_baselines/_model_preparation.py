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
  additivity).

:func:`prepare_model_for_deepshap` returns a copy satisfying all four, computing the same
function. The copy shares the parameters' and buffers' storage with the model (no memory
is copied, and the model is never written to): its own ``Parameter`` objects have
``requires_grad=False``, so nothing shap does (``zero_grad``, attributes set on modules,
hooks) reaches the model.
"""

from __future__ import annotations

import copy
import operator
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

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


class MaxPool2dAsReLUs(nn.Module):
    """``nn.MaxPool2d`` computed as ``m <- m + relu(t - m)`` over the window offsets.

    The same function (up to rounding) built from ReLU modules, so shap's DeepLIFT rule
    for ReLU attributes it exactly even when windows overlap. Padding repeats the edge,
    which leaves every window's maximum unchanged (each window holds the edge value it
    repeats).

    Args:
        pool: A ``MaxPool2d`` with dilation 1, ``ceil_mode=False`` and no indices.
    """

    def __init__(self, pool: nn.MaxPool2d) -> None:
        super().__init__()
        self.kernel_size = _pair(pool.kernel_size)
        self.stride = _pair(pool.stride or pool.kernel_size)
        self.padding = _pair(pool.padding)
        count = self.kernel_size[0] * self.kernel_size[1]
        self.relus = nn.ModuleList(nn.ReLU() for _ in range(count - 1))

    def forward(self, x: Tensor) -> Tensor:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph), mode="replicate")
        windows = x.unfold(-2, kh, sh).unfold(-2, kw, sw)  # (..., H_out, W_out, kh, kw)
        result = windows[..., 0, 0]
        for index, relu in enumerate(self.relus, start=1):
            candidate = windows[..., index // kw, index % kw]
            result = result + relu(candidate - result)
        return result


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    first, second = value
    return (first, second)


def _overlaps(pool: nn.MaxPool2d) -> bool:
    kernel = _pair(pool.kernel_size)
    stride = _pair(pool.stride or pool.kernel_size)
    return any(k > s for k, s in zip(kernel, stride, strict=True))


def _replace_overlapping_max_pools(model: nn.Module) -> None:
    for name, module in list(model.named_modules()):
        if (
            type(module) is nn.MaxPool2d
            and _overlaps(module)
            and _pair(module.dilation) == (1, 1)
            and not module.ceil_mode
            and not module.return_indices
            and name
        ):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, MaxPool2dAsReLUs(module))


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
        if node.target in table:
            new_module = table[node.target]()
            module_name = _add_module(graph_module, type(new_module).__name__.lower(), new_module)
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

    In-place modules are switched to out of place, overlapping ``MaxPool2d`` layers are
    rebuilt from ReLUs (:class:`MaxPool2dAsReLUs`), and, through a ``torch.fx`` trace, every
    reused module gets one copy per call, functional ReLU/sigmoid/tanh become modules and
    in-place operators (``out += identity``) become out of place. Models that ``torch.fx``
    cannot trace keep their own forward, with a warning.

    Args:
        model: Any ``nn.Module``; it is not modified.

    Returns:
        A module computing the same function; parameters and buffers share storage with
        ``model`` and do not require gradients.
    """
    prepared = _sharing_copy(model).eval()
    for module in prepared.modules():
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False  # type: ignore[assignment]
    _replace_overlapping_max_pools(prepared)
    if not list(prepared.children()):
        return prepared
    try:
        traced = fx.symbolic_trace(prepared)
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
