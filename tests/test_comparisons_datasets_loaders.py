"""On-disk loaders on tiny fixtures in the real formats, and their error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from comparisons.datasets import load_dataset
from comparisons.datasets._splitting import SPLIT_NAMES, cap_per_class, cap_seed, cap_splits
from tests._dataset_fixtures import make_chestxray8, make_kermany, make_medmnist


def test_kermany_reads_classes_in_order_with_patient_wise_val(tmp_path: Path) -> None:
    values = make_kermany(tmp_path, per_class=6, patients=3)
    ds = load_dataset("kermany-oct", root=tmp_path, image_size=8, val_fraction=0.34)
    assert ds.class_names == ("normal", "drusen", "cnv")
    assert ds.value_range == (0.0, 1.0)
    order = ("NORMAL", "DRUSEN", "CNV")
    for split in (ds.train, ds.val, ds.test):
        assert split.images.shape[1:] == (1, 8, 8) and split.masks is None
        for label, name in enumerate(order):
            imgs = split.images[split.labels == label]
            # JPEG of a constant image decodes to the constant, within a grey level
            assert torch.all((imgs * 255 - values[name]).abs() <= 1.5)
    assert len(ds.test) == 6 and len(ds.train) + len(ds.val) == 18
    # one of three patients per class went to validation: 2 images per class there
    assert torch.equal(torch.bincount(ds.val.labels), torch.tensor([2, 2, 2]))
    again = load_dataset("kermany-oct", root=tmp_path, image_size=8, val_fraction=0.34)
    assert torch.equal(again.train.images, ds.train.images)


def test_kermany_classes_and_caps(tmp_path: Path) -> None:
    make_kermany(tmp_path, per_class=6)
    ds = load_dataset(
        "kermany-oct",
        root=tmp_path,
        classes=["CNV", "DME"],
        image_size=4,
        val_fraction=0.0,
        max_per_class={"train": 3, "test": 1},
    )
    assert ds.class_names == ("cnv", "dme") and len(ds.val) == 0
    assert torch.equal(torch.bincount(ds.train.labels), torch.tensor([3, 3]))
    assert torch.equal(torch.bincount(ds.test.labels), torch.tensor([1, 1]))


def test_kermany_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_dataset("kermany-oct", root=tmp_path / "nowhere")
    make_kermany(tmp_path)
    with pytest.raises(ValueError, match="among"):
        load_dataset("kermany-oct", root=tmp_path, classes=["NORMAL", "GLAUCOMA"])
    for f in (tmp_path / "test" / "DRUSEN").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match="DRUSEN"):
        load_dataset("kermany-oct", root=tmp_path)
    (tmp_path / "test" / "DRUSEN").rmdir()
    with pytest.raises(FileNotFoundError, match="DRUSEN"):
        load_dataset("kermany-oct", root=tmp_path)
    with pytest.raises(ValueError, match="max_per_class"):
        load_dataset("kermany-oct", root=tmp_path, classes=["CNV", "DME"], max_per_class={"dev": 1})


@pytest.mark.parametrize("official", [False, True])
def test_chestxray8_labels_and_patient_split(tmp_path: Path, official: bool) -> None:
    make_chestxray8(tmp_path, official_lists=official)
    ds = load_dataset("chestxray8", root=tmp_path, image_size=4, val_fraction=0.25)
    assert ds.class_names == ("no finding", "cardiomegaly")
    total = len(ds.train) + len(ds.val) + len(ds.test)
    assert total == 6 * 4  # effusion-only images are left out
    for split in (ds.train, ds.val, ds.test):
        expected = torch.where(split.labels == 1, 200 / 255, 50 / 255)
        torch.testing.assert_close(split.images[:, 0, 0, 0], expected.float())
        assert torch.equal(
            torch.bincount(split.labels, minlength=2), torch.full((2,), len(split) // 2)
        )
    # 6 patients x 4 images: every split is whole patients
    assert {len(ds.train) % 4, len(ds.val) % 4, len(ds.test) % 4} == {0}
    if official:
        assert len(ds.test) == 8
    only = load_dataset("chestxray8", root=tmp_path, image_size=4, cardiomegaly_only=True)
    assert len(only.train) + len(only.val) + len(only.test) == 6 * 3


def test_chestxray8_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="root folder"):
        load_dataset("chestxray8", root=tmp_path / "missing")
    tmp_path.joinpath("images").mkdir()
    with pytest.raises(FileNotFoundError, match=r"Data_Entry_2017\.csv"):
        load_dataset("chestxray8", root=tmp_path)
    (tmp_path / "Data_Entry_2017.csv").write_text("Image Index,Labels\na.png,No Finding\n")
    with pytest.raises(ValueError, match="Finding Labels"):
        load_dataset("chestxray8", root=tmp_path)
    make_chestxray8(tmp_path / "x")
    for f in (tmp_path / "x" / "images").iterdir():
        f.unlink()
    for f in (tmp_path / "x" / "images_001" / "images").iterdir():
        f.unlink()
    with pytest.raises(FileNotFoundError, match="images"):
        load_dataset("chestxray8", root=tmp_path / "x")


@pytest.mark.parametrize("flag", ["octmnist", "pneumoniamnist"])
def test_medmnist_multiclass(tmp_path: Path, flag: str) -> None:
    arrays = make_medmnist(tmp_path / f"{flag}.npz", flag, n=8)
    ds = load_dataset("medmnist", root=tmp_path, flag=flag)
    for s, split in enumerate((ds.train, ds.val, ds.test)):
        labels = arrays[("train", "val", "test")[s] + "_labels"][:, 0]
        assert torch.equal(split.labels, torch.from_numpy(labels.astype(np.int64)))
        torch.testing.assert_close(split.images[:, 0, 3, 3], (10 * split.labels + s) / 255.0)
    assert ds.image_size == (28, 28) and ds.value_range == (0.0, 1.0)
    if flag == "octmnist":
        sub = load_dataset(
            "medmnist",
            path=tmp_path / "octmnist.npz",
            classes=["normal", "drusen", "choroidal neovascularization"],
            image_size=14,
        )
        assert sub.class_names[0] == "normal" and sub.image_size == (14, 14)
        # normal (3) -> 0, drusen (2) -> 1, CNV (0) -> 2; DME dropped
        torch.testing.assert_close(
            sub.train.images[:, 0, 7, 7], (10 * torch.tensor([0, 2, 3, 0, 2, 3])) / 255.0
        )
        assert sub.train.labels.tolist() == [2, 1, 0, 2, 1, 0]


def test_medmnist_chest_binary_on_cardiomegaly(tmp_path: Path) -> None:
    arrays = make_medmnist(tmp_path / "chestmnist_64.npz", "chestmnist", n=10)
    ds = load_dataset("medmnist", root=tmp_path, flag="chestmnist", size=64)
    assert ds.class_names == ("no cardiomegaly", "cardiomegaly")
    assert torch.equal(
        ds.train.labels, torch.from_numpy(arrays["train_labels"][:, 1].astype(np.int64))
    )
    strict = load_dataset("medmnist", path=tmp_path / "chestmnist_64.npz", negatives="no-finding")
    raw = arrays["test_labels"]
    keep = (raw[:, 1] == 1) | (raw.sum(1) == 0)
    assert len(strict.test) == int(keep.sum()) and strict.class_names[0] == "no finding"
    other = load_dataset("medmnist", path=tmp_path / "chestmnist_64.npz", label_index=2)
    assert other.class_names[1] == "effusion"


def test_medmnist_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"octmnist\.npz"):
        load_dataset("medmnist", root=tmp_path, flag="octmnist")
    with pytest.raises(ValueError, match="flag"):
        load_dataset("medmnist", root=tmp_path, flag="mnist")
    with pytest.raises(ValueError, match="exactly one"):
        load_dataset("medmnist")
    make_medmnist(tmp_path / "pneumoniamnist.npz", "pneumoniamnist", drop="val_labels")
    with pytest.raises(ValueError, match="val_labels"):
        load_dataset("medmnist", root=tmp_path, flag="pneumoniamnist")
    make_medmnist(tmp_path / "chestmnist.npz", "chestmnist")
    with pytest.raises(ValueError, match="label_index"):
        load_dataset("medmnist", root=tmp_path, flag="chestmnist", label_index=14)


def test_cap_splits_keep_at_most_the_cap_per_class_with_one_seed_rule() -> None:
    labels = np.array([0] * 5 + [1] * 3 + [2] * 1)
    parts = {split: labels for split in SPLIT_NAMES}
    caps = {"train": 2, "val": None, "test": 2}
    kept = cap_splits(parts, caps, seed=4)
    for split in SPLIT_NAMES:
        idx = kept[split]
        assert np.all(np.diff(idx) > 0) and set(idx) <= set(range(len(labels)))
        cap = caps[split] or len(labels)
        assert np.bincount(labels[idx]).tolist() == [min(n, cap) for n in (5, 3, 1)]
        # the rule every on-disk loader shares: split s draws with seed + 1 + its index
        assert cap_seed(4, split) == 5 + SPLIT_NAMES.index(split)
        assert np.array_equal(idx, cap_per_class(labels, caps[split], cap_seed(4, split)))
    assert np.array_equal(cap_splits(parts, caps, seed=4)["train"], kept["train"])
    # a seeded draw, not a fixed rule: seeds differ, and train and test differ for some seed
    draws = [cap_splits(parts, caps, seed=s) for s in range(20)]
    assert len({tuple(d["train"]) for d in draws}) > 1
    assert any(not np.array_equal(d["train"], d["test"]) for d in draws)


def test_medmnist_caps_per_class_and_seed(tmp_path: Path) -> None:
    make_medmnist(tmp_path / "octmnist.npz", "octmnist", n=12)  # 3 images per class and split
    options = dict(path=tmp_path / "octmnist.npz", max_per_class={"train": 2, "test": 1})
    ds = load_dataset("medmnist", **options, seed=5)
    counts = [torch.bincount(s.labels, minlength=4).tolist() for s in (ds.train, ds.val, ds.test)]
    assert counts == [[2] * 4, [3] * 4, [1] * 4]
    for s, split in enumerate((ds.train, ds.val, ds.test)):  # each image kept with its label
        torch.testing.assert_close(split.images[:, 0, 3, 3], (10 * split.labels + s) / 255.0)
    again = load_dataset("medmnist", **options, seed=5)
    assert torch.equal(again.train.images, ds.train.images)
    with pytest.raises(ValueError, match="seed"):
        load_dataset("medmnist", **options, seed=-1)
    with pytest.raises(ValueError, match="max_per_class"):
        load_dataset("medmnist", path=tmp_path / "octmnist.npz", max_per_class=0)


def test_chestxray8_caps_per_class(tmp_path: Path) -> None:
    make_chestxray8(tmp_path)
    ds = load_dataset("chestxray8", root=tmp_path, image_size=4, max_per_class=2, seed=1)
    for split in (ds.train, ds.val, ds.test):
        assert torch.bincount(split.labels, minlength=2).max() <= 2
    assert torch.bincount(ds.train.labels).tolist() == [2, 2]


def test_medmnist_without_training_images_is_refused(tmp_path: Path) -> None:
    arrays = make_medmnist(tmp_path / "octmnist.npz", "octmnist", n=8)
    arrays["train_labels"][:] = 1  # only diabetic macular edema in training
    np.savez(tmp_path / "octmnist.npz", **arrays)
    with pytest.raises(ValueError, match=r"training images in .*octmnist\.npz"):
        load_dataset("medmnist", root=tmp_path, flag="octmnist", classes=["normal", "drusen"])
