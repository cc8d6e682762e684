"""
A Captum workflow on a Hugging Face model, benchmarked beside the iFIM
======================================================================

You explain a Hugging Face image classifier with the methods of a Captum workflow:
``Saliency``, ``IntegratedGradients``, ``InputXGradient``, ``GradientShap``, ``DeepLift``,
``Occlusion``, ``LayerGradCam``, and pytorch-grad-cam's ``GradCAM``. Which of them explains
the model best, and where does the iFIM's sensitive component (:doc:`/theory`) stand among
them? :func:`comparisons.compare` runs them all by their registry names
(:doc:`/captum-methods`) through the same metrics, on the same test images.

The model is a ``transformers`` ``ResNetForImageClassification`` built from a config with
random weights (nothing is downloaded) and trained for a few seconds on simulated MNI152
slices (SKS/BKS: a white-matter signal present or absent, the paper's task). It is given to
``compare`` as it comes: its forward returns an ``ImageClassifierOutput``, whose ``.logits``
every method and metric reads by one rule, and the CAMs take the last stage of the network,
the default layer of Hugging Face ResNets (:doc:`/own-model`, "Models as they come").

Needs the ``compare`` and ``huggingface`` extras (``pip install -e ".[compare,huggingface]"``);
then this script runs as it is.
"""

# %%
# Simulated slices and a Hugging Face ResNet
# ------------------------------------------
#
# 32 x 32 slices with a bright signal; the model sees them standardized with the training
# images' mean and std, as an image processor would do.

import os

import matplotlib.pyplot as plt
import pandas as pd
import torch
from transformers import ResNetConfig, ResNetForImageClassification

from captum_ifim import UnsupportedModelError, build_method
from captum_ifim.metrics import get_metric_info
from comparisons import compare
from comparisons.datasets import load_dataset

# CAPTUM_IFIM_GALLERY_QUICK=1 trains for 4 epochs on 300 images instead of 8 on 600 and
# evaluates 16 test images instead of 32, only to check that the script runs (the tests
# do); unset, it gives this page's results.
quick = os.environ.get("CAPTUM_IFIM_GALLERY_QUICK") == "1"
torch.set_num_threads(1)
torch.manual_seed(0)
data = load_dataset(
    "mni-sks", num_train=300 if quick else 600, num_val=10, num_test=100, image_size=32,
    amplitude_range=(0.4, 0.6), seed=0,
)  # fmt: skip
mean, std = data.pixel_mean, data.pixel_std

config = ResNetConfig(
    num_channels=1, embedding_size=16, hidden_sizes=[32], depths=[2], layer_type="basic",
    downsample_in_first_stage=False, id2label=dict(enumerate(data.class_names)),
)  # fmt: skip
model = ResNetForImageClassification(config)  # random weights: nothing downloaded

train_images = (data.train.images - mean) / std
epochs, batches = (4 if quick else 8), len(torch.arange(len(train_images)).split(32))
optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 3e-3, total_steps=epochs * batches)
generator = torch.Generator().manual_seed(0)
model.train()
for _epoch in range(epochs):
    for batch in torch.randperm(len(train_images), generator=generator).split(32):
        output = model(train_images[batch], labels=data.train.labels[batch])  # HF's own loss
        optimiser.zero_grad()
        output.loss.backward()
        optimiser.step()
        schedule.step()
model.eval()
with torch.no_grad():
    output = model((data.test.images - mean) / std)
print(type(output).__name__, tuple(output.logits.shape))
print(f"test accuracy {(output.logits.argmax(1) == data.test.labels).float().mean():.3f}")

# %%
# A method that refuses the model
# -------------------------------
#
# Captum's ``DeepLift`` hooks every module and cannot run where a residual block adds to a
# module's output in place, as the Hugging Face ResNet does. The registry checks the model
# before hooking anything and says which module is in the way; nothing is changed.

try:
    build_method("deeplift", model).attribute(train_images[:2], target=1)
except UnsupportedModelError as error:
    print(f"{type(error).__name__} for {error.method}: {error.operations[0]}; {error.reason}.")

# %%
# The benchmark
# -------------
#
# One call. Every method explains the same test images and every metric scores them: the
# paper's two, the contrastive-perturbation F1 ratio (Sec. IV-E; higher: the map's top
# pixels matter more to the decision than its bottom ones) and the correlation of each map
# with the map of an FGSM-perturbed image (Sec. IV-F; lower: the map follows the change
# that moves the model), then deletion AUC (lower: the class probability falls faster as
# the top pixels are deleted), the share of each map's energy inside the signal's mask, the
# pointing game and sparseness. The preprocessing runs inside the model, so the maps are
# maps of the slices as stored, on the masks' grid. The rows also hold the model's own
# test accuracy, precision and recall on the data's test slices (the paper's Table II),
# printed first.

methods = [
    "ifim-sensitive", "saliency", "integrated-gradients", "input-x-gradient", "gradient-shap",
    "occlusion", "layer-gradcam", "gradcam",
]  # fmt: skip
metrics = [
    "contrastive-perturbation", "adversarial-correlation", "deletion-auc", "energy-in-mask",
    "pointing-game", "sparseness",
]  # fmt: skip
rows = compare(
    model,
    data,
    preprocessing={"mean": mean, "std": std},
    methods=methods,
    metrics=metrics,
    eval_examples=16 if quick else 32,
    batch_size=16,
)
model_rows = rows[rows.method == ""]
print(model_rows[["metric", "setting", "value"]].to_string(index=False))

# %%
# The table: one row per method, the mean over the evaluated images (``n`` of them) of
# each metric at one setting. An F1 ratio is ``inf`` where the F1 after perturbing the
# map's top pixels fell to 0 (:doc:`/metrics`); the F1 difference beside it stays finite.
# ``seconds-per-image`` is each method's time per map here (one CPU thread). Below it, the
# method that comes first on four of the metrics, and the iFIM's rank among the eight.

shown = {
    ("f1-ratio", "alpha=0.02"): "f1-ratio",
    ("f1-difference", "alpha=0.02"): "f1-difference",
    ("adversarial-correlation", None): "adversarial-correlation",
    ("deletion-auc", "baseline=mean"): "deletion-auc",
    ("energy-in-mask", ""): "energy-in-mask",
    ("pointing-game", "tolerance=0"): "pointing-game",
    ("sparseness", ""): "sparseness",
    ("seconds-per-image", ""): "seconds-per-image",
}
columns = {}
for (metric, setting), label in shown.items():
    picked = rows[(rows.metric == metric) & (rows.method != "")]
    if setting is not None:
        picked = picked[picked.setting == setting]
    columns[label] = picked.set_index("method").value
table = pd.DataFrame(columns).loc[methods]
evaluated = rows[rows.metric == "deletion-auc"].n.iloc[0]
with_signal = rows[rows.metric == "energy-in-mask"].n.iloc[0]
print(
    f"{evaluated} test images per method, {with_signal} of them with the signal (the mask metrics)"
)
print(table.round(3).to_string())

# Which method comes first on each metric, read from the library's metric directions.
for label, metric in [
    ("f1-difference", "contrastive-perturbation"),
    ("deletion-auc", "deletion-auc"),
    ("energy-in-mask", "energy-in-mask"),
    ("pointing-game", "pointing-game"),
]:
    higher = get_metric_info(metric).higher_is_better
    ranks = table[label].rank(ascending=not higher, method="min")
    print(
        f"{label} ({'higher' if higher else 'lower'} is better): first "
        f"{', '.join(ranks.index[ranks == 1])}; ifim-sensitive ranks "
        f"{int(ranks['ifim-sensitive'])} of {len(table)}"
    )

# %%
# What the maps look like
# -----------------------
#
# The same methods built directly on the Hugging Face model (:func:`captum_ifim.build_method`
# takes it as it comes too), on three signal-present test slices, standardized as the model
# expects, with the signal's outline. GradientShap draws its baselines from 16 training
# images. ``gradcam`` and ``layer-gradcam`` weigh the last stage, an 8 x 8 grid here.

present = torch.nonzero(data.test.labels == 1).flatten()[:3]
images = (data.test.images[present] - mean) / std
target = torch.ones(len(present), dtype=torch.long)
fig, axes = plt.subplots(3, len(methods) + 1, figsize=(12, 4.6), layout="constrained")
for row in range(3):
    axes[row, 0].imshow(images[row, 0], cmap="gray")
    axes[row, 0].contour(data.test.masks[present[row]], levels=[0.5], colors="tab:red")
for column, name in enumerate(methods, start=1):
    method = build_method(name, model, background=train_images[:16])
    maps = method.attribute(images, target=target).detach()
    for row in range(3):
        axes[row, column].imshow(maps[row, 0].abs(), cmap="magma")
        axes[row, column].contour(
            data.test.masks[present[row]], levels=[0.5], colors="tab:cyan", linewidths=0.8
        )
    axes[0, column].set_title(name, fontsize=8)
axes[0, 0].set_title("slice", fontsize=8)
for ax in axes.flat:
    ax.set_axis_off()
plt.show()
