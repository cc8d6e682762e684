"""Score-CAM: the CAM template with gradient-free channel weights from masked forward passes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
from torch import Tensor, nn

from captum_ifim._baselines._cam_attribution import CAMAttribution, Normalization
from captum_ifim._baselines._sample_forward import bind_sample_forward
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
        target_layer: nn.Module | str,
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
        return np.concatenate(maps)


@contextlib.contextmanager
def _quiet_progress_bar(score_cam_module: Any) -> Iterator[None]:
    """Silence the tqdm bar that pytorch-grad-cam's Score-CAM prints for every image."""
    tqdm = score_cam_module.tqdm
    score_cam_module.tqdm = SimpleNamespace(tqdm=lambda iterable, *args, **kwargs: iterable)
    try:
        yield
    finally:
        score_cam_module.tqdm = tqdm
