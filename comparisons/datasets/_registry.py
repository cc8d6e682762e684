"""The dataset registry: every dataset of the harness by name, with its options."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from comparisons.datasets._chestxray8 import load_chestxray8
from comparisons.datasets._csv_manifest import load_csv_manifest
from comparisons.datasets._dataset import ImageDataset
from comparisons.datasets._dicom_dataset import load_dicom
from comparisons.datasets._image_folder import load_image_folder
from comparisons.datasets._kermany_oct import load_kermany_oct
from comparisons.datasets._lumpy import make_lumpy_sks
from comparisons.datasets._medmnist import load_medmnist
from comparisons.datasets._mni_shortcut import make_mni_sks_shortcut
from comparisons.datasets._mni_sks import (
    make_mni_sks,
    make_mni_sks_3class,
    make_mni_sks_3d,
    make_mni_sks_3d_3class,
)
from comparisons.datasets._nifti import load_nifti


@dataclass(frozen=True)
class DatasetSpec:
    """How to build one dataset.

    Attributes:
        name: Registry name.
        builder: ``builder(**options) -> ImageDataset``.
        description: One line.
        embedded: True when the data need nothing on disk (simulated from packaged files).
        options: The keyword options ``builder`` accepts (from its signature).
        required: The options without a default.
    """

    name: str
    builder: Callable[..., ImageDataset]
    description: str
    embedded: bool
    options: tuple[str, ...] = field(init=False)
    required: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        params = inspect.signature(self.builder).parameters.values()
        object.__setattr__(self, "options", tuple(p.name for p in params))
        required = tuple(p.name for p in params if p.default is inspect.Parameter.empty)
        object.__setattr__(self, "required", required)


_DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "mni-sks",
            make_mni_sks,
            "MNI152 slices, Gaussian white-matter signal absent vs present (SKS/BKS)",
            embedded=True,
        ),
        DatasetSpec(
            "mni-sks-3class",
            make_mni_sks_3class,
            "MNI152 slices, WM signal absent vs image-left vs image-right hemisphere",
            embedded=True,
        ),
        DatasetSpec(
            "mni-sks-shortcut",
            make_mni_sks_shortcut,
            "mni-sks plus a spurious cue outside the brain, label-correlated in training only",
            embedded=True,
        ),
        DatasetSpec(
            "mni-sks-3d",
            make_mni_sks_3d,
            "MNI152 sub-volumes (3-D), Gaussian white-matter signal absent vs present",
            embedded=True,
        ),
        DatasetSpec(
            "mni-sks-3d-3class",
            make_mni_sks_3d_3class,
            "MNI152 sub-volumes (3-D), WM signal absent vs image-left vs image-right",
            embedded=True,
        ),
        DatasetSpec(
            "lumpy-sks",
            make_lumpy_sks,
            "Rolland-Barrett lumpy background, Gaussian signal absent vs present",
            embedded=True,
        ),
        DatasetSpec(
            "kermany-oct",
            load_kermany_oct,
            "Kermany retinal OCT folders on disk: normal vs drusen vs CNV by default",
            embedded=False,
        ),
        DatasetSpec(
            "chestxray8",
            load_chestxray8,
            "NIH ChestX-ray8 on disk: cardiomegaly vs no finding",
            embedded=False,
        ),
        DatasetSpec(
            "image-folder",
            load_image_folder,
            "Your images on disk by class folder: root/<class>/* or root/<split>/<class>/*",
            embedded=False,
        ),
        DatasetSpec(
            "csv",
            load_csv_manifest,
            "Your images listed in a CSV manifest: path, label, optional mask and split",
            embedded=False,
        ),
        DatasetSpec(
            "nifti",
            load_nifti,
            "Your NIfTI volumes listed in a CSV manifest (nibabel), (N, 1, D, H, W)",
            embedded=False,
        ),
        DatasetSpec(
            "dicom",
            load_dicom,
            "Your DICOM files and series (pydicom) by class folder or manifest, rescaled",
            embedded=False,
        ),
        DatasetSpec(
            "medmnist",
            load_medmnist,
            "MedMNIST .npz on disk: OCTMNIST, PneumoniaMNIST, ChestMNIST (binary)",
            embedded=False,
        ),
    )
}


#: Every dataset by name, read-only (a view: registered datasets join it).
DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(_DATASETS)


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset of your own: a builder ``builder(**options) -> ImageDataset`` (its
    options read from its signature), which configs then name in ``[[datasets]]``.

    Returns:
        ``spec``.

    Raises:
        TypeError: ``spec`` is not a :class:`DatasetSpec`.
        ValueError: Its name is not a plain name or is taken.
    """
    from captum_ifim._registry_names import check_new_name

    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"expected a DatasetSpec, got {type(spec).__name__}")
    check_new_name("dataset", spec.name, _DATASETS)
    _DATASETS[spec.name] = spec
    return spec


def available_datasets(embedded_only: bool = False) -> tuple[str, ...]:
    """Registered names, sorted; with ``embedded_only`` those that need nothing on disk."""
    return tuple(sorted(n for n, s in DATASETS.items() if s.embedded or not embedded_only))


def load_dataset(name: str, **options: Any) -> ImageDataset:
    """Build the dataset ``name`` with ``options`` (e.g. from a TOML table).

    Raises:
        ValueError: ``name`` is not registered, or an option is unknown or missing.

    >>> ds = load_dataset("lumpy-sks", num_train=4, num_val=2, num_test=2, image_size=32)
    >>> ds.name, ds.num_classes, ds.in_channels
    ('lumpy-sks', 2, 1)
    """
    spec = DATASETS.get(name)
    if spec is None:
        raise ValueError(f"expected a dataset name in {available_datasets()}, got {name!r}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ValueError(
            f"expected options of {name!r} among {list(spec.options)}, got unknown {unknown}"
        )
    missing = [o for o in spec.required if o not in options]
    if missing:
        raise ValueError(f"expected option(s) {missing} for {name!r}, got {sorted(options)}")
    return spec.builder(**options)
