"""A folder of images by class: ``root/<class>/*`` or ``root/{train,val,test}/<class>/*``.

Files are PNG, JPEG, TIFF, BMP, NumPy ``.npy`` or DICOM ``.dcm`` (:data:`READABLE_SUFFIXES`);
the class of a file is its folder's name. With split folders (``train``, ``val`` and
``test``, or only ``test`` for a model given with its weights) the split is the layout's;
without, a seeded stratified split (``val_fraction``, ``test_fraction`` of each class;
``test_fraction = 1`` makes everything test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._image_files import (
    READABLE_SUFFIXES,
    list_images,
    read_image,
)
from comparisons.datasets._labelled_files import (
    Color,
    LabelledFile,
    Normalize,
    build_file_dataset,
)
from comparisons.datasets._splitting import SPLIT_NAMES

#: ``class_files(class_dir, split) -> examples`` of one class folder.
ClassFiles = Callable[[Path, str | None], list[LabelledFile]]


def _class_images(class_dir: Path, split: str | None) -> list[LabelledFile]:
    images = list_images(class_dir, READABLE_SUFFIXES)
    if not images:
        hint = ""
        if any(p.is_dir() for p in class_dir.iterdir()):
            hint = " (folders of DICOM series: use the 'dicom' dataset)"
        raise ValueError(
            f"expected image files ({', '.join(sorted(READABLE_SUFFIXES))}) in the class "
            f"folder {class_dir}, got none{hint}"
        )
    return [LabelledFile(path, class_dir.name, split=split) for path in images]


def _class_files(folder: Path, split: str | None, class_files: ClassFiles) -> list[LabelledFile]:
    files: list[LabelledFile] = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        files += class_files(class_dir, split)
    return files


def list_image_folder(root: Path, class_files: ClassFiles = _class_images) -> list[LabelledFile]:
    """Every image under ``root`` with its class (folder name) and split (when given).

    ``class_files`` lists one class folder's examples (default: its image files).

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: No class folders, an empty class folder, or split folders mixed with
            class folders.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"expected the image folder {root}, got none")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    splits = [name for name in folders if name in SPLIT_NAMES]
    if splits:
        others = sorted(set(folders) - set(SPLIT_NAMES))
        if others:
            raise ValueError(
                f"expected either split folders {list(SPLIT_NAMES)} or class folders in "
                f"{root}, got both: {splits} and {others}"
            )
        files = [f for split in splits for f in _class_files(root / split, split, class_files)]
    else:
        files = _class_files(root, None, class_files)
    if not files:
        raise ValueError(f"expected class folders of images in {root}, got none")
    return files


def load_image_folder(
    root: str | Path,
    image_size: int | Sequence[int] | None = None,
    color: Color | None = None,
    normalize: Normalize = "none",
    classes: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_per_class: int | Mapping[str, int] | None = None,
    seed: int = 0,
) -> ImageDataset:
    """``"image-folder"``: the images under ``root``, one folder per class.

    Args:
        root: ``root/<class>/*`` or ``root/{train,val,test}/<class>/*``.
        image_size: Resize to this (an int: a square); ``None``: the files' own size, which
            must be the same for all.
        color: ``"grayscale"``, ``"rgb"`` or ``None`` (as the files are).
        normalize: ``"none"`` (8-bit files scaled to [0, 1], 16-bit and float files at
            their stored values) or ``"standardize"`` (with the training split's pixel mean
            and std).
        classes: Folder names in label order (default: sorted); a folder not listed is an
            error.
        val_fraction, test_fraction: The stratified split when there are no split folders.
        max_per_class: Cap per class, one int for every split or ``{split: int}``.
        seed: Seed of the split and of the caps.

    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for i in range(8):
    ...     (root / f"class{i % 2}").mkdir(exist_ok=True)
    ...     Image.fromarray(np.full((8, 8), 30 * i, np.uint8)).save(root / f"class{i % 2}/{i}.png")
    >>> data = load_image_folder(root, test_fraction=0.5, val_fraction=0.25)
    >>> data.class_names, len(data.train), len(data.val), len(data.test)
    (('class0', 'class1'), 2, 2, 4)
    """
    root = Path(root).expanduser()
    return build_file_dataset(
        list_image_folder(root),
        name="image-folder",
        description=f"Images by class folder in {root}",
        spatial_dims=2,
        read=read_image,
        read_mask=None,
        image_size=image_size,
        color=color,
        normalize=normalize,
        classes=classes,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        max_per_class=max_per_class,
        seed=seed,
    )
