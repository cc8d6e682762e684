"""Reference values from Quantus 0.6 for the complexity, randomisation, localisation and
robustness metrics: writes ``quantus_other.json`` beside this file.

Quantus 0.6 does not run on numpy >= 2.4 (the project's), so this script runs in its own
environment and the JSON it writes is committed; ``tests/test_metrics_other_families.py``
compares the library's metrics with it on the same inputs, maps, masks and random draws, all
of which the JSON holds. To regenerate (from the repository root)::

    python -m venv /tmp/quantus-venv
    /tmp/quantus-venv/bin/pip install "numpy<2.4" quantus==0.6.0 torch  # the CPU build
    /tmp/quantus-venv/bin/python tests/reference_fixtures/make_quantus_other.py

The model (a two-layer tanh CNN with 3 classes), its weights, the inputs, maps, masks and
perturbations are drawn from fixed seeds with torch here and stored; the explainers are the
gradient of a logit (random logit) and gradient x input (robustness), written out in torch so
the test can run the same ones. Nothing is downloaded.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import quantus
import torch
from torch import nn

OUT = Path(__file__).with_name("quantus_other.json")
N, CHANNELS, SIZE, CLASSES, SAMPLES = 6, 2, 8, 3, 5


def build_model() -> nn.Module:
    """The fixed CNN: conv(2->4, 3x3) tanh conv(4->4, 3x3) tanh linear(256->3), float64."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(CHANNELS, 4, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(4 * SIZE * SIZE, CLASSES),
    ).double()


def gradient(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d logit_target / d x, per input (the random-logit explainer)."""
    x = inputs.detach().clone().requires_grad_(True)
    logits = model(x)
    (grad,) = torch.autograd.grad(logits.gather(1, targets.view(-1, 1)).sum(), x)
    return grad.detach()


def gradient_x_input(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor):
    """x * d logit_target / d x (the robustness explainer)."""
    return inputs.detach() * gradient(model, inputs, targets)


def _explain(explainer):
    """A Quantus ``explain_func`` (numpy in and out) around one of the explainers."""

    def explain_func(model, inputs, targets, **kwargs):
        x = torch.as_tensor(np.asarray(inputs), dtype=torch.float64)
        y = torch.as_tensor(np.asarray(targets), dtype=torch.long).view(-1)
        explain_func.targets.append(y.tolist())
        return explainer(model, x, y).numpy()

    explain_func.targets = []
    return explain_func


def _replay(deltas: np.ndarray):
    """A Quantus ``perturb_func`` that adds the stored perturbations, one per call."""
    calls = iter(deltas)

    def perturb_func(arr, indices=None, indexed_axes=None, **kwargs):
        return arr + next(calls).reshape(arr.shape)

    return perturb_func


def _values(scores) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in np.asarray(scores, dtype=np.float64)]


def main() -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    model = build_model().eval()
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(N, CHANNELS, SIZE, SIZE, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        y = model(x).argmax(dim=1)
    # Signed maps with exact zeros (about a third) and tiny values, for the complexity family.
    maps = torch.randn(N, CHANNELS, SIZE, SIZE, generator=generator, dtype=torch.float64)
    maps[torch.rand(maps.shape, generator=generator) < 0.35] = 0.0
    maps[:, :, 0, :2] = 1e-9
    maps[0] *= 1e-4  # a faint map: Quantus's batch-wide maximum thresholds it differently
    saliency = maps.abs().sum(dim=1, keepdim=True)  # the location scores s, (N, 1, H, W)
    masks = torch.zeros(N, 1, SIZE, SIZE)
    for n in range(N):
        top, left = torch.randint(0, SIZE - 3, (2,), generator=generator).tolist()
        height, width = torch.randint(2, 5, (2,), generator=generator).tolist()
        masks[n, 0, top : top + height, left : left + width] = 1
    uniform = (
        2 * torch.rand(SAMPLES, *x.shape, generator=generator, dtype=torch.float64) - 1
    ) * 0.2
    gaussian = 0.1 * torch.randn(SAMPLES, *x.shape, generator=generator, dtype=torch.float64)

    xn, yn, sn, mn = x.numpy(), y.numpy(), saliency.numpy(), masks.numpy()
    per_example = {"normalise_axes": [1, 2, 3]}  # divide each map by its own max
    common = {"disable_warnings": True, "display_progressbar": False}
    results: dict[str, list[float | None]] = {}

    def run(name: str, metric, **kwargs) -> None:
        results[name] = _values(metric(model=model, x_batch=xn, y_batch=yn, **kwargs))

    run(
        "sparseness",
        quantus.Sparseness(normalise_func_kwargs=per_example, **common),
        a_batch=sn.copy(),
    )
    # With the default batch-wide maximum, the 1e-7 Quantus adds weighs more on a faint map.
    run("sparseness_batch_max", quantus.Sparseness(**common), a_batch=sn.copy())
    run("complexity", quantus.Complexity(**common), a_batch=sn.copy())
    run(
        "effective_complexity",
        quantus.EffectiveComplexity(normalise_func_kwargs=per_example, **common),
        a_batch=sn.copy(),
    )
    # Quantus's default divides by the maximum over the whole batch (kept to show it).
    run("effective_complexity_batch_max", quantus.EffectiveComplexity(**common), a_batch=sn.copy())
    run(
        "relevance_rank_accuracy",
        quantus.RelevanceRankAccuracy(**common),
        a_batch=sn.copy(),
        s_batch=mn,
    )
    run("auc", quantus.AUC(**common), a_batch=sn.copy(), s_batch=mn)

    grad_maps = gradient(model, x, y).numpy()
    logit_explain = _explain(gradient)
    run(
        "random_logit",
        quantus.RandomLogit(num_classes=CLASSES, normalise_func_kwargs=per_example, **common),
        a_batch=grad_maps.copy(),
        explain_func=logit_explain,
    )
    other_classes = logit_explain.targets[-1]
    run(
        "random_logit_batch_max",
        quantus.RandomLogit(num_classes=CLASSES, **common),
        a_batch=grad_maps.copy(),
        explain_func=_explain(gradient),
    )

    gxi_maps = gradient_x_input(model, x, y).numpy()
    run(
        "avg_sensitivity",
        quantus.AvgSensitivity(nr_samples=SAMPLES, perturb_func=_replay(uniform.numpy()), **common),
        a_batch=gxi_maps.copy(),
        explain_func=_explain(gradient_x_input),
    )
    run(
        "local_lipschitz_estimate",
        quantus.LocalLipschitzEstimate(
            nr_samples=SAMPLES, normalise=False, perturb_func=_replay(gaussian.numpy()), **common
        ),
        a_batch=gxi_maps.copy(),
        explain_func=_explain(gradient_x_input),
    )

    fixture = {
        "about": "Quantus 0.6 on the stored inputs; regenerate with make_quantus_other.py",
        "versions": {
            "quantus": quantus.__version__,
            "numpy": np.__version__,
            "torch": torch.__version__,
        },
        "state_dict": {k: v.tolist() for k, v in model.state_dict().items()},
        "inputs": x.tolist(),
        "labels": y.tolist(),
        "maps": maps.tolist(),
        "masks": masks.tolist(),
        "other_classes": other_classes,
        "uniform_perturbations": uniform.tolist(),
        "gaussian_perturbations": gaussian.tolist(),
        "quantus": results,
    }
    OUT.write_text(json.dumps(fixture, indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
