"""
The paper's methods side by side on the same images
===================================================

The iFIM's two components and the paper's baselines (Grad-CAM, Grad-CAM++, Score-CAM,
XGrad-CAM, Eigen-CAM, DeepSHAP, plus saliency and integrated gradients) are registered by
name, beside every Captum class and pytorch-grad-cam CAM. :func:`captum_ifim.build_method`
builds any of them for a model and every one is called the same way,
``attribute(images, target=...)``, returning maps of the images' shape. Here the paper's
set (``method_set("paper")``) explains the same three brain slices with a signal, for the
same trained network. :doc:`/baselines` says what each method computes.

Needs the ``compare`` extra (``pip install -e ".[compare]"``); then this script runs as it is.
"""

# %%
# A small trained network
# -----------------------
# ``mni-sks``: signal absent (0) or present (1) in the white matter of an MNI152 slice.

import os
import time

import matplotlib.pyplot as plt
import torch

from captum_ifim import build_method, get_method_spec, method_set
from comparisons.datasets import load_dataset
from comparisons.training import TrainingConfig, train_model

# CAPTUM_IFIM_GALLERY_QUICK=1 trains for 2 epochs instead of 6, only to check that the
# script runs (the tests do); unset, it gives this page's results.
quick = os.environ.get("CAPTUM_IFIM_GALLERY_QUICK") == "1"
data = load_dataset(
    "mni-sks",
    num_train=600,
    num_val=100,
    num_test=40,
    image_size=64,
    amplitude_range=(0.3, 0.5),  # a brighter signal than the harness's default
    seed=0,
)
trained = train_model(
    "shallow-cnn",
    data,
    TrainingConfig.fast(epochs=2 if quick else 6),
    seed=0,
    model_options={"head": "max"},
    progress=False,
)
model = trained.model
print(f"test accuracy {trained.test_metrics.accuracy:.3f}")

# %%
# Every registered method on three images
# ---------------------------------------
# The three first signal-present test images; class-specific methods explain the class
# "present". DeepSHAP needs reference inputs (``background=``): 16 training images. The CAMs
# take the last convolution of the network (:func:`captum_ifim.default_target_layer`).

present = torch.nonzero(data.test.labels == 1).flatten()[:3]
images, masks = data.test.images[present], data.test.masks[present]
target = torch.ones(len(images), dtype=torch.long)
background = data.train.images[:16]

maps = {}
for name in method_set("paper"):
    method = build_method(name, model, background=background)
    started = time.perf_counter()
    maps[name] = method.attribute(images, target=target).detach()
    seconds = time.perf_counter() - started
    assert maps[name].shape == images.shape
    print(f"{name:22s} {1000 * seconds / len(images):7.1f} ms per image")

# %%
# Each map is shown as its magnitude, scaled to [0, 1] per image, so that methods whose
# maps live on different scales can be compared (CAMs are already min-max normalised;
# the iFIM components are signed parts of the image, see :doc:`/theory`). The white contour
# is the ground-truth signal.

names = method_set("paper")
figure, axes = plt.subplots(
    len(images), len(names) + 1, figsize=(1.6 * (len(names) + 1), 1.75 * len(images))
)
for row in range(len(images)):
    axes[row, 0].imshow(images[row, 0], cmap="gray")
    axes[row, 0].contour(masks[row], levels=[0.5], colors="red", linewidths=0.6)
    for column, name in enumerate(names, start=1):
        magnitude = maps[name][row].abs().sum(dim=0)
        magnitude = magnitude / magnitude.max().clamp_min(1e-12)
        axes[row, column].imshow(magnitude, cmap="inferno", vmin=0, vmax=1)
        axes[row, column].contour(masks[row], levels=[0.5], colors="white", linewidths=0.6)
for column, title in enumerate(["image", *names]):
    axes[0, column].set_title(title, fontsize=10)
for axis in axes.flat:
    axis.set_axis_off()
figure.tight_layout(pad=0.3)
plt.show()

# %%
# What the registry knows about each method
# -----------------------------------------
# The facts a harness filters by are data of the registry entry, not names to test.

for name in names:
    spec = get_method_spec(name)
    print(
        f"{name:22s} uses target: {spec.uses_target!s:5s}  normalized: "
        f"{spec.normalized_maps!s:5s}  needs target layer: {spec.needs_target_layer}"
    )
