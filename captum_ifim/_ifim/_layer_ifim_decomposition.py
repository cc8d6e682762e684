"""``LayerIFIMDecomposition``: the iFIM with respect to a layer's activation, Captum's
layer-attribution interface."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

import torch
from captum.attr import GradientAttribution, LayerAttribution
from torch import Tensor, nn

from captum_ifim._captum_compat import (
    TargetType,
    _format_additional_forward_args,
    _format_output,
    _format_tensor_into_tuples,
    _run_forward,
    _tuple_splice_range,
    log_usage,
)
from captum_ifim._ifim._decomposition import decompose_flat
from captum_ifim._ifim._ifim_decomposition import (
    COMPONENTS,
    Component,
    InputsT,
    _concat,
    _split,
    check_ifim_settings,
)
from captum_ifim._ifim._input_shares import InputShares, input_shares
from captum_ifim._ifim._layer_substitution import LayerSubstitution
from captum_ifim._ifim._location_scores import (
    LOCATION_SUMMARIES,
    LocationSummary,
    location_scores,
)
from captum_ifim._ifim._output_heads import OutputHead
from captum_ifim._model_outputs import as_logits_model
from captum_ifim._validation import (
    check_bool,
    check_choice,
    check_energy,
    check_eval_mode,
    check_positive_int,
    explained_forward_failures,
    owning_module,
)

_INTERPOLATE_MODES = {3: "linear", 4: "bilinear", 5: "trilinear"}


@dataclass(frozen=True)
class LayerIFIMResult(Generic[InputsT]):
    """The iFIM decomposition of a layer's activation a(x) for a batch of N inputs.

    Fields that mirror the activation are a tensor for a layer with one output (or
    input) and a tuple for several. ``R_max`` is C - 1 for the softmax heads and C for
    ``"sigmoid"``.

    Attributes:
        eigenvalues: (N, R_max) float64, the nonzero eigenvalues of F(a) in descending
            order, zero past each sample's rank.
        eigenvectors: ``(N, R_max, *activation shape)``, the unit eigenvectors u_i.
        num_components: (N,) long, K of eq. 13.
        rank: (N,) long, the numerical rank of F(a).
        probs: (N, C), the predictive probabilities.
        retained_mass: (N,) float64, as :class:`~captum_ifim.IFIMResult`.
        activation: a, the layer's output (or input), detached.
        sensitive: a_sens = U_K U_K^T a (eqs. 14-16 at the layer).
        insensitive: a - a_sens (eq. 17).
        location_scores: one score per location (pixel of a map, token of a sequence)
            from a_sens and a over the feature dimension, by the ``location_summary``
            chosen (:func:`~captum_ifim.functional.signed_location_norms` or
            :func:`~captum_ifim.functional.location_projections`): the activation's shape
            without that dimension; ``None`` for a tuple activation.
        spatial_map: ``location_scores`` of a channels-first 2-D or 3-D map upsampled to
            the first input's size, ``(N, 1, *input spatial shape)``, as Captum's
            ``LayerAttribution.interpolate`` does (bilinear or trilinear); ``None`` for
            other layers.
    """

    eigenvalues: Tensor
    eigenvectors: InputsT
    num_components: Tensor
    rank: Tensor
    probs: Tensor
    retained_mass: Tensor
    activation: InputsT
    sensitive: InputsT
    insensitive: InputsT
    location_scores: Tensor | None
    spatial_map: Tensor | None

    @property
    def input_shares(self) -> InputShares:
        """Each eigenvector's energy, and the spectrum, split across the activation's
        tensors (:func:`~captum_ifim.functional.input_shares`)."""
        vectors = self.eigenvectors
        return input_shares(vectors if isinstance(vectors, tuple) else (vectors,), self.eigenvalues)


class _SubstitutedForward:
    """``(a, x, extra, masks) -> forward_func(x, extra)`` with the layer's activation set to
    ``a``; where a mask is 0 the activation is held fixed (no gradient flows to it)."""

    def __init__(
        self,
        forward_func: Callable[..., Any],
        substitution: LayerSubstitution,
        num_activations: int,
        num_inputs: int,
        num_masks: int,
    ) -> None:
        self.forward_func = forward_func
        self.substitution = substitution
        self.counts = (num_activations, num_inputs, num_masks)

    def __call__(self, *args: Any) -> Any:
        num_activations, num_inputs, num_masks = self.counts
        activations = args[:num_activations]
        inputs = args[num_activations : num_activations + num_inputs]
        extra = args[num_activations + num_inputs : len(args) - num_masks]
        masks = args[len(args) - num_masks :]
        if masks:
            activations = tuple(
                a * m + a.detach() * (1 - m) for a, m in zip(activations, masks, strict=True)
            )
        self.substitution.substitute = tuple(activations)
        try:
            return _run_forward(self.forward_func, inputs, None, extra or None)
        finally:
            self.substitution.substitute = None


def _reaches(output: Tensor, leaves: tuple[Tensor, ...]) -> bool:
    """Whether the autograd graph of ``output`` reaches any of ``leaves`` (no backward)."""
    targets = {id(leaf) for leaf in leaves}
    stack, seen = [output.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if id(getattr(node, "variable", None)) in targets:
            return True
        stack.extend(child for child, _ in node.next_functions)
    return False


def _check_model_inputs(inputs: tuple[Any, ...]) -> int:
    """Tensors with one non-empty batch dimension (token ids allowed); returns N."""
    if len(inputs) == 0:
        raise ValueError("expected at least one input tensor, got an empty tuple")
    for position, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"expected input {position} to be a torch.Tensor, got {type(x)}")
        if x.dim() == 0 or x.shape[0] == 0:
            raise ValueError(
                f"expected input {position} to have a non-empty batch dimension, got shape "
                f"{tuple(x.shape)}"
            )
        if x.is_floating_point() and not torch.isfinite(x).all():
            raise ValueError(f"expected finite inputs, got NaN or inf in input {position}")
    sizes = {x.shape[0] for x in inputs}
    if len(sizes) > 1:
        raise ValueError(f"expected every input to have the same batch size, got {sorted(sizes)}")
    return inputs[0].shape[0]


def _check_extra_batch(extra: tuple[Any, ...] | None, num_samples: int) -> None:
    """Tensors among the additional arguments are split with the batch: N rows each."""
    for position, value in enumerate(extra or ()):
        if isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] != num_samples:
            raise ValueError(
                f"expected additional_forward_args[{position}] to have the batch size "
                f"{num_samples} of the inputs (tensors are split with the batch), got shape "
                f"{tuple(value.shape)}"
            )


class LayerIFIMDecomposition(LayerAttribution, GradientAttribution):
    r"""The iFIM of the predictive distribution with respect to a layer's activation.

    With a = a(x) the layer's output (or input) and ``f(a)`` the rest of the network,
    ``F(a) = E_{y ~ p(.|x)}[grad_a log p(y|a) grad_a log p(y|a)^T]`` is eq. 2 at the
    layer. It is computed as the input-space iFIM is (eqs. 5-13, C - 1 backward passes
    from the output to the layer, none through the layers before it, and a C x C
    eigenproblem), and a is split into ``a_sens = U_K U_K^T a`` and its complement
    (eqs. 14-17). For a layer at the input (an ``nn.Identity`` in front of the model) it
    is :class:`~captum_ifim.IFIMDecomposition`.

    Args:
        forward_func: The model or a function returning outputs of shape (N, C), or an
            output holding them (a Hugging Face ``ModelOutput``: see
            :func:`~captum_ifim.logits_of`); samples must not interact (eval mode).
        layer: The module whose output (or input) is decomposed. It must run once per
            forward pass and return a tensor or a tuple of tensors.
        output: The output head, as :class:`~captum_ifim.IFIMDecomposition`.
        eigenvalue_rtol: As :class:`~captum_ifim.IFIMDecomposition`.
        eigenvalue_atol: As :class:`~captum_ifim.IFIMDecomposition`.
        class_mass: As :class:`~captum_ifim.IFIMDecomposition`.
        feature_dim: The activation's feature dimension, summed over by
            ``location_scores``: 1 for channels-first maps, -1 for (N, T, D) sequences.
        location_summary: How ``location_scores`` and ``spatial_map`` reduce a_sens at
            a location t: ``"signed_norm"``, ``sign(<s_t, a_t>) ||s_t||`` (how much of the
            leading subspace lies at t), or ``"projection"``, ``<s_t, a_t>`` (t's term of
            ``||a_sens||^2``, weighted by the activation there; it follows the content of
            the input more closely, see docs/theory.md).

    Example:
        >>> import torch
        >>> from captum_ifim import LayerIFIMDecomposition
        >>> conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        >>> model = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.Flatten(),
        ...                             torch.nn.Linear(4 * 8 * 8, 3)).eval()
        >>> ifim = LayerIFIMDecomposition(model, conv)
        >>> x = torch.randn(2, 1, 8, 8)
        >>> ifim.attribute(x).shape
        torch.Size([2, 4, 8, 8])
        >>> result = ifim.decompose(x)
        >>> result.eigenvalues.shape, result.spatial_map.shape
        (torch.Size([2, 2]), torch.Size([2, 1, 8, 8]))
    """

    def __init__(
        self,
        forward_func: Callable[..., Any],
        layer: nn.Module,
        output: OutputHead = "logits",
        eigenvalue_rtol: float | None = None,
        eigenvalue_atol: float = 0.0,
        class_mass: float | None = None,
        feature_dim: int = 1,
        location_summary: LocationSummary = "signed_norm",
    ) -> None:
        if not callable(forward_func):
            raise TypeError(f"expected a callable forward_func, got {type(forward_func)}")
        if not isinstance(layer, nn.Module):
            raise TypeError(f"expected layer to be a torch.nn.Module, got {type(layer)}")
        model = owning_module(forward_func)
        if model is not None and not any(m is layer for m in model.modules()):
            raise ValueError(
                f"expected a layer of the model, got a {type(layer).__name__} that is not "
                f"among the modules of the {type(model).__name__}"
            )
        if isinstance(feature_dim, bool) or not isinstance(feature_dim, int):
            raise TypeError(f"expected feature_dim to be an int, got {feature_dim!r}")
        check_ifim_settings(output, eigenvalue_rtol, eigenvalue_atol, class_mass)
        check_choice("location_summary", location_summary, LOCATION_SUMMARIES)
        # Outputs holding the logits (a ModelOutput, a dict, a tuple) give them: logits_of.
        LayerAttribution.__init__(self, as_logits_model(forward_func), layer)
        self.output: OutputHead = output
        self.eigenvalue_rtol = eigenvalue_rtol
        self.eigenvalue_atol = eigenvalue_atol
        self.class_mass = class_mass
        self.feature_dim = feature_dim
        self.location_summary: LocationSummary = location_summary

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: TargetType = None,
        additional_forward_args: Any = None,
        energy: float = 0.9,
        component: Component = "sensitive",
        attribute_to_layer_input: bool = False,
        internal_batch_size: int | None = None,
    ) -> Tensor | tuple[Tensor, ...]:
        """The sensitive part a_sens of the layer's activation, or its complement.

        Args:
            inputs: The model's inputs, a tensor (N, ...) or a tuple with the same N.
            target: Accepted for compatibility with Captum and ignored (the iFIM is an
                expectation over the predictive distribution).
            additional_forward_args: As in Captum; tensors among them must have N rows
                (they are split with the batch).
            energy: rho of eq. 13, in (0, 1].
            component: ``"sensitive"`` (a_sens) or ``"insensitive"`` (a - a_sens).
            attribute_to_layer_input: Decompose the layer's input instead of its output.
            internal_batch_size: Decompose at most this many samples at a time.

        Returns:
            The component with the shape of the layer's output (or input): a tensor, or
            a tuple when the layer has several.
        """
        check_choice("component", component, COMPONENTS)
        result = self.decompose(
            inputs, additional_forward_args, energy, attribute_to_layer_input, internal_batch_size
        )
        return result.sensitive if component == "sensitive" else result.insensitive

    def decompose(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        additional_forward_args: Any = None,
        energy: float = 0.9,
        attribute_to_layer_input: bool = False,
        internal_batch_size: int | None = None,
        activation_mask: Tensor | None = None,
    ) -> LayerIFIMResult[Any]:
        """The full decomposition at the layer: spectrum, eigenvectors and components.

        Args:
            inputs: As :meth:`attribute`.
            additional_forward_args: As :meth:`attribute`.
            energy: As :meth:`attribute`.
            attribute_to_layer_input: As :meth:`attribute`.
            internal_batch_size: As :meth:`attribute`.
            activation_mask: Optional, N rows broadcastable to the (single) activation:
                where it is 0 the activation is held fixed, so those entries do not enter
                the iFIM (its eigenvectors and a_sens are zero there), e.g. padded tokens.

        Returns:
            A :class:`LayerIFIMResult`.
        """
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                f"expected inputs to be a torch.Tensor or a tuple of them, got {type(inputs)}"
            )
        formatted = _format_tensor_into_tuples(inputs)
        num_samples = _check_model_inputs(formatted)
        check_energy(energy)
        check_bool(attribute_to_layer_input, "attribute_to_layer_input")
        check_positive_int(internal_batch_size, "internal_batch_size", allow_none=True)
        check_eval_mode(self.forward_func)
        extra = _format_additional_forward_args(additional_forward_args)
        _check_extra_batch(extra, num_samples)
        with (
            explained_forward_failures(self.forward_func, formatted, extra),
            LayerSubstitution(self.layer, attribute_to_layer_input, make_leaves=True) as layer,
        ):
            activations = self._probe(formatted, extra, layer, attribute_to_layer_input)
            self._check_activations(activations, formatted)
            masks = self._masks(activation_mask, activations)
            layer.make_leaves = False
            forward = _SubstitutedForward(
                self.forward_func, layer, len(activations), len(formatted), len(masks)
            )
            rest = (*formatted, *(extra or ()), *masks)
            step = internal_batch_size or num_samples
            parts = [
                decompose_flat(
                    forward,
                    _tuple_splice_range(activations, start, start + step),
                    _tuple_splice_range(rest, start, start + step),
                    self.output,
                    energy,
                    self.eigenvalue_rtol,
                    self.eigenvalue_atol,
                    self.class_mass,
                )
                for start in range(0, num_samples, step)
            ]
        return self._result(_concat(parts), activations, formatted[0])

    def _probe(
        self,
        inputs: tuple[Tensor, ...],
        extra: tuple[Any, ...] | None,
        layer: LayerSubstitution,
        to_input: bool,
    ) -> tuple[Tensor, ...]:
        """One forward pass: the activation, checked to run once, be floating point and
        reach the output (the autograd graph is searched; no backward pass)."""
        where = "input" if to_input else "output"
        with torch.enable_grad():
            outputs = _run_forward(self.forward_func, inputs, None, extra)
        if len(layer.recorded) != 1:
            raise ValueError(
                f"expected the layer {type(self.layer).__name__} to run once per forward "
                f"pass, got {len(layer.recorded)} calls"
                + ("; is it part of the model's forward?" if not layer.recorded else "")
            )
        leaves = layer.recorded[0]
        layer.recorded.clear()
        for position, leaf in enumerate(leaves):
            if not leaf.is_floating_point():
                raise TypeError(
                    f"expected the layer's {where} to be floating point, got {leaf.dtype} "
                    f"in tensor {position}"
                )
            if leaf.shape[:1] != (inputs[0].shape[0],):
                raise ValueError(
                    f"expected the layer's {where} to have the batch size "
                    f"{inputs[0].shape[0]} first, got shape {tuple(leaf.shape)}"
                )
        if not isinstance(outputs, Tensor):
            raise TypeError(
                f"expected the model output to be a tensor (N, C), got {type(outputs).__name__}"
            )
        if not _reaches(outputs, leaves):
            raise ValueError(
                f"expected a layer the model's output depends on, got "
                f"{type(self.layer).__name__} whose {where} does not reach the output"
            )
        return tuple(leaf.detach() for leaf in leaves)

    def _check_activations(
        self, activations: tuple[Tensor, ...], inputs: tuple[Tensor, ...]
    ) -> None:
        """Raise unless the activation has the layout this class reads; any layout here."""

    @staticmethod
    def _masks(mask: Tensor | None, activations: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        if mask is None:
            return ()
        if len(activations) != 1:
            raise ValueError(
                f"expected activation_mask=None for a layer with {len(activations)} tensors"
            )
        (activation,) = activations
        if not isinstance(mask, Tensor) or mask.shape[:1] != activation.shape[:1]:
            got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
            raise ValueError(
                f"expected activation_mask with {activation.shape[0]} rows broadcastable to "
                f"{tuple(activation.shape)}, got {got}"
            )
        try:
            torch.broadcast_shapes(mask.shape, activation.shape)
        except RuntimeError as error:
            raise ValueError(
                f"expected activation_mask broadcastable to {tuple(activation.shape)}, got "
                f"{tuple(mask.shape)}"
            ) from error
        return (mask.to(activation.dtype),)

    def _result(
        self, flat: Any, activations: tuple[Tensor, ...], first_input: Tensor
    ) -> LayerIFIMResult[Any]:
        is_tuple = len(activations) > 1
        num_samples = activations[0].shape[0]
        lead = (num_samples,)
        sensitive = _split(flat.sensitive, activations, lead)
        scores = spatial = None
        if not is_tuple:
            scores = location_scores(
                sensitive[0], activations[0], self.feature_dim, self.location_summary
            )
            spatial = self._spatial_map(scores, activations[0], first_input)
        return LayerIFIMResult(
            eigenvalues=flat.eigenvalues,
            eigenvectors=_format_output(
                is_tuple,
                _split(flat.eigenvectors, activations, (num_samples, flat.eigenvectors.shape[1])),
            ),
            num_components=flat.num_components,
            rank=flat.rank,
            probs=flat.probs,
            retained_mass=flat.retained_mass,
            activation=_format_output(is_tuple, activations),
            sensitive=_format_output(is_tuple, sensitive),
            insensitive=_format_output(is_tuple, _split(flat.insensitive, activations, lead)),
            location_scores=scores,
            spatial_map=spatial,
        )

    def _spatial_map(
        self, scores: Tensor, activation: Tensor, first_input: Tensor
    ) -> Tensor | None:
        """The location scores of a channels-first (N, C, H, W) or (N, C, D, H, W) map at
        the first input's spatial size, when the input has as many spatial dimensions."""
        if self.feature_dim != 1 or activation.dim() not in (4, 5):
            return None
        if first_input.dim() != activation.dim():
            return None
        size = tuple(first_input.shape[2:])
        mode = _INTERPOLATE_MODES[activation.dim()]
        return LayerAttribution.interpolate(scores.unsqueeze(1), size, mode)
