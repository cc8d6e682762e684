"""DICOM files and series (pydicom): rescale, window, slice order, compressed transfer
syntaxes, masks, and the ``"dicom"``, ``"image-folder"`` and ``"csv"`` sources.

Fixtures are written here with pydicom (``Dataset`` + ``FileMetaDataset``, ``dcmwrite``);
pydicom's own test files are used only where the installed wheel ships them (looked up with
``download=False``: nothing is fetched).
"""

from __future__ import annotations

import doctest
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pydicom = pytest.importorskip("pydicom")

from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.encaps import encapsulate  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402
from pydicom.uid import (  # noqa: E402
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from comparisons.datasets import load_dataset, read_dicom_file, read_dicom_series  # noqa: E402
from comparisons.datasets._dicom import MAX_VOXELS, apply_window, parse_window  # noqa: E402
from comparisons.datasets._image_files import read_image, read_mask_image  # noqa: E402
from tests._own_fixtures import write_manifest  # noqa: E402

#: Transfer syntaxes pydicom can only decode with an optional plugin (gdcm, pylibjpeg, ...).
PLUGIN_ONLY = (
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
)


def shipped(name: str) -> Path:
    """A test file the installed pydicom wheel ships, or skip (never download)."""
    found = pydicom.data.get_testdata_file(name, download=False)
    if found is None:
        pytest.skip(f"pydicom's wheel here does not ship {name}")
    return Path(found)


def undecodable_syntax() -> UID:
    """A compressed transfer syntax no decoder installed here reads, or skip."""
    for uid in PLUGIN_ONLY:
        if not pydicom.pixels.get_decoder(UID(uid)).is_available:
            return UID(uid)
    pytest.skip("every plugin-only transfer syntax can be decoded here")


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    slope: float | None = None,
    intercept: float | None = None,
    position: tuple[float, float, float] | None = None,
    orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
    instance: int | None = None,
    series: str = "1.2.826.0.1.3680043.8.498.1",
    window: tuple[object, object] | None = None,
    voi_function: str | None = None,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    syntax: str = ExplicitVRLittleEndian,
) -> Path:
    """A single-frame grayscale DICOM file of ``pixels`` (H, W) int16 or uint16."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.SeriesInstanceUID = series
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored or 16
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    if position is not None:
        ds.ImagePositionPatient = list(position)
        ds.ImageOrientationPatient = list(orientation)
    if instance is not None:
        ds.InstanceNumber = instance
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if voi_function is not None:
        ds.VOILUTFunction = voi_function
    if syntax == ExplicitVRLittleEndian:
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    else:  # a compressed syntax: any bytes, encapsulated (the decoder is what is tested)
        ds.PixelData = encapsulate([b"\xff\xd8\xff\xf7not really compressed\xff\xd9"])
        ds["PixelData"].VR = "OB"
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def ramp(seed: int, shape: tuple[int, int] = (4, 5), low: int = 0, high: int = 3000) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, shape).astype(np.int16)


# --- one file: modality values, window, MONOCHROME1 -------------------------------------


def test_rescale_slope_and_intercept_are_applied_and_masks_read_the_stored_values(tmp_path):
    stored = ramp(0)
    path = write_dicom(tmp_path / "ct.dcm", stored, slope=2.5, intercept=-1024)
    array, unit = read_dicom_file(path)
    assert array.shape == (1, 4, 5) and array.dtype == np.float32 and not unit
    np.testing.assert_array_equal(array[0], stored * 2.5 - 1024)
    raw, _ = read_dicom_file(path, stored=True)
    np.testing.assert_array_equal(raw[0], stored)
    # Through read_image (image-folder, csv) the same; a mask is nonzero where stored != 0.
    np.testing.assert_array_equal(read_image(path)[0], array)
    np.testing.assert_array_equal(read_mask_image(path), stored != 0)
    # No rescale attributes: the stored values.
    plain = write_dicom(tmp_path / "plain.dcm", stored)
    np.testing.assert_array_equal(read_dicom_file(plain)[0][0], stored)


def test_a_window_maps_onto_0_1_with_the_dicom_linear_formula(tmp_path):
    # Modality values -200.5, 39.5 (the centre - 0.5), 99.5, 239.5 and -1024.5.
    stored = np.array([[824, 1064, 1124, 1264, 0]], dtype=np.int16)
    path = write_dicom(tmp_path / "ct.dcm", stored, slope=1, intercept=-1024.5)
    array, unit = read_dicom_file(path, (40.0, 400.0))
    hu = stored.astype(np.float64) - 1024.5
    # PS3.3 C.11.2.1.2.1: y = ((x - (c - 0.5)) / (w - 1) + 0.5), clipped to [0, 1].
    expected = np.clip((hu - 39.5) / 399 + 0.5, 0, 1)
    np.testing.assert_allclose(array[0], expected, rtol=0, atol=1e-6)
    assert unit and array[0, 0, 1] == pytest.approx(0.5) and array[0, 0, 3] == 1.0
    assert array[0, 0, 0] == 0.0 and 0 < array[0, 0, 2] < 1
    assert apply_window(np.array([0.0, 1.0]), 0.5, 1).tolist() == [0.0, 1.0]  # a step


def test_the_files_own_window_and_voi_function_with_window_file(tmp_path):
    stored = ramp(1, low=0, high=400)
    # Two windows in the file: the first is used.
    two = write_dicom(tmp_path / "two.dcm", stored, window=([100, 300], [200, 50]))
    array, unit = read_dicom_file(two, "file")
    np.testing.assert_allclose(array, read_dicom_file(two, (100.0, 200.0))[0])
    assert unit
    sigmoid = write_dicom(
        tmp_path / "sigmoid.dcm", stored, window=(150, 100), voi_function="SIGMOID"
    )
    expected = 1 / (1 + np.exp(-4 * (stored - 150) / 100))
    np.testing.assert_allclose(read_dicom_file(sigmoid, "file")[0][0], expected, atol=1e-6)
    bare = write_dicom(tmp_path / "bare.dcm", stored)
    with pytest.raises(ValueError, match=r"WindowCenter and WindowWidth in .*bare\.dcm"):
        read_dicom_file(bare, "file")


@pytest.mark.parametrize(
    "bad", ["auto", [40], [40, 400, 1], [40, 0.5], [True, 400], {"centre": 40, "width": 400}]
)
def test_a_bad_window_option_is_refused_before_reading(tmp_path, bad):
    with pytest.raises(ValueError, match="expected window as"):
        parse_window(bad)
    with pytest.raises(ValueError, match="expected window as"):
        load_dataset("dicom", root=tmp_path / "nowhere", window=bad)
    assert parse_window({"center": 40, "width": 400}) == (40.0, 400.0)


def test_monochrome1_is_turned_so_that_high_values_are_bright(tmp_path):
    stored = np.array([[0, 1000, 4095]], dtype=np.uint16)
    path = write_dicom(
        tmp_path / "cr.dcm", stored, photometric="MONOCHROME1", bits_stored=12, slope=2, intercept=5
    )
    # Modality range of 12 stored bits: [5, 2 * 4095 + 5]; turned: low + high - value.
    modality = stored * 2.0 + 5
    np.testing.assert_array_equal(read_dicom_file(path)[0][0], (5 + 8195) - modality)
    windowed = read_dicom_file(path, (4000.0, 8000.0))[0][0]
    np.testing.assert_allclose(windowed, 1 - apply_window(modality, 4000, 8000), atol=1e-6)
    assert windowed[0, 0] > windowed[0, 2]  # the lowest stored value is the brightest


# --- series: slice order ----------------------------------------------------------------


def write_series(
    folder: Path, values: list[int], positions: list[float] | None, instances: list[int] | None
) -> None:
    """Slice k holds the constant values[k], at positions[k] mm along an oblique normal."""
    row, col = np.array([0.6, 0.8, 0.0]), np.array([0.0, 0.0, -1.0])
    normal = np.cross(row, col)
    origin = np.array([-20.0, 7.0, 3.0])
    for k, value in enumerate(values):
        position = None if positions is None else tuple(origin + positions[k] * normal)
        write_dicom(
            folder / f"slice_{(7 * k) % len(values)}_{k}.dcm",  # names not in order
            np.full((3, 4), value, dtype=np.int16),
            slope=1,
            intercept=-10,
            position=position,
            orientation=(*row, *col),
            instance=None if instances is None else instances[k],
        )


def test_series_slices_are_sorted_along_the_normal_not_by_name_or_instance(tmp_path):
    positions = [7.5, -2.5, 12.5, 2.5, 0.0]  # written shuffled
    values = [40, 10, 50, 30, 20]  # value rises with position
    write_series(tmp_path / "vol", values, positions, instances=[1, 2, 3, 4, 5])
    volume, unit = read_dicom_series(tmp_path / "vol")
    assert volume.shape == (1, 5, 3, 4) and not unit
    assert volume[0, :, 0, 0].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]  # minus 10 each
    assert (volume[0] == volume[0, :, :1, :1]).all()  # each slice constant


def test_without_positions_the_instance_number_orders_the_slices(tmp_path):
    write_series(tmp_path / "vol", [30, 10, 20], positions=None, instances=[3, 1, 2])
    volume, _ = read_dicom_series(tmp_path / "vol")
    assert volume[0, :, 0, 0].tolist() == [0.0, 10.0, 20.0]


def test_series_that_cannot_be_stacked_are_refused_naming_the_files(tmp_path):
    write_series(tmp_path / "twice", [1, 2], positions=[5.0, 5.0], instances=None)
    with pytest.raises(ValueError, match=r"one slice per position.*slice_.*slice_"):
        read_dicom_series(tmp_path / "twice")
    write_series(tmp_path / "bare", [1, 2], positions=None, instances=None)
    with pytest.raises(ValueError, match=r"InstanceNumber.*slice_"):
        read_dicom_series(tmp_path / "bare")
    write_dicom(tmp_path / "two" / "a.dcm", ramp(0), series="1.2.3.1", instance=1)
    write_dicom(tmp_path / "two" / "b.dcm", ramp(1), series="1.2.3.2", instance=2)
    with pytest.raises(ValueError, match=r"one series in .*two.*a\.dcm and .*b\.dcm"):
        read_dicom_series(tmp_path / "two")
    write_dicom(tmp_path / "tilt" / "a.dcm", ramp(0), position=(0, 0, 0))
    write_dicom(
        tmp_path / "tilt" / "b.dcm", ramp(0), position=(0, 0, 1), orientation=(0, 1, 0, 0, 0, -1)
    )
    with pytest.raises(ValueError, match=r"one orientation .*a\.dcm and .*b\.dcm"):
        read_dicom_series(tmp_path / "tilt")
    write_dicom(tmp_path / "sizes" / "a.dcm", ramp(0, (4, 5)), instance=1)
    write_dicom(tmp_path / "sizes" / "b.dcm", ramp(0, (5, 4)), instance=2)
    with pytest.raises(ValueError, match=r"one size .*a\.dcm.*b\.dcm"):
        read_dicom_series(tmp_path / "sizes")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a slice")
    with pytest.raises(ValueError, match=r"DICOM slices .* in the series folder .*empty"):
        read_dicom_series(tmp_path / "empty")


def test_a_multi_frame_file_is_a_volume_with_per_frame_rescale_and_order(tmp_path):
    frames = np.stack([np.full((3, 4), v, dtype=np.int16) for v in (5, 6, 7)])
    ds = pydicom.dcmread(write_dicom(tmp_path / "one.dcm", frames[0]))
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    shared = Dataset()
    shared.PlaneOrientationSequence = Sequence([Dataset()])
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for z, slope in ((2.0, 10), (-4.0, 100), (0.0, 1)):  # frame order is not z order
        group = Dataset()
        group.PlanePositionSequence = Sequence([Dataset()])
        group.PlanePositionSequence[0].ImagePositionPatient = [0, 0, z]
        group.PixelValueTransformationSequence = Sequence([Dataset()])
        group.PixelValueTransformationSequence[0].RescaleSlope = slope
        group.PixelValueTransformationSequence[0].RescaleIntercept = 0
        per_frame.append(group)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    pydicom.dcmwrite(tmp_path / "multi.dcm", ds, enforce_file_format=True)
    volume, _ = read_dicom_file(tmp_path / "multi.dcm")
    # frame 2 (z = -4, 6 x 100), frame 3 (z = 0, 7 x 1), frame 1 (z = 2, 5 x 10)
    assert volume.shape == (1, 3, 3, 4)
    assert volume[0, :, 0, 0].tolist() == [600.0, 7.0, 50.0]
    with pytest.raises(ValueError, match=r"single 2-D image in .*multi\.dcm.*3 frames"):
        read_image(tmp_path / "multi.dcm")


# --- transfer syntaxes ------------------------------------------------------------------


def test_a_compressed_syntax_without_a_decoder_is_named_with_the_file(tmp_path):
    syntax = undecodable_syntax()
    path = write_dicom(tmp_path / "packed.dcm", ramp(0), syntax=syntax)
    pattern = rf"{re.escape(syntax.name)} \({syntax}\) in .*packed\.dcm.*plugins that would"
    with pytest.raises(ValueError, match=pattern):
        read_dicom_file(path)
    with pytest.raises(ValueError, match=r"packed\.dcm"):
        read_image(path)  # the csv and image-folder sources
    (tmp_path / "root" / "a").mkdir(parents=True)
    (tmp_path / "root" / "b").mkdir(parents=True)
    shutil.copy(path, tmp_path / "root" / "a" / "x.dcm")
    write_dicom(tmp_path / "root" / "b" / "y.dcm", ramp(1))
    with pytest.raises(ValueError, match=rf"\({syntax}\) in .*x\.dcm"):
        load_dataset("dicom", root=tmp_path / "root", test_fraction=1.0)


def test_rle_compressed_files_are_decoded_to_the_same_values(tmp_path):
    stored = ramp(2)
    plain = write_dicom(tmp_path / "plain.dcm", stored, slope=0.5, intercept=-3)
    ds = pydicom.dcmread(plain)
    ds.compress(RLELossless)
    ds.save_as(tmp_path / "rle.dcm")
    assert pydicom.dcmread(tmp_path / "rle.dcm").file_meta.TransferSyntaxUID == RLELossless
    np.testing.assert_array_equal(
        read_dicom_file(tmp_path / "rle.dcm")[0], read_dicom_file(plain)[0]
    )


def test_pydicoms_own_files_rle_and_jpeg_ls(tmp_path):
    reference = pydicom.dcmread(shipped("MR_small.dcm")).pixel_array
    np.testing.assert_array_equal(read_dicom_file(shipped("MR_small.dcm"))[0][0], reference)
    np.testing.assert_array_equal(read_dicom_file(shipped("MR_small_RLE.dcm"))[0][0], reference)
    assert reference.max() == 2145  # the CT-like range the 16-bit PNG report was about
    ct = pydicom.dcmread(shipped("CT_small.dcm"))
    hu = ct.pixel_array * float(ct.RescaleSlope) + float(ct.RescaleIntercept)
    np.testing.assert_array_equal(read_dicom_file(shipped("CT_small.dcm"))[0][0], hu)
    jpeg_ls = shipped("MR_small_jpeg_ls_lossless.dcm")
    if pydicom.pixels.get_decoder(UID("1.2.840.10008.1.2.4.80")).is_available:
        np.testing.assert_array_equal(read_dicom_file(jpeg_ls)[0][0], reference)
    else:
        with pytest.raises(
            ValueError, match=r"JPEG-LS Lossless .*\(1\.2\.840\.10008\.1\.2\.4\.80\)"
        ):
            read_dicom_file(jpeg_ls)


def test_colour_dicom_is_rgb_in_0_1_and_takes_no_window():
    path = shipped("SC_rgb_jpeg_dcmtk.dcm")
    array, unit = read_dicom_file(path)
    assert array.shape[0] == 3 and unit and 0 <= array.min() and array.max() <= 1
    with pytest.raises(ValueError, match=r"grayscale .* for a window, got \S+ in .*SC_rgb"):
        read_dicom_file(path, (40.0, 400.0))


def test_unreadable_files_are_errors_that_name_them(tmp_path):
    (tmp_path / "fake.dcm").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(ValueError, match=r"fake\.dcm"):
        read_dicom_file(tmp_path / "fake.dcm")
    big = pydicom.dcmread(write_dicom(tmp_path / "big.dcm", ramp(0)))
    big.Rows, big.Columns, big.NumberOfFrames = 60000, 60000, 1
    big.save_as(tmp_path / "big.dcm")
    with pytest.raises(ValueError, match=rf"at most {MAX_VOXELS} voxels.*big\.dcm"):
        read_dicom_file(tmp_path / "big.dcm")
    header = pydicom.dcmread(write_dicom(tmp_path / "header.dcm", ramp(0)))
    del header.PixelData
    header.save_as(tmp_path / "header.dcm")
    with pytest.raises(ValueError, match=r"pixel data.*header\.dcm"):
        read_dicom_file(tmp_path / "header.dcm")


# --- the data sources -------------------------------------------------------------------


def test_image_folder_and_csv_read_dcm_files(tmp_path):
    for label in ("a", "b"):
        for k in range(2):
            write_dicom(
                tmp_path / "f" / label / f"{k}.dcm",
                ramp(k + 5 * (label == "b")),
                intercept=-1024,
                slope=1,
            )
    data = load_dataset("image-folder", root=tmp_path / "f", test_fraction=1.0)
    expected = torch.stack([torch.from_numpy(ramp(s) - 1024.0) for s in (0, 1, 5, 6)])
    torch.testing.assert_close(data.test.images[:, 0], expected.float(), rtol=0, atol=0)
    assert data.value_range is None
    rows = [
        {"path": f"f/{label}/{k}.dcm", "label": label, "split": "test"}
        for label in ("a", "b")
        for k in range(2)
    ]
    csv = load_dataset("csv", manifest=write_manifest(tmp_path / "m.csv", rows))
    torch.testing.assert_close(csv.test.images, data.test.images)
    # Series folders in an image folder: the error points at the "dicom" dataset.
    write_series(tmp_path / "s" / "a" / "vol", [1, 2], [0.0, 1.0], None)
    with pytest.raises(ValueError, match=r"class folder .*a, got none.*'dicom' dataset"):
        load_dataset("image-folder", root=tmp_path / "s", test_fraction=1.0)


def test_the_dicom_source_series_by_class_with_masks_beside_them(tmp_path):
    root = tmp_path / "scans"
    for label, offset in (("absent", 0), ("present", 100)):
        for k in range(2):
            write_series(
                root / label / f"case{k}",
                [offset + k, offset + k + 1, offset + k + 2],
                [0.0, 2.0, 1.0],
                None,
            )
    mask = np.zeros((3, 3, 4), dtype=np.int16)
    mask[2, 1:3, 1:3] = 1  # on the top slice (position 2.0, the first file written)
    for k, position in enumerate((0.0, 2.0, 1.0)):
        write_dicom(
            root / "present" / "case1_mask" / f"m{k}.dcm",
            mask[int(position)],
            position=(-20 + 0.8 * -position, 7 - 0.6 * -position, 3.0),  # the same normal line
            orientation=(0.6, 0.8, 0.0, 0.0, 0.0, -1.0),
        )
    np.save(root / "present" / "case0_mask.npy", np.ones((3, 3, 4), dtype=bool))
    (root / "present" / "notes.txt").write_text("ignored")
    data = load_dataset("dicom", root=root, test_fraction=1.0, window=[40, 200])
    assert data.name == "dicom" and data.class_names == ("absent", "present")
    assert data.test.images.shape == (4, 1, 3, 3, 4) and data.value_range == (0.0, 1.0)
    assert data.test.masks is not None and data.test.masks.shape == (4, 3, 3, 4)
    assert not data.test.masks[:2].any() and data.test.masks[2].all()
    expected = torch.zeros((3, 3, 4), dtype=torch.bool)
    expected[2, 1:3, 1:3] = True
    assert torch.equal(data.test.masks[3], expected)
    # Windowed modality values (value - 10) in position order: absent case0's slices were
    # written at 0, 2, 1 mm with 0, 1, 2; present case1's with 101, 102, 103.
    for index, values in ((0, [-10.0, -8.0, -9.0]), (3, [91.0, 93.0, 92.0])):
        expected_values = apply_window(np.array(values), 40, 200)
        torch.testing.assert_close(
            data.test.images[index, 0, :, 0, 0].double(), torch.from_numpy(expected_values)
        )


def test_the_dicom_source_with_a_manifest_of_files_and_of_series(tmp_path):
    for k in range(4):
        write_dicom(tmp_path / "img" / f"{k}.dcm", ramp(k), intercept=-1000, slope=1)
    mask = np.zeros((4, 5), dtype=np.uint8)
    mask[1:3, 2:4] = 255
    Image.fromarray(mask).save(tmp_path / "img" / "3_mask.png")
    rows = [
        {"path": f"img/{k}.dcm", "label": str(k % 2), "mask": "img/3_mask.png" if k == 3 else ""}
        for k in range(4)
    ]
    data = load_dataset(
        "dicom", manifest=write_manifest(tmp_path / "m.csv", rows), test_fraction=1.0
    )
    assert data.test.images.shape == (4, 1, 4, 5) and data.has_masks
    assert int(data.test.masks.sum()) == 4
    write_series(tmp_path / "vol", [1, 2], [0.0, 1.0], None)
    mixed = [{"path": "img/0.dcm", "label": "a"}, {"path": "vol", "label": "b"}]
    with pytest.raises(ValueError, match=r"2-D images like the first example .*0\.dcm.*vol"):
        load_dataset("dicom", manifest=write_manifest(tmp_path / "x.csv", mixed), test_fraction=1.0)


def test_the_dicom_source_checks_its_layout(tmp_path):
    with pytest.raises(ValueError, match=r"exactly one of root .* and manifest .*neither"):
        load_dataset("dicom")
    with pytest.raises(ValueError, match=r"exactly one of root .* and manifest .*both"):
        load_dataset("dicom", root=tmp_path, manifest=tmp_path / "m.csv")
    write_dicom(tmp_path / "r" / "a" / "x.dcm", ramp(0))
    write_dicom(tmp_path / "r" / "b" / "y.dcm", ramp(1))
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(tmp_path / "r" / "b" / "z_mask.png")
    with pytest.raises(ValueError, match=r"example of the mask .*z_mask\.png"):
        load_dataset("dicom", root=tmp_path / "r", test_fraction=1.0)
    (tmp_path / "e" / "a").mkdir(parents=True)
    (tmp_path / "e" / "a" / "readme.txt").write_text("no images")
    with pytest.raises(ValueError, match=r"DICOM files .* in the class folder .*a, got none"):
        load_dataset("dicom", root=tmp_path / "e")


def test_the_docstring_examples_run():
    from comparisons.datasets import _dicom, _dicom_dataset

    for module in (_dicom, _dicom_dataset):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__
