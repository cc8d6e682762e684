"""Evaluation metrics for attribution maps, in Captum's metric style.

The paper's metrics: the contrastive-perturbation F1 ratio (Sec. IV-E) and the
adversarial correlation (Sec. IV-F, with FGSM, eq. 27). Beside them: deletion/insertion
AUC, ground-truth localization, the local KL fidelity of the iFIM (eq. 18), where its
eigenvectors lie and how its eigenvalues spread (eqs. 8-13), the
model-parameter randomization test, and Captum's ``infidelity`` and ``sensitivity_max``
(Captum's functions, unchanged, behind the library's input checks). ``METRICS`` maps names
to :class:`MetricInfo`.
"""

from captum_ifim.metrics._adversarial_correlation import CorrelationSummary, adversarial_correlation
from captum_ifim.metrics._captum_metrics import infidelity, sensitivity_max
from captum_ifim.metrics._complexity import complexity, effective_complexity, sparseness
from captum_ifim.metrics._contrastive_perturbation import (
    ContrastivePerturbationResult,
    ContrastivePredictions,
    LowRule,
    contrastive_perturbation,
    contrastive_perturbation_predictions,
    f1,
    f1_ratio,
    gaussian_noise,
)
from captum_ifim.metrics._correlation import pearson_per_sample, spearman_per_sample
from captum_ifim.metrics._deletion_insertion import (
    PerturbationCurve,
    deletion_auc,
    gaussian_blur,
    insertion_auc,
)
from captum_ifim.metrics._eigenvector_energy import eigenvector_energy
from captum_ifim.metrics._explainer_calls import compute_maps
from captum_ifim.metrics._faithfulness_correlation import (
    FaithfulnessCorrelationResult,
    faithfulness_correlation,
    random_subsets,
)
from captum_ifim.metrics._fgsm import fgsm
from captum_ifim.metrics._irof import IROFResult, irof, slic_segments
from captum_ifim.metrics._kl_fidelity import KLFidelityResult, kl_fidelity, local_kl
from captum_ifim.metrics._local_robustness import avg_sensitivity, local_lipschitz_estimate
from captum_ifim.metrics._localization import energy_in_mask, pointing_game
from captum_ifim.metrics._metadata import MetricCategory, MetricInfo
from captum_ifim.metrics._monotonicity import MonotonicityResult, monotonicity_correlation
from captum_ifim.metrics._pixel_flipping import (
    PixelFlippingCurve,
    RegionPerturbationCurve,
    grid_segments,
    pixel_flipping,
    region_perturbation,
)
from captum_ifim.metrics._pixel_selection import num_selected_pixels, pixel_mask, spatial_saliency
from captum_ifim.metrics._random_logit import draw_other_classes, random_logit
from captum_ifim.metrics._randomization import (
    RandomizationResult,
    default_layers,
    model_parameter_randomization,
)
from captum_ifim.metrics._rank_localization import mask_roc_auc, relevance_rank_accuracy
from captum_ifim.metrics._registry import (
    METRICS,
    available_metrics,
    get_metric_info,
    register_metric,
)
from captum_ifim.metrics._road import (
    ROAD_PERCENTAGES,
    ROADCombinedResult,
    ROADCurve,
    noisy_linear_imputation,
    road,
    road_combined,
    road_lerf,
    road_morf,
)
from captum_ifim.metrics._spectrum_summary import SpectrumSummary, spectrum_summary
from captum_ifim.metrics._subspace_overlap import (
    SubspaceComparison,
    ifim_subspace_overlap,
    principal_angles,
    subspace_overlap,
)

__all__ = [
    "METRICS",
    "ROAD_PERCENTAGES",
    "ContrastivePerturbationResult",
    "ContrastivePredictions",
    "CorrelationSummary",
    "FaithfulnessCorrelationResult",
    "IROFResult",
    "KLFidelityResult",
    "LowRule",
    "MetricCategory",
    "MetricInfo",
    "MonotonicityResult",
    "PerturbationCurve",
    "PixelFlippingCurve",
    "ROADCombinedResult",
    "ROADCurve",
    "RandomizationResult",
    "RegionPerturbationCurve",
    "SpectrumSummary",
    "SubspaceComparison",
    "adversarial_correlation",
    "available_metrics",
    "avg_sensitivity",
    "complexity",
    "compute_maps",
    "contrastive_perturbation",
    "contrastive_perturbation_predictions",
    "default_layers",
    "deletion_auc",
    "draw_other_classes",
    "effective_complexity",
    "eigenvector_energy",
    "energy_in_mask",
    "f1",
    "f1_ratio",
    "faithfulness_correlation",
    "fgsm",
    "gaussian_blur",
    "gaussian_noise",
    "get_metric_info",
    "grid_segments",
    "ifim_subspace_overlap",
    "infidelity",
    "insertion_auc",
    "irof",
    "kl_fidelity",
    "local_kl",
    "local_lipschitz_estimate",
    "mask_roc_auc",
    "model_parameter_randomization",
    "monotonicity_correlation",
    "noisy_linear_imputation",
    "num_selected_pixels",
    "pearson_per_sample",
    "pixel_flipping",
    "pixel_mask",
    "pointing_game",
    "principal_angles",
    "random_logit",
    "random_subsets",
    "region_perturbation",
    "register_metric",
    "relevance_rank_accuracy",
    "road",
    "road_combined",
    "road_lerf",
    "road_morf",
    "sensitivity_max",
    "slic_segments",
    "sparseness",
    "spatial_saliency",
    "spearman_per_sample",
    "spectrum_summary",
    "subspace_overlap",
]
