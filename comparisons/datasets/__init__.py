"""Datasets of the comparison harness, by name: ``load_dataset(name, **options)``.

Embedded (simulated, nothing on disk): ``"mni-sks"``, ``"mni-sks-3class"`` (MNI152 template
slices shipped with nilearn, Gaussian white-matter signals; paper Sec. IV-A),
``"mni-sks-shortcut"`` (``"mni-sks"`` plus a spurious cue outside the brain), their 3-D
counterparts ``"mni-sks-3d"``, ``"mni-sks-3d-3class"`` (sub-volumes of the same template,
images (N, 1, D, H, W)) and ``"lumpy-sks"`` (Rolland & Barrett lumpy backgrounds). On the
user's disk (never downloaded): ``"kermany-oct"`` (Kermany et al. 2018), ``"chestxray8"``
(Wang et al. 2017) and ``"medmnist"`` (Yang et al. 2023); your own data as ``"image-folder"``
(``root/<class>/*``), ``"csv"`` (a manifest of paths, labels, masks, splits), ``"nifti"``
(volumes listed in a manifest) and ``"dicom"`` (DICOM files and series, pydicom). Every
builder returns an :class:`ImageDataset`.

>>> from comparisons.datasets import load_dataset
>>> ds = load_dataset("mni-sks", num_train=8, num_val=4, num_test=4, image_size=32, seed=1)
>>> ds.test.masks.shape
torch.Size([4, 32, 32])
"""

from comparisons.datasets._chestxray8 import load_chestxray8
from comparisons.datasets._csv_manifest import load_csv_manifest
from comparisons.datasets._dataset import ImageDataset, ImageSplit, pixel_statistics
from comparisons.datasets._dicom import read_dicom_file, read_dicom_series
from comparisons.datasets._dicom_dataset import load_dicom
from comparisons.datasets._gaussian_signal import gaussian_blobs, half_max_masks, half_max_radius
from comparisons.datasets._image_folder import load_image_folder
from comparisons.datasets._kermany_oct import KERMANY_CLASSES, load_kermany_oct
from comparisons.datasets._lumpy import lumpy_backgrounds, make_lumpy_sks, simulate_lumpy_sks
from comparisons.datasets._medmnist import MEDMNIST_LABELS, load_medmnist
from comparisons.datasets._mni_shortcut import make_mni_sks_shortcut
from comparisons.datasets._mni_sks import (
    make_mni_sks,
    make_mni_sks_3class,
    make_mni_sks_3d,
    make_mni_sks_3d_3class,
    simulate_mni_sks,
    simulate_mni_sks_3d,
)
from comparisons.datasets._nifti import load_nifti
from comparisons.datasets._registry import (
    DATASETS,
    DatasetSpec,
    available_datasets,
    load_dataset,
    register_dataset,
)
from comparisons.datasets._simulated_split import SimulatedSplit
from comparisons.datasets._spurious_cue import CUE_KINDS, SpuriousCue

__all__ = [
    "CUE_KINDS",
    "DATASETS",
    "KERMANY_CLASSES",
    "MEDMNIST_LABELS",
    "DatasetSpec",
    "ImageDataset",
    "ImageSplit",
    "SimulatedSplit",
    "SpuriousCue",
    "available_datasets",
    "gaussian_blobs",
    "half_max_masks",
    "half_max_radius",
    "load_chestxray8",
    "load_csv_manifest",
    "load_dataset",
    "load_dicom",
    "load_image_folder",
    "load_kermany_oct",
    "load_medmnist",
    "load_nifti",
    "lumpy_backgrounds",
    "make_lumpy_sks",
    "make_mni_sks",
    "make_mni_sks_3class",
    "make_mni_sks_3d",
    "make_mni_sks_3d_3class",
    "make_mni_sks_shortcut",
    "pixel_statistics",
    "read_dicom_file",
    "read_dicom_series",
    "register_dataset",
    "simulate_lumpy_sks",
    "simulate_mni_sks",
    "simulate_mni_sks_3d",
]
