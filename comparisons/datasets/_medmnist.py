"""MedMNIST v2 (Yang et al., Scientific Data 10, 2023) ``.npz`` files from the user's disk.

Each file holds ``{train,val,test}_images`` (N, H, W) uint8 and ``{train,val,test}_labels``
(N, 1) class indices, or (N, 14) multi-label columns for ChestMNIST. Supported flags:
``octmnist`` (0 CNV, 1 DME, 2 drusen, 3 normal; ``classes`` picks and orders a subset, e.g.
``("normal", "drusen", "choroidal neovascularization")`` for the paper's OCT task),
``pneumoniamnist`` (0 normal, 1 pneumonia) and ``chestmnist``, whose 14 columns are in
MedMNIST's order (atelectasis, cardiomegaly, effusion, infiltration, mass, nodule, pneumonia,
pneumothorax, consolidation, edema, emphysema, fibrosis, pleural thickening, hernia): it
becomes binary on column ``label_index`` (default 1, cardiomegaly). With
``negatives="rest"`` every other image is a negative; with ``"no-finding"`` only images with
no finding at all are, as in the ``"chestxray8"`` task. Files are ``root/{flag}.npz`` (28 px)
or ``root/{flag}_{size}.npz`` (MedMNIST+ 64/128/224 px), or any ``path``. uint8 -> [0, 1].
Each array's header is checked before it is read: one declaring more bytes than the archive
holds for it is refused, naming the file and the array.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._disk_dataset import disk_dataset
from comparisons.datasets._image_files import check_npy_header
from comparisons.datasets._splitting import SPLIT_NAMES, check_seed, per_split_caps

MEDMNIST_LABELS: dict[str, tuple[str, ...]] = {
    "octmnist": ("choroidal neovascularization", "diabetic macular edema", "drusen", "normal"),
    "pneumoniamnist": ("normal", "pneumonia"),
    "chestmnist": (
        "atelectasis",
        "cardiomegaly",
        "effusion",
        "infiltration",
        "mass",
        "nodule",
        "pneumonia",
        "pneumothorax",
        "consolidation",
        "edema",
        "emphysema",
        "fibrosis",
        "pleural thickening",
        "hernia",
    ),
}
_KEYS = tuple(f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels"))


def _resolve(
    path: str | Path | None, root: str | Path | None, flag: str | None, size: int | None
) -> tuple[Path, str]:
    if (path is None) == (root is None):
        raise ValueError(f"expected exactly one of path or root, got path={path!r}, root={root!r}")
    if flag is not None and flag not in MEDMNIST_LABELS:
        raise ValueError(f"expected flag in {sorted(MEDMNIST_LABELS)}, got {flag!r}")
    if path is not None:
        file = Path(path).expanduser()
        if flag is None:
            flag = next((f for f in MEDMNIST_LABELS if file.stem.split("_")[0] == f), None)
            if flag is None:
                raise ValueError(
                    f"expected a file named after a flag in {sorted(MEDMNIST_LABELS)} or the flag "
                    f"option, got {file.name!r}"
                )
    else:
        if flag is None:
            raise ValueError(f"expected flag in {sorted(MEDMNIST_LABELS)} with root, got None")
        suffix = "" if size in (None, 28) else f"_{size}"
        file = Path(root).expanduser() / f"{flag}{suffix}.npz"  # type: ignore[arg-type]
    if not file.is_file():
        raise FileNotFoundError(f"expected the MedMNIST file {file}, got none")
    return file, flag


def _read_arrays(data: np.lib.npyio.NpzFile, file: Path) -> dict[str, np.ndarray]:
    """The arrays :data:`_KEYS` names, each header checked (:func:`check_npy_header`) against
    the bytes its archive member holds before numpy allocates it. (Not against the 2**30
    values of one image file: MedMNIST+'s 224 px training arrays hold more.)"""
    missing = [k for k in _KEYS if k not in data.files]
    if missing:
        raise ValueError(f"expected keys {list(_KEYS)} in {file}, got {sorted(data.files)}")
    archive = data.zip
    if archive is None:  # an NpzFile from np.load(path) is open
        raise ValueError(f"expected an open .npz file, got {file} closed")
    for key in _KEYS:
        member = archive.getinfo(f"{key}.npy")
        with archive.open(member) as stream:
            check_npy_header(stream, f"{file} (array {key})", member.file_size, limit=False)
    return {k: data[k] for k in _KEYS}


def _images(array: np.ndarray, file: Path, key: str) -> torch.Tensor:
    if array.ndim == 4 and array.shape[-1] in (1, 3):
        array = array.mean(axis=-1) if array.shape[-1] == 3 else array[..., 0]
    if array.ndim != 3:
        raise ValueError(f"expected {key} of shape (N, H, W) in {file}, got {array.shape}")
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    return torch.from_numpy(np.asarray(array, dtype=np.float32) / scale)[:, None]


def load_medmnist(
    path: str | Path | None = None,
    root: str | Path | None = None,
    flag: Literal["octmnist", "chestmnist", "pneumoniamnist"] | None = None,
    size: int | None = None,
    image_size: int | None = None,
    classes: Sequence[str] | None = None,
    label_index: int = 1,
    negatives: Literal["rest", "no-finding"] = "rest",
    max_per_class: int | Mapping[str, int] | None = None,
    seed: int = 0,
) -> ImageDataset:
    """``"medmnist"``: OCTMNIST, PneumoniaMNIST or ChestMNIST (binary) from an ``.npz``.

    Args:
        path: The ``.npz`` file (its name gives the flag unless ``flag`` is set), or
        root: the folder holding ``{flag}.npz`` / ``{flag}_{size}.npz``.
        flag: Which MedMNIST set.
        size: MedMNIST+ image size of the file to pick under ``root`` (28, 64, 128, 224).
        image_size: Resize (bilinear, antialiased) to this side; default keep.
        classes: Multi-class flags: names of the classes to keep, in label order.
        label_index: ChestMNIST: the column that is the positive class.
        negatives: ChestMNIST: ``"rest"`` or ``"no-finding"`` (module docstring).
        max_per_class: Cap per class, one int for every split or ``{split: int}`` (e.g. the
            paper's OCT task, ``{"train": 2000, "val": 100, "test": 100}``); a seeded draw
            picks which images stay (the seed of split ``s``:
            :func:`~comparisons.datasets._splitting.cap_seed`). The splits are the file's.
        seed: Seed of the caps.
    """
    caps = per_split_caps(max_per_class)
    check_seed(seed)
    file, name = _resolve(path, root, flag, size)
    try:
        data = np.load(file, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not a zip of arrays")
        with data:
            arrays = _read_arrays(data, file)
    except (OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"expected a MedMNIST .npz file, got {file}: {error}") from error
    except ValueError as error:
        if str(file) in str(error):
            raise
        raise ValueError(f"expected a MedMNIST .npz file, got {file}: {error}") from error
    names = MEDMNIST_LABELS[name]
    if name == "chestmnist":
        if isinstance(label_index, bool) or not 0 <= label_index < len(names):
            raise ValueError(f"expected label_index in [0, {len(names)}), got {label_index!r}")
        if negatives not in ("rest", "no-finding"):
            raise ValueError(f"expected negatives 'rest' or 'no-finding', got {negatives!r}")
        class_names: tuple[str, ...] = (
            f"no {names[label_index]}" if negatives == "rest" else "no finding",
            names[label_index],
        )
    else:
        chosen = tuple(names) if classes is None else tuple(classes)
        if len(chosen) < 2 or len(set(chosen)) != len(chosen) or set(chosen) - set(names):
            raise ValueError(f"expected two or more distinct classes among {names}, got {chosen}")
        class_names = chosen
        relabel = np.full(len(names), -1, dtype=np.int64)
        relabel[[names.index(c) for c in chosen]] = np.arange(len(chosen))

    kept_images: dict[str, torch.Tensor] = {}
    kept_labels: dict[str, np.ndarray] = {}
    for split in SPLIT_NAMES:
        images = _images(arrays[f"{split}_images"], file, f"{split}_images")
        raw = np.asarray(arrays[f"{split}_labels"]).reshape(len(images), -1).astype(np.int64)
        if name == "chestmnist":
            if raw.shape[1] != len(names):
                raise ValueError(
                    f"expected {split}_labels with {len(names)} columns in {file}, got {raw.shape}"
                )
            labels = raw[:, label_index]
            keep = (
                np.ones(len(labels), bool)
                if negatives == "rest"
                else (labels == 1) | (raw.sum(1) == 0)
            )
        else:
            if raw.shape[1] != 1 or raw.min(initial=0) < 0 or raw.max(initial=0) >= len(names):
                raise ValueError(
                    f"expected {split}_labels of shape (N, 1) in [0, {len(names)}) in {file}, "
                    f"got shape {raw.shape}"
                )
            labels = relabel[raw[:, 0]]
            keep = labels >= 0
        kept_images[split] = images[torch.from_numpy(keep)]
        kept_labels[split] = labels[keep]

    def read(split: str, idx: np.ndarray) -> torch.Tensor:
        images = kept_images[split][torch.from_numpy(idx)]
        if image_size is not None and image_size != images.shape[-1]:
            images = F.interpolate(
                images, size=(image_size, image_size), mode="bilinear", antialias=True
            ).clamp_(0, 1)
        return images.contiguous()

    return disk_dataset(
        "medmnist",
        class_names,
        f"MedMNIST {name} ({file.name}): {' vs '.join(class_names)}",
        kept_labels,
        read,
        caps,
        seed,
        file,
    )
