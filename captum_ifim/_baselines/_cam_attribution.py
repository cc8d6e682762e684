"""Class activation maps from pytorch-grad-cam behind Captum's ``attribute`` interface.

One template, :class:`CAMAttribution`, runs the model with one hook on the target layer
(:class:`~._layer_capture.LayerCapture`) and asks the library's CAM class for the map from
the recorded activations and gradients; each variant (``_cam_variants.py``,
``_score_cam.py``) only names its library class. What the template adds to the library:

* a target layer and reshape chosen without user input (``_target_layers.py``), and
  volumes (N, C, D, H, W) as well as images;
* a warning when the target layer's map has one position (1 x 1, or 1 x 1 x 1), where the
  CAM is constant;

* a Captum call: ``attribute(inputs, target=None, additional_forward_args=None)`` returns a
  tensor of the inputs' shape, device and dtype (the spatial map repeated over channels),
  with one class per image (the library silently returns empty maps for every image after
  the first when it gets one target for a batch);
* nothing left on the model: the hook is removed and the training flags restored after
  every call, also after an error (the library switches the model to eval mode in its
  constructor, zeroes the parameters' gradients and accumulates new ones; here gradients
  are taken with respect to the inputs only, so ``.grad`` of the parameters is untouched);
* the signed map before pytorch-grad-cam's ReLU and per-image min-max scaling, as
  ``normalization="none"``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, ClassVar, Literal, NamedTuple, get_args

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import Attribution
from torch import Tensor, nn

from captum_ifim._baselines._layer_capture import LayerCapture
from captum_ifim._baselines._sample_forward import bind_forward
from captum_ifim._baselines._target_layers import CAMTarget, cam_target
from captum_ifim._baselines._training_flags import training_flags_restored
from captum_ifim._captum_compat import (
    TargetType,
    _format_additional_forward_args,
    _format_output,
    _format_tensor_into_tuples,
    _is_tuple,
    log_usage,
)
from captum_ifim._optional_imports import import_optional
from captum_ifim._targets import resolve_targets
from captum_ifim._validation import check_choice, check_inputs

Normalization = Literal["relu-minmax", "none"]
NORMALIZATIONS: tuple[str, ...] = get_args(Normalization)


def check_cam_settings(
    reshape_transform: Callable[[Tensor], Tensor] | None = None,
    normalization: str = "relu-minmax",
) -> None:
    """Raise unless these are valid :class:`CAMAttribution` options (a callable or None,
    one of :data:`NORMALIZATIONS`); the registry's option check calls it too."""
    if reshape_transform is not None and not callable(reshape_transform):
        raise TypeError(
            f"expected reshape_transform to be a callable or None, got {type(reshape_transform)}"
        )
    check_choice("normalization", normalization, NORMALIZATIONS)


class RecordedPass(NamedTuple):
    """What the template's hooked pass gives a variant's :meth:`CAMAttribution._cam_image`.

    Attributes:
        x: The inputs (N, C, *spatial), detached.
        outputs: The model's outputs (N, classes), detached.
        targets: (N,) long, one class per image.
        activations: The target layer's map (N, K, *spatial_k), after the reshape.
        grads: Its gradient for the target score, the same shape, or ``None`` for the
            variants that use no gradient.
        extra: The extra forward arguments, a tuple.
    """

    x: Tensor
    outputs: Tensor
    targets: Tensor
    activations: np.ndarray
    grads: np.ndarray | None
    extra: tuple[Any, ...]


class CAMAttribution(Attribution):
    """Template for the pytorch-grad-cam methods; subclasses name the library class.

    A CAM is a map over the target layer's spatial grid, upsampled to the input's size
    (bilinear in 2-D, pytorch-grad-cam's spline zoom or trilinear in 3-D) and repeated
    over the input's channels, so the output has the inputs' shape (sum over channels
    gives C times the map). Images (N, C, H, W) and volumes (N, C, D, H, W) are both taken
    (pytorch-grad-cam's 3-D support for the weights; Score-CAM's masks in 3-D here).

    Args:
        model: A classifier returning (N, classes) outputs. It is run in eval mode (as
            pytorch-grad-cam does); its flags are restored afterwards.
        target_layer: The layer whose activations are weighted, a submodule of ``model``
            or its name (``"layer4.1"``), run once per forward pass; ``None`` (default)
            chooses it as :func:`~captum_ifim.default_target_layer` does, with the reshape
            its family needs (``docs/baselines.md`` lists them).
        reshape_transform: Maps the layer's output (and its gradient) to (N, K, h, w) or
            (N, K, d, h, w); ``None`` takes the automatic one (token and channels-last
            layouts of ViT and Swin, none for CNNs).
        normalization: ``"relu-minmax"`` (pytorch-grad-cam's maps: ReLU at the layer's
            resolution, per-image min-max scaling to [0, 1], resize, and min-max again) or
            ``"none"`` (the signed weighted activation sum ``sum_k w_k A_k``, upsampled with
            ``torch.nn.functional.interpolate``).

    Warns:
        UserWarning: At a call, when the target layer's map is 1 x 1 (x 1): the CAM is
            then constant over the input (all zeros after min-max scaling).
    """

    #: Import path and class name of the pytorch-grad-cam implementation.
    _library: ClassVar[tuple[str, str]]
    #: Whether the method needs the gradient of the target score.
    uses_gradients: ClassVar[bool] = True
    #: ``attribute`` raises ValueError for targets out of range (read by the registry).
    checks_targets: ClassVar[bool] = True

    def __init__(
        self,
        model: nn.Module,
        target_layer: nn.Module | str | CAMTarget | None = None,
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        normalization: Normalization = "relu-minmax",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"expected model to be an nn.Module, got {type(model)}")
        check_cam_settings(reshape_transform, normalization)
        self._bind_library(model)
        self.target = cam_target(model, target_layer, reshape_transform)
        self.target_layer = self.target.layer
        self.reshape_transform = self.target.reshape_transform
        self.normalization: Normalization = normalization

    def _bind_library(self, model: nn.Module) -> None:
        """Import the library's class and helpers and keep the (checked) model."""
        module_name, class_name = self._library
        self._cam_class = getattr(import_optional(module_name, type(self).__name__), class_name)
        self._image = import_optional("pytorch_grad_cam.utils.image", type(self).__name__)
        self._targets = import_optional("pytorch_grad_cam.utils.model_targets", "CAMs")
        Attribution.__init__(self, model)
        self.model = model

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> Tensor | tuple[Tensor]:
        """The class activation map of each image for its target class.

        Args:
            inputs: Images (N, channels, H, W) or volumes (N, channels, D, H, W), or a
                tuple holding that one tensor.
            target: The class per image, as in Captum: an int, a list or a tensor of N
                classes; ``None`` takes the predicted class.
            additional_forward_args: Extra arguments for the model, as in Captum.

        Returns:
            The inputs' shape, device and dtype (a tuple for a tuple input).
        """
        is_tuple = _is_tuple(inputs)
        formatted = _format_tensor_into_tuples(inputs)
        check_inputs(formatted)
        if len(formatted) != 1:
            raise ValueError(f"expected a single image tensor, got {len(formatted)} inputs")
        x = formatted[0]
        if x.dim() not in (4, 5):
            raise ValueError(
                f"expected images (N, C, H, W) or volumes (N, C, D, H, W), got {tuple(x.shape)}"
            )
        extra = _format_additional_forward_args(additional_forward_args) or ()
        maps = self._maps(x.detach(), target, tuple(extra))
        expanded = maps.to(device=x.device, dtype=x.dtype)[:, None].expand_as(x).contiguous()
        return _format_output(is_tuple, (expanded,))

    def _maps(self, x: Tensor, target: TargetType, extra: tuple[Any, ...]) -> Tensor:
        """(N, *spatial) maps; the model is hooked only inside this call."""
        with training_flags_restored(self.model):
            # No target layers for the library: its constructor would hook them until
            # released; the map and gradient come from a LayerCapture instead.
            cam = self._cam_class(self.model, [], reshape_transform=self.reshape_transform)
            with LayerCapture(self.target, gradients=self.uses_gradients) as capture:
                with torch.set_grad_enabled(self.uses_gradients):
                    x_in = x.clone().requires_grad_(self.uses_gradients)
                    outputs = bind_forward(self.model, extra)(x_in)
                    capture.check_ran_once()
                    targets = resolve_targets(target, outputs)
                    grads = None
                    if self.uses_gradients:
                        torch.autograd.grad(self._target_score(outputs, targets), x_in)
                        grads = capture.gradient().numpy()
            activations = capture.activation().numpy()
            self._check_map_size(activations, x)
            recorded = RecordedPass(x, outputs.detach(), targets, activations, grads, extra)
            raw = self._cam_image(cam, recorded)
            if self.normalization == "none":
                return self._upsample(torch.from_numpy(np.ascontiguousarray(raw)), x.shape[2:])
            size = tuple(reversed(x.shape[2:]))  # pytorch-grad-cam's (W, H) or (W, H, D)
            scaled = self._image.scale_cam_image(np.maximum(raw, 0), size)
            return torch.from_numpy(cam.aggregate_multi_layers([scaled[:, None]]))

    def _check_map_size(self, activations: np.ndarray, x: Tensor) -> None:
        """Refuse maps that are not (N, K, *spatial) of the input's dimensionality; warn for
        a map of one position, whose CAM is constant."""
        if activations.ndim != x.dim():
            raise ValueError(
                f"expected the target layer {self.target.name!r} to give (N, K, *spatial) maps "
                f"with {x.dim() - 2} spatial dimensions, got {activations.shape}; pass "
                "reshape_transform= or choose another target_layer="
            )
        if all(size == 1 for size in activations.shape[2:]):
            grid = " x ".join(str(size) for size in activations.shape[2:])
            warnings.warn(
                f"the target layer {self.target.name!r} gives a {grid} map for inputs of "
                f"size {' x '.join(str(s) for s in x.shape[2:])}, so the CAM is constant over "
                "the input (all zeros after min-max scaling) and localizes nothing: use "
                "larger inputs or an earlier target_layer= with a finer map",
                stacklevel=2,
            )

    def _target_score(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """The score whose gradient the template records: the sum of the targets' outputs."""
        return outputs.gather(1, targets[:, None]).sum()

    def _library_targets(self, recorded: RecordedPass) -> list[Any]:
        """The library's target of each image: its ``ClassifierOutputTarget``."""
        return [self._targets.ClassifierOutputTarget(int(t)) for t in recorded.targets]

    def _cam_image(self, cam: Any, recorded: RecordedPass) -> np.ndarray:
        """The library's signed map at the layer's resolution, (N, *spatial)."""
        x, activations, grads = recorded.x, recorded.activations, recorded.grads
        library_targets = self._library_targets(recorded)
        return cam.get_cam_image(x, self.target_layer, library_targets, activations, grads, False)

    @staticmethod
    def _upsample(raw: Tensor, size: torch.Size) -> Tensor:
        if tuple(raw.shape[1:]) == tuple(size):
            return raw
        mode = "bilinear" if len(size) == 2 else "trilinear"
        upsampled = F.interpolate(raw[:, None], size=tuple(size), mode=mode, align_corners=False)
        return upsampled[:, 0]
