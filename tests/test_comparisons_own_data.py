"""Your data on disk: image folders (PNG, TIFF, ``.npy``), CSV manifests with masks and NIfTI
volumes, read into the harness's splits; and their errors, raised before a pixel is read."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from comparisons.datasets import _image_folder as image_folder_module
from comparisons.datasets import load_dataset
from comparisons.datasets._splitting import stratified_split
from tests._own_fixtures import folder_tensors, pixel_values, write_manifest, write_png_folder


def test_a_png_folder_without_split_folders_gets_a_seeded_stratified_split(tmp_path):
    write_png_folder(tmp_path, per_class=10)
    data = load_dataset("image-folder", root=tmp_path, val_fraction=0.2, test_fraction=0.3)
    assert data.class_names == ("benign", "malignant")
    assert (len(data.train), len(data.val), len(data.test)) == (10, 4, 6)
    for split in (data.train, data.val, data.test):  # each class keeps its share
        assert torch.bincount(split.labels, minlength=2).tolist() == [len(split) // 2] * 2
    assert data.value_range == (0.0, 1.0) and data.test.masks is None
    # Every image is exactly one of the files (8-bit / 255), each used once.
    images, labels = folder_tensors(10)
    stacked = torch.cat([data.train.images, data.val.images, data.test.images])
    all_labels = torch.cat([data.train.labels, data.val.labels, data.test.labels])
    matches = (stacked[:, None] == images[None]).flatten(2).all(dim=2)
    assert matches.sum(dim=1).tolist() == [1] * 20 and matches.any(dim=0).all()
    assert torch.equal(all_labels, labels[matches.int().argmax(dim=1)])
    # Seeded: the same split again, another one with another seed.
    again = load_dataset("image-folder", root=tmp_path, val_fraction=0.2, test_fraction=0.3)
    other = load_dataset("image-folder", root=tmp_path, val_fraction=0.2, test_fraction=0.3, seed=5)
    assert torch.equal(again.test.images, data.test.images)
    assert not torch.equal(other.test.images, data.test.images)
    mean = stacked[: len(data.train)].double().mean()
    assert data.pixel_mean == pytest.approx(float(mean))


def test_stratified_split_counts_and_edge_cases():
    labels = np.array([0] * 5 + [1] * 3 + [2] * 2)
    parts = stratified_split(labels, 0.2, 0.2, seed=0)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(10))
    per_class = {s: np.bincount(labels[idx], minlength=3).tolist() for s, idx in parts.items()}
    # round(0.2 * 5) = 1; at least one of a small class when one is left to train.
    assert per_class == {"train": [3, 1, 1], "val": [1, 1, 0], "test": [1, 1, 1]}
    everything = stratified_split(labels, 0.1, 1.0, seed=0)
    assert len(everything["test"]) == 10 and len(everything["train"]) == 0
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction"):
        stratified_split(labels, 0.6, 0.5, seed=0)


def test_split_folders_give_the_split_and_a_test_folder_alone_is_test_only(tmp_path):
    write_png_folder(tmp_path / "full", per_class=6, split="train")
    write_png_folder(tmp_path / "full", per_class=2, split="test")
    data = load_dataset("image-folder", root=tmp_path / "full", val_fraction=0.34)
    # No val/ folder: a stratified third of train/ (2 of 6 per class) validates.
    assert (len(data.train), len(data.val), len(data.test)) == (8, 4, 4)
    images, _ = folder_tensors(2)
    assert torch.equal(data.test.images, images)  # test/ as it is, files in name order
    write_png_folder(tmp_path / "only", per_class=3, split="test")
    test_only = load_dataset("image-folder", root=tmp_path / "only")
    assert (len(test_only.train), len(test_only.val), len(test_only.test)) == (0, 0, 6)
    assert test_only.pixel_mean == pytest.approx(float(test_only.test.images.double().mean()))
    write_png_folder(tmp_path / "mixed", per_class=1, split="test")
    write_png_folder(tmp_path / "mixed", per_class=1)
    with pytest.raises(ValueError, match="either split folders"):
        load_dataset("image-folder", root=tmp_path / "mixed")


def test_tiff_bmp_and_npy_files_are_scaled_by_their_bit_depth(tmp_path):
    values8 = np.array([[0, 51], [204, 255]], dtype=np.uint8)
    floats = np.array([[-1.5, 0.0], [2.0, 7.25]], dtype=np.float32)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.fromarray(values8).save(tmp_path / "a" / "eight.tif")
    Image.fromarray(values8).save(tmp_path / "a" / "eight.bmp")
    np.save(tmp_path / "b" / "array.npy", values8)
    data = load_dataset("image-folder", root=tmp_path, test_fraction=1.0)
    expected = torch.tensor([[0.0, 0.2], [0.8, 1.0]])
    assert data.test.images.shape == (3, 1, 2, 2)  # 16-bit files: tests/test_datasets_16bit.py
    for image in data.test.images:
        torch.testing.assert_close(image[0], expected, rtol=0, atol=1e-7)
    assert data.value_range == (0.0, 1.0)
    # A float TIFF keeps its values, and the dataset then declares no value range.
    Image.fromarray(floats, mode="F").save(tmp_path / "b" / "float.tif")
    with pytest.warns(UserWarning, match="scales differ"):  # 8-bit files beside it
        data = load_dataset("image-folder", root=tmp_path, test_fraction=1.0)
    assert data.value_range is None
    float_image = data.test.images[data.test.images.amin(dim=(1, 2, 3)) < 0]
    torch.testing.assert_close(float_image[0, 0], torch.from_numpy(floats))


def test_color_conversion_and_resizing(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    Image.fromarray(rgb).save(tmp_path / "x" / "rgb.png")
    Image.fromarray(pixel_values(0, 0, (6, 8))).save(tmp_path / "y" / "gray.png")
    with pytest.raises(ValueError, match=r"grayscale .* and RGB .*set color"):
        load_dataset("image-folder", root=tmp_path, test_fraction=1.0)
    gray = load_dataset("image-folder", root=tmp_path, test_fraction=1.0, color="grayscale")
    luma = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255
    torch.testing.assert_close(gray.test.images[0, 0], torch.from_numpy(luma).float())
    color = load_dataset("image-folder", root=tmp_path, test_fraction=1.0, color="rgb")
    assert color.test.images.shape == (2, 3, 6, 8)
    torch.testing.assert_close(color.test.images[1, 0], color.test.images[1, 2])  # gray x 3
    sized = load_dataset(
        "image-folder", root=tmp_path, test_fraction=1.0, color="rgb", image_size=[3, 4]
    )
    reference = F.interpolate(color.test.images, size=(3, 4), mode="bilinear", antialias=True)
    torch.testing.assert_close(sized.test.images, reference)


def test_mixed_sizes_need_an_image_size(tmp_path):
    write_png_folder(tmp_path, per_class=2, classes=("a",), size=(8, 8))
    write_png_folder(tmp_path, per_class=2, classes=("b",), size=(6, 9))
    with pytest.raises(ValueError, match=r"one size, got \(8, 8\).*\(6, 9\).*set image_size"):
        load_dataset("image-folder", root=tmp_path, test_fraction=0.5)
    data = load_dataset("image-folder", root=tmp_path, test_fraction=0.5, image_size=5)
    assert data.test.images.shape[1:] == (1, 5, 5)


def test_a_csv_manifest_with_masks_relative_paths_and_splits(tmp_path):
    folder = tmp_path / "study"
    (folder / "img").mkdir(parents=True)
    rows = []
    for i in range(8):
        label = i % 2
        Image.fromarray(pixel_values(label, i, (8, 8))).save(folder / "img" / f"{i}.png")
        mask = ""
        if label == 1:
            m = np.zeros((8, 8), dtype=np.uint8)
            m[3:7, 2:6] = 255
            Image.fromarray(m).save(folder / "img" / f"{i}_mask.png")
            mask = f"img/{i}_mask.png"
        rows.append(
            {
                "path": f"img/{i}.png",
                "label": str(label),
                "mask": mask,
                "split": "test" if i >= 4 else "train",
                "patient": str(i),
            }
        )
    manifest = write_manifest(folder / "labels.csv", rows)
    data = load_dataset("csv", manifest=manifest, classes=["no lesion", "lesion"], val_fraction=0.5)
    assert data.class_names == ("no lesion", "lesion")
    assert (len(data.train), len(data.val), len(data.test)) == (2, 2, 4)
    assert data.test.labels.tolist() == [0, 1, 0, 1]
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[3:7, 2:6] = True
    for mask, label in zip(data.test.masks, data.test.labels, strict=True):
        assert torch.equal(mask, expected if label == 1 else torch.zeros_like(expected))
    # Resized: the masks by nearest neighbour (pixel centres: the odd pixels of 8 x 8).
    small = load_dataset("csv", manifest=manifest, image_size=4, val_fraction=0.5)
    assert small.class_names == ("0", "1")
    assert torch.equal(small.test.masks[1], expected[1::2, 1::2])


@pytest.mark.parametrize(
    ("rows", "error", "match"),
    [
        (
            [{"path": "a.png", "mask": ""}],
            ValueError,
            "columns \\['path', 'label'\\].*missing \\['label'\\]",
        ),
        ([{"path": "a.png", "label": "2"}], ValueError, "declared classes.*'2' in line 2"),
        (
            [{"path": "a.png", "label": "dog"}],
            ValueError,
            "declared classes \\['cat', 'bird'\\].*'dog'",
        ),
        ([{"path": "gone.png", "label": "cat"}], FileNotFoundError, "1 missing: .*gone.png"),
        (
            [{"path": "a.png", "label": "cat", "split": "training"}],
            ValueError,
            "'training' in line 2",
        ),
        ([{"path": "", "label": "cat"}], ValueError, "'path' in line 2"),
    ],
)
def test_bad_manifests_are_clear_errors(tmp_path, rows, error, match):
    Image.fromarray(pixel_values(0, 0)).save(tmp_path / "a.png")
    manifest = write_manifest(tmp_path / "m.csv", [*rows, {**rows[0], "path": "a.png"}])
    with pytest.raises(error, match=match):
        load_dataset("csv", manifest=manifest, classes=["cat", "bird"])


def test_unreadable_files_are_named(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png")
    Image.fromarray(pixel_values(0, 0)).save(tmp_path / "b" / "fine.png")
    with pytest.raises(ValueError, match=r"readable by PIL, got .*broken.png"):
        load_dataset("image-folder", root=tmp_path, test_fraction=1.0)
    with pytest.raises(FileNotFoundError, match="image folder"):
        load_dataset("image-folder", root=tmp_path / "nowhere")


def test_standardize_uses_the_training_split_and_needs_one(tmp_path):
    write_png_folder(tmp_path / "d", per_class=6)
    raw = load_dataset("image-folder", root=tmp_path / "d", test_fraction=0.34)
    data = load_dataset(
        "image-folder", root=tmp_path / "d", test_fraction=0.34, normalize="standardize"
    )
    mean = raw.train.images.double().mean()
    std = raw.train.images.double().std()
    torch.testing.assert_close(
        data.test.images.double(), (raw.test.images.double() - mean) / std, rtol=0, atol=1e-6
    )
    assert data.pixel_mean == pytest.approx(0.0, abs=1e-6)
    low, high = data.value_range
    assert low == pytest.approx(float(-mean / std)) and high == pytest.approx(
        float((1 - mean) / std)
    )
    write_png_folder(tmp_path / "t", per_class=2, split="test")
    with pytest.raises(ValueError, match="training split for normalize"):
        load_dataset("image-folder", root=tmp_path / "t", normalize="standardize")


def _nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> None:
    import nibabel

    nibabel.save(nibabel.Nifti1Image(data, np.eye(4) if affine is None else affine), str(path))


def test_nifti_volumes_and_masks_from_a_manifest(tmp_path):
    rng = np.random.default_rng(0)
    rows, volumes = [], []
    for i in range(6):
        volume = rng.normal(size=(4, 5, 6)).astype(np.float32)  # (i, j, k) voxel axes
        volumes.append(volume)
        _nifti(tmp_path / f"v{i}.nii.gz", volume)
        mask = np.zeros((4, 5, 6), dtype=np.uint8)
        mask[1:3, 2:4, 3:5] = 1
        _nifti(tmp_path / f"m{i}.nii", mask)
        rows.append({"path": f"v{i}.nii.gz", "label": "ab"[i % 2], "mask": f"m{i}.nii"})
    manifest = write_manifest(tmp_path / "volumes.csv", rows)
    data = load_dataset("nifti", manifest=manifest, test_fraction=1.0)
    assert data.test.images.shape == (6, 1, 6, 5, 4)  # (N, 1, D, H, W) = (k, j, i)
    assert data.spatial_dims == 3 and data.value_range is None
    for image, volume in zip(data.test.images, volumes, strict=True):  # manifest order
        torch.testing.assert_close(image[0], torch.from_numpy(volume.transpose(2, 1, 0)))
    assert data.test.masks.shape == (6, 6, 5, 4) and int(data.test.masks[0].sum()) == 8
    # A flipped affine (i runs right to left) is turned to RAS+ first: the W axis flips.
    flipped = np.diag([-1.0, 1.0, 1.0, 1.0])
    _nifti(tmp_path / "v0.nii.gz", volumes[0], flipped)
    _nifti(tmp_path / "m0.nii", np.zeros((4, 5, 6), dtype=np.uint8), flipped)
    turned = load_dataset("nifti", manifest=manifest, test_fraction=1.0)
    torch.testing.assert_close(turned.test.images[0, 0], data.test.images[0, 0].flip(-1))
    kept = load_dataset("nifti", manifest=manifest, test_fraction=1.0, reorient=False)
    torch.testing.assert_close(kept.test.images[0, 0], data.test.images[0, 0])
    resized = load_dataset("nifti", manifest=manifest, test_fraction=1.0, image_size=[3, 3, 2])
    assert resized.test.images.shape == (6, 1, 3, 3, 2) and resized.test.masks.shape[1:] == (
        3,
        3,
        2,
    )


def test_nifti_errors_name_the_file(tmp_path):
    _nifti(tmp_path / "v.nii.gz", np.zeros((2, 3, 4, 2), dtype=np.float32))
    _nifti(tmp_path / "w.nii.gz", np.zeros((2, 3, 4), dtype=np.float32))
    manifest = write_manifest(
        tmp_path / "m.csv", [{"path": "v.nii.gz", "label": "0"}, {"path": "w.nii.gz", "label": "1"}]
    )
    with pytest.raises(ValueError, match=r"3-D volume in .*v.nii.gz"):
        load_dataset("nifti", manifest=manifest, test_fraction=1.0)
    (tmp_path / "v.nii.gz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"nibabel can read, got .*v.nii.gz"):
        load_dataset("nifti", manifest=manifest, test_fraction=1.0)


def test_the_docstring_example_runs():
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(image_folder_module):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0
