"""``LayerIFIMMap``: the layer iFIM as an input-space map, for the registry and the harness.

:class:`~captum_ifim.LayerIFIMDecomposition` at a CAM target layer (the family default of
:func:`~captum_ifim.default_target_layer`, or a named one), its per-location scores of
a_sens (``location_summary``) read as a map and upsampled to the images, as the CAMs'
maps are: channels-first layers directly; token layers (N, T, D) through the target's
reshape (class and distillation tokens dropped, the rest laid on their grid).
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from captum.attr import Attribution
from torch import Tensor, nn

from captum_ifim._baselines._target_layers import CAMTarget, cam_target
from captum_ifim._captum_compat import (
    TargetType,
    _format_additional_forward_args,
    _format_output,
    _format_tensor_into_tuples,
    _is_tuple,
    log_usage,
)
from captum_ifim._ifim._layer_ifim_decomposition import LayerIFIMDecomposition
from captum_ifim._validation import check_inputs

_MODES = {4: "bilinear", 5: "trilinear"}


class LayerIFIMMap(Attribution):
    """The layer iFIM's sensitive part a_sens at a CAM layer, as a map of the images.

    Args:
        model: The classifier, (N, C) logits (or an output holding them).
        target_layer: A :class:`~captum_ifim._baselines._target_layers.CAMTarget`, a
            submodule or its name, or ``None`` for the family default.
        **options: Of :class:`~captum_ifim.LayerIFIMDecomposition`: ``output``,
            ``eigenvalue_rtol``, ``eigenvalue_atol``, ``class_mass``, ``location_summary``.

    Example:
        >>> import torch
        >>> from captum_ifim import build_method
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
        ...     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
        >>> build_method("layer-ifim", model).attribute(torch.randn(2, 1, 8, 8)).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(
        self,
        model: nn.Module,
        target_layer: CAMTarget | nn.Module | str | None = None,
        **options: Any,
    ) -> None:
        Attribution.__init__(self, model)
        self.target = (
            target_layer if isinstance(target_layer, CAMTarget) else cam_target(model, target_layer)
        )
        tokens = self.target.reshape_transform is not None
        self.decomposition = LayerIFIMDecomposition(
            model, self.target.layer, feature_dim=-1 if tokens else 1, **options
        )

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        target: TargetType = None,
        additional_forward_args: Any = None,
        energy: float = 0.9,
        internal_batch_size: int | None = None,
    ) -> Tensor | tuple[Tensor]:
        """Per-location scores of a_sens (eqs. 14-16 at the layer), at the images' size.

        Args:
            inputs: Images (N, channels, H, W) or volumes (N, channels, D, H, W).
            target: Ignored (the iFIM is an expectation over p(y|x)).
            additional_forward_args: As in Captum.
            energy: rho of eq. 13, in (0, 1].
            internal_batch_size: Decompose at most this many images at a time.

        Returns:
            The inputs' shape, device and dtype (every channel the same map).
        """
        is_tuple = _is_tuple(inputs)
        formatted = _format_tensor_into_tuples(inputs)
        check_inputs(formatted)
        if len(formatted) != 1 or formatted[0].dim() not in (4, 5):
            shapes = [tuple(x.shape) for x in formatted]
            raise ValueError(
                f"expected images (N, C, H, W) or volumes (N, C, D, H, W), got {shapes}"
            )
        x = formatted[0]
        extra = _format_additional_forward_args(additional_forward_args)
        result = self.decomposition.decompose(
            x.detach(), extra, energy, internal_batch_size=internal_batch_size
        )
        scores = result.location_scores
        if scores is None:
            raise ValueError(
                f"expected the layer {self.target.name!r} to give one score per location, "
                "got an activation of several tensors"
            )
        if self.target.reshape_transform is not None:  # (N, T) tokens -> (N, 1, h, w)
            grid = self.target.reshape_transform(scores.unsqueeze(-1))
        else:  # (N, *spatial) -> (N, 1, *spatial)
            grid = scores.unsqueeze(1)
        if grid.dim() != x.dim():
            raise ValueError(
                f"expected the layer {self.target.name!r} to give a map with as many spatial "
                f"dimensions as the inputs {tuple(x.shape)}, got {tuple(grid.shape)}"
            )
        upsampled = F.interpolate(
            grid.to(x.dtype), size=tuple(x.shape[2:]), mode=_MODES[x.dim()], align_corners=False
        )
        maps = upsampled.to(device=x.device).expand_as(x).contiguous().detach()
        return _format_output(is_tuple, (maps,))
