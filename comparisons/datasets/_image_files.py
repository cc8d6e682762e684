"""Reading image files (PNG, JPEG, TIFF, BMP, NumPy ``.npy``, DICOM) into float arrays.

:func:`read_grayscale` reads the public datasets' JPEG/PNG files, resized to squares;
:func:`read_image` reads one file of a user's dataset at its own size and channels (PIL;
DICOM files through :func:`comparisons.datasets._dicom.read_dicom_file`).

Every reader looks at a file's header before it allocates anything: a file declaring more
than :data:`~comparisons.datasets._dicom.MAX_VOXELS` (2**30) values, or a ``.npy`` declaring
more bytes than it holds, is refused unread (:func:`check_declared_size`, :func:`load_npy`),
and an image over PIL's own decompression-bomb limit is refused naming the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageFile
from torch import Tensor

from comparisons.datasets._dicom import (
    DICOM_SUFFIXES,
    MAX_VOXELS,
    has_dicom_preamble,
    read_dicom_file,
)

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpeg", ".jpg", ".png"})
#: Every file type :func:`read_image` reads.
READABLE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy"} | DICOM_SUFFIXES
)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's "L"


def check_declared_size(
    path: Path | str, shape: Sequence[int], what: str, channels: int = 1
) -> None:
    """Refuse a file whose header declares more than :data:`MAX_VOXELS` values, unread.

    Args:
        path: The file (named in the message).
        shape: The shape its header declares.
        what: What its elements are, e.g. ``"pixels"`` or ``"float64 values"``.
        channels: Values per element (an RGB pixel: 3).

    Raises:
        ValueError: ``shape`` holds more than :data:`MAX_VOXELS` values.
    """
    count = math.prod(int(n) for n in shape) * channels
    if count > MAX_VOXELS:
        raise ValueError(
            f"expected at most {MAX_VOXELS} (2**30) values in one file, got {path} declaring "
            f"{' x '.join(str(int(n)) for n in shape)} {what} ({count:.3g} values); it is "
            "refused unread (a damaged header or a decompression bomb)"
        )


def read_npy_header(fp: IO[bytes], path: Path | str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a ``.npy`` stream's header declares; ``fp`` is left at its data.

    Raises:
        ValueError: Not a ``.npy`` header (the message names ``path``).
    """
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        else:  # 2.0, and 3.0 (2.0's layout with UTF-8 field names)
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    except (OSError, ValueError, SyntaxError) as error:
        raise ValueError(f"expected a NumPy .npy array file, got {path}: {error}") from error
    return tuple(int(n) for n in shape), np.dtype(dtype)


def check_npy_header(
    fp: IO[bytes], path: Path | str, held: int, *, limit: bool = True
) -> tuple[int, ...]:
    """Read a ``.npy`` header and refuse it when it declares more bytes than the ``held``
    bytes of the stream (header included), or (with ``limit``) more than
    :data:`MAX_VOXELS` values.

    Returns:
        The declared shape.

    Raises:
        ValueError: Naming ``path`` and what its header declares.
    """
    shape, dtype = read_npy_header(fp, path)
    if limit:
        check_declared_size(path, shape, str(dtype))
    declared = math.prod(shape) * dtype.itemsize
    data = held - fp.tell()
    if declared > data:
        raise ValueError(
            f"expected {path} to hold the {declared} bytes its header declares "
            f"({' x '.join(map(str, shape))} {dtype}), got a file that holds {data}: it is "
            "truncated or its header is damaged"
        )
    return shape


def load_npy(path: Path) -> np.ndarray:
    """A ``.npy`` file's array, its header checked by :func:`check_npy_header` first.

    Raises:
        ValueError: Not a ``.npy`` file numpy reads without pickles, or a header declaring
            too much (the message names the file).
    """
    try:
        with path.open("rb") as fp:
            check_npy_header(fp, path, path.stat().st_size)
        return np.load(path, allow_pickle=False)
    except OSError as error:
        raise ValueError(f"expected a NumPy .npy array file, got {path}: {error}") from error
    except ValueError as error:
        if str(path) in str(error):
            raise
        raise ValueError(f"expected a NumPy .npy array file, got {path}: {error}") from error


@contextmanager
def open_image(path: Path) -> Iterator[ImageFile.ImageFile]:
    """``PIL.Image.open`` (which reads only the header) with the size checked before any
    pixel is decoded: over PIL's decompression-bomb limit or :data:`MAX_VOXELS` values, the
    file is refused naming it.

    Raises:
        ValueError: PIL cannot identify the file, or it declares too many pixels.
    """
    try:
        img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # PIL's own limit (2 x Image.MAX_IMAGE_PIXELS; the warning when it is an error)
        raise ValueError(
            f"expected an image PIL opens, got {path} declaring more pixels than PIL's "
            f"decompression-bomb limit: {error} (a genuine image: downsample it, or raise "
            "PIL.Image.MAX_IMAGE_PIXELS in Python)"
        ) from error
    except (OSError, SyntaxError) as error:  # PIL's errors for unreadable files
        raise ValueError(f"expected an image file readable by PIL, got {path}: {error}") from error
    with img:
        bands = len(img.getbands())
        what = "pixels" if bands == 1 else f"pixels of {bands} channels"
        check_declared_size(path, img.size, f"(width x height) {what}", bands)
        yield img


def list_images(folder: Path, suffixes: frozenset[str] = IMAGE_SUFFIXES) -> list[Path]:
    """The image files directly in ``folder`` (suffixes in ``suffixes``), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


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
        with open_image(path) as img:
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


def read_image(path: Path) -> tuple[np.ndarray, bool]:
    """One image file at its own size: (C, H, W) float32 with C = 1 (grayscale) or 3 (RGB).

    8-bit files (and ``uint8`` arrays) are scaled to [0, 1] by 255 (the second value
    returned is then ``True``: the values lie in [0, 1]). 16-bit grayscale PNGs and TIFFs,
    32-bit integer and float TIFFs and other ``.npy`` arrays keep their stored values
    (``False``): a CT slice stored as 0-2145 is read as 0-2145. Alpha channels are dropped,
    palette and other colour modes become RGB. A ``.npy`` holds (H, W), (H, W, C) or
    (C, H, W) with C = 1 or 3. A DICOM file (``.dcm``, ``.dicom``, or any other name with
    the DICOM preamble) holds its modality values (``RescaleSlope``/``RescaleIntercept``
    applied), or 8-bit colour scaled to [0, 1].

    Raises:
        ValueError: The file cannot be read as one 2-D image, is a colour image of 16 bits
            per channel, which PIL would cut to 8, or its header declares more than
            :data:`MAX_VOXELS` values (the message names the file).
    """
    if path.suffix.lower() == ".npy":
        return _read_npy(path)
    if _is_dicom(path):
        return _two_dimensional(path, *read_dicom_file(path))
    with open_image(path) as img:
        try:
            if getattr(img, "n_frames", 1) > 1:
                raise ValueError(
                    f"expected a single 2-D image in {path}, got a file of {img.n_frames} "
                    "frames (volumes: use the 'nifti' dataset)"
                )
            if img.mode in ("RGB", "RGBA") and any(";16" in str(t.args) for t in img.tile):
                raise ValueError(
                    f"expected 8-bit colour or 16-bit grayscale images, got a colour image of "
                    f"16 bits per channel in {path}, which PIL reads at 8 bits: save it as "
                    "grayscale or as a .npy array"
                )
            return _pil_array(img)
        except (OSError, SyntaxError) as error:  # PIL's errors for damaged pixel data
            raise ValueError(
                f"expected an image file readable by PIL, got {path}: {error}"
            ) from error


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """(C, ...) with C in {1, 3} to ``channels`` (1: ITU-R 601 luma; 3: gray repeated)."""
    if image.shape[0] == channels:
        return image
    if channels == 1:
        return np.tensordot(_LUMA, image, axes=1)[None].astype(np.float32)
    return np.repeat(image, 3, axis=0)


def _pil_array(img: Image.Image) -> tuple[np.ndarray, bool]:
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":  # 16- and 32-bit integers: stored values
        return np.asarray(img).astype(np.float32)[None], False
    if mode == "F":
        return np.asarray(img, dtype=np.float32)[None], False
    if mode in ("1", "L", "LA"):
        gray = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
        return gray[None], True
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)), True


def _read_npy(path: Path) -> tuple[np.ndarray, bool]:
    array = load_npy(path)
    if array.dtype == np.bool_:
        array = array.astype(np.float32)  # 0 and 1: already in [0, 1]
        flags_range = True
    else:
        flags_range = False
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"expected a numeric array in {path}, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[2] not in (1, 3):
        pass
    elif array.ndim == 3 and array.shape[2] in (1, 3) and array.shape[0] not in (1, 3):
        array = array.transpose(2, 0, 1)
    else:
        raise ValueError(
            f"expected an array of shape (H, W), (H, W, C) or (C, H, W) with C = 1 or 3 in "
            f"{path}, got {array.shape}"
        )
    values = array.astype(np.float32)
    if array.dtype == np.uint8:  # as an 8-bit image file; 16 bits keep their values
        return np.ascontiguousarray(values / 255.0), True
    return np.ascontiguousarray(values), flags_range


def read_mask_image(path: Path) -> np.ndarray:
    """A mask image as (H, W) bool: ``True`` where any channel is nonzero (for DICOM, where
    the stored value is nonzero, before any rescale)."""
    if _is_dicom(path):
        image, _ = _two_dimensional(path, *read_dicom_file(path, stored=True))
        return np.asarray((image != 0).any(axis=0))
    image, _ = read_image(path)
    return np.asarray((image > 0).any(axis=0))


def _is_dicom(path: Path) -> bool:
    """A DICOM suffix, or no image suffix and the DICOM preamble."""
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES:
        return True
    return suffix not in READABLE_SUFFIXES and has_dicom_preamble(path)


def _two_dimensional(path: Path, array: np.ndarray, unit: bool) -> tuple[np.ndarray, bool]:
    if array.ndim != 3:
        raise ValueError(
            f"expected a single 2-D image in {path}, got a DICOM file of {array.shape[1]} "
            "frames (volumes: use the 'dicom' dataset)"
        )
    return array, unit
