"""Captum's attribution classes for image classifiers, as registry methods by name.

:data:`CAPTUM_ENTRIES` holds one :class:`~._captum_factories.CaptumEntry` per class (its
Captum class, family and defaults, as data); :data:`CAPTUM_SPECS` are their
:class:`~captum_ifim.MethodSpec`\\ s, appended to the registry, and
:func:`captum_method_table` the table of ``docs/captum-methods.md``. Every entry also
takes ``seed`` (the random draws of each image, default 0) and, but for the two SHAP
entries (GradientShap is already an average over noisy copies, DeepLiftShap over the
background), ``noise_tunnel`` (``None``, or a mapping of Captum's ``NoiseTunnel.attribute``
arguments: ``nt_type``, ``nt_samples``, ``nt_samples_batch_size``, ``stdevs``, with
NoiseTunnel's defaults).

Left out, with the reason:

* ``Saliency`` and ``IntegratedGradients``: registered already, as ``"saliency"`` and
  ``"integrated-gradients"``.
* ``FeaturePermutation`` (and ``LayerFeaturePermutation``): it permutes each feature
  across the batch, so an image's map depends on the other images of its batch and is zero
  for a batch of one: not a per-image map.
* ``ShapleyValues``: exact Shapley values need 2^G model calls for G feature groups
  (2^64 for the default 8 x 8 grid); ``"shapley-value-sampling"`` samples them.
* ``Neuron*`` classes: they attribute one hidden neuron, not the class score.
* ``LayerActivation``: the layer's activations, the same for every class.
* ``InternalInfluence``, ``LayerGradientShap``, ``LayerDeepLiftShap``, ``LayerLRP``,
  ``LayerFeatureAblation``: layer variants of classes registered here at the input.
* ``LLMAttribution`` and the text-input classes: for language models.
"""

from __future__ import annotations

from typing import Any

from captum_ifim._methods._captum_factories import (
    CaptumEntry,
    captum_factory,
    check_captum_options,
)
from captum_ifim._methods._method_spec import MethodSpec

_SAMPLING = {
    "feature_mask": "grid",
    "grid_cells": 8,
    "slic_segments": 64,
    "baselines": "zeros",
    "perturbations_per_eval": 16,
}
_PATH = {
    "baselines": "zeros",
    "n_steps": 50,
    "method": "gausslegendre",
    "internal_batch_size": None,
}

#: Every Captum entry of the registry, in registry order.
CAPTUM_ENTRIES: tuple[CaptumEntry, ...] = (
    CaptumEntry(
        "input-x-gradient",
        "InputXGradient",
        "gradient",
        "Input x gradient x * df_t/dx (Captum)",
        multiplies_by_inputs=True,
    ),
    CaptumEntry(
        "guided-backprop",
        "GuidedBackprop",
        "gradient",
        "Guided backpropagation (Captum)",
        hooks_modules=True,
    ),
    CaptumEntry(
        "deconvolution",
        "Deconvolution",
        "gradient",
        "Deconvolution (Captum)",
        hooks_modules=True,
    ),
    CaptumEntry(
        "guided-gradcam",
        "GuidedGradCam",
        "gradient",
        "Guided Grad-CAM at the CAM layer (Captum)",
        target_layer=True,
        hooks_modules=True,
    ),
    CaptumEntry(
        "deeplift",
        "DeepLift",
        "gradient",
        "DeepLIFT, rescale rule, from a zero baseline (Captum)",
        {"baselines": "zeros", "multiply_by_inputs": True},
        rules="deeplift",
        multiplies_by_inputs=True,
        hooks_modules=True,
    ),
    CaptumEntry(
        "deeplift-shap",
        "DeepLiftShap",
        "gradient",
        "DeepLIFT averaged over the background (Captum)",
        {"multiply_by_inputs": True},
        rules="deeplift",
        needs_background=True,
        multiplies_by_inputs=True,
        hooks_modules=True,
        noise_tunnel=False,
    ),
    CaptumEntry(
        "gradient-shap",
        "GradientShap",
        "gradient",
        "Gradient SHAP over the background (Captum)",
        {"n_samples": 16, "stdevs": 0.0, "multiply_by_inputs": True},
        needs_background=True,
        stochastic=True,
        multiplies_by_inputs=True,
        noise_tunnel=False,
    ),
    CaptumEntry(
        "occlusion",
        "Occlusion",
        "perturbation",
        "Occlusion by a sliding window (Captum)",
        {
            "window_fraction": 0.125,
            "stride_fraction": 0.0625,
            "baselines": "zeros",
            "perturbations_per_eval": 16,
        },
        multiplies_by_inputs=True,
    ),
    CaptumEntry(
        "feature-ablation",
        "FeatureAblation",
        "perturbation",
        "Feature ablation of grid cells (Captum)",
        dict(_SAMPLING),
        multiplies_by_inputs=True,
    ),
    CaptumEntry(
        "shapley-value-sampling",
        "ShapleyValueSampling",
        "perturbation",
        "Shapley value sampling of grid cells (Captum)",
        {**_SAMPLING, "n_samples": 8},
        stochastic=True,
        multiplies_by_inputs=True,
    ),
    CaptumEntry(
        "kernel-shap",
        "KernelShap",
        "perturbation",
        "Kernel SHAP of grid cells (Captum)",
        {**_SAMPLING, "n_samples": 200},
        stochastic=True,
    ),
    CaptumEntry(
        "lime",
        "Lime",
        "perturbation",
        "LIME of grid cells, a linear surrogate (Captum)",
        {**_SAMPLING, "n_samples": 200},
        stochastic=True,
        interpretable_model="SkLearnLinearRegression",
    ),
    CaptumEntry(
        "lrp",
        "LRP",
        "lrp",
        "Layer-wise relevance propagation, epsilon rules (Captum)",
        rules="lrp",
        hooks_modules=True,
        multiplies_by_inputs=True,
    ),
    CaptumEntry(
        "layer-gradcam",
        "LayerGradCam",
        "layer",
        "Grad-CAM at the CAM layer, upsampled (Captum)",
        {"relu_attributions": False},
        layer=True,
        target_layer=True,
        hooks_modules=True,
    ),
    CaptumEntry(
        "layer-gradient-x-activation",
        "LayerGradientXActivation",
        "layer",
        "Gradient x activation at the CAM layer, upsampled (Captum)",
        {"multiply_by_inputs": True},
        layer=True,
        target_layer=True,
        multiplies_by_inputs=True,
        hooks_modules=True,
    ),
    CaptumEntry(
        "layer-deeplift",
        "LayerDeepLift",
        "layer",
        "DeepLIFT at the CAM layer, upsampled (Captum)",
        {"baselines": "zeros", "multiply_by_inputs": True},
        rules="deeplift",
        layer=True,
        target_layer=True,
        multiplies_by_inputs=True,
        hooks_modules=True,
    ),
    CaptumEntry(
        "layer-integrated-gradients",
        "LayerIntegratedGradients",
        "layer",
        "Integrated gradients at the CAM layer, upsampled (Captum)",
        {**_PATH, "multiply_by_inputs": True},
        layer=True,
        target_layer=True,
        multiplies_by_inputs=True,
        hooks_modules=True,
    ),
    CaptumEntry(
        "layer-conductance",
        "LayerConductance",
        "layer",
        "Conductance at the CAM layer, upsampled (Captum)",
        dict(_PATH),
        layer=True,
        target_layer=True,
        multiplies_by_inputs=True,
        hooks_modules=True,
    ),
)


def _spec(entry: CaptumEntry) -> MethodSpec:
    return MethodSpec(
        name=entry.name,
        description=entry.description,
        factory=captum_factory(entry),
        constructor_options=entry.constructor_options,
        attribute_options=entry.attribute_options,
        check_values=check_captum_options,
        needs_target_layer=entry.target_layer,
        needs_background=entry.needs_background,
        needs_module=entry.hooks_modules,
    )


#: The registry's specs of :data:`CAPTUM_ENTRIES`.
CAPTUM_SPECS: tuple[MethodSpec, ...] = tuple(_spec(entry) for entry in CAPTUM_ENTRIES)


def _shown(value: Any) -> str:
    return "None" if value is None else repr(value) if isinstance(value, str) else str(value)


def captum_method_table() -> list[tuple[str, str, str, str]]:
    """``(name, Captum class, family, defaults)`` of every entry, as the docs table shows
    them (defaults as ``option=value``; ``noise_tunnel=None`` and ``seed=0`` on every row
    are left out; baselines from the background are written ``baselines=background``, and
    a constructor argument fixed by the entry as a call, ``interpretable_model=...()``).

    Example:
        >>> captum_method_table()[4]
        ('deeplift', 'DeepLift', 'gradient', "baselines='zeros', multiply_by_inputs=True")
    """
    rows = []
    for entry in CAPTUM_ENTRIES:
        defaults = [f"{k}={_shown(v)}" for k, v in entry.defaults.items()]
        if entry.needs_background:
            defaults.insert(0, "baselines=background")
        if entry.interpretable_model is not None:
            defaults.insert(0, f"interpretable_model={entry.interpretable_model}()")
        rows.append((entry.name, entry.captum_class, entry.family, ", ".join(defaults) or "-"))
    return rows


def captum_method_markdown() -> str:
    """The Markdown table of :func:`captum_method_table` (``docs/captum-methods.md``)."""
    lines = ["| name | Captum class | family | defaults |", "|---|---|---|---|"]
    for name, cls, family, defaults in captum_method_table():
        lines.append(f"| `{name}` | `captum.attr.{cls}` | {family} | {defaults} |")
    return "\n".join(lines)
