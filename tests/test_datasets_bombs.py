"""Files whose header declares a huge image (issue 21, fault injection): decompression bombs
and damaged headers are refused before anything is allocated, by a ``ValueError`` naming the
file and its declared size (they were a ``DecompressionBombError`` or a ``MemoryError``
allocating tens of GiB for a file of 128 bytes, exit 6).

Every read here runs with the address space capped at 1 GiB above what the process already
maps (:func:`little_memory`): a reader that tried to allocate what the header declares
would raise ``MemoryError`` instead of the refusal.
"""

from __future__ import annotations

import gzip
import io
import resource
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from comparisons._cli import main
from comparisons.config import dumps_toml, parse_config
from comparisons.datasets import load_dataset
from comparisons.datasets._dicom import MAX_VOXELS
from comparisons.datasets._dicom_dataset import _read_mask
from comparisons.datasets._image_files import read_grayscale, read_image
from comparisons.datasets._nifti import read_volume
from tests._own_fixtures import write_png_folder

SIDE = 65000  # 65000 x 65000 = 4.2e9 pixels: over PIL's limit and over 2**30; a JPEG's most
PIXELS = SIDE * SIDE


@contextmanager
def little_memory(headroom: int = 2**30) -> Iterator[None]:
    """Cap the address space at what the process maps now plus ``headroom`` bytes."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the address-space cap reads /proc/self/status")
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmSize:"))
    mapped = int(line.split()[1])  # kB
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = mapped * 1024 + headroom
    if hard != resource.RLIM_INFINITY and cap > hard:
        pytest.skip("the hard address-space limit is below the cap")
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _tiny(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((4, 4), 7, np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def image_declaring(path: Path, width: int, height: int) -> Path:
    """A small valid image file of ``path``'s format whose header is patched to declare
    ``width`` x ``height`` pixels (its data stays 4 x 4)."""
    fmt = {".png": "PNG", ".bmp": "BMP", ".jpg": "JPEG", ".tif": "TIFF"}[path.suffix]
    data = bytearray(_tiny(fmt))
    if fmt == "PNG":  # IHDR's data at 16..29, its CRC (over type and data) at 29..33
        data[16:24] = struct.pack(">II", width, height)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    elif fmt == "BMP":  # BITMAPINFOHEADER: width and height (int32) at 18 and 22
        data[18:26] = struct.pack("<ii", width, height)
    elif fmt == "JPEG":  # SOF0: marker, length, precision, then height and width
        at = data.find(b"\xff\xc0")
        data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    else:  # TIFF, little-endian: the first IFD's ImageWidth (256) and ImageLength (257)
        ifd = struct.unpack("<I", data[4:8])[0]
        for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
            entry = ifd + 2 + 12 * i
            tag, kind = struct.unpack("<HH", data[entry : entry + 4])
            if tag in (256, 257):
                assert kind == 4  # LONG
                data[entry + 8 : entry + 12] = struct.pack("<I", width if tag == 256 else height)
    path.write_bytes(bytes(data))
    return path


def npy_declaring(path: Path, shape: tuple[int, ...], descr: str = "<f8") -> Path:
    """A ``.npy`` file holding only a header that declares ``shape`` of ``descr``."""
    with path.open("wb") as fp:
        np.lib.format.write_array_header_1_0(
            fp, {"descr": descr, "fortran_order": False, "shape": shape}
        )
    return path


def nifti_declaring(path: Path, shape: tuple[int, int, int]) -> Path:
    """A 2 x 2 x 2 float32 NIfTI-1 file whose header is patched to declare ``shape``."""
    nibabel = pytest.importorskip("nibabel")
    small = path.with_name("small.nii")
    nibabel.save(nibabel.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4)), small)
    data = bytearray(small.read_bytes())
    data[42:48] = struct.pack("<3h", *shape)  # dim[1..3] (int16), after dim[0] at 40
    path.write_bytes(gzip.compress(bytes(data)) if path.name.endswith(".gz") else bytes(data))
    return path


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".jpg", ".tif"])
def test_the_images_built_here_declare_what_they_say(tmp_path, suffix):
    """The patched headers are read as intended (else the refusals below prove nothing)."""
    with Image.open(image_declaring(tmp_path / f"declared{suffix}", 300, 200)) as img:
        assert img.size == (300, 200)


def test_the_npy_and_nifti_built_here_declare_what_they_say(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    with npy_declaring(tmp_path / "d.npy", (3, 5)).open("rb") as fp:
        np.lib.format.read_magic(fp)
        assert np.lib.format.read_array_header_1_0(fp)[0] == (3, 5)
    for name in ("d.nii", "d.nii.gz"):
        header = nibabel.load(nifti_declaring(tmp_path / name, (7, 6, 5))).header
        assert header.get_data_shape() == (7, 6, 5)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".jpg", ".tif"])
@pytest.mark.parametrize("reader", ["read_image", "read_grayscale"])
def test_an_image_over_pils_limit_is_refused_naming_the_file_and_its_pixels(
    tmp_path, suffix, reader
):
    path = image_declaring(tmp_path / f"bomb{suffix}", SIDE, SIDE)
    with little_memory(), pytest.raises(ValueError) as caught:
        read_image(path) if reader == "read_image" else read_grayscale([path], 8)
    message = str(caught.value)
    assert str(path) in message and str(PIXELS) in message  # was DecompressionBombError
    assert "\n" not in message


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".jpg", ".tif"])
def test_with_pils_limit_lifted_the_harness_limit_refuses_the_image_unread(
    tmp_path, suffix, monkeypatch
):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    path = image_declaring(tmp_path / f"bomb{suffix}", SIDE, SIDE)
    with little_memory(), pytest.raises(ValueError) as caught:
        read_image(path)  # was a MemoryError: PIL allocated 4.2 GB for the pixels
    message = str(caught.value)
    assert str(path) in message and f"{SIDE} x {SIDE}" in message
    assert str(MAX_VOXELS) in message


def test_an_image_within_the_limits_is_read_as_before(tmp_path):
    path = tmp_path / "small.png"
    path.write_bytes(_tiny("PNG"))
    with little_memory():
        array, unit = read_image(path)
    assert array.shape == (1, 4, 4) and unit and np.allclose(array, 7 / 255)


def test_a_128_byte_npy_declaring_a_huge_array_is_refused_unread(tmp_path):
    path = npy_declaring(tmp_path / "bomb.npy", (100000, 100000, 100))
    assert path.stat().st_size == 128
    with little_memory(), pytest.raises(ValueError) as caught:
        read_image(path)  # was a MemoryError allocating the 8 TB it declares
    message = str(caught.value)
    assert str(path) in message and "100000 x 100000 x 100" in message
    assert str(MAX_VOXELS) in message


def test_an_npy_declaring_more_bytes_than_it_holds_is_refused_unread(tmp_path):
    """2**30 float64 values: within the limit, but 8 GiB the 128-byte file does not hold."""
    path = npy_declaring(tmp_path / "short.npy", (32768, 32768))
    with little_memory(), pytest.raises(ValueError) as caught:
        read_image(path)  # was a MemoryError: numpy allocated 8 GiB before reading
    message = str(caught.value)
    assert str(path) in message and str(32768 * 32768 * 8) in message and "holds 0" in message


def test_an_npy_with_a_damaged_header_names_the_file(tmp_path):
    path = tmp_path / "garbage.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + b"\xff" * 40)
    with pytest.raises(ValueError, match=r"garbage\.npy"):
        read_image(path)


def test_an_npy_within_the_limits_is_read_as_before(tmp_path):
    values = np.arange(12, dtype=np.uint16).reshape(3, 4)
    np.save(tmp_path / "fine.npy", values)
    with little_memory():
        array, unit = read_image(tmp_path / "fine.npy")
    assert not unit and np.array_equal(array[0], values.astype(np.float32))


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_a_nifti_declaring_a_huge_volume_is_refused_unread(tmp_path, suffix):
    path = nifti_declaring(tmp_path / f"bomb{suffix}", (2048, 2048, 2048))
    with little_memory(), pytest.raises(ValueError) as caught:
        read_volume(path)
    message = str(caught.value)
    # was "expected a NIfTI volume nibabel can read, got ...: Unable to allocate 32.0 GiB"
    assert str(path) in message and "2048 x 2048 x 2048" in message
    assert str(MAX_VOXELS) in message


def test_a_nifti_declaring_more_bytes_than_it_holds_is_refused_naming_both(tmp_path):
    path = nifti_declaring(tmp_path / "short.nii", (64, 64, 64))
    with little_memory(), pytest.raises(ValueError) as caught:
        read_volume(path)
    message = str(caught.value)
    assert str(path) in message and str(64**3 * 4) in message


def test_a_nifti_within_the_limits_is_read_as_before(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    volume = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), tmp_path / "fine.nii.gz")
    with little_memory():
        read = read_volume(tmp_path / "fine.nii.gz")
    assert np.array_equal(read, volume.transpose(2, 1, 0))


def test_a_volume_mask_npy_declaring_a_huge_array_is_refused_unread(tmp_path):
    path = npy_declaring(tmp_path / "mask.npy", (4096, 4096, 4096), "|u1")
    with little_memory(), pytest.raises(ValueError) as caught:
        _read_mask(path, 3)
    assert str(path) in str(caught.value) and "4096 x 4096 x 4096" in str(caught.value)


def _medmnist_npz(path: Path, train_images: bytes | None = None) -> Path:
    """A PneumoniaMNIST-shaped ``.npz``; ``train_images`` replaces that member's bytes."""
    arrays = {
        f"{split}_{kind}": (
            np.zeros((4, 8, 8), np.uint8) if kind == "images" else np.array([[0], [1], [0], [1]])
        )
        for split in ("train", "val", "test")
        for kind in ("images", "labels")
    }
    np.savez(path, **arrays)
    if train_images is not None:
        with zipfile.ZipFile(path) as source:
            members = {name: source.read(name) for name in source.namelist()}
        members["train_images.npy"] = train_images
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
            for name, content in members.items():
                target.writestr(name, content)
    return path


def test_a_medmnist_member_declaring_more_than_it_holds_is_refused_unread(tmp_path):
    header = npy_declaring(tmp_path / "header.npy", (100000, 224, 224), "|u1").read_bytes()
    path = _medmnist_npz(tmp_path / "pneumoniamnist.npz", header)
    with little_memory(), pytest.raises(ValueError) as caught:
        load_dataset("medmnist", path=path)  # was a MemoryError allocating 5 GB
    message = str(caught.value)
    assert str(path) in message and "train_images" in message
    assert "100000 x 224 x 224" in message


def test_a_medmnist_file_within_the_limits_is_read_as_before(tmp_path):
    path = _medmnist_npz(tmp_path / "pneumoniamnist.npz")
    with little_memory():
        data = load_dataset("medmnist", path=path)
    assert data.test.images.shape == (4, 1, 8, 8)


def test_the_harness_refuses_a_bomb_in_an_image_folder_as_a_bad_config_naming_it(tmp_path, caplog):
    root = tmp_path / "images"
    write_png_folder(root, per_class=4)
    bomb = image_declaring(root / "malignant" / "002.png", SIDE, SIDE)
    config = {
        "run": {"name": "bomb", "eval_examples": 2, "batch_size": 2, "num_threads": 1},
        "datasets": [{"name": "image-folder", "options": {"root": str(root)}}],
        "models": [{"name": "shallow-cnn", "training": {"epochs": 1, "batch_size": 8}}],
        "methods": {"names": ["saliency"]},
        "metrics": {"names": ["deletion-auc"]},
    }
    toml = tmp_path / "bomb.toml"
    toml.write_text(dumps_toml(parse_config(config).to_dict()))
    code = main(["run", "--config", str(toml), "--output", str(tmp_path / "out"), "--no-progress"])
    assert code == 2  # was 6, "unexpected error", with DecompressionBombError's traceback
    named = [r.getMessage() for r in caplog.records if str(bomb) in r.getMessage()]
    assert len(named) == 1 and "\n" not in named[0] and str(PIXELS) in named[0]
    assert "Traceback" not in caplog.text
