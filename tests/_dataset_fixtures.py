"""Tiny on-disk datasets in the real formats (Kermany folders, ChestX-ray8, MedMNIST npz)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, value: int, size: tuple[int, int] = (20, 12)) -> None:
    """A constant 8-bit grayscale image (JPEG or PNG by suffix); width x height = ``size``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8), mode="L").save(path)


def make_kermany(root: Path, per_class: int = 4, patients: int = 2) -> dict[str, int]:
    """``root/{train,test}/{CNV,DME,DRUSEN,NORMAL}/CLASS-PID-N.jpeg``; class k has value 40 k + 30.

    Returns:
        The pixel value of each class.
    """
    values = {"CNV": 30, "DME": 70, "DRUSEN": 110, "NORMAL": 150}
    for part, count in (("train", per_class), ("test", 2)):
        for name, value in values.items():
            for i in range(count):
                pid = 1000 + (i % patients) + (0 if part == "train" else 500)
                write_image(root / part / name / f"{name}-{pid}-{i}.jpeg", value)
    return values


def make_chestxray8(root: Path, official_lists: bool = False) -> list[dict[str, str]]:
    """A label CSV, PNGs split across ``images/`` and ``images_001/images/``; value 200 = cardio."""
    rows = []
    findings = ["No Finding", "Cardiomegaly", "Cardiomegaly|Effusion", "Effusion", "No Finding"]
    for patient in range(1, 7):
        for k, label in enumerate(findings):
            rows.append(
                {
                    "Image Index": f"{patient:08d}_{k:03d}.png",
                    "Finding Labels": label,
                    "Follow-up #": str(k),
                    "Patient ID": str(patient),
                }
            )
    root.mkdir(parents=True, exist_ok=True)
    with (root / "Data_Entry_2017.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for i, row in enumerate(rows):
        folder = root / "images" if i % 2 else root / "images_001" / "images"
        value = 200 if "Cardiomegaly" in row["Finding Labels"] else 50
        write_image(folder / row["Image Index"], value, (16, 16))
    if official_lists:
        test = [r["Image Index"] for r in rows if r["Patient ID"] in ("5", "6")]
        rest = [r["Image Index"] for r in rows if r["Patient ID"] not in ("5", "6")]
        (root / "test_list.txt").write_text("\n".join(test) + "\n")
        (root / "train_val_list.txt").write_text("\n".join(rest) + "\n")
    return rows


def make_medmnist(
    path: Path, flag: str, n: int = 6, drop: str | None = None
) -> dict[str, np.ndarray]:
    """An ``.npz`` with MedMNIST's keys; pixel = 10 * label + split index (chest: column 1)."""
    arrays: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(0)
    for s, split in enumerate(("train", "val", "test")):
        if flag == "chestmnist":
            labels = rng.integers(0, 2, size=(n, 14)).astype(np.uint8)
            labels[0] = 0  # one image with no finding at all
            labels[1, 1] = 1
            key = labels[:, 1]
        else:
            classes = 4 if flag == "octmnist" else 2
            labels = (np.arange(n) % classes).astype(np.uint8)[:, None]
            key = labels[:, 0]
        arrays[f"{split}_images"] = np.broadcast_to(
            (10 * key + s).astype(np.uint8)[:, None, None], (n, 28, 28)
        ).copy()
        arrays[f"{split}_labels"] = labels
    if drop is not None:
        arrays.pop(drop)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays
