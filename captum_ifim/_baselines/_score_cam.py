"""Score-CAM: the CAM template with gradient-free channel weights from masked forward passes.

Images use pytorch-grad-cam's weights as they are. Its ``ScoreCAM`` upsamples the maps with
``UpsamplingBilinear2d``, which takes no volumes, so for (N, C, D, H, W) inputs the same
weights are computed here with trilinear upsampling (``align_corners=True``, the 3-D twin
of the library's bilinear one); ``tests/test_baselines_cam.py`` checks this code against the
library's in 2-D.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_ifim._baselines._cam_attribution import CAMAttribution, Normalization
from captum_ifim._baselines._sample_forward import bind_sample_forward
from captum_ifim._baselines._target_layers import CAMTarget
from captum_ifim._optional_imports import import_optional
from captum_ifim._validation import check_positive_int


class ScoreCAM(CAMAttribution):
    """Score-CAM (Wang et al., 2020): each channel's weight is the target score of the
    input masked by that channel's upsampled, min-max scaled activation, softmaxed over
    channels. Gradient-free, one forward pass per channel and image (slow: 512 passes per
    image at ResNet's ``layer4``).

    Args:
        batch_size: Masked inputs per forward pass.
        Others: see :class:`CAMAttribution`.
    """

    _library = ("pytorch_grad_cam.score_cam", "ScoreCAM")
    uses_gradients = False

    def __init__(
        self,
        model: nn.Module,
        target_layer: nn.Module | str | CAMTarget | None = None,
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        normalization: Normalization = "relu-minmax",
        batch_size: int = 16,
    ) -> None:
        check_positive_int(batch_size, "batch_size")
        super().__init__(model, target_layer, reshape_transform, normalization)
        self.batch_size = batch_size

    def _cam_image(
        self,
        cam: Any,
        x: Tensor,
        targets: Tensor,
        activations: np.ndarray,
        grads: np.ndarray | None,
        extra: tuple[Any, ...],
    ) -> np.ndarray:
        cam.batch_size = self.batch_size
        library_targets = [self._targets.ClassifierOutputTarget(int(t)) for t in targets]
        maps = []
        with _quiet_progress_bar(import_optional("pytorch_grad_cam.score_cam", "ScoreCAM")):
            for index in range(x.shape[0]):
                # One image at a time, so per-sample extra arguments match the masked copies.
                cam.model = bind_sample_forward(self.model, extra, index, x.shape[0])
                if x.dim() == 4:
                    maps.append(
                        cam.get_cam_image(
                            x[index : index + 1],
                            self.target_layer,
                            library_targets[index : index + 1],
                            activations[index : index + 1],
                            None,
                            False,
                        )
                    )
                    continue
                weights = score_cam_weights(
                    cam.model,
                    x[index : index + 1],
                    torch.from_numpy(activations[index : index + 1]),
                    int(targets[index]),
                    self.batch_size,
                )
                maps.append(np.einsum("nk,nk...->n...", weights, activations[index : index + 1]))
        return np.concatenate(maps)


def score_cam_weights(
    forward: Callable[[Tensor], Tensor],
    x: Tensor,
    activations: Tensor,
    target: int,
    batch_size: int,
) -> np.ndarray:
    """Score-CAM's channel weights for one input of any dimensionality.

    Each channel's map is upsampled to the input's size (bilinear or trilinear,
    ``align_corners=True``), min-max scaled to [0, 1], multiplied into the input, and the
    target score of the masked input taken; the weights are the softmax of the scores over
    the channels (Wang et al., 2020, their eqs. 3-5; pytorch-grad-cam's ``get_cam_weights``).

    Args:
        forward: The model on a batch of masked inputs.
        x: One input (1, C, *spatial).
        activations: Its maps (1, K, *spatial_k), on any device.
        target: The class whose score weights the channels.
        batch_size: Masked inputs per forward pass.

    Returns:
        (1, K) float32 weights.
    """
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[x.dim() - 2]
    with torch.no_grad():
        upsampled = F.interpolate(
            activations.to(x.device), size=x.shape[2:], mode=mode, align_corners=True
        )[0]
        flat = upsampled.flatten(1)
        low = flat.min(dim=1).values.view(-1, *([1] * (upsampled.dim() - 1)))
        high = flat.max(dim=1).values.view(-1, *([1] * (upsampled.dim() - 1)))
        masks = (upsampled - low) / (high - low + 1e-8)  # (K, *spatial)
        scores = []
        for start in range(0, masks.shape[0], batch_size):
            masked = x * masks[start : start + batch_size, None]  # (b, C, *spatial)
            scores.append(forward(masked)[:, target].float().cpu())
        weights = torch.softmax(torch.cat(scores), dim=0)
    return weights[None].numpy()


@contextlib.contextmanager
def _quiet_progress_bar(score_cam_module: Any) -> Iterator[None]:
    """Silence the tqdm bar that pytorch-grad-cam's Score-CAM prints for every image."""
    tqdm = score_cam_module.tqdm
    score_cam_module.tqdm = SimpleNamespace(tqdm=lambda iterable, *args, **kwargs: iterable)
    try:
        yield
    finally:
        score_cam_module.tqdm = tqdm
