"""Images listed in a CSV manifest: columns ``path`` and ``label``, optional ``mask`` and ``split``.

Paths are relative to the CSV file's folder (absolute ones are used as they are). A ``mask``
cell names the example's ground-truth mask image (nonzero = signal; an empty cell: no signal)
and enables the localization metrics; a ``split`` cell is ``train``, ``val`` or ``test``
(without the column, a seeded stratified split). Other columns are ignored.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._image_files import read_image, read_mask_image
from comparisons.datasets._labelled_files import (
    Color,
    LabelledFile,
    Normalize,
    build_file_dataset,
)

REQUIRED_COLUMNS: tuple[str, ...] = ("path", "label")
OPTIONAL_COLUMNS: tuple[str, ...] = ("mask", "split")


def read_manifest(manifest: Path) -> tuple[list[LabelledFile], bool]:
    """The examples a manifest lists, and whether it has a ``mask`` column.

    Raises:
        FileNotFoundError: The manifest does not exist.
        ValueError: It is not a readable CSV, lacks a required column, or a row has an
            empty ``path`` or ``label`` (naming the line).
    """
    if not manifest.is_file():
        raise FileNotFoundError(f"expected the CSV manifest {manifest}, got none")
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"expected a UTF-8 CSV file, got {manifest}: {error}") from error
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(
            f"expected the columns {list(REQUIRED_COLUMNS)} (and optionally "
            f"{list(OPTIONAL_COLUMNS)}) in {manifest}, got {columns}: missing {missing}"
        )
    if not rows:
        raise ValueError(f"expected at least one row in {manifest}, got none")
    folder = manifest.parent
    files = []
    for line, row in enumerate(rows, start=2):
        where = f"line {line} of {manifest}"
        for column in REQUIRED_COLUMNS:
            if not row.get(column):
                raise ValueError(f"expected a {column!r} in {where}, got an empty cell")
        mask = row.get("mask") or None
        files.append(
            LabelledFile(
                path=folder / row["path"],
                label=row["label"],
                mask=None if mask is None else folder / mask,
                split=row.get("split", None) if "split" in columns else None,
                where=where,
            )
        )
    return files, "mask" in columns


def load_csv_manifest(
    manifest: str | Path,
    image_size: int | Sequence[int] | None = None,
    color: Color | None = None,
    normalize: Normalize = "none",
    classes: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_per_class: int | Mapping[str, int] | None = None,
    seed: int = 0,
) -> ImageDataset:
    """``"csv"``: the 2-D images a CSV manifest lists, with their masks when it has them.

    Args:
        manifest: The CSV file.
        image_size: Resize images (bilinear) and masks (nearest-neighbour) to this (an int:
            a square); ``None``: the files' own size, which must be the same for all.
        color: ``"grayscale"``, ``"rgb"`` or ``None`` (as the files are).
        normalize: ``"none"`` (8-bit files scaled to [0, 1], 16-bit and float files at
            their stored values) or ``"standardize"`` (the training split's mean and std).
        classes: Class names in label order (default: the labels sorted); labels may also be
            indices into them. A label outside them is an error.
        val_fraction, test_fraction: The stratified split without a ``split`` column.
        max_per_class: Cap per class, one int for every split or ``{split: int}``.
        seed: Seed of the split and of the caps.
    """
    manifest = Path(manifest).expanduser()
    files, has_masks = read_manifest(manifest)
    return build_file_dataset(
        files,
        name="csv",
        description=f"Images listed in {manifest}",
        spatial_dims=2,
        read=read_image,
        read_mask=read_mask_image if has_masks else None,
        image_size=image_size,
        color=color,
        normalize=normalize,
        classes=classes,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        max_per_class=max_per_class,
        seed=seed,
    )
