"""NIH ChestX-ray8 (Wang et al., CVPR 2017): cardiomegaly vs no finding, from the user's disk.

Layout (the official archive): ``root/Data_Entry_2017.csv`` with columns ``"Image Index"``,
``"Finding Labels"`` (``"|"``-separated text-mined labels) and ``"Patient ID"``; images in
``root/images/`` or in the unpacked parts ``root/images_*/images/``. Label 1: the findings
include ``Cardiomegaly`` (with ``cardiomegaly_only=True``: are exactly ``Cardiomegaly``);
label 0: ``No Finding``; other images are left out. Splits: when ``train_val_list.txt`` and
``test_list.txt`` are present they define test vs train+val, else ``test_fraction`` of the
patients are held out; validation is ``val_fraction`` of the remaining patients. No patient
is in two splits. The paper (Sec. IV-A) used 800 / 50 / 70 images per class:
``max_per_class={"train": 800, "val": 50, "test": 70}``. Images are 8-bit grayscale resized to
``image_size`` and scaled to [0, 1].
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._disk_dataset import disk_dataset
from comparisons.datasets._image_files import read_grayscale
from comparisons.datasets._splitting import check_seed, group_split, per_split_caps

_CSV = "Data_Entry_2017.csv"
_COLUMNS = ("Image Index", "Finding Labels", "Patient ID")


def _read_entries(root: Path) -> list[dict[str, str]]:
    path = root / _CSV
    if not path.is_file():
        raise FileNotFoundError(f"expected the ChestX-ray8 label file {path}, got none")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in _COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"expected columns {list(_COLUMNS)} in {path}, got {columns}")
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]


def _image_index(root: Path) -> dict[str, Path]:
    folders = [root / "images", *sorted(root.glob("images_*/images"))]
    found = {p.name: p for f in folders if f.is_dir() for p in f.iterdir() if p.is_file()}
    if not found:
        raise FileNotFoundError(
            f"expected images in {root / 'images'} or {root / 'images_*' / 'images'}, got none"
        )
    return found


def _read_list(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def load_chestxray8(
    root: str | Path,
    image_size: int = 64,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_per_class: int | Mapping[str, int] | None = None,
    cardiomegaly_only: bool = False,
    seed: int = 0,
) -> ImageDataset:
    """``"chestxray8"``: cardiomegaly (1) vs no finding (0) chest radiographs.

    Args:
        root: Folder holding ``Data_Entry_2017.csv`` and the images.
        image_size: Side of the square output images.
        val_fraction: Fraction of the non-test patients moved to validation.
        test_fraction: Fraction of patients held out for test when the official lists are
            absent.
        max_per_class: Cap per class, one int for every split or ``{split: int}``; a seeded
            draw picks which images stay (the seed of split ``s``:
            :func:`~comparisons.datasets._splitting.cap_seed`).
        cardiomegaly_only: Positives must have no other finding.
        seed: Seed of the patient splits (``seed``, ``seed + 1``) and of the caps.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"expected the ChestX-ray8 root folder {root}, got none")
    caps = per_split_caps(max_per_class)
    check_seed(seed)
    entries = _read_entries(root)
    images = _image_index(root)
    names: list[str] = []
    labels: list[int] = []
    patients: list[str] = []
    for row in entries:
        findings = {f.strip() for f in row["Finding Labels"].split("|")}
        if findings == {"No Finding"}:
            label = 0
        elif "Cardiomegaly" in findings and (not cardiomegaly_only or findings == {"Cardiomegaly"}):
            label = 1
        else:
            continue
        if row["Image Index"] not in images:
            continue
        names.append(row["Image Index"])
        labels.append(label)
        patients.append(row["Patient ID"])
    label_array = np.array(labels, dtype=np.int64)
    if len(set(labels)) < 2:
        raise ValueError(
            f"expected images of both 'No Finding' and 'Cardiomegaly' listed in {root / _CSV} "
            f"and present on disk, got {len(names)} usable images with labels {sorted(set(labels))}"
        )

    train_list, test_list = root / "train_val_list.txt", root / "test_list.txt"
    if train_list.is_file() and test_list.is_file():
        official_test = _read_list(test_list)
        official_train = _read_list(train_list)
        test_idx = np.array([i for i, n in enumerate(names) if n in official_test], dtype=int)
        rest = np.array([i for i, n in enumerate(names) if n in official_train], dtype=int)
    else:
        rest, test_idx = group_split(patients, test_fraction, seed)
    kept, held = group_split([patients[i] for i in rest], val_fraction, seed + 1)
    chosen = {"train": rest[kept], "val": rest[held], "test": test_idx}
    return disk_dataset(
        "chestxray8",
        ("no finding", "cardiomegaly"),
        "NIH ChestX-ray8 (Wang et al. 2017): cardiomegaly vs no finding",
        {split: label_array[idx] for split, idx in chosen.items()},
        lambda split, idx: read_grayscale(
            [images[names[i]] for i in chosen[split][idx]], image_size
        ),
        caps,
        seed,
        f"{root} after the patient split",
    )
