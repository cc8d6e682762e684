"""The target layer's map and its gradient in one forward and backward pass, hooked only
inside a ``with`` block.

pytorch-grad-cam's ``ActivationsAndGradients`` does the same with hooks registered in a
CAM's constructor; here the hook lives only inside the call, clones the map at once (an
in-place op after the layer, such as VGG's ``ReLU(inplace=True)``, would overwrite a
stored view), and can record the rectified map of a layer that the model's own functional
ReLU follows (see :class:`~._target_layers.CAMTarget`), leaving the model's function as it
is.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from captum_ifim._baselines._target_layers import CAMTarget


class LayerCapture:
    """Records the target layer's (reshaped) output and its gradient while active.

    Args:
        target: The layer, its reshape and whether its output is rectified.
        gradients: Also record the gradient of the output (the layer's output must then
            require gradients in the pass).

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten())
        >>> with LayerCapture(CAMTarget(model[0], "0"), gradients=False) as capture:
        ...     _ = model(torch.zeros(1, 1, 5, 5))
        >>> capture.activation().shape, len(model[0]._forward_hooks)
        (torch.Size([1, 2, 3, 3]), 0)
    """

    def __init__(self, target: CAMTarget, gradients: bool) -> None:
        self.target = target
        self.gradients = gradients
        self._activations: list[Tensor] = []
        self._gradients: list[Tensor] = []
        self._handle: Any = None

    def _reshaped(self, tensor: Tensor) -> Tensor:
        transform = self.target.reshape_transform
        return transform(tensor) if transform is not None else tensor

    def _hook(self, module: nn.Module, args: Any, output: Any) -> Any:
        if not isinstance(output, Tensor):
            raise TypeError(
                f"expected the target layer {self.target.name!r} to return a tensor, got "
                f"{type(output).__name__}; choose another target_layer="
            )
        self._activations.append(self._rectified(self._reshaped(output.detach())).cpu().clone())
        if self.gradients and output.requires_grad:
            output.register_hook(self._store_gradient)

    def _rectified(self, activation: Tensor) -> Tensor:
        return F.relu(activation) if self.target.then_relu else activation

    def _store_gradient(self, gradient: Tensor) -> None:
        self._gradients.insert(0, self._reshaped(gradient.detach()).cpu().clone())

    def __enter__(self) -> LayerCapture:
        self._handle = self.target.layer.register_forward_hook(self._hook)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def check_ran_once(self) -> None:
        """Raise unless the layer ran exactly once in the pass.

        Raises:
            ValueError: It ran another number of times (a reused module).
        """
        if len(self._activations) != 1:
            raise ValueError(
                f"expected the target layer {self.target.name!r} to run once per forward "
                f"pass, it ran {len(self._activations)} times; choose a layer that is not "
                "reused"
            )

    def activation(self) -> Tensor:
        """The (reshaped) output, (N, K, *spatial), on the CPU."""
        self.check_ran_once()
        return self._activations[0]

    def gradient(self) -> Tensor:
        """The (reshaped) gradient of the target score with respect to the output.

        Raises:
            RuntimeError: No gradient reached the layer's output.
        """
        if len(self._gradients) != 1:
            raise RuntimeError(f"the target layer {self.target.name!r} got no gradient")
        return self._gradients[0]
