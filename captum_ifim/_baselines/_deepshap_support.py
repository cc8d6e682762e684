"""What shap's DeepExplainer cannot attribute exactly, found on the prepared copy before any
hook is registered.

DeepLIFT's multipliers sum to the output difference (additivity) when every operation on
the input's path is linear (convolutions, linear layers, eval-mode batch norm, average
pools, additions, concatenations, reshapes, products with a constant), an elementwise
nonlinearity with the rescale rule, or a max pool with shap's rule. What is none of these
has no exact rule: LayerNorm, GroupNorm and the other per-sample normalizations, softmax,
attention (``scaled_dot_product_attention``, ``nn.MultiheadAttention``), products and
quotients of two input-dependent tensors (squeeze-and-excitation gates, attention
scores), global max pools, and any function this module does not know. Each is reported
with the module it sits in (its qualified name in the model).

On a ``torch.fx`` graph (the usual prepared copy) every node is classified, after one
interpreted forward pass on one sample that tells which values are input-dependent
tensors. A model fx cannot trace is checked on its leaf modules only (its functional code
is left to the additivity check).

What shap cannot run at all is found too: shap puts a full backward hook on every leaf
module, and PyTorch refuses an in-place change of a hooked module's output (or of its input
inside it) once the input requires gradients. The prepared copy rewrites in-place operators
out of place, but only where fx traced it; :func:`in_place_operations` finds the rest in
one forward pass of the copy on one sample, with forward hooks on the copy (never on the
model) and a dispatch mode that sees every operation that writes to a tensor.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn
from torch.utils._python_dispatch import TorchDispatchMode

from captum_ifim._baselines._rescale_modules import (
    ElementwiseRescale,
    max_pool_overlaps,
    pad_for_ceil_mode,
)

#: Leaf modules that are linear in their input (eval mode), or shap's exact nonlinear rules.
EXACT_MODULES: tuple[type[nn.Module], ...] = (
    nn.Identity,
    nn.Flatten,
    nn.Unflatten,
    nn.modules.dropout._DropoutNd,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.Linear,
    nn.modules.conv._ConvNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.padding._ConstantPadNd,
    nn.modules.padding._ReflectionPadNd,
    nn.modules.padding._ReplicationPadNd,
    nn.Upsample,
    nn.PixelShuffle,
    nn.PixelUnshuffle,
    nn.ChannelShuffle,
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.GELU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    ElementwiseRescale,
)
#: Leaf modules known to have no exact rule (checked also when fx cannot trace the model).
INEXACT_MODULES: tuple[type[nn.Module], ...] = (
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LocalResponseNorm,
    nn.Softmax,
    nn.Softmax2d,
    nn.LogSoftmax,
    nn.Softmin,
    nn.MultiheadAttention,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.modules.pooling._LPPoolNd,
    nn.FractionalMaxPool2d,
    nn.FractionalMaxPool3d,
    nn.Bilinear,
    nn.modules.rnn.RNNBase,
)
_MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)

#: Functions and methods linear in every input-dependent argument.
_LINEAR_FUNCTIONS: frozenset[Any] = frozenset(
    {
        operator.add, operator.sub, operator.neg, operator.pos, operator.getitem,
        torch.add, torch.sub, torch.subtract, torch.neg, torch.cat, torch.concat,
        torch.stack, torch.flatten, torch.reshape, torch.transpose, torch.permute,
        torch.squeeze, torch.unsqueeze, torch.narrow, torch.select, torch.split,
        torch.chunk, torch.unbind, torch.movedim, torch.roll, torch.flip, torch.mean,
        torch.sum, torch.clone, torch.t, torch.diagonal, torch.tile, torch.broadcast_to,
        torch.repeat_interleave, F.pad, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d,
        F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d, F.dropout,
        F.dropout1d, F.dropout2d, F.dropout3d, F.interpolate, F.batch_norm, F.pixel_shuffle,
        F.pixel_unshuffle, F.unfold, F.fold, getattr, pad_for_ceil_mode,
    }
)  # fmt: skip
_LINEAR_METHODS: frozenset[str] = frozenset(
    {
        "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "transpose",
        "permute", "squeeze", "unsqueeze", "narrow", "select", "split", "chunk", "unbind",
        "expand", "expand_as", "contiguous", "clone", "t", "mean", "sum", "add", "sub",
        "neg", "repeat", "roll", "flip", "movedim", "float", "double", "half", "to",
        "type_as", "type", "unfold", "size", "dim", "numel", "__getitem__",
    }
)  # fmt: skip
#: Functions and methods linear in each argument when only one depends on the input.
_PRODUCT_FUNCTIONS: frozenset[Any] = frozenset(
    {
        operator.mul, operator.matmul, torch.mul, torch.multiply, torch.matmul, torch.mm,
        torch.bmm, torch.einsum, F.linear, F.conv1d, F.conv2d, F.conv3d,
        F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d,
    }
)  # fmt: skip
_PRODUCT_METHODS: frozenset[str] = frozenset({"mul", "matmul", "mm", "bmm"})
#: Division: linear in the numerator only.
_QUOTIENT_FUNCTIONS: frozenset[Any] = frozenset({operator.truediv, torch.div, torch.true_divide})
_QUOTIENT_METHODS: frozenset[str] = frozenset({"div", "true_divide"})


@dataclass(frozen=True)
class InexactOperation:
    """One operation with no exact DeepLIFT rule.

    Attributes:
        operation: What it is: a module type (``"LayerNorm"``), a function
            (``"scaled_dot_product_attention"``), or a product of two input-dependent
            tensors.
        where: The qualified name of the module it sits in (``""``: the model's forward).
        in_place: An in-place change of what shap's hooks wrap, which shap cannot run at
            all (not only inexactly).
        changed: For ``in_place``: the tensor changed (``"the output of 'norm'"``).
    """

    operation: str
    where: str
    in_place: bool = False
    changed: str = ""

    def __str__(self) -> str:
        where = f"at {self.where!r}" if self.where else "in the model's own forward"
        changed = f" on {self.changed}" if self.changed else ""
        return f"{self.operation}{changed} {where}"


class UnsupportedModelError(ValueError):
    """A method cannot attribute this model as its definition says; nothing was hooked.

    Attributes:
        method: The method's name.
        operations: What it cannot handle, in forward order.
        alternatives: Registry methods that work on the model (filled in by
            :func:`captum_ifim.build_method`; empty when the class is used directly).

    Example:
        >>> import torch
        >>> from captum_ifim import DeepSHAP, UnsupportedModelError
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Linear(4, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2)).eval()
        >>> try:
        ...     DeepSHAP(model, torch.zeros(1, 4)).attribute(torch.ones(1, 4), target=0)
        ... except UnsupportedModelError as error:
        ...     print(error.operations[0])
        LayerNorm at '1'
    """

    def __init__(
        self,
        method: str,
        operations: Sequence[InexactOperation],
        alternatives: Sequence[str] = (),
    ) -> None:
        self.method = method
        self.operations = tuple(operations)
        self.alternatives = tuple(alternatives)
        super().__init__(self._message())

    def _message(self) -> str:
        first = self.operations[0]
        kinds = Counter(op.operation for op in self.operations)
        summary = ", ".join(f"{kind} x {count}" for kind, count in kinds.items())
        count = len(self.operations)
        operations = "operation" if count == 1 else "operations"
        works = (
            f"Methods that work on this model: {', '.join(self.alternatives)}."
            if self.alternatives
            else "Methods that need no DeepLIFT rule (the iFIM maps, saliency, integrated "
            "gradients and the CAMs) work on it."
        )
        if first.in_place:
            return (
                f"expected a model that {self.method} can run, got one with {first} "
                f"({count} such {operations}: {summary}); shap's DeepExplainer puts a full "
                "backward hook on every leaf module, and PyTorch refuses to change a hooked "
                "module's output in place. Write the operation out of place (x = x + y for "
                f"x += y) to use {self.method}. {works}"
            )
        return (
            f"expected a model that {self.method} attributes exactly, got one with "
            f"{first} ({count} {operations} without an exact DeepLIFT rule in "
            f"shap's DeepExplainer: {summary}); its values would not sum to "
            f"f(x) - E[f(b)]. {works} Pass check_additivity=False to accept approximate "
            "DeepSHAP values."
        )

    def with_alternatives(self, alternatives: Iterable[str]) -> UnsupportedModelError:
        """The same error naming the methods that work."""
        return UnsupportedModelError(self.method, self.operations, tuple(alternatives))


def _original_name(name: str) -> str:
    """A module name of the copy as the model has it (duplicates are ``name_deepshapN``)."""
    return re.sub(r"_deepshap\d+$", "", name)


def _enclosing_module(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    names = list(stack)
    return _original_name(names[-1]) if names else ""


def _module_verdict(module: nn.Module) -> str | None:
    """``None`` when shap attributes this leaf exactly, else what it is."""
    if isinstance(module, _MAX_POOLS):
        return f"an overlapping {type(module).__name__}" if max_pool_overlaps(module) else None
    if isinstance(module, INEXACT_MODULES):
        return type(module).__name__
    if isinstance(module, EXACT_MODULES):
        return None
    return type(module).__name__


def _holds_tensor(value: Any) -> bool:
    if isinstance(value, Tensor):
        return True
    if isinstance(value, (tuple, list)):
        return any(_holds_tensor(v) for v in value)
    return False


class _Recorder(fx.Interpreter):
    """Runs the graph once and keeps which nodes hold input-dependent tensors."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.dependent: set[fx.Node] = set()
        self.tensors: set[fx.Node] = set()
        self._first_placeholder = True

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        if _holds_tensor(result):
            self.tensors.add(n)
        if n.op == "placeholder":
            if self._first_placeholder:
                self.dependent.add(n)
            self._first_placeholder = False
        elif n.op not in ("get_attr", "output") and _holds_tensor(result):
            if any(i in self.dependent for i in n.all_input_nodes):
                self.dependent.add(n)
        return result


def _node_verdict(node: fx.Node, graph_module: fx.GraphModule, recorder: _Recorder) -> str | None:
    """``None`` when the node is exact under DeepLIFT, else what it is."""
    if node.op == "call_module":
        return _module_verdict(graph_module.get_submodule(str(node.target)))
    operands = [i for i in node.all_input_nodes if i in recorder.dependent]
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    function = node.op == "call_function"
    if (function and target in _LINEAR_FUNCTIONS) or (not function and target in _LINEAR_METHODS):
        return None
    if (function and target in _PRODUCT_FUNCTIONS) or (not function and target in _PRODUCT_METHODS):
        return None if len(operands) <= 1 else f"a product of two input-dependent tensors ({name})"
    if (function and target in _QUOTIENT_FUNCTIONS) or (
        not function and target in _QUOTIENT_METHODS
    ):
        denominators = [a for a in node.args[1:] if isinstance(a, fx.Node)]
        if any(d in recorder.dependent for d in denominators):
            return f"a division by an input-dependent tensor ({name})"
        return None
    return str(name)


def _tensors(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _storage(tensor: Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


class _InPlaceRecorder(TorchDispatchMode):
    """Records writes, on tensors that require gradients, to the memory of what shap's
    full backward hooks wrap: a leaf module's output after it returned, its input while it
    runs, and the model's input (a leaf tensor in shap's call)."""

    def __init__(self, names: dict[nn.Module, str], x: Tensor) -> None:
        super().__init__()
        self.names = names
        self.leaves = {module for module in names if not list(module.children())}
        self.stack: list[str] = []
        #: Storage -> whose output or input lives there.
        self.hooked: dict[int, str] = {}
        self.keep: list[Tensor] = []  # alive, so that no storage is reused meanwhile
        self.found: list[InexactOperation] = []
        self._hook(x, "the model's input")

    def enter(self, module: nn.Module, args: Any) -> None:
        self.stack.append(self.names[module])
        if module in self.leaves:
            self._hook(args, f"the input of {_original_name(self.names[module])!r}")

    def leave(self, module: nn.Module, args: Any, output: Any) -> None:
        self.stack.pop()
        if module in self.leaves:
            self._hook(output, f"the output of {_original_name(self.names[module])!r}")

    def _hook(self, value: Any, what: str) -> None:
        for tensor in _tensors(value):
            if tensor.requires_grad:
                self.hooked.setdefault(_storage(tensor), what)
                self.keep.append(tensor)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        schema = func._schema.arguments
        # Positional arguments fill the schema's first places (strict=False: fewer given).
        values = [
            *zip(schema, args, strict=False),
            *((a, kwargs[a.name]) for a in schema if a.name in kwargs),
        ]
        for argument, value in values:
            written = argument.alias_info is not None and argument.alias_info.is_write
            if written and isinstance(value, Tensor) and value.requires_grad:
                what = self.hooked.get(_storage(value))
                if what is not None:
                    where = _original_name(self.stack[-1]) if self.stack else ""
                    operation = f"in-place {func.overloadpacket.__name__}"
                    self.found.append(InexactOperation(operation, where, True, what))
        return func(*args, **kwargs)


def in_place_operations(prepared: nn.Module, example: Sequence[Any]) -> list[InexactOperation]:
    """In-place changes that shap's hooks make PyTorch refuse (``RuntimeError: Output 0 of
    BackwardHookFunction is a view and is being modified inplace``).

    Args:
        prepared: The copy from :func:`~._model_preparation.prepare_model_for_deepshap`
            (never the model: forward hooks are put on the copy's modules for one forward
            pass, and removed).
        example: Its arguments for one sample, as for :func:`inexact_operations`.

    Returns:
        The operations in forward order, each with ``in_place=True`` (empty when shap can
        run the copy).
    """
    names = {module: name for name, module in prepared.named_modules()}
    leaf = example[0].detach().clone().requires_grad_()
    with torch.enable_grad():
        x = leaf * 1  # not a leaf, so that a write to it is recorded, not refused here
        recorder = _InPlaceRecorder(names, x)
        handles = []
        try:
            for module in names:
                handles.append(module.register_forward_pre_hook(recorder.enter))
                handles.append(module.register_forward_hook(recorder.leave))
            with recorder:
                prepared(x, *example[1:])
        finally:
            for handle in handles:
                handle.remove()
    return recorder.found


def inexact_operations(prepared: nn.Module, example: Sequence[Any]) -> list[InexactOperation]:
    """The operations of a prepared copy shap's DeepExplainer does not attribute exactly.

    Args:
        prepared: The copy from :func:`~._model_preparation.prepare_model_for_deepshap`.
        example: Its arguments for one sample: the input (1, ...) first, then any extra
            arguments (taken as constants).

    Returns:
        The operations in forward order (empty when DeepSHAP is exact on the model).
    """
    if not isinstance(prepared, fx.GraphModule):
        return [
            InexactOperation(type(module).__name__, name)
            for name, module in prepared.named_modules()
            if not list(module.children()) and isinstance(module, INEXACT_MODULES)
        ]
    recorder = _Recorder(prepared)
    with torch.no_grad():
        recorder.run(*example)
    found = []
    for node in prepared.graph.nodes:
        if node.op not in ("call_module", "call_function", "call_method"):
            continue
        if node not in recorder.dependent:
            continue
        verdict = _node_verdict(node, prepared, recorder)
        if verdict is not None:
            where = (
                _original_name(str(node.target))
                if node.op == "call_module"
                else _enclosing_module(node)
            )
            found.append(InexactOperation(verdict, where))
    return found
