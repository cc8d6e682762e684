"""A spurious cue: a pattern outside the anatomy that the training labels make predictive.

The shortcut experiment (docs/results-shortcut.md) asks whether an attribution map shows a
cue the model relies on and stays off it when the model does not. A :class:`SpuriousCue` is
an additive pattern (a bright marker, a border intensity shift or a texture patch) on a
fixed region of the image; each image carries it or not (``ImageSplit.cue_present``). In
training it marks ``cue_class`` with probability ``strength`` and is a fair coin otherwise;
at test it is a fair coin whatever the label, so a model that relies on it is caught by
flipping it (:meth:`SpuriousCue.congruent`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

#: The kinds of cue: a small bright square, an intensity shift of the image's left and right
#: edge columns, a checkerboard patch.
CUE_KINDS = ("marker", "border", "texture")


@dataclass(frozen=True)
class SpuriousCue:
    """An additive pattern on a fixed region and the class it marks in training.

    Attributes:
        kind: One of :data:`CUE_KINDS`.
        pattern: (C, H, W) or (C, D, H, W) float32, zero outside ``region``.
        region: (H, W) or (D, H, W) bool, where the pattern is (the cue's ground-truth mask).
        cue_class: The label the cue marks in training.
        strength: The training correlation in [0, 1]: the cue follows the label with this
            probability and is a fair coin otherwise.
    """

    kind: str
    pattern: Tensor
    region: Tensor
    cue_class: int
    strength: float

    def __post_init__(self) -> None:
        if self.kind not in CUE_KINDS:
            raise ValueError(f"expected a cue kind in {CUE_KINDS}, got {self.kind!r}")
        if self.region.dtype != torch.bool or self.pattern.shape[1:] != self.region.shape:
            raise ValueError(
                f"expected a bool region of the pattern's spatial shape "
                f"{tuple(self.pattern.shape[1:])}, got {self.region.dtype} "
                f"{tuple(self.region.shape)}"
            )
        if not bool(self.region.any()):
            raise ValueError("expected a cue region of at least one pixel, got an empty one")
        if not (isinstance(self.strength, int | float) and 0.0 <= self.strength <= 1.0):
            raise ValueError(f"expected a cue strength in [0, 1], got {self.strength!r}")

    def masks(self, present: Tensor) -> Tensor:
        """(N, *spatial) bool: the region where ``present`` (N,), all False elsewhere."""
        return self.region.to(present.device)[None] & present.reshape(-1, *[1] * self.region.dim())

    def added(self, images: Tensor, present: Tensor) -> Tensor:
        """``images`` (N, C, ...) with the pattern added where ``present`` (N,) is True."""
        scale = present.to(images.dtype).reshape(-1, *[1] * (images.dim() - 1))
        return images + scale * self.pattern.to(images.device, images.dtype)[None]

    def set_to(self, images: Tensor, present: Tensor, wanted: Tensor) -> Tensor:
        """``images`` (N, C, ...) that carry the cue as ``present`` (N,) says, changed to
        carry it as ``wanted`` (N,) says (removed, added or left)."""
        change = wanted.to(torch.int8) - present.to(torch.int8)
        scale = change.to(images.dtype).reshape(-1, *[1] * (images.dim() - 1))
        return images + scale * self.pattern.to(images.device, images.dtype)[None]

    def congruent(self, labels: Tensor) -> Tensor:
        """(N,) bool: the cue as the training rule sets it for ``labels`` (on for
        ``cue_class``, off otherwise)."""
        return labels == self.cue_class


#: Where a marker or texture patch sits: the image corner it is nearest to.
CUE_POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right")


def cue_region(kind: str, image_size: int, size: int, position: str, margin: int) -> Tensor:
    """(S, S) bool region of a cue on an ``image_size`` square image.

    ``"marker"`` and ``"texture"``: a ``size``-pixel square ``margin`` pixels from the two
    edges of the corner ``position``. ``"border"``: the ``size`` leftmost and rightmost
    columns (``position`` and ``margin`` unused).

    >>> cue_region("marker", 6, 2, "bottom-right", 1).nonzero().tolist()
    [[3, 3], [3, 4], [4, 3], [4, 4]]
    """
    region = torch.zeros(image_size, image_size, dtype=torch.bool)
    if kind == "border":
        region[:, :size] = True
        region[:, image_size - size :] = True
        return region
    if position not in CUE_POSITIONS:
        raise ValueError(f"expected a cue position in {CUE_POSITIONS}, got {position!r}")
    region[margin : margin + size, margin : margin + size] = True
    if position.startswith("bottom"):
        region = region.flip(0)
    if position.endswith("right"):
        region = region.flip(1)
    return region


def cue_pattern(kind: str, region: Tensor, amplitude: float) -> Tensor:
    """(1, *spatial) float32 pattern on ``region``: ``+amplitude`` (marker, border) or a
    one-pixel checkerboard of ``+-amplitude`` (texture: no change of the mean brightness over
    an even patch), zero elsewhere."""
    if kind == "texture":
        grids = torch.meshgrid(*(torch.arange(n) for n in region.shape), indexing="ij")
        sign = 1.0 - 2.0 * (sum(grids) % 2).to(torch.float32)
    else:
        sign = torch.ones(region.shape)
    return (amplitude * sign * region)[None].to(torch.float32)


def draw_cue_present(
    labels: Tensor, cue_class: int, strength: float, generator: torch.Generator
) -> Tensor:
    """(N,) bool: the cue follows ``labels`` (on iff ``cue_class``) with probability
    ``strength``, else a fair coin, independently per image.

    Both uniform draws are made whatever ``strength``, so two strengths on one generator
    state differ only in the images whose first draw lies between them.
    """
    follow = torch.rand(labels.shape, generator=generator) < strength
    coin = torch.rand(labels.shape, generator=generator) < 0.5
    return torch.where(follow, labels == cue_class, coin)
