"""Reading grayscale image files (JPEG/PNG) into a float tensor with PIL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpeg", ".jpg", ".png"})


def list_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (suffixes in ``IMAGE_SUFFIXES``), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_grayscale(paths: Sequence[Path], image_size: int) -> Tensor:
    """Read, convert to 8-bit grayscale, resize (bilinear) and scale to [0, 1].

    Args:
        paths: Image files.
        image_size: Output side; non-square images are resized to a square.

    Returns:
        (N, 1, image_size, image_size) float32 in [0, 1].
    """
    out = np.empty((len(paths), image_size, image_size), dtype=np.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as img:
            if img.format == "JPEG":
                img.draft("L", (image_size, image_size))  # decode at reduced scale: faster
            gray = img.convert("L") if img.mode != "I;16" else _sixteen_to_eight(img)
            out[i] = np.asarray(
                gray.resize((image_size, image_size), Image.Resampling.BILINEAR, reducing_gap=3.0)
            )
    return torch.from_numpy(out).to(torch.float32).div_(255.0)[:, None]


def _sixteen_to_eight(img: Image.Image) -> Image.Image:
    """16-bit grayscale (some PNGs) to 8 bits by its full range."""
    values = np.asarray(img, dtype=np.float64)
    return Image.fromarray(np.round(values / 65535.0 * 255.0).astype(np.uint8), mode="L")
