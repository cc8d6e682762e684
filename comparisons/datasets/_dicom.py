"""DICOM files and series read with pydicom: the one reader every data source uses for them.

A file is an image, (C, H, W), or, when it holds several frames, a volume, (C, D, H, W);
a series folder (one file per slice) is a volume (C, D, H, W). C is 1, or 3 for colour
files. Slices and frames are sorted by their position along the slice normal
(``ImagePositionPatient`` projected on the cross product of the two directions of
``ImageOrientationPatient``, ascending: for axial CT, inferior to superior), or by
``InstanceNumber`` where a slice has no position; H runs down the rows and W along them,
as the image is displayed. Slices are stacked as they are: the spacing between them is not
resampled.

Values of grayscale files are the stored values through the modality transform
(``RescaleSlope`` and ``RescaleIntercept``, per frame where the file gives them per frame,
or a Modality LUT): Hounsfield units for CT. A window maps them to [0, 1] with DICOM's
formula (PS3.3 C.11.2.1.2): given as ``[center, width]`` (the ``LINEAR`` function), or the
file's own ``WindowCenter``/``WindowWidth`` (its first pair, with its ``VOILUTFunction``)
with ``window = "file"``. ``MONOCHROME1`` files, where low values are bright, are turned so
that high values are bright as in every other file: within the range their stored bits can
hold, or ``1 - y`` after a window. Colour files (RGB, YBR, palette) become RGB: 8-bit ones
scaled to [0, 1] like an 8-bit PNG, others at their stored values; they take no window.

Compressed transfer syntaxes are decoded where one of pydicom's plugins installed here can;
where none can, the error names the syntax (name and UID), the file and the plugins that
would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np

#: Suffixes taken as DICOM without looking inside; other files need the ``DICM`` preamble.
DICOM_SUFFIXES: frozenset[str] = frozenset({".dcm", ".dicom"})
#: A file declaring more voxels (rows x columns x frames x samples) is refused unread.
MAX_VOXELS = 2**30
#: A window: ``(center, width)``, ``"file"`` (the file's own) or ``None`` (no window).
Window = tuple[float, float] | Literal["file"] | None

_POSITION_TOLERANCE = 1e-4  # mm; two slices closer than this along the normal coincide
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")


def parse_window(window: Any) -> Window:
    """A window option as :data:`Window`: ``None``, ``"file"``, ``[center, width]`` or
    ``{center = ..., width = ...}`` (a width of at least 1, as DICOM's linear function needs).

    Raises:
        ValueError: Anything else.
    """
    if window is None or window == "file":
        return window
    values: Any = None
    if isinstance(window, Mapping) and set(window) == {"center", "width"}:
        values = (window["center"], window["width"])
    elif isinstance(window, Sequence) and not isinstance(window, str) and len(window) == 2:
        values = tuple(window)
    numbers = values is not None and all(
        isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in values
    )
    if not numbers or values[1] < 1:
        raise ValueError(
            "expected window as [center, width] or { center = ..., width = ... } with a "
            f"finite center and a width >= 1, or 'file' (the files' own), got {window!r}"
        )
    return float(values[0]), float(values[1])


def has_dicom_preamble(path: Path) -> bool:
    """Whether ``path`` is a file with the ``DICM`` marker after the 128-byte preamble."""
    try:
        with path.open("rb") as handle:
            return handle.read(132)[128:] == b"DICM"
    except OSError:
        return False


def is_dicom_file(path: Path) -> bool:
    """A file named ``*.dcm``/``*.dicom``, or one with the DICOM preamble (any name)."""
    if not path.is_file() or path.name.upper() == "DICOMDIR":
        return False
    return path.suffix.lower() in DICOM_SUFFIXES or has_dicom_preamble(path)


def dicom_frames(path: Path) -> int:
    """The number of frames ``path`` declares (1 for a single image), reading no pixels."""
    return _frame_count(_read(path, pixels=False))


def read_dicom_file(
    path: Path, window: Window = None, *, stored: bool = False
) -> tuple[np.ndarray, bool]:
    """One DICOM file: (C, H, W), or (C, D, H, W) when it has several frames, float32.

    Args:
        path: The file.
        window: ``(center, width)``, ``"file"`` or ``None`` (see the module docstring).
        stored: The stored values as they are (no modality transform, window or turning of
            ``MONOCHROME1``): for masks.

    Returns:
        The array, and whether its values lie in [0, 1] (windowed, or 8-bit colour).

    Raises:
        ValueError: Not a DICOM image pydicom can read and decode (naming the file, and the
            transfer syntax where no decoder is installed), or a window that does not apply.
    """
    return _convert(_read(path, pixels=True), path, window, stored)


def list_dicom_files(folder: Path) -> list[Path]:
    """The DICOM files directly in ``folder`` (see :func:`is_dicom_file`), sorted by name."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and is_dicom_file(p))


def read_dicom_series(
    folder: Path, window: Window = None, *, stored: bool = False
) -> tuple[np.ndarray, bool]:
    """A series folder, one DICOM file per slice, as a volume (C, D, H, W) float32.

    Each slice goes through :func:`read_dicom_file` (its own rescale and window); the
    slices are sorted along the normal (or by ``InstanceNumber``, see the module docstring).

    Raises:
        ValueError: No DICOM files, files of several series, of several orientations or
            sizes, two slices at one position, a multi-frame file, or a slice that cannot
            be read (each naming the files).
    """
    paths = list_dicom_files(folder)
    if not paths:
        raise ValueError(
            f"expected DICOM slices (.dcm, or files with the DICOM preamble) in the series "
            f"folder {folder}, got none"
        )
    datasets = [_read(path, pixels=True) for path in paths]
    for path, ds in zip(paths, datasets, strict=True):
        if _frame_count(ds) > 1:
            raise ValueError(
                f"expected one slice per file in the series folder {folder}, got "
                f"{_frame_count(ds)} frames in {path}"
            )
    series = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets} - {""}
    if len(series) > 1:
        first = next(p for p, d in zip(paths, datasets, strict=True) if d.get("SeriesInstanceUID"))
        uid = datasets[paths.index(first)].SeriesInstanceUID
        other = next(
            p
            for p, d in zip(paths, datasets, strict=True)
            if d.get("SeriesInstanceUID") not in (None, uid)
        )
        raise ValueError(
            f"expected the slices of one series in {folder}, got {len(series)} series "
            f"(SeriesInstanceUID), e.g. {first} and {other}: one folder per series"
        )
    geometry = [
        (_position(ds, 0), _orientation(ds, 0), ds.get("InstanceNumber")) for ds in datasets
    ]
    order = _slice_order(geometry, [str(p) for p in paths], str(folder))
    slices = [_convert(datasets[i], paths[i], window, stored) for i in order]
    first_path, first_shape = paths[order[0]], slices[0][0].shape
    for i, (array, _) in zip(order, slices, strict=True):
        if array.shape != first_shape:
            raise ValueError(
                f"expected slices of one size in the series folder {folder}, got "
                f"{first_shape} ({first_path}) and {array.shape} ({paths[i]}) as (C, H, W)"
            )
    volume = np.stack([a for a, _ in slices], axis=1)
    return volume, all(unit for _, unit in slices)


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError as error:
        raise ImportError(
            f"reading DICOM needs pydicom ({error}): pip install captum-ifim[compare]"
        ) from error
    return pydicom


def _read(path: Path, *, pixels: bool) -> Any:
    """The dataset of ``path`` (``force`` for ``*.dcm`` files without a preamble)."""
    pydicom = _pydicom()
    force = path.suffix.lower() in DICOM_SUFFIXES
    try:
        ds = pydicom.dcmread(path, force=force, stop_before_pixels=not pixels)
    except Exception as error:  # pydicom raises many types for files it cannot parse
        raise ValueError(f"expected a DICOM file pydicom can read, got {path}: {error}") from error
    if pixels and not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise ValueError(f"expected a DICOM image (pixel data), got none in {path}")
    return ds


def _frame_count(ds: Any) -> int:
    try:
        return max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


def _decoded(ds: Any, path: Path) -> np.ndarray:
    """The pixels as (frames, H, W, samples), after checking the syntax and the size."""
    pydicom = _pydicom()
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    samples, frames = int(ds.get("SamplesPerPixel") or 1), _frame_count(ds)
    if rows < 1 or columns < 1:
        raise ValueError(f"expected Rows and Columns >= 1 in {path}, got {rows} x {columns}")
    if rows * columns * frames * samples > MAX_VOXELS:
        raise ValueError(
            f"expected at most {MAX_VOXELS} voxels in a DICOM file, got {path} declaring "
            f"{frames} frames of {rows} x {columns} x {samples}"
        )
    if syntax is not None:
        described = f"{syntax.name} ({syntax})" if syntax.name != str(syntax) else str(syntax)
        if not syntax.is_transfer_syntax:
            raise ValueError(
                f"expected a DICOM transfer syntax pydicom knows, got {described} in {path}"
            )
        if syntax.is_compressed:
            try:
                decoder = pydicom.pixels.get_decoder(syntax)
            except NotImplementedError as error:
                raise ValueError(
                    f"expected pixel data pydicom can decode, got the transfer syntax "
                    f"{described} in {path}, which no pydicom plugin decodes"
                ) from error
            if not decoder.is_available:
                raise ValueError(
                    f"expected pixel data a decoder installed here can read, got the transfer "
                    f"syntax {described} in {path}; plugins that would decode it: "
                    + "; ".join(decoder.missing_dependencies)
                )
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as error:  # decoders raise many types for damaged data
        syntax_note = "" if syntax is None else f" (transfer syntax {syntax.name}, {syntax})"
        raise ValueError(
            f"expected pixel data pydicom can decode, got {path}{syntax_note}: {error}"
        ) from error
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        pixels = pydicom.pixels.apply_color_lut(pixels, ds)
        samples = 3
    if samples == 1:
        pixels = pixels[..., None]
    if frames == 1:
        pixels = pixels[None]
    if pixels.shape != (frames, rows, columns, samples):
        raise ValueError(
            f"expected pixel data of {frames} frames of {rows} x {columns} x {samples} in "
            f"{path}, got an array of shape {pixels.shape}"
        )
    return pixels


def _convert(ds: Any, path: Path, window: Window, stored: bool) -> tuple[np.ndarray, bool]:
    pixels = _decoded(ds, path)
    frames = pixels.shape[0]
    order = list(range(frames))  # the stored frames in spatial order
    if frames > 1:
        geometry = [(_position(ds, f), _orientation(ds, f), None) for f in order]
        if all(p is not None and o is not None for p, o, _ in geometry):
            names = [f"frame {f + 1} of {path}" for f in order]
            order = _slice_order(geometry, names, str(path))
            pixels = pixels[order]
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    colour = pixels.shape[-1] == 3
    if stored:
        values, unit = pixels.astype(np.float32), False
    elif colour:
        if window is not None:
            raise ValueError(
                f"expected a grayscale (MONOCHROME) image for a window, got {photometric} in {path}"
            )
        eight_bit = pixels.dtype == np.uint8
        values = pixels.astype(np.float32) / (255.0 if eight_bit else 1.0)
        unit = bool(eight_bit)
    else:
        values = np.stack(
            [_grayscale(ds, path, pixels[k, ..., 0], f, window) for k, f in enumerate(order)]
        )
        values, unit = values[..., None].astype(np.float32), window is not None
    channels_first = np.moveaxis(values, -1, 0)  # (C, frames, H, W)
    array = channels_first[:, 0] if frames == 1 else channels_first
    return np.ascontiguousarray(array, dtype=np.float32), unit


def _grayscale(ds: Any, path: Path, stored: np.ndarray, frame: int, window: Window) -> np.ndarray:
    """One frame through the modality transform, the window and ``MONOCHROME1``'s turn."""
    bits = int(ds.get("BitsStored") or stored.dtype.itemsize * 8)
    signed = int(ds.get("PixelRepresentation") or 0) == 1
    extremes = np.array([-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] if signed else [0, 2**bits - 1])
    if np.issubdtype(stored.dtype, np.floating):  # float pixel data: no stored-bit range
        extremes = np.array([stored.min(), stored.max()], dtype=np.float64)
    values = _modality(ds, stored, frame)
    low, high = np.sort(_modality(ds, extremes, frame).astype(np.float64))
    inverse = ds.get("PhotometricInterpretation") == "MONOCHROME1"
    if window is None:
        return (low + high) - values if inverse else values
    if window == "file":
        center = _functional(ds, frame, "FrameVOILUTSequence", "WindowCenter")
        width = _functional(ds, frame, "FrameVOILUTSequence", "WindowWidth")
        function = _functional(ds, frame, "FrameVOILUTSequence", "VOILUTFunction") or "LINEAR"
        if center is None or width is None:
            raise ValueError(
                f"expected WindowCenter and WindowWidth in {path} for window = 'file', got "
                "none: give the window as [center, width]"
            )
        center, width = _first(center), _first(width)
    else:
        (center, width), function = window, "LINEAR"
    windowed = apply_window(values, center, width, str(function), where=str(path))
    return 1.0 - windowed if inverse else windowed


def apply_window(
    values: np.ndarray, center: float, width: float, function: str = "LINEAR", where: str = ""
) -> np.ndarray:
    """DICOM's VOI window (PS3.3 C.11.2.1.2) onto [0, 1]: ``LINEAR`` (width >= 1),
    ``LINEAR_EXACT`` or ``SIGMOID`` (width > 0).

    >>> apply_window(np.array([-200.0, 39.5, 240.0]), 40, 400).round(3).tolist()
    [0.0, 0.5, 1.0]
    """
    function = function.upper()
    values = np.asarray(values, dtype=np.float64)
    if function == "LINEAR" and width >= 1:
        if width == 1:
            return (values > center - 0.5).astype(np.float64)
        return np.clip((values - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)
    if function == "LINEAR_EXACT" and width > 0:
        return np.clip((values - center) / width + 0.5, 0.0, 1.0)
    if function == "SIGMOID" and width > 0:
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    raise ValueError(
        f"expected a window of width >= 1 (LINEAR) or > 0 (LINEAR_EXACT, SIGMOID), got "
        f"{function} with center {center} and width {width}" + (f" in {where}" if where else "")
    )


def _modality(ds: Any, stored: np.ndarray, frame: int) -> np.ndarray:
    """Stored values to modality values: the Modality LUT, or the frame's rescale."""
    if ds.get("ModalityLUTSequence"):
        return _pydicom().pixels.apply_modality_lut(stored, ds).astype(np.float64)
    slope = _functional(ds, frame, "PixelValueTransformationSequence", "RescaleSlope")
    intercept = _functional(ds, frame, "PixelValueTransformationSequence", "RescaleIntercept")
    slope = 1.0 if slope is None else float(slope)
    intercept = 0.0 if intercept is None else float(intercept)
    return stored.astype(np.float64) * slope + intercept


def _functional(ds: Any, frame: int, macro: str, keyword: str) -> Any:
    """``keyword`` at the top level, else in the frame's or the shared functional group."""
    if keyword in ds:
        return ds[keyword].value
    for groups, index in (
        ("PerFrameFunctionalGroupsSequence", frame),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        sequence = ds.get(groups)
        if sequence and index < len(sequence):
            items = sequence[index].get(macro)
            if items and keyword in items[0]:
                return items[0][keyword].value
    return None


def _position(ds: Any, frame: int) -> np.ndarray | None:
    value = _functional(ds, frame, "PlanePositionSequence", "ImagePositionPatient")
    return _vector(value, 3)


def _orientation(ds: Any, frame: int) -> np.ndarray | None:
    value = _functional(ds, frame, "PlaneOrientationSequence", "ImageOrientationPatient")
    return _vector(value, 6)


def _vector(value: Any, length: int) -> np.ndarray | None:
    try:
        vector = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return vector if vector.shape == (length,) and np.isfinite(vector).all() else None


def _first(value: Any) -> float:
    """The first of a multi-valued attribute (WindowCenter may hold several windows)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return float(value)
    return float(value[0])


def _slice_order(
    geometry: Sequence[tuple[np.ndarray | None, np.ndarray | None, Any]],
    names: Sequence[str],
    where: str,
) -> list[int]:
    """The order of slices (position, orientation, InstanceNumber) along the slice normal,
    or by InstanceNumber when a position or an orientation is missing."""
    if all(p is not None and o is not None for p, o, _ in geometry):
        orientations = np.stack([o for _, o, _ in geometry])  # type: ignore[misc]
        differs = np.abs(orientations - orientations[0]).max(axis=1) > _POSITION_TOLERANCE
        if differs.any():
            other = int(np.argmax(differs))
            raise ValueError(
                f"expected the slices of {where} to share one orientation "
                f"(ImageOrientationPatient), got {orientations[0].tolist()} in {names[0]} and "
                f"{orientations[other].tolist()} in {names[other]}: one stack per folder"
            )
        normal = np.cross(orientations[0, :3], orientations[0, 3:])
        keys = np.array([float(p @ normal) for p, _, _ in geometry])
        what = "mm along the slice normal"
    else:
        missing = [n for (p, o, i), n in zip(geometry, names, strict=True) if i is None]
        if missing:
            raise ValueError(
                f"expected ImagePositionPatient with ImageOrientationPatient, or "
                f"InstanceNumber, in every slice of {where}, got neither in {missing[0]}"
            )
        keys = np.array([float(i) for _, _, i in geometry])
        what = "as InstanceNumber"
    order = [int(i) for i in np.argsort(keys, kind="stable")]
    for a, b in pairwise(order):
        if abs(keys[b] - keys[a]) <= _POSITION_TOLERANCE:
            raise ValueError(
                f"expected one slice per position in {where}, got {names[a]} and {names[b]} "
                f"both at {keys[a]:g} {what}"
            )
    return order
