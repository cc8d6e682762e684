"""The public API: every name below imports from its public module, whatever the layout.

The lists are written out on purpose: removing or moving a public name fails here, while
adding one does not. Private modules (``captum_ifim._ifim``, ``_baselines``, ``_methods``)
may be rearranged freely.
"""

from __future__ import annotations

import importlib

import pytest

# The names as they were public when the library was restructured (issue 11), one
# module per string, so that the lists do not restate the modules' __all__ line by line.
_NAMES_AT_RESTRUCTURE = {
    "captum_ifim": (
        "CAMAttribution DeepSHAP EigenCAM GradCAM GradCAMPlusPlus IFIMDecomposition "
        "IFIMResult MethodSpec RegisteredMethod ScoreCAM XGradCAM __version__ "
        "available_methods build_method default_target_layer get_method_spec "
    ),
    "captum_ifim.functional": (
        "OUTPUT_HEADS FisherFactor FlatDecomposition OutputHead decompose_flat "
        "energy_components fisher_factor gram_eigh gram_matrix lift_eigenvectors "
        "per_sample_row_gradients project_sensitive psd_sqrt "
    ),
    "captum_ifim.metrics": (
        "METRICS ContrastivePerturbationResult ContrastivePredictions CorrelationSummary "
        "KLFidelityResult LowRule MetricCategory MetricInfo PerturbationCurve "
        "RandomizationResult adversarial_correlation available_metrics compute_maps "
        "contrastive_perturbation contrastive_perturbation_predictions default_layers "
        "deletion_auc energy_in_mask f1 f1_ratio fgsm gaussian_blur gaussian_noise "
        "get_metric_info infidelity insertion_auc kl_fidelity local_kl "
        "model_parameter_randomization num_selected_pixels pearson_per_sample pixel_mask "
        "pointing_game sensitivity_max spatial_saliency spearman_per_sample "
    ),
    "captum_ifim.methods": (
        "MethodSpec RegisteredMethod available_methods build_method default_target_layer "
        "get_method_spec "
    ),
}
PUBLIC_NAMES: dict[str, list[str]] = {m: t.split() for m, t in _NAMES_AT_RESTRUCTURE.items()}


@pytest.mark.parametrize("module_name", list(PUBLIC_NAMES))
def test_every_public_name_imports_from_its_public_module(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    missing = [name for name in PUBLIC_NAMES[module_name] if name not in exported]
    assert not missing, f"{module_name}.__all__ lost {missing}"
    for name in PUBLIC_NAMES[module_name]:
        namespace: dict[str, object] = {}
        exec(f"from {module_name} import {name}", namespace)
        assert namespace[name] is getattr(module, name)


@pytest.mark.parametrize("module_name", list(PUBLIC_NAMES))
def test_every_name_in_all_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert len(module.__all__) == len(set(module.__all__))
    unresolved = [name for name in module.__all__ if not hasattr(module, name)]
    assert not unresolved


def test_the_methods_module_exports_the_same_objects_as_the_package() -> None:
    import captum_ifim
    import captum_ifim.methods

    for name in PUBLIC_NAMES["captum_ifim.methods"]:
        assert getattr(captum_ifim.methods, name) is getattr(captum_ifim, name), name
