"""
An image and clinical variables: how the iFIM splits across the inputs
======================================================================

A two-input classifier reads an MNI152 brain slice and two tabular variables (a "marker"
and an "age"), and the label follows a known rule: **positive when the slice holds a
white-matter signal and the marker is above 0**; the age plays no part. The iFIM of the
joint input :math:`x = (x_\\text{image}, x_\\text{table})` (Captum's tuple inputs) has unit
eigenvectors whose energy splits across the two inputs,
:math:`\\|u^{(m)}_\\text{image}\\|^2 + \\|u^{(m)}_\\text{table}\\|^2 = 1`, and the spectrum-weighted
share of each input is :math:`\\operatorname{tr} F_{ii} / \\operatorname{tr} F` (the
:doc:`/theory` page, "The iFIM at a layer, over tokens and across inputs").

The rule says which input can change the label at each sample: with the signal present and
the marker low, only the marker can (the table should dominate); with no signal and the
marker high, only the image can (a signal would flip the label).

Needs the ``compare`` extra (``pip install -e ".[compare]"``); then this script runs as it is.
"""

# %%
# Data: MNI152 slices with and without a signal, and a table
# -----------------------------------------------------------
# ``mni-sks`` is the harness's signal-known-statistically task on MNI152 slices (shipped
# with nilearn; nothing is downloaded), here at 32 x 32 pixels with a bright signal.

import os

import matplotlib.pyplot as plt
import torch
from torch import nn

from captum_ifim import IFIMDecomposition, plot_input_shares
from comparisons.datasets import load_dataset

# CAPTUM_IFIM_GALLERY_QUICK=1 trains for 3 epochs instead of 15, only to check that the
# script runs (the tests do); unset, it gives this page's results.
quick = os.environ.get("CAPTUM_IFIM_GALLERY_QUICK") == "1"
torch.manual_seed(0)
data = load_dataset(
    "mni-sks", num_train=800, num_val=10, num_test=200, image_size=32,
    amplitude_range=(0.4, 0.6), seed=0,
)  # fmt: skip


def standardise(images):
    return (images - data.pixel_mean) / data.pixel_std


def tabulate(split, generator):
    """(marker, age) per image, both standard normal; label = signal present AND marker > 0."""
    table = torch.randn(len(split), 2, generator=generator)
    labels = (split.labels == 1) & (table[:, 0] > 0)
    return table, labels.long()


generator = torch.Generator().manual_seed(0)
train_images, test_images = standardise(data.train.images), standardise(data.test.images)
train_table, train_labels = tabulate(data.train, generator)
test_table, test_labels = tabulate(data.test, generator)
print(f"positives: train {train_labels.float().mean():.2f}, test {test_labels.float().mean():.2f}")

# %%
# A two-input network, trained in seconds
# ---------------------------------------


class ImageAndTable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.table = nn.Sequential(nn.Linear(2, 8), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(16 + 8, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, image, table):
        return self.head(torch.cat([self.image(image), self.table(table)], dim=1))


model = ImageAndTable()
optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
for _epoch in range(3 if quick else 15):
    for batch in torch.randperm(len(train_labels), generator=generator).split(32):
        loss = nn.functional.cross_entropy(
            model(train_images[batch], train_table[batch]), train_labels[batch]
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
model.eval()
with torch.no_grad():
    accuracy = (model(test_images, test_table).argmax(1) == test_labels).float().mean()
print(f"test accuracy {accuracy:.3f}")

# %%
# The iFIM of the joint input, and its shares
# -------------------------------------------
# ``decompose`` on a tuple returns each eigenvector as a tuple of blocks;
# ``result.input_shares`` gives ``eigenvector_shares`` (N, R, inputs) and
# ``spectrum_shares`` (N, inputs). Two classes: one eigenvector per sample (R = C - 1 = 1).

ifim = IFIMDecomposition(model)
result = ifim.decompose((test_images, test_table))
shares = result.input_shares
image_share = shares.spectrum_shares[:, 0]

present = data.test.labels == 1
marker_high = test_table[:, 0] > 0
groups = {
    "signal, marker > 0 (label 1: both can flip it)": present & marker_high,
    "signal, marker < 0 (label 0: only the marker can)": present & ~marker_high,
    "no signal, marker > 0 (label 0: only the image can)": ~present & marker_high,
    "no signal, marker < 0 (label 0: neither alone)": ~present & ~marker_high,
}
for name, members in groups.items():
    print(
        f"{name:55s} n={int(members.sum()):3d}  image share "
        f"{image_share[members].mean():.2f}, table share {1 - image_share[members].mean():.2f}"
    )

# %%
# Within the table, the age should carry almost nothing: the squared entries of each
# eigenvector's table block, summed over the test set.

table_block = result.eigenvectors[1]  # (N, R, 2)
energy = table_block.square().sum(dim=(0, 1))
marker, age = (energy / energy.sum()).tolist()
print(f"the table's energy: marker {marker:.3f}, age {age:.3f}")

# %%
# One sample of each of the two informative groups
# ------------------------------------------------

fig, axes = plt.subplots(2, 2, figsize=(9, 4.5), gridspec_kw={"width_ratios": [1, 2.2]})
for row, name in enumerate(list(groups)[1:3]):
    index = int(torch.nonzero(groups[name])[0])
    axes[row, 0].imshow(test_images[index, 0], cmap="gray")
    axes[row, 0].set_title(f"marker {test_table[index, 0]:+.2f}", fontsize=9)
    axes[row, 0].axis("off")
    plot_input_shares(shares, sample=index, names=["image", "table"], ax=axes[row, 1])
    axes[row, 1].set_title(name, fontsize=9)
fig.tight_layout()
plt.show()
