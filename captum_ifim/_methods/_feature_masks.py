"""Feature masks for Captum's sampling methods: which pixels (voxels) move together.

KernelShap, Lime, ShapleyValueSampling and FeatureAblation attribute groups of pixels,
given as an integer mask with one id per group. A per-pixel mask would need one model
call (or one regression coefficient) per pixel, so the registry groups them: a regular
grid (the default: images and volumes alike, the same groups for every image) or SLIC
superpixels (scikit-image, 2-D, per image, on the image's own colours). The mask is
shared by the image's channels, so a group is a spatial region.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor

from captum_ifim._optional_imports import import_optional

FeatureMaskKind = Literal["grid", "slic"]
FEATURE_MASKS: tuple[str, ...] = get_args(FeatureMaskKind)


def grid_feature_mask(spatial: tuple[int, ...], cells: int, device: torch.device) -> Tensor:
    """A regular grid of ``cells`` groups along each spatial side, ids in row-major order.

    Args:
        spatial: The inputs' spatial size, (H, W) or (D, H, W).
        cells: Groups per side (fewer where a side has fewer pixels).
        device: Where the mask lives (the inputs' device).

    Returns:
        (1, 1, *spatial) int64 ids 0 .. G - 1, broadcast over the batch and channels.

    Example:
        >>> grid_feature_mask((4, 4), 2, torch.device("cpu"))[0, 0]
        tensor([[0, 0, 1, 1],
                [0, 0, 1, 1],
                [2, 2, 3, 3],
                [2, 2, 3, 3]])
    """
    per_side = [min(cells, size) for size in spatial]
    mask = torch.zeros((), dtype=torch.long, device=device)
    for size, count in zip(spatial, per_side, strict=True):
        index = torch.arange(size, device=device) * count // size
        mask = mask[..., None] * count + index
    return mask[None, None]


def slic_feature_mask(image: Tensor, segments: int) -> Tensor:
    """SLIC superpixels of one image (scikit-image's ``slic``, channels last, no
    compactness tuning: its defaults), ids 0 .. G - 1.

    Args:
        image: (1, C, H, W).
        segments: About how many superpixels (``n_segments``).

    Returns:
        (1, 1, H, W) int64 on the image's device.

    Raises:
        ValueError: ``image`` is not a single 2-D image.
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(
            "expected one 2-D image (1, C, H, W) for SLIC superpixels (use feature_mask="
            f"'grid' for volumes), got a tensor of shape {tuple(image.shape)}"
        )
    segmentation = import_optional("skimage.segmentation", "feature_mask='slic'")
    pixels = image[0].detach().to("cpu", torch.float64).permute(1, 2, 0).numpy()
    labels = segmentation.slic(
        pixels, n_segments=segments, start_label=0, channel_axis=-1, enforce_connectivity=True
    )
    ids = torch.as_tensor(labels, dtype=torch.long)
    _, dense = torch.unique(ids, return_inverse=True)  # ids without gaps
    return dense.to(image.device)[None, None]
