"""
Decompose one MNI152 slice: S(x), I(x) and the spectrum
=======================================================

A small CNN learns to tell where a faint white-matter signal sits in an MNI152 brain slice
(absent, image-left or image-right hemisphere). For one test image we compute the
input-dependent Fisher information :math:`F(x)` of the network's predictive distribution,
its eigenvalues and eigenvectors (through the :math:`C \\times C` Gram matrix, eqs. 5-11 of
the paper), and the split :math:`x = S(x) + I(x)` into the task-sensitive component and its
orthogonal complement (eqs. 13-17). The mathematics is on the :doc:`/theory` page.

Needs the ``compare`` extra (``pip install -e ".[compare]"``); then this script runs as it is.
"""

# %%
# Data and a small trained network
# --------------------------------
# ``mni-sks-3class`` is the harness's embedded task (MNI152 slices shipped with nilearn;
# nothing is downloaded). A brighter signal than the harness's default and 64 x 64 pixels
# keep the training to a few seconds on a CPU.

import os

import matplotlib.pyplot as plt
import torch

from captum_ifim import IFIMDecomposition
from comparisons.datasets import load_dataset
from comparisons.training import TrainingConfig, train_model

# CAPTUM_IFIM_GALLERY_QUICK=1 trains for 2 epochs instead of 8, only to check that the
# script runs (the tests do); unset, it gives this page's results.
quick = os.environ.get("CAPTUM_IFIM_GALLERY_QUICK") == "1"
data = load_dataset(
    "mni-sks-3class",
    num_train=600,
    num_val=90,
    num_test=60,
    image_size=64,
    amplitude_range=(0.3, 0.5),
    seed=0,
)
trained = train_model(
    "shallow-cnn",
    data,
    TrainingConfig.fast(epochs=2 if quick else 8),
    seed=0,
    model_options={"head": "max"},
    progress=False,
)
model = trained.model  # in eval mode
print(f"classes {data.class_names}, test accuracy {trained.test_metrics.accuracy:.3f}")

# %%
# The decomposition of one image
# ------------------------------
# ``decompose`` returns everything at once: the eigenvalues :math:`\lambda_1 \ge \lambda_2`
# (at most :math:`C - 1 = 2` are nonzero), the unit eigenvectors :math:`u_i`, the number
# :math:`K` of components that hold a fraction :math:`\rho` of the spectrum's energy
# (eq. 13) and the two projections :math:`S(x) = U_K U_K^\top x` and
# :math:`I(x) = x - S(x)`.

images, labels, masks = data.test.images, data.test.labels, data.test.masks
# A correctly classified image-left signal of middling confidence: where the softmax is
# saturated (p one-hot) the iFIM vanishes and there is nothing to decompose.
with torch.no_grad():
    probs = model(images).softmax(dim=1)
candidates = torch.nonzero((labels == 1) & (probs.argmax(dim=1) == 1)).flatten()
index = int(candidates[probs[candidates, 1].argsort()[len(candidates) // 2]])
x = images[index : index + 1]

ifim = IFIMDecomposition(model)
result = ifim.decompose(x, energy=0.9)
sensitive, insensitive = result.sensitive, result.insensitive

print("p(y | x)      ", [round(p, 3) for p in result.probs[0].tolist()])
print("eigenvalues   ", [f"{v:.3g}" for v in result.eigenvalues[0].tolist()])
print("K (rho = 0.9) ", int(result.num_components[0]))
# The two components add up to the image and are orthogonal (eq. 17).
torch.testing.assert_close(sensitive + insensitive, x)
print("<S(x), I(x)> / |x|^2 =", float((sensitive * insensitive).sum() / x.square().sum()))

# %%
# :math:`S(x)` is a small, signed image concentrated where the network looks; :math:`I(x)`
# is nearly the whole image. The white contour is the ground-truth signal (its half-maximum
# region).

panels = [
    ("x", x[0, 0], "gray"),
    ("S(x)", sensitive[0, 0], "RdBu_r"),
    ("|S(x)|", sensitive[0, 0].abs(), "magma"),
    ("I(x) = x - S(x)", insensitive[0, 0], "gray"),
]
figure, axes = plt.subplots(1, 4, figsize=(12, 3.4), layout="constrained")
for axis, (title, image, cmap) in zip(axes, panels, strict=True):
    limit = float(image.abs().max())
    if cmap == "RdBu_r":
        shown = axis.imshow(image, cmap=cmap, vmin=-limit, vmax=limit)
    else:
        shown = axis.imshow(image, cmap=cmap)
    axis.contour(masks[index], levels=[0.5], colors="white", linewidths=0.8)
    axis.set_title(title)
    axis.set_axis_off()
    figure.colorbar(shown, ax=axis, shrink=0.8)
plt.show()

# %%
# The eigenvectors
# ----------------
# :math:`u_1` and :math:`u_2` are the two input directions along which a small change of
# the image changes the predictive distribution at all (all other directions are in the
# null space of :math:`F(x)`).

eigenvectors = result.eigenvectors[0]  # (C - 1, 1, 64, 64)
figure, axes = plt.subplots(1, 2, figsize=(7, 3.4), layout="constrained")
for i, axis in enumerate(axes):
    u = eigenvectors[i, 0]
    limit = float(u.abs().max())
    shown = axis.imshow(u, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axis.contour(masks[index], levels=[0.5], colors="black", linewidths=0.8)
    axis.set_title(f"$u_{i + 1}$, $\\lambda_{i + 1}$ = {float(result.eigenvalues[0, i]):.3g}")
    axis.set_axis_off()
    figure.colorbar(shown, ax=axis, shrink=0.8)
plt.show()

# %%
# The spectrum over the test set
# ------------------------------
# One batched call decomposes every test image. The iFIM is large where the prediction
# is uncertain and vanishes where the softmax saturates; the energy fraction of
# :math:`\lambda_1` says how often one direction is enough (:math:`K = 1`).

everything = ifim.decompose(images, energy=0.9)
eigenvalues = everything.eigenvalues  # (N, C - 1), float64, descending
confidence = everything.probs.max(dim=1).values
share = eigenvalues[:, 0] / eigenvalues.sum(dim=1).clamp_min(1e-300)

figure, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
for c, name in enumerate(data.class_names):
    chosen = labels == c
    axes[0].scatter(confidence[chosen], eigenvalues[chosen, 0], s=14, label=name)
axes[0].set_yscale("log")
axes[0].set_xlabel("max$_c$ p(c | x)")
axes[0].set_ylabel("$\\lambda_1$")
axes[0].legend(title="true class")
axes[0].set_title("leading eigenvalue against confidence")
axes[1].hist(share.numpy(), bins=20, range=(0.5, 1.0), color="tab:gray")
axes[1].axvline(0.9, color="tab:red", linestyle="--", label="$\\rho$ = 0.9")
axes[1].set_xlabel("$\\lambda_1 / (\\lambda_1 + \\lambda_2)$")
axes[1].set_ylabel("test images")
axes[1].legend()
axes[1].set_title("energy in the first direction")
plt.show()
print("images with K = 1:", int((everything.num_components == 1).sum()), "of", len(images))

# %%
# The local KL identity (eq. 18)
# ------------------------------
# Along :math:`u_1`, the KL divergence between the predictions at :math:`x` and at
# :math:`x + \varepsilon u_1` is :math:`\tfrac12 \varepsilon^2 \lambda_1` for small
# :math:`\varepsilon`; along a random unit direction it is far smaller, because almost all of
# that direction lies in the null space of :math:`F(x)`.

from captum_ifim.metrics import local_kl  # noqa: E402

epsilons = [0.01, 0.03, 0.1, 0.3, 1.0]
generator = torch.Generator().manual_seed(0)
random_direction = torch.randn(x.shape, generator=generator)
random_direction /= random_direction.norm()
u1 = eigenvectors[0:1]  # (1, 1, 64, 64)
along_u1 = local_kl(model, x, u1, epsilons)[0]
along_random = local_kl(model, x, random_direction, epsilons)[0]
predicted = 0.5 * torch.tensor(epsilons) ** 2 * float(result.eigenvalues[0, 0])

figure, axis = plt.subplots(figsize=(5, 3.6), layout="constrained")
axis.loglog(epsilons, along_u1, "o-", label="KL along $u_1$")
axis.loglog(epsilons, predicted, "k--", label="$\\frac{1}{2} \\varepsilon^2 \\lambda_1$ (eq. 18)")
axis.loglog(epsilons, along_random.clamp_min(1e-12), "s-", label="KL along a random direction")
axis.set_xlabel("$\\varepsilon$ (L2 norm of the perturbation)")
axis.set_ylabel("KL(p(.|x) || p(.|x + $\\varepsilon$ d))")
axis.legend()
plt.show()
