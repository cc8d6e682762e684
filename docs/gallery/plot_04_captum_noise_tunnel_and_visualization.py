"""
iFIM inside Captum: NoiseTunnel and visualize_image_attr
========================================================

:class:`~captum_ifim.IFIMDecomposition` is a Captum ``GradientAttribution``, so Captum's
wrappers and plotting functions take it as they take ``Saliency``. Here ``NoiseTunnel``
averages the task-sensitive component :math:`S(x)` over noisy copies of the image
(SmoothGrad over the decomposition), and ``captum.attr.visualization`` draws the maps.
:doc:`/captum` lists what else works (tuple inputs, output heads, Captum's metrics).

Needs the ``compare`` extra (``pip install -e ".[compare]"``); then this script runs as it is.
"""

# %%
# A small trained network
# -----------------------

import os

import matplotlib.pyplot as plt
import torch
from captum.attr import NoiseTunnel, Saliency, visualization

from captum_ifim import IFIMDecomposition
from comparisons.datasets import load_dataset
from comparisons.training import TrainingConfig, train_model

# CAPTUM_IFIM_GALLERY_QUICK=1 trains for 2 epochs instead of 6, only to check that the
# script runs (the tests do); unset, it gives this page's results.
quick = os.environ.get("CAPTUM_IFIM_GALLERY_QUICK") == "1"
data = load_dataset(
    "mni-sks",
    num_train=600,
    num_val=100,
    num_test=20,
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
index = int(torch.nonzero(data.test.labels == 1)[0])  # a signal-present test image
x = data.test.images[index : index + 1]
print(f"test accuracy {trained.test_metrics.accuracy:.3f}")

# %%
# NoiseTunnel around the iFIM
# ---------------------------
# Keyword arguments of ``NoiseTunnel.attribute`` that it does not know go through to
# ``IFIMDecomposition.attribute``: here ``energy`` (:math:`\rho` of eq. 13) and
# ``component``. Each noisy copy is a full decomposition, so ``nt_samples`` multiplies the
# cost. The noise is 10 % of the training images' pixel standard deviation.

torch.manual_seed(0)  # NoiseTunnel draws its noise from the global generator
ifim = IFIMDecomposition(model)
tunnel = NoiseTunnel(ifim)
stdev = 0.1 * data.pixel_std
sensitive = ifim.attribute(x, energy=0.9)
smooth = tunnel.attribute(x, nt_type="smoothgrad", nt_samples=16, stdevs=stdev, energy=0.9)
smooth_sq = tunnel.attribute(x, nt_type="smoothgrad_sq", nt_samples=16, stdevs=stdev)
assert smooth.shape == smooth_sq.shape == x.shape
# For comparison, SmoothGrad proper: NoiseTunnel around Captum's Saliency, class "present".
smoothgrad = NoiseTunnel(Saliency(model)).attribute(
    x, nt_type="smoothgrad", nt_samples=16, stdevs=stdev, target=1
)

# %%
# ``visualize_image_attr`` on one figure
# --------------------------------------
# Captum's plotting functions take (H, W, C) NumPy arrays. The iFIM's maps are signed parts
# of the image, so ``sign="all"`` shows the sign and ``sign="absolute_value"`` the magnitude.


def hwc(tensor: torch.Tensor):
    """(1, C, H, W) tensor -> (H, W, C) NumPy array for captum.attr.visualization."""
    return tensor[0].permute(1, 2, 0).detach().numpy()


def gray_rgb(image: torch.Tensor):
    """(1, 1, H, W) image -> (H, W, 3) in [0, 1]: Captum draws the original image as RGB."""
    scaled = (image - image.min()) / (image.max() - image.min())
    return hwc(scaled.expand(-1, 3, -1, -1))


panels = [
    (sensitive, "all", "heat_map", "S(x)"),
    (smooth, "all", "heat_map", "NoiseTunnel S(x)"),
    (smooth_sq, "absolute_value", "heat_map", "NoiseTunnel S(x), smoothgrad_sq"),
    (smoothgrad, "absolute_value", "heat_map", "SmoothGrad (Saliency)"),
]
figure, axes = plt.subplots(1, len(panels), figsize=(14, 4.2))
for axis, (attribution, sign, method, title) in zip(axes, panels, strict=True):
    visualization.visualize_image_attr(
        hwc(attribution),
        gray_rgb(x),
        method=method,
        sign=sign,
        plt_fig_axis=(figure, axis),
        show_colorbar=True,
        title=title,
        use_pyplot=False,
    )
figure.tight_layout()
plt.show()

# %%
# ``visualize_image_attr_multiple``
# ---------------------------------
# The image and the smoothed :math:`S(x)` as a heat map and blended over the image, its
# magnitude and with its sign (with ``use_pyplot=True``, the default, Captum shows the
# figure itself).

visualization.visualize_image_attr_multiple(
    hwc(smooth),
    gray_rgb(x),
    methods=["original_image", "heat_map", "blended_heat_map", "blended_heat_map"],
    signs=["all", "absolute_value", "absolute_value", "all"],
    titles=["x", "|NoiseTunnel S(x)|", "|NoiseTunnel S(x)| over x", "NoiseTunnel S(x) over x"],
    show_colorbar=True,
    fig_size=(14, 3.6),
)
