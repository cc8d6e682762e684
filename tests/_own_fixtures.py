"""Generated fixtures for "your own data and model": image folders, manifests, NIfTI
volumes, a factory module on a temporary path and its weights files."""

from __future__ import annotations

import csv
import textwrap
import uuid
from pathlib import Path

import numpy as np
import torch
from PIL import Image

#: A factory module: ``build`` makes a tiny CNN, the others models with wrong outputs.
FACTORY_SOURCE = textwrap.dedent(
    """
    import torch
    from torch import nn


    class TinyNet(nn.Module):
        def __init__(self, in_channels=1, num_classes=2, width=4):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d(2)
            self.head = nn.Linear(width * 4, num_classes)

        def forward(self, x):
            return self.head(self.pool(self.features(x)).flatten(1))


    def build(in_channels=1, num_classes=2, width=4):
        return TinyNet(in_channels, num_classes, width)


    class _Squeezed(TinyNet):
        def forward(self, x):
            return super().forward(x)[:, 0]


    def build_vector_output():
        return _Squeezed()


    def not_a_model():
        return "a string"
    """
)


def write_factory_module(folder: Path) -> str:
    """Write the factory module into ``folder`` under a fresh name; returns the name."""
    name = f"own_factory_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(FACTORY_SOURCE)
    return name


def pixel_values(label: int, index: int, size: tuple[int, int] = (12, 10)) -> np.ndarray:
    """A deterministic 8-bit image (H, W) = ``size``: noise plus a bright square for class 1."""
    rng = np.random.default_rng(100 * label + index)
    image = rng.integers(0, 120, size, dtype=np.uint8)
    if label == 1:
        image[3:7, 2:6] = 240
    return image


def write_png_folder(
    root: Path,
    per_class: int,
    classes: tuple[str, ...] = ("benign", "malignant"),
    split: str | None = None,
    size: tuple[int, int] = (12, 10),
) -> None:
    """``root[/split]/<class>/<k>.png``, class k's images from :func:`pixel_values`."""
    for label, name in enumerate(classes):
        folder = root / split / name if split else root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            Image.fromarray(pixel_values(label, index, size)).save(folder / f"{index:03d}.png")


def folder_tensors(per_class: int, size: tuple[int, int] = (12, 10)) -> tuple[torch.Tensor, ...]:
    """The images and labels of :func:`write_png_folder` (classes in order, files by name)."""
    images, labels = [], []
    for label in (0, 1):
        for index in range(per_class):
            images.append(torch.from_numpy(pixel_values(label, index, size)).float() / 255)
            labels.append(label)
    return torch.stack(images)[:, None], torch.tensor(labels)


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    """A CSV manifest with the rows' keys as columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
