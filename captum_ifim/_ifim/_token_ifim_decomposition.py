"""``TokenIFIMDecomposition``: the iFIM over a text model's token embeddings, one score per
token."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from captum_ifim._captum_compat import TargetType, log_usage
from captum_ifim._ifim._layer_ifim_decomposition import LayerIFIMDecomposition, LayerIFIMResult
from captum_ifim._ifim._location_scores import LocationSummary
from captum_ifim._ifim._output_heads import OutputHead
from captum_ifim._validation import owning_module


def find_embedding_layer(model: nn.Module) -> nn.Module:
    """The module whose output is the token embeddings the model attends over.

    A Hugging Face model (or one wrapping it) gives its base model's ``embeddings``
    module (word, position and token-type embeddings, normalised: what Captum's BERT
    tutorial attributes to), else its ``get_input_embeddings()``. Any other model must hold
    exactly one ``nn.Embedding``.

    Raises:
        ValueError: No embedding layer, or several ``nn.Embedding`` to choose from.
    """
    for module in model.modules():
        base = getattr(module, "base_model", None)
        get_input_embeddings = getattr(module, "get_input_embeddings", None)
        if isinstance(base, nn.Module) and callable(get_input_embeddings):
            embeddings = getattr(base, "embeddings", None)
            if isinstance(embeddings, nn.Module):
                return embeddings
            found = get_input_embeddings()
            if isinstance(found, nn.Module):
                return found
    named = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Embedding)]
    if len(named) == 1:
        return named[0][1]
    if not named:
        raise ValueError(
            f"expected token inputs embedded by an nn.Embedding or a Hugging Face model, got "
            f"a {type(model).__name__} without an embedding layer; pass embedding="
        )
    raise ValueError(
        f"expected one nn.Embedding to take as the token embeddings, got {len(named)} "
        f"({', '.join(name for name, _ in named)}); pass embedding= the one (or the module "
        "that sums them) whose output is (N, T, D)"
    )


class TokenIFIMDecomposition(LayerIFIMDecomposition):
    r"""The iFIM over the token embeddings e = (e_1, ..., e_T) of a text classifier.

    :class:`LayerIFIMDecomposition` at the embedding layer (output (N, T, D)), with one
    score per token t: ``score_t = sign(<s_t, e_t>) ||s_t||``, where ``s_t`` is token t's
    part of the sensitive component ``e_sens = U_K U_K^T e`` (eqs. 14-16 over the
    embeddings). ``|score_t|`` is how much of the iFIM's leading subspace lies on token t;
    the sign says whether that part points along the token's embedding (it adds to
    ``||e_sens||^2 = sum_t <s_t, e_t>``) or against it. Padded tokens are held fixed: they
    do not enter F (its eigenvectors are zero there) and score 0.

    Args:
        forward_func: A model taking token ids (N, T) (then the
            ``additional_forward_args``, e.g. an attention mask) and returning (N, C).
        embedding: The module whose output is the embeddings (N, T, D); ``None`` finds it
            (:func:`find_embedding_layer`: a Hugging Face model's ``embeddings``, or the
            model's one ``nn.Embedding``).
        pad_token_id: Tokens with this id are padding (unless ``token_mask`` is given).
        output, eigenvalue_rtol, eigenvalue_atol, class_mass: As
            :class:`~captum_ifim.IFIMDecomposition`.
        location_summary: The token score: ``"signed_norm"`` (above) or
            ``"projection"``, ``<s_t, e_t>`` (token t's term of
            ``||e_sens||^2``; see :class:`LayerIFIMDecomposition`).

    Example:
        >>> import torch
        >>> from captum_ifim import TokenIFIMDecomposition
        >>> class Bag(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.embed = torch.nn.Embedding(10, 4, padding_idx=0)
        ...         self.fc = torch.nn.Linear(4, 3)
        ...     def forward(self, ids):
        ...         return self.fc(self.embed(ids).sum(dim=1))
        >>> ifim = TokenIFIMDecomposition(Bag().eval(), pad_token_id=0)
        >>> scores = ifim.attribute(torch.tensor([[5, 2, 7, 0]]))
        >>> scores.shape, scores[0, 3].item()
        (torch.Size([1, 4]), 0.0)
    """

    def __init__(
        self,
        forward_func: Callable[..., Any],
        embedding: nn.Module | None = None,
        pad_token_id: int | None = None,
        output: OutputHead = "logits",
        eigenvalue_rtol: float | None = None,
        eigenvalue_atol: float = 0.0,
        class_mass: float | None = None,
        location_summary: LocationSummary = "signed_norm",
    ) -> None:
        if embedding is None:
            model = owning_module(forward_func)
            if model is None:
                raise ValueError(
                    "expected embedding= for a forward function that is not an nn.Module "
                    f"or its method, got {type(forward_func).__name__}"
                )
            embedding = find_embedding_layer(model)
        if pad_token_id is not None and (
            isinstance(pad_token_id, bool) or not isinstance(pad_token_id, int)
        ):
            raise TypeError(f"expected pad_token_id to be an int or None, got {pad_token_id!r}")
        super().__init__(
            forward_func,
            embedding,
            output,
            eigenvalue_rtol,
            eigenvalue_atol,
            class_mass,
            feature_dim=-1,
            location_summary=location_summary,
        )
        self.pad_token_id = pad_token_id

    @log_usage()
    def attribute(
        self,
        inputs: Tensor,
        target: TargetType = None,
        additional_forward_args: Any = None,
        energy: float = 0.9,
        token_mask: Tensor | None = None,
        internal_batch_size: int | None = None,
    ) -> Tensor:
        """One signed score per token, zero at padding.

        Args:
            inputs: Token ids (N, T).
            target: Accepted for compatibility with Captum and ignored.
            additional_forward_args: As in Captum (an attention mask (N, T), ...).
            energy: rho of eq. 13, in (0, 1].
            token_mask: (N, T), nonzero for real tokens, zero for padding; ``None`` takes
                ``inputs != pad_token_id`` (every token when ``pad_token_id`` is None).
            internal_batch_size: Decompose at most this many samples at a time.

        Returns:
            The scores, shape (N, T), in the embeddings' dtype.
        """
        result = self.decompose(
            inputs,
            additional_forward_args,
            energy,
            token_mask=token_mask,
            internal_batch_size=internal_batch_size,
        )
        assert result.location_scores is not None
        return result.location_scores

    def decompose(  # type: ignore[override]
        self,
        inputs: Tensor,
        additional_forward_args: Any = None,
        energy: float = 0.9,
        token_mask: Tensor | None = None,
        internal_batch_size: int | None = None,
    ) -> LayerIFIMResult[Tensor]:
        """The decomposition over the embeddings; ``location_scores`` holds the token
        scores (N, T). Args: as :meth:`attribute`."""
        if not isinstance(inputs, Tensor) or inputs.dim() != 2:
            got = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
            raise ValueError(f"expected token ids of shape (N, T), got {got}")
        mask = self._token_mask(inputs, token_mask)
        result = super().decompose(
            inputs,
            additional_forward_args,
            energy,
            internal_batch_size=internal_batch_size,
            activation_mask=mask.unsqueeze(-1),
        )
        assert result.location_scores is not None
        scores = result.location_scores * mask.to(result.location_scores.dtype)
        return dataclasses.replace(result, location_scores=scores)

    def _check_activations(
        self, activations: tuple[Tensor, ...], inputs: tuple[Tensor, ...]
    ) -> None:
        shape = tuple(inputs[0].shape)
        if len(activations) != 1 or activations[0].dim() != 3 or activations[0].shape[:2] != shape:
            got = [tuple(a.shape) for a in activations]
            raise ValueError(
                f"expected the embedding layer's output to be (N, T, D) with (N, T) = {shape}, "
                f"got {got[0] if len(got) == 1 else got}"
            )

    def _token_mask(self, inputs: Tensor, token_mask: Tensor | None) -> Tensor:
        if token_mask is None:
            if self.pad_token_id is None:
                return torch.ones(inputs.shape, dtype=torch.bool, device=inputs.device)
            return inputs != self.pad_token_id
        if not isinstance(token_mask, Tensor) or token_mask.shape != inputs.shape:
            got = tuple(token_mask.shape) if isinstance(token_mask, Tensor) else token_mask
            raise ValueError(f"expected token_mask of shape {tuple(inputs.shape)}, got {got}")
        return token_mask != 0
