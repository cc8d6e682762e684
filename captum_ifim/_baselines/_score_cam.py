"""Score-CAM: the CAM template with gradient-free channel weights from masked forward passes.

The weights are pytorch-grad-cam's (its ``ScoreCAM.get_cam_weights``: each channel's map
upsampled to the input, bilinear or trilinear with ``align_corners=True``, min-max scaled,
multiplied into the input, the target score of the masked input softmaxed over the
channels), computed faster with the same numbers:

* each distinct mask of an image is forwarded once and its score shared by every channel
  that gives it (every constant channel gives the all-zero mask);
* the masked inputs of several images go through the model in the same batches of
  ``batch_size`` rows;
* under ``torch.inference_mode``.

Opt-in, not exact: ``precision="bfloat16"`` runs the masked passes under bfloat16 autocast
(``torch.autocast``), about twice as fast on CPUs with AVX512-BF16 and on GPUs, slower
elsewhere; the maps then differ from float32's by the rounding that docs/performance.md
measures. The default, ``"float32"``, gives pytorch-grad-cam's numbers.

Images and volumes take the same path; ``tests/test_speedups_exact.py`` checks the maps
against pytorch-grad-cam's ``ScoreCAM`` in 2-D and against :func:`score_cam_weights` (one
image at a time, every channel forwarded) in 3-D, and counts the rows forwarded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_ifim._baselines._cam_attribution import CAMAttribution, Normalization, RecordedPass
from captum_ifim._baselines._sample_forward import rows_arguments
from captum_ifim._baselines._target_layers import CAMTarget
from captum_ifim._validation import check_positive_int

#: Seed of the random direction that hashes masks (equal masks, equal hashes).
_HASH_SEED = 0
#: The precisions of Score-CAM's masked forward passes.
PRECISIONS = ("float32", "bfloat16")
Precision = Literal["float32", "bfloat16"]


class ScoreCAM(CAMAttribution):
    """Score-CAM (Wang et al., 2020): each channel's weight is the target score of the
    input masked by that channel's upsampled, min-max scaled activation, softmaxed over
    channels. Gradient-free, one forward pass per distinct mask and image (up to 512 per
    image at ResNet's ``layer4``).

    Args:
        batch_size: Masked inputs per forward pass (rows of one or several images).
        precision: ``"float32"`` (exact: pytorch-grad-cam's numbers) or ``"bfloat16"``
            (the masked passes under bfloat16 autocast; faster where the hardware has
            bfloat16 arithmetic, not exact).
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
        precision: Precision = "float32",
    ) -> None:
        check_positive_int(batch_size, "batch_size")
        if precision not in PRECISIONS:
            raise ValueError(f"expected precision in {PRECISIONS}, got {precision!r}")
        super().__init__(model, target_layer, reshape_transform, normalization)
        self.batch_size = batch_size
        self.precision = precision
        #: Rows (masked inputs) forwarded by the last call, for the tests and the benchmark.
        self.rows_forwarded = 0

    def _cam_image(self, cam: Any, recorded: RecordedPass) -> np.ndarray:
        x, activations = recorded.x, recorded.activations

        def forward(masked: Tensor, images: Tensor) -> Tensor:
            arguments = rows_arguments(recorded.extra, images, x.shape[0])
            if self.precision == "float32":
                return self.model(masked, *arguments)
            with torch.autocast(masked.device.type, dtype=torch.bfloat16):
                return self.model(masked, *arguments)

        weights, self.rows_forwarded = score_cam_batch_weights(
            forward, x, torch.from_numpy(activations), recorded.targets, self.batch_size
        )
        # pytorch-grad-cam's get_cam_image: the weighted activations summed over channels.
        shape = (*weights.shape, *([1] * (activations.ndim - 2)))
        return (weights.numpy().reshape(shape) * activations).sum(axis=1)


def score_cam_masks(x: Tensor, activations: Tensor) -> Tensor:
    """Score-CAM's masks of one image: each channel upsampled to the input's size
    (linear, bilinear or trilinear, ``align_corners=True``) and min-max scaled to [0, 1].

    Args:
        x: One input (1, C, *spatial).
        activations: Its maps (1, K, *spatial_k), on any device.

    Returns:
        (K, *spatial) masks on ``x``'s device.
    """
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[x.dim() - 2]
    upsampled = F.interpolate(
        activations.to(x.device), size=x.shape[2:], mode=mode, align_corners=True
    )[0]
    flat = upsampled.flatten(1)
    low = flat.min(dim=1).values.view(-1, *([1] * (upsampled.dim() - 1)))
    high = flat.max(dim=1).values.view(-1, *([1] * (upsampled.dim() - 1)))
    return (upsampled - low) / (high - low + 1e-8)


def distinct_rows(flat: Tensor) -> tuple[Tensor, Tensor]:
    """The distinct rows of a matrix, compared exactly.

    Rows are hashed by their product with a fixed random direction; rows with equal hashes
    are compared value by value (equal hashes of unequal rows are told apart).

    Args:
        flat: (K, D).

    Returns:
        ``(first, inverse)``: the index of each distinct row's first occurrence, (U,)
        ascending, and for each row the position of its distinct row in ``first``, (K,).
    """
    direction = torch.rand(flat.shape[1], generator=torch.Generator().manual_seed(_HASH_SEED))
    keys = (flat @ direction.to(device=flat.device, dtype=flat.dtype)).tolist()
    first: list[int] = []
    inverse: list[int] = []
    seen: dict[float, list[int]] = {}  # hash -> positions in ``first``
    for row, key in enumerate(keys):
        candidates = seen.setdefault(key, [])
        match = next((c for c in candidates if torch.equal(flat[first[c]], flat[row])), None)
        if match is None:
            match = len(first)
            first.append(row)
            candidates.append(match)
        inverse.append(match)
    device = flat.device
    return torch.tensor(first, device=device), torch.tensor(inverse, device=device)


def score_cam_batch_weights(
    forward: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    activations: Tensor,
    targets: Tensor,
    batch_size: int,
) -> tuple[Tensor, int]:
    """Score-CAM's channel weights for a batch, each distinct mask of an image forwarded once.

    The same numbers as :func:`score_cam_weights` image by image (and pytorch-grad-cam's
    ``get_cam_weights`` in 2-D): the softmax over channels of the target score of the input
    masked by each channel's scaled map. Channels whose masks are equal share one forward
    row; the rows of all images are forwarded together, ``batch_size`` at a time, under
    ``torch.inference_mode``.

    Args:
        forward: ``(masked rows (b, C, *spatial), image index of each row (b,)) -> (b,
            classes)`` outputs.
        x: The inputs (N, C, *spatial).
        activations: Their maps (N, K, *spatial_k), on any device.
        targets: (N,) classes.
        batch_size: Rows per forward pass.

    Returns:
        ``(weights, rows)``: (N, K) float32 weights on the CPU, and the rows forwarded.
    """
    num_images = activations.shape[0]
    device = x.device
    targets = targets.to(device)
    inverses: list[Tensor] = []  # per image: each channel's distinct mask
    scores: list[Tensor] = []  # per forwarded row, in order
    pending: list[tuple[Tensor, Tensor]] = []  # (masks, image index of each), not forwarded

    def run(rows: Tensor, images: Tensor) -> None:
        masked = x[images] * rows[:, None]
        outputs = forward(masked, images)
        scores.append(outputs.gather(1, targets[images][:, None])[:, 0].float().cpu())

    with torch.inference_mode():
        for index in range(num_images):
            image_masks = score_cam_masks(x[index : index + 1], activations[index : index + 1])
            first, inverse = distinct_rows(image_masks.flatten(1))
            inverses.append(inverse.cpu())
            pending.append((image_masks[first], torch.full_like(first, index)))
            # Forward every full batch now (the memory of about one image's masks), the
            # rest with the next image's rows.
            rows = torch.cat([m for m, _ in pending])
            images = torch.cat([i for _, i in pending])
            full = rows.shape[0] - rows.shape[0] % batch_size
            if index == num_images - 1:
                full = rows.shape[0]
            for start in range(0, full, batch_size):
                run(rows[start : start + batch_size], images[start : start + batch_size])
            pending = [(rows[full:], images[full:])]
        row_scores = torch.cat(scores)
        channel_scores = []
        offset = 0
        for inverse in inverses:
            channel_scores.append(row_scores[offset + inverse])
            offset += int(inverse.max()) + 1
        weights = torch.softmax(torch.stack(channel_scores), dim=1)
    return weights, int(row_scores.shape[0])


def score_cam_weights(
    forward: Callable[[Tensor], Tensor],
    x: Tensor,
    activations: Tensor,
    target: int,
    batch_size: int,
) -> np.ndarray:
    """Score-CAM's channel weights for one input of any dimensionality, every channel
    forwarded (the reference the batched path is tested against).

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
    with torch.no_grad():
        masks = score_cam_masks(x, activations)  # (K, *spatial)
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
