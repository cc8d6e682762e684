"""Retinal OCT of Kermany et al. (Cell 172(5), 2018), read from the user's disk.

Layout (the public "OCT2017" archive): ``root/{train,test}/{CNV,DME,DRUSEN,NORMAL}/*.jpeg``,
files named ``CLASS-PATIENT-N.jpeg``. The paper (Sec. IV-A) classifies normal vs drusen vs CNV
with 2000 training and 100 validation and test images per class; ``max_per_class`` reproduces
that, e.g. ``{"train": 2000, "val": 100, "test": 100}``. The validation split is carved out of
``train`` by patient (the middle field of the file name), so no patient is in both; a ``val``
folder in the archive (8 images per class) is ignored. Images are read as 8-bit grayscale,
resized to ``image_size`` squares and scaled to [0, 1] (``value_range = (0, 1)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._disk_dataset import disk_dataset
from comparisons.datasets._image_files import list_images, read_grayscale
from comparisons.datasets._splitting import check_seed, group_split, per_split_caps

KERMANY_CLASSES: tuple[str, ...] = ("CNV", "DME", "DRUSEN", "NORMAL")


def _patient(path: Path) -> str:
    parts = path.stem.split("-")
    return parts[1] if len(parts) >= 3 else path.stem


def _listing(root: Path, part: str, classes: Sequence[str]) -> tuple[list[Path], np.ndarray]:
    folder = root / part
    if not folder.is_dir():
        raise FileNotFoundError(
            f"expected the Kermany OCT folder {folder} with subfolders {list(classes)}, got none"
        )
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        class_dir = folder / name
        if not class_dir.is_dir():
            raise FileNotFoundError(f"expected the class folder {class_dir}, got none")
        files = list_images(class_dir)
        if not files:
            raise ValueError(f"expected .jpeg/.jpg/.png images in {class_dir}, got none")
        paths += files
        labels += [label] * len(files)
    return paths, np.array(labels, dtype=np.int64)


def load_kermany_oct(
    root: str | Path,
    classes: Sequence[str] = ("NORMAL", "DRUSEN", "CNV"),
    image_size: int = 64,
    val_fraction: float = 0.1,
    max_per_class: int | Mapping[str, int] | None = None,
    seed: int = 0,
) -> ImageDataset:
    """``"kermany-oct"``: OCT B-scans, label = index in ``classes`` (paper: normal/drusen/CNV).

    Args:
        root: Folder holding ``train/`` and ``test/``.
        classes: Folder names among ``KERMANY_CLASSES``, in label order.
        image_size: Side of the square output images.
        val_fraction: Fraction of training *patients* moved to validation.
        max_per_class: Cap per class, one int for every split or ``{split: int}``; a seeded
            draw picks which images stay (the seed of split ``s``:
            :func:`~comparisons.datasets._splitting.cap_seed`).
        seed: Seed of the validation carve and of the caps.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"expected the Kermany OCT root folder {root}, got none")
    classes = tuple(classes)
    if len(classes) < 2 or len(set(classes)) != len(classes) or set(classes) - set(KERMANY_CLASSES):
        raise ValueError(
            f"expected two or more distinct classes among {KERMANY_CLASSES}, got {classes}"
        )
    caps = per_split_caps(max_per_class)
    check_seed(seed)
    train_paths, train_labels = _listing(root, "train", classes)
    test_paths, test_labels = _listing(root, "test", classes)
    kept, held = group_split([_patient(p) for p in train_paths], val_fraction, seed)
    paths = {
        "train": [train_paths[i] for i in kept],
        "val": [train_paths[i] for i in held],
        "test": test_paths,
    }
    return disk_dataset(
        "kermany-oct",
        [c.lower() for c in classes],
        f"Retinal OCT (Kermany et al. 2018): {' vs '.join(classes).lower()}",
        {"train": train_labels[kept], "val": train_labels[held], "test": test_labels},
        lambda split, idx: read_grayscale([paths[split][i] for i in idx], image_size),
        caps,
        seed,
        root / "train",
    )
