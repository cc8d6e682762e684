"""Reference values from Quantus 0.6 for the faithfulness metrics: writes
``quantus_faithfulness.json`` beside this file.

Quantus 0.6 does not run on numpy >= 2.4 (the project's), so this script runs in its own
environment and the JSON it writes is committed; ``tests/test_metrics_faithfulness_family.py``
compares the library's metrics with it on the same model, inputs, maps and random draws, all
of which the JSON holds. To regenerate (from the repository root)::

    python -m venv /tmp/quantus-venv
    /tmp/quantus-venv/bin/pip install "numpy<2.4" quantus==0.6.0 torch  # the CPU build
    /tmp/quantus-venv/bin/python tests/reference_fixtures/make_quantus_faithfulness.py

The model (a tanh CNN with 3 classes on one-channel 10 x 10 images, so that a Quantus
feature is a location and every percentage of ROAD's is a whole number of pixels), its
weights, the inputs and the maps (gradient x input plus a little noise, so no two values
tie) are drawn from fixed seeds with torch, in float64 (``torch.set_default_dtype``: Quantus
feeds the model ``torch.Tensor(x)``). Quantus's own random draws (the subsets of faithfulness
correlation, the uniform values of monotonicity correlation, ROAD's imputation noise) are
recorded as it makes them and stored. Nothing is downloaded.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

OUT = Path(__file__).with_name("quantus_faithfulness.json")
N, SIZE, CLASSES = 8, 10, 3
#: The options every test passes to both sides (Quantus's names).
SETTINGS = {
    "faithfulness_correlation": {"nr_runs": 20, "subset_size": 10},
    "pixel_flipping": {"features_in_step": 5},
    "region_perturbation": {"patch_size": 3, "regions_evaluation": 10},
    "monotonicity_correlation": {"nr_samples": 3, "features_in_step": 5},
    "road": {"percentages": [1, 3, 5, 10, 30, 50, 90]},
}


def build_model() -> nn.Module:
    """The fixed CNN: conv(1->4, 3x3) tanh linear(400->3), float64 (weights from the JSON)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * SIZE * SIZE, CLASSES)
    ).double()


def gradient_x_input(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor):
    """x * d logit_target / d x."""
    x = inputs.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).gather(1, targets.view(-1, 1)).sum(), x)
    return (x * grad).detach()


class _Recorder:
    """Wraps ``np.random.<name>`` and keeps what each call returned."""

    def __init__(self, name: str) -> None:
        self.name, self.original, self.calls = name, getattr(np.random, name), []

    def __enter__(self) -> _Recorder:
        def wrapped(*args, **kwargs):
            value = self.original(*args, **kwargs)
            self.calls.append(np.asarray(value).tolist())
            return value

        setattr(np.random, self.name, wrapped)
        return self

    def __exit__(self, *exc) -> None:
        setattr(np.random, self.name, self.original)


def main() -> None:
    import quantus
    from quantus.functions.perturb_func import noisy_linear_imputation

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    model = build_model().eval()
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(N, 1, SIZE, SIZE, generator=generator)
    with torch.no_grad():
        y = model(x).argmax(dim=1)
    maps = gradient_x_input(model, x, y) + 1e-3 * torch.randn(x.shape, generator=generator)
    xn, yn, an = x.numpy(), y.numpy(), maps.numpy()
    common = {
        "disable_warnings": True,
        "display_progressbar": False,
        "normalise": False,
        "return_aggregate": False,
    }
    call = {"model": model, "x_batch": xn, "y_batch": yn, "device": "cpu", "batch_size": N}
    results: dict[str, object] = {}
    np.random.seed(0)  # noqa: NPY002 - Quantus draws from numpy's global generator

    fc = SETTINGS["faithfulness_correlation"]
    with _Recorder("choice") as choices:
        results["faithfulness_correlation"] = quantus.FaithfulnessCorrelation(**fc, **common)(
            a_batch=an.copy(), softmax=False, **call
        )
    # Drawn run by run, example by example: (runs, N, subset) -> (N, runs, subset).
    subsets = np.asarray(choices.calls).reshape(fc["nr_runs"], N, -1).transpose(1, 0, 2)

    pf = SETTINGS["pixel_flipping"]
    results["pixel_flipping"] = np.asarray(
        quantus.PixelFlipping(**pf, **common)(a_batch=an.copy(), softmax=True, **call)
    ).tolist()

    rp = SETTINGS["region_perturbation"]
    for order in ("morf", "lerf"):
        results[f"region_perturbation_{order}"] = np.asarray(
            quantus.RegionPerturbation(**rp, order=order, **common)(
                a_batch=an.copy(), softmax=True, **call
            )
        ).tolist()

    # IROF: one example per call with its clean mean as a number, so that the baseline is
    # fixed (Quantus's "mean" is the mean of the whole batch as perturbed so far).
    irof_fixed, irof_default = [], []
    for n in range(N):
        one = {**call, "x_batch": xn[n : n + 1], "y_batch": yn[n : n + 1], "batch_size": 1}
        metric = quantus.IROF(perturb_baseline=float(xn[n].mean()), **common)
        irof_fixed.append(metric(a_batch=an[n : n + 1].copy(), softmax=True, **one)[0])
    irof_default = quantus.IROF(**common)(a_batch=an.copy(), softmax=True, **call)
    results["irof_fixed_mean"] = irof_fixed
    results["irof_default_batch"] = irof_default
    results["slic_segments"] = [
        quantus.helpers.utils.get_superpixel_segments(np.moveaxis(xn[n], 0, -1), "slic").tolist()
        for n in range(N)
    ]
    # On 10 x 10 images SLIC's 100 segments are the pixels; a larger colour image shows more.
    colour = torch.rand(3, 24, 24, generator=generator).numpy()
    results["slic_colour_segments"] = quantus.helpers.utils.get_superpixel_segments(
        np.moveaxis(colour, 0, -1), "slic"
    ).tolist()

    mc = SETTINGS["monotonicity_correlation"]
    results["monotonicity_black"] = quantus.MonotonicityCorrelation(
        **mc, perturb_baseline="black", **common
    )(a_batch=an.copy(), softmax=True, **call)
    with _Recorder("uniform") as uniforms:
        results["monotonicity_uniform"] = quantus.MonotonicityCorrelation(**mc, **common)(
            a_batch=an.copy(), softmax=True, **call
        )
    steps = SIZE * SIZE // mc["features_in_step"]
    draws = np.asarray(uniforms.calls).reshape(steps, mc["nr_samples"], N).transpose(2, 0, 1)

    road_percentages = SETTINGS["road"]["percentages"]
    accuracy = quantus.ROAD(percentages=road_percentages, noise=0.0, **common)(
        a_batch=an.copy(), softmax=True, **call
    )  # {percentage: share of examples still predicted as their label}
    results["road_accuracy_noise0"] = [accuracy[p] for p in road_percentages]
    # The imputation itself, with Quantus's noise recorded: example 0 and 3, 50 % removed.
    imputations = []
    for n, k in ((0, 50), (3, 90)):
        order = np.argsort(-an[n].reshape(-1))[:k]
        with _Recorder("randn") as noise:
            imputed = noisy_linear_imputation(xn[n], order, noise=0.01)
        imputations.append(
            {
                "example": n,
                "indices": order.tolist(),
                "noise": noise.calls[0],
                "imputed": imputed.tolist(),
            }
        )

    fixture = {
        "about": "Quantus 0.6 on the stored inputs; regenerate with make_quantus_faithfulness.py",
        "versions": {
            "quantus": quantus.__version__,
            "numpy": np.__version__,
            "torch": torch.__version__,
        },
        "settings": SETTINGS,
        "state_dict": {k: v.tolist() for k, v in model.state_dict().items()},
        "inputs": x.tolist(),
        "labels": y.tolist(),
        "maps": maps.tolist(),
        "faithfulness_subsets": subsets.tolist(),
        "monotonicity_uniform_draws": draws.tolist(),
        "imputations": imputations,
        "colour_image": colour.tolist(),
        "quantus": {
            k: v if "segments" in k else np.asarray(v, dtype=np.float64).tolist()
            for k, v in results.items()
        },
    }
    OUT.write_text(json.dumps(fixture, separators=(",", ":")) + "\n", encoding="utf-8")
    print({k: v for k, v in fixture["quantus"].items() if "segments" not in k})


if __name__ == "__main__":
    main()
