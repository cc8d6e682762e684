"""``IFIMDecomposition``: the iFIM decomposition as a Captum attribution method."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, get_args

import torch
from captum.attr import GradientAttribution
from torch import Tensor

from captum_ifim._captum_compat import (
    TargetType,
    _format_additional_forward_args,
    _format_output,
    _format_tensor_into_tuples,
    _is_tuple,
    _tuple_splice_range,
    log_usage,
)
from captum_ifim._ifim._decomposition import FlatDecomposition, decompose_flat
from captum_ifim._ifim._gradients import BackwardMode, check_backward_mode
from captum_ifim._ifim._input_shares import InputShares, input_shares
from captum_ifim._ifim._output_heads import OutputHead, check_class_mass, check_output_head
from captum_ifim._model_outputs import as_logits_model
from captum_ifim._validation import (
    check_choice,
    check_energy,
    check_eval_mode,
    check_inputs,
    check_positive_int,
    explained_forward_failures,
)

Component = Literal["sensitive", "insensitive"]
COMPONENTS: tuple[str, ...] = get_args(Component)

InputsT = TypeVar("InputsT", Tensor, tuple[Tensor, ...])


@dataclass(frozen=True)
class IFIMResult(Generic[InputsT]):
    """The iFIM decomposition of a batch of N inputs.

    Tensor fields that mirror the inputs are a tensor for a tensor input and a tuple for
    tuple inputs. ``R_max`` is C - 1 for the softmax heads and C for ``"sigmoid"``.

    Attributes:
        eigenvalues: (N, R_max) float64, the nonzero iFIM eigenvalues lambda_i in
            descending order (eq. 8), zero past each sample's rank.
        eigenvectors: ``(N, R_max, *input shape)``: the unit eigenvectors u_i (eq. 9),
            zero past each sample's rank.
        num_components: (N,) long, K of eq. 13.
        rank: (N,) long, the numerical rank R of F(x).
        probs: (N, C), the predictive probabilities (per-output Bernoulli
            probabilities for ``"sigmoid"``).
        retained_mass: (N,) float64, the probability mass of the classes the iFIM was
            computed from: 1 unless ``class_mass`` dropped classes.
        sensitive: x_sens = S(x) (eq. 16), the inputs' shapes.
        insensitive: x_comp = I(x) = x - x_sens (eq. 17), the inputs' shapes.
    """

    eigenvalues: Tensor
    eigenvectors: InputsT
    num_components: Tensor
    rank: Tensor
    probs: Tensor
    retained_mass: Tensor
    sensitive: InputsT
    insensitive: InputsT

    @property
    def input_shares(self) -> InputShares:
        """Each eigenvector's energy, and the spectrum, split across the inputs
        (:func:`~captum_ifim.functional.input_shares`; one input for a tensor)."""
        vectors = self.eigenvectors
        return input_shares(vectors if isinstance(vectors, tuple) else (vectors,), self.eigenvalues)


def check_ifim_settings(
    output: str = "logits",
    eigenvalue_rtol: float | None = None,
    eigenvalue_atol: float = 0.0,
    class_mass: float | None = None,
    backward: str = "auto",
) -> None:
    """Raise unless these are valid :class:`IFIMDecomposition` constructor arguments.

    ``output`` a known head, ``class_mass`` None or in (0, 1] and None for ``"sigmoid"``,
    ``eigenvalue_rtol`` None or >= 0, ``eigenvalue_atol`` >= 0, ``backward`` one of
    ``"auto"``, ``"sequential"``, ``"batched"``. The constructor and the
    registry's option check (:meth:`captum_ifim.MethodSpec.check_options`) both call it.
    """
    check_output_head(output)
    check_class_mass(class_mass)
    check_backward_mode(backward)
    if class_mass is not None and output == "sigmoid":
        raise ValueError(
            f"expected class_mass=None for output='sigmoid' (independent outputs), got {class_mass}"
        )
    for name, value, allow_none in (
        ("eigenvalue_rtol", eigenvalue_rtol, True),
        ("eigenvalue_atol", eigenvalue_atol, False),
    ):
        if value is None and allow_none:
            continue
        suffix = " or None" if allow_none else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected {name} to be a float >= 0{suffix}, got {value!r}")
        if not value >= 0:
            raise ValueError(f"expected {name} >= 0{suffix}, got {value}")


def _split(flat: Tensor, like: tuple[Tensor, ...], lead: tuple[int, ...]) -> tuple[Tensor, ...]:
    """Split the last dimension of ``flat`` back into the shapes of ``like``."""
    sizes = [x[0].numel() for x in like]
    return tuple(
        chunk.reshape(*lead, *x.shape[1:]).to(x.dtype)
        for chunk, x in zip(flat.split(sizes, dim=-1), like, strict=True)
    )


def _concat(parts: list[FlatDecomposition]) -> FlatDecomposition:
    if len(parts) == 1:
        return parts[0]
    return FlatDecomposition(
        **{
            name: torch.cat([getattr(p, name) for p in parts])
            for name in FlatDecomposition.__dataclass_fields__
        }
    )


class IFIMDecomposition(GradientAttribution):
    r"""Input-dependent Fisher information (iFIM) decomposition (Sengupta & Anastasio).

    The iFIM ``F(x) = E_{y ~ p(.|x)}[grad_x log p(y|x) grad_x log p(y|x)^T]`` (eq. 2) is
    factored through its Gram matrix (eqs. 5-10) without forming the d x d matrix; the
    input is projected onto the leading eigenvectors holding an ``energy`` share of the
    spectrum (eqs. 13-16) and onto the complement (eq. 17). The cost is C - 1 backward
    passes per batch (one for binary models, the cost of a saliency map).

    Args:
        forward_func: The model or any function returning outputs of shape (N, C), or an
            output holding them (reduced by :func:`~captum_ifim.logits_of`).
            Samples must not interact: an ``nn.Module`` in training mode with BatchNorm
            or Dropout layers is refused.
        output: What the outputs are: ``"logits"`` (softmax over logits),
            ``"probs"`` (the model ends in softmax), ``"log_probs"`` (ends in
            log-softmax) or ``"sigmoid"`` (one independent Bernoulli per logit; a single
            logit is the binary case).
        eigenvalue_rtol: Eigenvalues at or below ``rtol * lambda_1`` are treated as zero;
            ``None`` picks 1e-10 for float64 and 1e-6 for float32 inputs.
        eigenvalue_atol: Eigenvalues at or below this are treated as zero.
        class_mass: For many classes: compute the iFIM from only the most probable
            classes holding this probability mass (softmax heads). The dropped part
            ``sum_{c not in S} p_c g_c g_c^T`` is positive semidefinite with spectral norm
            at most ``(1 - retained mass) * max_{c not in S} ||grad log p_c||^2``. ``None``
            (default) is exact with C - 1 backward passes.
        backward: How the C - 1 backward passes run: ``"sequential"`` (one per class),
            ``"batched"`` (vectorized into one, ``is_grads_batched=True``) or ``"auto"``
            (batched on a GPU, or on a CPU when a pass is small; the rule and its
            measurements are in ``docs/performance.md``). The results are equal up to
            floating-point rounding.

    Example:
        >>> import torch
        >>> from captum_ifim import IFIMDecomposition
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
        >>> ifim = IFIMDecomposition(model)
        >>> x = torch.randn(2, 1, 4, 4)
        >>> ifim.attribute(x, energy=0.9).shape
        torch.Size([2, 1, 4, 4])
        >>> ifim.decompose(x).eigenvalues.shape
        torch.Size([2, 2])
    """

    def __init__(
        self,
        forward_func: Callable[..., Any],
        output: OutputHead = "logits",
        eigenvalue_rtol: float | None = None,
        eigenvalue_atol: float = 0.0,
        class_mass: float | None = None,
        backward: BackwardMode = "auto",
    ) -> None:
        if not callable(forward_func):
            raise TypeError(f"expected a callable forward_func, got {type(forward_func)}")
        check_ifim_settings(output, eigenvalue_rtol, eigenvalue_atol, class_mass, backward)
        # Outputs holding the logits (a ModelOutput, a dict, a tuple) give them: logits_of.
        GradientAttribution.__init__(self, as_logits_model(forward_func))
        self.output: OutputHead = output
        self.eigenvalue_rtol = eigenvalue_rtol
        self.eigenvalue_atol = eigenvalue_atol
        self.class_mass = class_mass
        self.backward: BackwardMode = backward

    @log_usage()
    def attribute(
        self,
        inputs: InputsT,
        target: TargetType = None,
        additional_forward_args: Any = None,
        energy: float = 0.9,
        component: Component = "sensitive",
        internal_batch_size: int | None = None,
    ) -> InputsT:
        """The task-sensitive map S(x) or the task-insensitive map I(x).

        Args:
            inputs: A tensor (N, ...) or a tuple of tensors with the same N.
            target: Accepted for compatibility with Captum and ignored: the iFIM is an
                expectation over the predictive distribution, so it does not depend on
                a chosen class.
            additional_forward_args: Extra arguments for the forward function, as in
                Captum; tensors among them are split with the batch.
            energy: rho of eq. 13, in (0, 1].
            component: ``"sensitive"`` for x_sens (eq. 16) or ``"insensitive"`` for
                x_comp = x - x_sens (eq. 17).
            internal_batch_size: Decompose at most this many samples at a time to bound
                memory; ``None`` does the whole batch at once.

        Returns:
            The chosen component, with the type and shapes of ``inputs``.
        """
        check_choice("component", component, COMPONENTS)
        result = self.decompose(inputs, additional_forward_args, energy, internal_batch_size)
        return result.sensitive if component == "sensitive" else result.insensitive

    def decompose(
        self,
        inputs: InputsT,
        additional_forward_args: Any = None,
        energy: float = 0.9,
        internal_batch_size: int | None = None,
    ) -> IFIMResult[InputsT]:
        """The full decomposition: spectrum, eigenvectors, K and both components.

        Args: as :meth:`attribute`.

        Returns:
            An :class:`IFIMResult`.
        """
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                f"expected inputs to be a torch.Tensor or a tuple of them, got {type(inputs)}"
            )
        is_tuple = _is_tuple(inputs)
        formatted = _format_tensor_into_tuples(inputs)
        check_energy(energy)
        check_positive_int(internal_batch_size, "internal_batch_size", allow_none=True)
        check_eval_mode(self.forward_func)
        check_inputs(formatted, self.forward_func)
        extra = _format_additional_forward_args(additional_forward_args)
        num_samples = formatted[0].shape[0]
        step = internal_batch_size or num_samples
        with explained_forward_failures(self.forward_func, formatted, extra):
            parts = [
                decompose_flat(
                    self.forward_func,
                    _tuple_splice_range(formatted, start, start + step),
                    _tuple_splice_range(extra, start, start + step),
                    self.output,
                    energy,
                    self.eigenvalue_rtol,
                    self.eigenvalue_atol,
                    self.class_mass,
                    self.backward,
                )
                for start in range(0, num_samples, step)
            ]
        flat = _concat(parts)
        lead = (num_samples,)
        vector_lead = (num_samples, flat.eigenvectors.shape[1])
        return IFIMResult(
            eigenvalues=flat.eigenvalues,
            eigenvectors=_format_output(
                is_tuple, _split(flat.eigenvectors, formatted, vector_lead)
            ),
            num_components=flat.num_components,
            rank=flat.rank,
            probs=flat.probs,
            retained_mass=flat.retained_mass,
            sensitive=_format_output(is_tuple, _split(flat.sensitive, formatted, lead)),
            insensitive=_format_output(is_tuple, _split(flat.insensitive, formatted, lead)),
        )
