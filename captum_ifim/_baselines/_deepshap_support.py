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
    """

    operation: str
    where: str

    def __str__(self) -> str:
        where = f"at {self.where!r}" if self.where else "in the model's own forward"
        return f"{self.operation} {where}"


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
