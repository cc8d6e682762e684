"""
A 3-D volume: S(x) in three slices, and two seeds' iFIM subspaces compared
==========================================================================

The volumetric counterpart of the 2-D examples. A small 3-D CNN learns whether a faint
white-matter signal is present in a sub-volume of the MNI152 template (``mni-sks-3d``:
4 mm voxels, nilearn's packaged template, nothing downloaded). The iFIM decomposition
(eqs. 13-17) takes (N, C, D, H, W) inputs unchanged; we draw its task-sensitive component
:math:`S(x)` as three orthogonal slices through the signal's centre, then compare the iFIM
eigenspaces :math:`U_K` of two seeds of the same network at the same test volumes, the
principal-angle overlap of :doc:`/theory` ("Comparing two models' iFIM subspaces").

Needs the ``compare`` extra (``pip install -e ".[compare]"``); then this script runs as it is.
"""

# %%
# Data and two small 3-D networks
# -------------------------------
# 24^3 voxels (a 96 mm cube) and a brighter signal than the harness's default keep the
# training to a few seconds per network on a CPU; the harness's 3-D run uses 32^3 voxels
# (:doc:`/results-3d`). The shallow 3-D CNN gets the 2-D network's widths (16, 32, 64).

import os

import matplotlib.pyplot as plt
import torch

from captum_ifim import IFIMDecomposition
from captum_ifim.metrics import ifim_subspace_overlap
from comparisons.datasets import load_dataset
from comparisons.training import TrainingConfig, train_model

# CAPTUM_IFIM_GALLERY_QUICK=1 trains for 2 epochs instead of 6, only to check that the
# script runs (the tests do); unset, it gives this page's results.
quick = os.environ.get("CAPTUM_IFIM_GALLERY_QUICK") == "1"
data = load_dataset(
    "mni-sks-3d",
    num_train=160,
    num_val=40,
    num_test=16,
    volume_size=24,
    amplitude_range=(0.4, 0.7),
    seed=0,
)
models = []
for seed in (0, 1):
    trained = train_model(
        "shallow-cnn-3d",
        data,
        TrainingConfig.fast(epochs=2 if quick else 6, batch_size=16),
        seed=seed,
        model_options={"channels": (16, 32, 64)},
        progress=False,
    )
    models.append(trained.model)  # in eval mode
    print(f"seed {seed}: test accuracy {trained.test_metrics.accuracy:.3f}")
print("volumes", tuple(data.test.images.shape), "masks", tuple(data.test.masks.shape))

# %%
# The decomposition of one volume, in three slices
# ------------------------------------------------
# ``decompose`` works on the volume as on an image: a binary model has one nonzero
# eigenvalue, so :math:`K = 1` and :math:`S(x) = (u_1^\top x)\, u_1` with :math:`u_1` the unit
# gradient of the logit margin (eq. 12). The slices go through the centre of mass of the
# signal's ground-truth mask (red contour): axial (a fixed D), coronal (a fixed H) and
# sagittal (a fixed W).

images, labels, masks = data.test.images, data.test.labels, data.test.masks
index = int(torch.nonzero(labels == 1)[0])
x, mask = images[index : index + 1], masks[index]
results = [IFIMDecomposition(model).decompose(x, energy=0.9) for model in models]
print("eigenvalues ", [f"{r.eigenvalues[0, 0].item():.3g}" for r in results])
print("K (rho=0.9) ", [int(r.num_components[0]) for r in results])

centre = torch.nonzero(mask).double().mean(dim=0).round().long().tolist()


def slices(volume: torch.Tensor) -> list[torch.Tensor]:
    """Axial, coronal and sagittal slices of a (D, H, W) volume through ``centre``."""
    d, h, w = centre
    return [volume[d], volume[:, h], volume[:, :, w]]


rows = {"input x": x[0, 0]}
rows.update({f"S(x), seed {s}": r.sensitive[0, 0] for s, r in enumerate(results)})
planes = [f"axial D={centre[0]}", f"coronal H={centre[1]}", f"sagittal W={centre[2]}"]
fig, axes = plt.subplots(len(rows), 3, figsize=(7.2, 2.4 * len(rows)), layout="constrained")
for r, (name, volume) in enumerate(rows.items()):
    signed = name != "input x"
    peak = float(volume.abs().max())  # one colour scale for the three slices of a volume
    style = {"cmap": "RdBu_r", "vmin": -peak, "vmax": peak} if signed else {"cmap": "gray"}
    for c, (panel, outline) in enumerate(zip(slices(volume), slices(mask.float()), strict=True)):
        ax = axes[r, c]
        ax.imshow(panel, interpolation="nearest", **style)
        ax.contour(outline, levels=[0.5], colors="red", linewidths=0.8)
        ax.set_xticks([])
        ax.set_yticks([])
        if r == 0:
            ax.set_title(planes[c], fontsize=9)
    axes[r, 0].set_ylabel(name, fontsize=9)
plt.show()

# %%
# Two seeds, the same volumes: how much do their iFIM subspaces agree?
# --------------------------------------------------------------------
# For each test volume, the principal angles between the two seeds' :math:`U_K` give the
# mean :math:`\cos^2` overlap (1: the same direction of local sensitivity, 0: orthogonal);
# beside it the Pearson correlation of the two :math:`S(x)` maps. With :math:`K = 1` the
# overlap is the squared cosine of the two input gradients, and two random directions in
# :math:`\mathbb{R}^d` would give about :math:`1/d`. A low value across seeds says the two
# equally trained networks change their prediction fastest along different directions at
# that volume; it says nothing about which is right (see :doc:`/theory`). For :math:`K = 1` the
# :math:`S(x)` correlation is, up to centring, :math:`\pm\sqrt{\text{overlap}}`: the maps add only
# whether the two networks project :math:`x` the same way.

comparison = ifim_subspace_overlap(models[0], models[1], images)
d = images[0].numel()
fig, ax = plt.subplots(figsize=(7.2, 2.8), layout="constrained")
positions = torch.arange(len(images))
ax.bar(positions - 0.2, comparison.overlap, width=0.4, label="overlap of $U_K$ (cos²)")
ax.bar(positions + 0.2, comparison.map_correlation, width=0.4, label="S(x) correlation")
ax.axhline(
    1 / d, color="k", linestyle=":", linewidth=1, label=f"random directions: 1/d = {1 / d:.1e}"
)
ax.set_xticks(positions, [f"{i}\ny={int(y)}" for i, y in enumerate(labels)], fontsize=7)
ax.set_xlabel("test volume")
ax.set_ylim(-1, 1)
ax.legend(fontsize=8, loc="lower right")
plt.show()
print(f"mean overlap {comparison.overlap.nanmean():.3f}, chance 1/d = {1 / d:.1e}")
print(f"mean S(x) correlation {comparison.map_correlation.nanmean():.3f}")
print(f"mean sqrt(overlap)     {comparison.overlap.sqrt().nanmean():.3f}")
