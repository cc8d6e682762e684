"""16-bit PNG and TIFF files are read at their stored values; 8-bit ones stay scaled by 255.

A CT slice saved as a 16-bit PNG (values 0-2145) used to come back as [0, 0.033]: the
values divided by 65535. The fixtures are written here with PIL.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from comparisons.datasets import load_dataset
from comparisons.datasets._image_files import read_image
from tests._own_fixtures import write_manifest

TOP = 2145  # the largest value of pydicom's MR_small.dcm, which the report saved as a PNG


def slice16(index: int, size: tuple[int, int] = (6, 5)) -> np.ndarray:
    """A deterministic 16-bit slice (H, W) with values in [0, TOP], TOP included."""
    values = np.random.default_rng(index).integers(0, TOP + 1, size, dtype=np.uint16)
    values.flat[index % values.size] = TOP
    values.flat[(index + 1) % values.size] = 0
    return values


def write16(path: Path, values: np.ndarray, mode: str = "I;16") -> Path:
    """``values`` as a 16-bit grayscale file (the format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        image = Image.fromarray(values)
    else:  # big-endian samples, as some TIFF writers store them
        image = Image.frombytes(mode, values.shape[::-1], values.astype(">u2").tobytes())
    image.save(path)
    with Image.open(path) as check:  # the fixture is what it claims to be
        assert check.mode.startswith("I;16"), check.mode
    return path


def rgb16_png(path: Path, values: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB PNG (H, W, 3), written by hand (PIL cannot write one)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    height, width, _ = values.shape
    rows = b"".join(b"\x00" + values[i].astype(">u2").tobytes() for i in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize(
    ("suffix", "mode"), [(".png", "I;16"), (".tif", "I;16"), (".tiff", "I;16B")]
)
def test_a_16_bit_file_is_read_at_its_stored_values(tmp_path, suffix, mode):
    values = slice16(3)
    array, unit_range = read_image(write16(tmp_path / f"ct{suffix}", values, mode))
    assert array.dtype == np.float32 and array.shape == (1, 6, 5)
    np.testing.assert_array_equal(array[0], values.astype(np.float32))
    assert array.max() == TOP and not unit_range  # not declared to lie in [0, 1]


def test_eight_bit_files_are_still_scaled_by_255(tmp_path):
    values = np.array([[0, 51], [204, 255]], dtype=np.uint8)
    for suffix in (".png", ".tif"):
        Image.fromarray(values).save(tmp_path / f"eight{suffix}")
        array, unit_range = read_image(tmp_path / f"eight{suffix}")
        np.testing.assert_allclose(array[0], [[0.0, 0.2], [0.8, 1.0]], rtol=0, atol=1e-7)
        assert unit_range


def test_an_image_folder_of_16_bit_pngs_holds_the_stored_values(tmp_path):
    expected = {}
    for label in ("a", "b"):
        for k in range(3):
            values = slice16(10 * len(label) + k + (label == "b") * 7)
            write16(tmp_path / label / f"{k}.png", values)
            expected[(label, k)] = torch.from_numpy(values.astype(np.float32))
    data = load_dataset("image-folder", root=tmp_path, test_fraction=1.0)
    images = data.test.images
    assert images.shape == (6, 1, 6, 5) and float(images.max()) == TOP
    # test split in file order: class a's 0, 1, 2 then class b's.
    for i, key in enumerate(sorted(expected)):
        torch.testing.assert_close(images[i, 0], expected[key], rtol=0, atol=0)
    assert data.value_range is None  # stored values: no [0, 1] range to clamp to
    # The declared normalization applies to the stored values.
    train = load_dataset("image-folder", root=tmp_path, test_fraction=0.34, val_fraction=0.0)
    standard = load_dataset(
        "image-folder", root=tmp_path, test_fraction=0.34, val_fraction=0.0, normalize="standardize"
    )
    raw = train.train.images.double()
    mean, std = float(raw.mean()), float(raw.std())
    assert mean > 500  # the statistics are of the stored values, not of values / 65535
    torch.testing.assert_close(
        standard.test.images.double(), (train.test.images.double() - mean) / std
    )


def test_a_csv_manifest_of_16_bit_tiffs_holds_the_stored_values(tmp_path):
    rows = []
    for i in range(4):
        write16(tmp_path / "img" / f"{i}.tif", slice16(i))
        rows.append({"path": f"img/{i}.tif", "label": str(i % 2), "split": "test"})
    data = load_dataset("csv", manifest=write_manifest(tmp_path / "labels.csv", rows))
    for i in range(4):
        expected = torch.from_numpy(slice16(i).astype(np.float32))
        torch.testing.assert_close(data.test.images[i, 0], expected, rtol=0, atol=0)


def test_a_16_bit_npy_array_keeps_its_values_like_a_16_bit_png(tmp_path):
    values = slice16(5)
    np.save(tmp_path / "slice.npy", values)
    array, unit_range = read_image(tmp_path / "slice.npy")
    np.testing.assert_array_equal(array[0], values.astype(np.float32))
    assert not unit_range


def test_a_16_bit_colour_png_is_refused_not_cut_to_8_bits(tmp_path):
    # PIL keeps only the high byte of each sample: 2145 would read as 8 / 255.
    values = np.stack([slice16(1), slice16(2), slice16(3)], axis=-1)
    path = rgb16_png(tmp_path / "colour16.png", values)
    with pytest.raises(ValueError, match=r"16 bits per channel.*colour16\.png"):
        read_image(path)


def test_mixing_8_bit_and_16_bit_files_warns_naming_both(tmp_path):
    write16(tmp_path / "a" / "ct.png", slice16(0))
    (tmp_path / "b").mkdir()
    Image.fromarray(np.full((6, 5), 200, np.uint8)).save(tmp_path / "b" / "photo.png")
    with pytest.warns(UserWarning, match=r"photo\.png.*ct\.png|ct\.png.*photo\.png"):
        load_dataset("image-folder", root=tmp_path, test_fraction=1.0)
