"""The registry of metrics: name -> :class:`MetricInfo` (with the function)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from captum_ifim._registry_names import check_new_name
from captum_ifim.metrics._adversarial_correlation import adversarial_correlation
from captum_ifim.metrics._captum_metrics import infidelity, sensitivity_max
from captum_ifim.metrics._complexity import complexity, effective_complexity, sparseness
from captum_ifim.metrics._contrastive_perturbation import contrastive_perturbation
from captum_ifim.metrics._deletion_insertion import deletion_auc, insertion_auc
from captum_ifim.metrics._eigenvector_energy import eigenvector_energy
from captum_ifim.metrics._faithfulness_correlation import faithfulness_correlation
from captum_ifim.metrics._irof import irof
from captum_ifim.metrics._kl_fidelity import kl_fidelity
from captum_ifim.metrics._local_robustness import avg_sensitivity, local_lipschitz_estimate
from captum_ifim.metrics._localization import energy_in_mask, pointing_game
from captum_ifim.metrics._metadata import MetricInfo
from captum_ifim.metrics._monotonicity import monotonicity_correlation
from captum_ifim.metrics._pixel_flipping import pixel_flipping, region_perturbation
from captum_ifim.metrics._random_logit import random_logit
from captum_ifim.metrics._randomization import model_parameter_randomization
from captum_ifim.metrics._rank_localization import mask_roc_auc, relevance_rank_accuracy
from captum_ifim.metrics._road import road_combined, road_lerf, road_morf
from captum_ifim.metrics._spectrum_summary import spectrum_summary

_INFOS = (
    MetricInfo(
        name="contrastive-perturbation",
        category="faithfulness",
        higher_is_better=True,
        per_example=False,
        needs_labels=True,
        accepts_second_map=True,
        function=contrastive_perturbation,
        description="F1 ratio: low-set over high-set perturbed F1 (paper Sec. IV-E, eqs. 23-26)",
    ),
    MetricInfo(
        name="adversarial-correlation",
        category="robustness",
        higher_is_better=None,
        needs_labels=True,
        needs_map=False,
        needs_explainer=True,
        function=adversarial_correlation,
        description="Pearson of clean and FGSM maps (Sec. IV-F); low = sensitive, high = stable",
    ),
    MetricInfo(
        name="deletion-auc",
        category="faithfulness",
        higher_is_better=False,
        function=deletion_auc,
        description="Area under the target probability as top pixels are deleted (RISE)",
    ),
    MetricInfo(
        name="insertion-auc",
        category="faithfulness",
        higher_is_better=True,
        function=insertion_auc,
        description="Area under the target probability as top pixels are inserted (RISE)",
    ),
    MetricInfo(
        name="energy-in-mask",
        category="localization",
        higher_is_better=True,
        needs_mask=True,
        needs_model=False,
        function=energy_in_mask,
        description="Share of |map| inside the ground-truth mask",
    ),
    MetricInfo(
        name="pointing-game",
        category="localization",
        higher_is_better=True,
        needs_mask=True,
        needs_model=False,
        function=pointing_game,
        description="Whether the map's maximum lies in the ground-truth mask (Zhang et al.)",
    ),
    MetricInfo(
        name="kl-fidelity",
        category="fidelity",
        higher_is_better=None,
        ideal=1.0,
        needs_map=False,
        function=kl_fidelity,
        description="Measured KL / (1/2 eps^2 u^T F u) along the top iFIM eigenvector (eq. 18)",
    ),
    MetricInfo(
        name="model-parameter-randomization",
        category="randomization",
        higher_is_better=False,
        needs_map=False,
        needs_explainer=True,
        function=model_parameter_randomization,
        description="Map similarity after randomizing layers top-down (Adebayo et al.)",
    ),
    MetricInfo(
        name="infidelity",
        category="faithfulness",
        higher_is_better=False,
        function=infidelity,
        description="Captum's infidelity (Yeh et al., 2019), unchanged behind input checks",
    ),
    MetricInfo(
        name="sensitivity-max",
        category="robustness",
        higher_is_better=False,
        needs_model=False,
        needs_map=False,
        needs_explainer=True,
        function=sensitivity_max,
        description="Captum's max-sensitivity (Yeh et al., 2019), unchanged behind input checks",
    ),
)

#: The complexity, random-logit, rank-localization, local-robustness and faithfulness
#: metrics (checked in tests/test_metrics_other_families.py and
#: tests/test_metrics_faithfulness_family.py), each with its harness entry in
#: ``comparisons.metrics``.
FAMILY_INFOS: tuple[MetricInfo, ...] = (
    MetricInfo(
        name="sparseness",
        category="complexity",
        higher_is_better=True,
        needs_model=False,
        function=sparseness,
        description="Gini index of the channel-summed |map| (Chalasani et al., 2020)",
    ),
    MetricInfo(
        name="complexity",
        category="complexity",
        higher_is_better=False,
        needs_model=False,
        function=complexity,
        description="Entropy of the normalized channel-summed |map| (Bhatt et al., 2020)",
    ),
    MetricInfo(
        name="effective-complexity",
        category="complexity",
        higher_is_better=False,
        needs_model=False,
        function=effective_complexity,
        description="Locations above eps of the map's maximum (Nguyen & Martinez, 2020)",
    ),
    MetricInfo(
        name="random-logit",
        category="randomization",
        higher_is_better=False,
        needs_map=False,
        needs_explainer=True,
        function=random_logit,
        description="Similarity of the target's map and a random other class's (Sixt et al.)",
    ),
    MetricInfo(
        name="relevance-rank-accuracy",
        category="localization",
        higher_is_better=True,
        needs_mask=True,
        needs_model=False,
        function=relevance_rank_accuracy,
        description="Share of the mask among the map's top-|mask| locations (Arras et al.)",
    ),
    MetricInfo(
        name="mask-roc-auc",
        category="localization",
        higher_is_better=True,
        needs_mask=True,
        needs_model=False,
        function=mask_roc_auc,
        description="ROC AUC of the map as a detector of the mask's locations",
    ),
    MetricInfo(
        name="avg-sensitivity",
        category="robustness",
        higher_is_better=False,
        needs_model=False,
        needs_map=False,
        needs_explainer=True,
        function=avg_sensitivity,
        description="Mean relative map change under uniform input noise (Yeh et al., 2019)",
    ),
    MetricInfo(
        name="local-lipschitz-estimate",
        category="robustness",
        higher_is_better=False,
        needs_model=False,
        needs_map=False,
        needs_explainer=True,
        function=local_lipschitz_estimate,
        description="Max map change / input change over noisy neighbours (Alvarez-Melis)",
    ),
    # Faithfulness (tests/test_metrics_faithfulness_family.py, against Quantus 0.6 and
    # pytorch-grad-cam): the per-example score is the result's field named in the line.
    MetricInfo(
        name="road-morf",
        category="faithfulness",
        higher_is_better=False,
        function=road_morf,
        description="ROAD, most relevant first: mean score change, imputed (Rong et al.); .score",
    ),
    MetricInfo(
        name="road-lerf",
        category="faithfulness",
        higher_is_better=True,
        function=road_lerf,
        description="ROAD, least relevant first: mean score change, imputed; .score",
    ),
    MetricInfo(
        name="road-combined",
        category="faithfulness",
        higher_is_better=True,
        function=road_combined,
        description="ROAD (LeRF - MoRF) / 2, pytorch-grad-cam's ROADCombined; .score",
    ),
    MetricInfo(
        name="faithfulness-correlation",
        category="faithfulness",
        higher_is_better=True,
        function=faithfulness_correlation,
        description="Pearson of random-subset map sums and score drops (Bhatt); .correlation",
    ),
    MetricInfo(
        name="pixel-flipping",
        category="faithfulness",
        higher_is_better=False,
        function=pixel_flipping,
        description="Area under the score as top locations are flipped (Bach et al.); .auc",
    ),
    MetricInfo(
        name="region-perturbation",
        category="faithfulness",
        higher_is_better=True,
        function=region_perturbation,
        description="AOPC as top patches are replaced, most relevant first (Samek et al.); .aopc",
    ),
    MetricInfo(
        name="irof",
        category="faithfulness",
        higher_is_better=True,
        function=irof,
        description="Area over the relative score as superpixels go (Rieger & Hansen); .aoc",
    ),
    MetricInfo(
        name="monotonicity-correlation",
        category="faithfulness",
        higher_is_better=True,
        function=monotonicity_correlation,
        description="Spearman of attributions and score changes (Nguyen & Martinez); .correlation",
    ),
)

#: Descriptions of the iFIM itself (issue 24's shortcut and robustness experiments): where
#: its eigenvectors lie and how its eigenvalues spread. No direction: they say how a model
#: changed, not which method is better, so nothing ranks by them.
SPECTRUM_INFOS: tuple[MetricInfo, ...] = (
    MetricInfo(
        name="eigenvector-energy",
        category="localization",
        higher_is_better=None,
        needs_mask=True,
        needs_model=False,
        needs_map=False,
        needs_spectrum=True,
        function=eigenvector_energy,
        description="Share of each iFIM eigenvector's squared norm inside a mask (eq. 9)",
    ),
    MetricInfo(
        name="ifim-spectrum",
        category="spectrum",
        higher_is_better=None,
        needs_model=False,
        needs_map=False,
        needs_spectrum=True,
        function=spectrum_summary,
        description="lambda_1, trace, effective rank and K of each iFIM (eqs. 8, 13)",
    ),
)

_METRICS: dict[str, MetricInfo] = {
    info.name: info for info in (*_INFOS, *FAMILY_INFOS, *SPECTRUM_INFOS)
}
#: Every metric by name, read-only (a view: registered metrics join it).
METRICS: Mapping[str, MetricInfo] = MappingProxyType(_METRICS)


def register_metric(info: MetricInfo) -> MetricInfo:
    """Add a metric of your own to the registry (its :class:`MetricInfo`, with the
    function, its category and direction); a harness that runs it adds its entry too
    (``comparisons.metrics.register_harness_metric``).

    Returns:
        ``info``.

    Raises:
        TypeError: ``info`` is not a :class:`MetricInfo`.
        ValueError: Its name is not a plain name or is taken.
    """
    if not isinstance(info, MetricInfo):
        raise TypeError(f"expected a MetricInfo, got {type(info).__name__}")
    check_new_name("metric", info.name, _METRICS)
    _METRICS[info.name] = info
    return info


def available_metrics() -> list[str]:
    """The registered metric names, sorted."""
    return sorted(METRICS)


def get_metric_info(name: str) -> MetricInfo:
    """The :class:`MetricInfo` of a metric; unknown names raise ``ValueError``."""
    if name not in METRICS:
        raise ValueError(f"expected a metric name in {available_metrics()}, got {name!r}")
    return METRICS[name]
