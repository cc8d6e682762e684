"""Class activation maps from pytorch-grad-cam behind Captum's ``attribute`` interface.

One template, :class:`CAMAttribution`, runs the model with pytorch-grad-cam's hooks on the
target layer and asks the library's CAM class for the map; each variant
(``_cam_variants.py``, ``_score_cam.py``) only names its library class. What the template
adds to the library:

* a Captum call: ``attribute(inputs, target=None, additional_forward_args=None)`` returns a
  tensor of the inputs' shape, device and dtype (the spatial map repeated over channels),
  with one class per image (the library silently returns empty maps for every image after
  the first when it gets one target for a batch);
* nothing left on the model: the hooks are released and the training flags restored after
  every call (the library switches the model to eval mode in its constructor, zeroes the
  parameters' gradients and accumulates new ones; here gradients are taken with respect to
  the inputs only, so ``.grad`` of the parameters is untouched);
* the signed map before pytorch-grad-cam's ReLU and per-image min-max scaling, as
  ``normalization="none"``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import Attribution
from torch import Tensor, nn

from captum_ifim._baselines._sample_forward import bind_forward
from captum_ifim._baselines._target_layers import resolve_target_layer
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


@contextlib.contextmanager
def _training_flags_restored(model: nn.Module) -> Iterator[None]:
    """Put every module's ``training`` flag back as found on exit."""
    flags = [(module, module.training) for module in model.modules()]
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag


class CAMAttribution(Attribution):
    """Template for the pytorch-grad-cam methods; subclasses name the library class.

    A CAM is a map over the target layer's spatial grid, upsampled bilinearly to the
    input's height and width and repeated over the input's channels, so the output has
    the inputs' shape (sum over channels gives C times the map).

    Args:
        model: A classifier returning (N, C) outputs for (N, channels, H, W) images. It is
            run in eval mode (as pytorch-grad-cam does); its flags are restored afterwards.
        target_layer: The layer whose activations are weighted, a submodule of ``model``
            or its name (``"layer4.1"``), run once per forward pass.
        reshape_transform: Maps the layer's output to (N, K, h, w), e.g. for vision
            transformers; passed to pytorch-grad-cam.
        normalization: ``"relu-minmax"`` (pytorch-grad-cam's maps: ReLU at the layer's
            resolution, per-image min-max scaling to [0, 1], resize with OpenCV, and
            min-max again) or ``"none"`` (the signed weighted activation sum
            ``sum_k w_k A_k``, upsampled with ``torch.nn.functional.interpolate``).
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
        target_layer: nn.Module | str,
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        normalization: Normalization = "relu-minmax",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"expected model to be an nn.Module, got {type(model)}")
        check_cam_settings(reshape_transform, normalization)
        module_name, class_name = self._library
        self._cam_class = getattr(import_optional(module_name, type(self).__name__), class_name)
        self._image = import_optional("pytorch_grad_cam.utils.image", type(self).__name__)
        self._targets = import_optional("pytorch_grad_cam.utils.model_targets", "CAMs")
        Attribution.__init__(self, model)
        self.model = model
        self.target_layer = resolve_target_layer(model, target_layer)
        self.reshape_transform = reshape_transform
        self.normalization: Normalization = normalization

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> Tensor | tuple[Tensor]:
        """The class activation map of each image for its target class.

        Args:
            inputs: Images (N, channels, H, W), or a tuple holding that one tensor.
            target: The class per image, as in Captum: an int, a list or a tensor of N
                classes; ``None`` takes the predicted class.
            additional_forward_args: Extra arguments for the model, as in Captum.

        Returns:
            (N, channels, H, W) on the inputs' device and dtype (a tuple for a tuple input).
        """
        is_tuple = _is_tuple(inputs)
        formatted = _format_tensor_into_tuples(inputs)
        check_inputs(formatted)
        if len(formatted) != 1:
            raise ValueError(f"expected a single image tensor, got {len(formatted)} inputs")
        x = formatted[0]
        if x.dim() != 4:
            raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(x.shape)}")
        extra = _format_additional_forward_args(additional_forward_args) or ()
        maps = self._maps(x.detach(), target, tuple(extra))
        expanded = maps.to(device=x.device, dtype=x.dtype)[:, None].expand_as(x).contiguous()
        return _format_output(is_tuple, (expanded,))

    def _maps(self, x: Tensor, target: TargetType, extra: tuple[Any, ...]) -> Tensor:
        """(N, H, W) maps; the model is hooked only inside this call."""
        with _training_flags_restored(self.model):
            cam = self._cam_class(
                self.model, [self.target_layer], reshape_transform=self.reshape_transform
            )
            store = cam.activations_and_grads

            def own_activation(module: nn.Module, args: Any, output: Any) -> None:
                # The library keeps ``output.cpu().detach()``, which on CPU aliases the
                # output: a following in-place op (VGG's ReLU(inplace=True) after a conv)
                # would overwrite it. Runs right after the library's hook.
                if store.activations:
                    store.activations[-1] = store.activations[-1].clone()

            handle = self.target_layer.register_forward_hook(own_activation)
            try:
                with torch.set_grad_enabled(self.uses_gradients):
                    x_in = x.clone().requires_grad_(self.uses_gradients)
                    outputs = bind_forward(self.model, extra)(x_in)
                    if len(store.activations) != 1:
                        raise ValueError(
                            f"expected the target layer to run once per forward pass, it ran "
                            f"{len(store.activations)} times; choose a layer that is not reused"
                        )
                    targets = resolve_targets(target, outputs)
                    grads = None
                    if self.uses_gradients:
                        score = outputs.gather(1, targets[:, None]).sum()
                        torch.autograd.grad(score, x_in)
                        if len(store.gradients) != 1:
                            raise RuntimeError("the target layer's output got no gradient")
                        grads = store.gradients[0].numpy()
                activations = store.activations[0].numpy()
                raw = self._cam_image(cam, x, targets, activations, grads, extra)
                if self.normalization == "none":
                    return self._upsample(torch.from_numpy(raw), x.shape[-2:])
                scaled = self._image.scale_cam_image(np.maximum(raw, 0), (x.shape[-1], x.shape[-2]))
                return torch.from_numpy(cam.aggregate_multi_layers([scaled[:, None]]))
            finally:
                handle.remove()
                store.release()

    def _cam_image(
        self,
        cam: Any,
        x: Tensor,
        targets: Tensor,
        activations: np.ndarray,
        grads: np.ndarray | None,
        extra: tuple[Any, ...],
    ) -> np.ndarray:
        """The library's signed map at the layer's resolution, (N, h, w)."""
        library_targets = [self._targets.ClassifierOutputTarget(int(t)) for t in targets]
        return cam.get_cam_image(x, self.target_layer, library_targets, activations, grads, False)

    @staticmethod
    def _upsample(raw: Tensor, size: torch.Size) -> Tensor:
        if tuple(raw.shape[-2:]) == tuple(size):
            return raw
        upsampled = F.interpolate(
            raw[:, None], size=tuple(size), mode="bilinear", align_corners=False
        )
        return upsampled[:, 0]
