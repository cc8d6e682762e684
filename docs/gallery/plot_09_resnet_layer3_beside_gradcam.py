"""
The iFIM at a ResNet's ``layer3``, beside Grad-CAM at the same layer
====================================================================

:class:`~captum_ifim.LayerIFIMDecomposition` computes the iFIM of the predictive
distribution with respect to a layer's activation :math:`a(x)` instead of the pixels:
:math:`C - 1` backward passes from the output to the layer, a :math:`C \\times C`
eigenproblem, and the split :math:`a = a_\\text{sens} + (a - a_\\text{sens})`. For a
convolutional layer, ``result.spatial_map`` reduces :math:`a_\\text{sens}` over the channels
at each location :math:`\\ell` and upsamples it to the image as Captum's
``LayerAttribution.interpolate`` does; the reduction is the ``location_summary``:
``"signed_norm"``, :math:`\\operatorname{sign}(\\langle s_\\ell, a_\\ell\\rangle)\\|s_\\ell\\|`,
or ``"projection"``, :math:`\\langle s_\\ell, a_\\ell\\rangle` (the :doc:`/theory` page, "The
iFIM at a layer, over tokens and across inputs"). Beside them, Captum's ``LayerGradCam`` at
the same layer, upsampled the same way.

The network is torchvision's ``resnet18(weights=None)`` with a one-channel stem, **trained
briefly** (4 epochs, all layers, from random weights) to tell 64 x 64 MNI152 slices with a
white-matter signal from slices without one. At 64 pixels ``layer3`` is a 4 x 4 grid.

Needs the ``compare`` extra (``pip install -e ".[compare]"``); then this script runs as it is.
"""

# %%
# Data and a briefly trained ResNet-18
# ------------------------------------

import os

import matplotlib.pyplot as plt
import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn
from torchvision.models import resnet18

from captum_ifim import LayerIFIMDecomposition
from comparisons.datasets import load_dataset

# CAPTUM_IFIM_GALLERY_QUICK=1 trains for 1 epoch on fewer images instead of 4, only to
# check that the script runs (the tests do); unset, it gives this page's results.
quick = os.environ.get("CAPTUM_IFIM_GALLERY_QUICK") == "1"
torch.manual_seed(0)
data = load_dataset(
    "mni-sks", num_train=100 if quick else 300, num_val=10, num_test=40, image_size=64,
    amplitude_range=(0.5, 0.8), seed=0,
)  # fmt: skip
train_images = (data.train.images - data.pixel_mean) / data.pixel_std
test_images = (data.test.images - data.pixel_mean) / data.pixel_std

model = resnet18(weights=None, num_classes=2)
model.conv1 = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)
model.train()
optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
generator = torch.Generator().manual_seed(0)
for _epoch in range(1 if quick else 4):
    for batch in torch.randperm(len(train_images), generator=generator).split(32):
        loss = nn.functional.cross_entropy(model(train_images[batch]), data.train.labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
model.eval()
with torch.no_grad():
    predicted = model(test_images).argmax(1)
print(f"test accuracy {(predicted == data.test.labels).float().mean():.3f}")

# %%
# The maps at ``layer3``
# ----------------------
# ``location_summary`` only changes how ``spatial_map`` reduces the same
# :math:`a_\text{sens}`; each decomposition costs one backward pass here (C = 2).

maps = {}
for summary in ("signed_norm", "projection"):
    ifim = LayerIFIMDecomposition(model, model.layer3, location_summary=summary)
    maps[f"iFIM {summary}"] = ifim.decompose(test_images, energy=0.9).spatial_map[:, 0]
gradcam = LayerGradCam(model, model.layer3).attribute(test_images, target=predicted)
maps["Grad-CAM"] = LayerAttribution.interpolate(gradcam, (64, 64), "bilinear")[:, 0].relu()


def pearson(a, b):
    a, b = a.flatten(1), b.flatten(1)
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)


def pointing_game(scores, masks, tolerance=16):
    """Whether each map's largest |value| lies within ``tolerance`` pixels of the signal's
    centre (one ``layer3`` cell is 16 x 16 pixels: nothing finer exists at this layer)."""
    rows, cols = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    weights = masks / masks.sum(dim=(1, 2), keepdim=True)
    centre = torch.stack([(weights * rows).sum((1, 2)), (weights * cols).sum((1, 2))], 1)
    peak = scores.abs().flatten(1).argmax(1)
    where = torch.stack([peak // 64, peak % 64], 1).float()
    return (where - centre).norm(dim=1) <= tolerance


present = data.test.labels == 1
masks = data.test.masks.float()
for name, scores in maps.items():
    hits = pointing_game(scores[present], masks[present]).float().mean()
    print(f"{name:22s} peak within 16 px of the signal: {hits:.0%} of the signal-present images")
drawn = maps["Grad-CAM"].flatten(1).amax(1) > 0  # Grad-CAM is all zero on some images
for name in ("iFIM signed_norm", "iFIM projection"):
    agreement = pearson(maps[name].abs(), maps["Grad-CAM"])[drawn].mean()
    print(f"Pearson(|{name}|, Grad-CAM) over {int(drawn.sum())} images: {agreement:.2f}")

# %%
# Three signal-present test images: the slice (signal contour) and the three maps. With
# ``"signed_norm"`` the map is close to the norm of the gradient at each location, which the
# average pooling after ``layer4`` makes much the same for every image; ``"projection"``
# weighs it by the activation there, as Grad-CAM does, and follows the image more.

fig, axes = plt.subplots(3, 4, figsize=(10, 7.5))
for row, index in enumerate(torch.nonzero(present)[:3, 0].tolist()):
    panels = [("slice", test_images[index, 0])] + [(k, v[index]) for k, v in maps.items()]
    for col, (title, image) in enumerate(panels):
        image = image.detach()
        if title.startswith("iFIM"):
            bound = float(image.abs().max())
            axes[row, col].imshow(image, cmap="RdBu_r", vmin=-bound, vmax=bound)
        else:
            axes[row, col].imshow(image, cmap="gray" if title == "slice" else "magma")
        axes[row, col].contour(masks[index], levels=[0.5], colors="lime", linewidths=0.8)
        axes[row, col].axis("off")
        if row == 0:
            axes[row, col].set_title(title, fontsize=10)
fig.tight_layout()
plt.show()
