"""The input preprocessing a model expects, applied inside the model to the raw image.

A model trained elsewhere expects its inputs at some size, with some channels and normalized
by some mean and std. :class:`PreprocessedModel` puts that preprocessing in front of the
model, so that every attribution method and metric sees the same function of the dataset's
raw images: maps, masks and perturbations stay in the images' own pixel grid and intensity
scale (as with :class:`~comparisons.models.Standardize` for the harness's own models), and
no method can see differently preprocessed inputs. The preprocessing is affine (a linear
resize, a channel copy or weighted sum, ``(x - mean) / std``), so gradients pass through it
by the chain rule and DeepSHAP's linear rule is exact on it. A CAM's default target layer is
the one of the wrapped model (``captum_ifim`` finds a known network inside the wrapper).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PREPROCESSING_KEYS: tuple[str, ...] = ("size", "channels", "mean", "std")
#: ITU-R 601 luma weights: RGB to one channel, as PIL's "L".
_LUMA = (0.299, 0.587, 0.114)


def _numbers(name: str, value: Any) -> tuple[float, ...]:
    values = (
        tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else (value,)
    )
    if not values or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise ValueError(f"expected preprocessing.{name} to be a number or a list, got {value!r}")
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class InputPreprocessing:
    """What a model expects of its inputs (``[models.preprocessing]`` in a config).

    Attributes:
        size: The spatial size the model takes ((H, W) or (D, H, W)); the raw images are
            resized to it (bilinear, antialiased; trilinear for volumes). ``None``: as they are.
        channels: The model's input channels: 1 -> 3 repeats a grayscale image, 3 -> 1 takes
            the ITU-R 601 luma. ``None``: the dataset's channels.
        mean, std: Per model channel (or one value for all): ``(x - mean) / std`` after the
            resize and channel conversion (e.g. ImageNet's). ``None``: no normalization.
    """

    size: tuple[int, ...] | None = None
    channels: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.size is not None and (
            len(self.size) not in (2, 3)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in self.size)
        ):
            raise ValueError(
                f"expected preprocessing.size as [H, W] or [D, H, W] positive ints, got "
                f"{list(self.size)}"
            )
        if self.channels is not None and self.channels not in (1, 3):
            raise ValueError(f"expected preprocessing.channels 1 or 3, got {self.channels!r}")
        if (self.mean is None) != (self.std is None):
            raise ValueError(
                f"expected preprocessing.mean and preprocessing.std together, got mean="
                f"{self.mean!r}, std={self.std!r}"
            )
        if self.std is not None and not all(s > 0 for s in self.std):
            raise ValueError(f"expected preprocessing.std > 0, got {list(self.std)}")
        if self.mean is not None and self.std is not None:
            lengths = {len(self.mean), len(self.std)} - {1}
            if len(lengths) > 1 or (self.channels is not None and lengths - {self.channels}):
                raise ValueError(
                    f"expected preprocessing.mean and std of one value or one per model channel"
                    f" ({self.channels or 'the input channels'}), got {list(self.mean)} and "
                    f"{list(self.std)}"
                )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputPreprocessing:
        """From a config table with keys among :data:`PREPROCESSING_KEYS`.

        Raises:
            ValueError: An unknown key or a bad value.
        """
        unknown = sorted(set(data) - set(PREPROCESSING_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key(s) {unknown} in [models.preprocessing]: expected some of "
                f"{list(PREPROCESSING_KEYS)}"
            )
        size = data.get("size")
        if size is not None:
            if isinstance(size, int) and not isinstance(size, bool):
                size = (size, size)
            elif isinstance(size, Sequence) and not isinstance(size, str):
                size = tuple(size)
            else:
                raise ValueError(f"expected preprocessing.size as [H, W] or an int, got {size!r}")
        channels = data.get("channels")
        if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int)):
            raise ValueError(f"expected preprocessing.channels 1 or 3, got {channels!r}")
        mean = data.get("mean")
        std = data.get("std")
        return cls(
            size=size,
            channels=channels,
            mean=None if mean is None else _numbers("mean", mean),
            std=None if std is None else _numbers("std", std),
        )

    def to_dict(self) -> dict[str, Any]:
        """The config table (``from_dict(p.to_dict()) == p``); unset keys left out."""
        values = {"size": self.size, "channels": self.channels, "mean": self.mean, "std": self.std}
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in values.items()
            if value is not None
        }

    @property
    def is_identity(self) -> bool:
        """Nothing to do."""
        return self.size is None and self.channels is None and self.mean is None


class PreprocessedModel(nn.Module):
    """``model(preprocess(x))``: a model that takes the dataset's raw images.

    Args:
        model: The model as it was trained, on preprocessed inputs.
        preprocessing: What it expects.
        in_channels: The raw images' channels (1 or 3 when converting).
        spatial_dims: 2 for images (N, C, H, W), 3 for volumes (N, C, D, H, W).

    Attributes:
        model: The wrapped model (its own module: target layers are looked up in it).
        preprocessing: The :class:`InputPreprocessing`.

    Shapes:
        ``(N, in_channels, *spatial)`` raw images in; the model's outputs out.

    >>> inner = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    >>> wrapped = PreprocessedModel(
    ...     inner, InputPreprocessing((4, 4), 3, (0.5, 0.5, 0.5), (0.2, 0.2, 0.2)), 1, 2)
    >>> wrapped(torch.rand(5, 1, 8, 8)).shape
    torch.Size([5, 2])
    """

    mean: Tensor
    std: Tensor
    luma: Tensor

    def __init__(
        self,
        model: nn.Module,
        preprocessing: InputPreprocessing,
        in_channels: int,
        spatial_dims: int,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"expected spatial_dims 2 or 3, got {spatial_dims!r}")
        if preprocessing.size is not None and len(preprocessing.size) != spatial_dims:
            raise ValueError(
                f"expected preprocessing.size with {spatial_dims} values for "
                f"{spatial_dims}-D inputs, got {list(preprocessing.size)}"
            )
        channels = preprocessing.channels or in_channels
        if channels != in_channels and {channels, in_channels} != {1, 3}:
            raise ValueError(
                f"expected preprocessing.channels to convert 1 <-> 3 channels, got "
                f"{in_channels} -> {channels}"
            )
        self.model = model
        self.preprocessing = preprocessing
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.channels = channels
        shape = (1, -1) + (1,) * spatial_dims
        mean = preprocessing.mean or (0.0,)
        std = preprocessing.std or (1.0,)
        for name, values in (("mean", mean), ("std", std)):
            if len(values) not in (1, channels):
                raise ValueError(
                    f"expected preprocessing.{name} of 1 or {channels} values (the model's "
                    f"channels), got {list(values)}"
                )
            self.register_buffer(name, torch.tensor(values).reshape(shape), persistent=False)
        self.register_buffer("luma", torch.tensor(_LUMA).reshape(shape), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        size = self.preprocessing.size
        if size is not None:
            mode = "bilinear" if self.spatial_dims == 2 else "trilinear"
            x = F.interpolate(
                x, size=size, mode=mode, align_corners=False, antialias=self.spatial_dims == 2
            )
        if self.channels == 3 and self.in_channels == 1:
            x = x.expand(-1, 3, *([-1] * self.spatial_dims))
        elif self.channels == 1 and self.in_channels == 3:
            x = (x * self.luma.to(x.dtype)).sum(dim=1, keepdim=True)
        if self.preprocessing.mean is not None:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return self.model(x)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.preprocessing.to_dict().items())
