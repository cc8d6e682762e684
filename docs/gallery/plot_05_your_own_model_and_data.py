"""
Your own model on your own scans
================================

You have a trained classifier and a folder of scans with their lesion masks; which
attribution method explains the classifier best? :func:`comparisons.compare` runs the
methods you name through the harness's metrics on your model and your images, exactly as
``python -m comparisons run`` does with a config (:doc:`/own-model` shows both forms), and
returns the result rows as a table.

Here the "scans" are 32 x 32 grayscale images, half of them with a bright lesion, listed
with their masks in a CSV manifest; the model is a small CNN trained on other scans. The
masks enable the localization metrics: the share of each map's energy inside the lesion
mask, and the pointing game.

Needs the ``compare`` extra (``pip install -e ".[compare]"``); then this script runs as it is.
"""

# %%
# Your scans, their masks and your model
# --------------------------------------

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image
from torch import nn

from captum_ifim import build_method
from comparisons import compare
from comparisons.datasets import load_dataset
from comparisons.models import InputPreprocessing, PreprocessedModel

rng = np.random.default_rng(0)


def scan(lesion: bool) -> tuple[np.ndarray, np.ndarray]:
    """A noisy 32 x 32 image and its mask: a bright 6 x 6 lesion at a random place, or none."""
    image = rng.normal(90, 25, (32, 32)).clip(0, 255)
    mask = np.zeros((32, 32), dtype=np.uint8)
    if lesion:
        row, col = rng.integers(4, 22, 2)
        image[row : row + 6, col : col + 6] += 70
        mask[row : row + 6, col : col + 6] = 255
    return image.clip(0, 255).astype(np.uint8), mask


folder = Path(tempfile.mkdtemp()) / "study"
folder.mkdir()
lines = ["path,label,mask"]
for k in range(24):
    label = k % 2
    image, mask = scan(bool(label))
    Image.fromarray(image).save(folder / f"scan{k:02d}.png")
    mask_name = ""
    if label:
        mask_name = f"scan{k:02d}_mask.png"
        Image.fromarray(mask).save(folder / mask_name)
    lines.append(f"scan{k:02d}.png,{'lesion' if label else 'healthy'},{mask_name}")
(folder / "labels.csv").write_text("\n".join(lines) + "\n")

# Only test images: a model given as it is needs nothing else.
data = load_dataset("csv", manifest=folder / "labels.csv", test_fraction=1.0)
print(f"{len(data.test)} test scans, classes {data.class_names}, masks {data.has_masks}")

# Your model, trained elsewhere (here: a few seconds on other scans) on standardized
# images, (x - 0.35) / 0.1: the preprocessing it expects, declared to compare below.
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(8, 8, 3, padding=1),
    nn.ReLU(),
    nn.AdaptiveMaxPool2d(1),
    nn.Flatten(),
    nn.Linear(8, 2),
)
train_labels = torch.arange(200) % 2
train_images = (
    torch.stack([torch.from_numpy(scan(bool(y))[0]) for y in train_labels]).float()[:, None] / 255
)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for _ in range(6):
    for batch in torch.randperm(200).split(20):
        logits = model((train_images[batch] - 0.35) / 0.1)
        loss = nn.functional.cross_entropy(logits, train_labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
model.eval()

# %%
# Every method through the metrics
# --------------------------------
#
# One call: the model is used as given (a copy), every method explains the same 16 test
# scans, every metric scores them, and the model's own test precision and recall are
# among the rows (the paper's Table II). The preprocessing runs inside the model, so the
# maps are maps of the scans as stored, on the masks' grid.

methods = ["ifim-sensitive", "gradcam", "saliency", "integrated-gradients"]
rows = compare(
    model,
    data,
    preprocessing={"mean": 0.35, "std": 0.1},
    methods=methods,
    metrics=["contrastive-perturbation", "energy-in-mask", "pointing-game"],
    eval_examples=16,
    batch_size=16,
)
model_rows = rows[rows.method == ""]
print(model_rows[["metric", "setting", "value"]].to_string(index=False))

table = rows[rows.metric.isin(["f1-ratio", "energy-in-mask", "pointing-game"])]
table = table[table.setting.isin(["alpha=0.02", "", "tolerance=0"])]
summary = table.pivot(index="method", columns="metric", values="value").loc[methods]
print(summary.round(3).to_string())

# %%
# The F1 ratio (Sec. IV-E, higher: the top-ranked pixels matter more to the decision) and
# the share of each map's energy inside the lesion mask:

fig, axes = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
for ax, metric in zip(axes, ["f1-ratio", "energy-in-mask"], strict=True):
    values = summary[metric].replace([np.inf], np.nan)
    ax.bar(range(len(methods)), values, color="tab:blue")
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
    ax.set_title(metric if metric != "f1-ratio" else "f1-ratio at alpha = 0.02")
plt.show()

# %%
# What the maps look like
# -----------------------
#
# The same methods built directly (:func:`captum_ifim.build_method`) on three lesion scans,
# with the lesion mask's outline, on the model behind the same preprocessing.

wrapped = PreprocessedModel(model, InputPreprocessing(mean=(0.35,), std=(0.1,)), 1, 2).eval()
lesions = torch.nonzero(data.test.labels == 1).flatten()[:3]
images = data.test.images[lesions]
masks = data.test.masks[lesions]
fig, axes = plt.subplots(3, len(methods) + 1, figsize=(9, 6.5), layout="constrained")
for row in range(3):
    axes[row, 0].imshow(images[row, 0], cmap="gray")
    axes[row, 0].contour(masks[row], levels=[0.5], colors="tab:red", linewidths=1)
for column, name in enumerate(methods, start=1):
    maps = build_method(name, wrapped).attribute(images, target=torch.ones(3, dtype=torch.long))
    for row in range(3):
        axes[row, column].imshow(maps[row, 0].abs().detach(), cmap="magma")
        axes[row, column].contour(masks[row], levels=[0.5], colors="tab:cyan", linewidths=1)
    axes[0, column].set_title(name, fontsize=9)
axes[0, 0].set_title("scan", fontsize=9)
for ax in axes.flat:
    ax.set_axis_off()
plt.show()
