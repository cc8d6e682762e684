"""The registry entries of pytorch-grad-cam's other CAM variants.

Each entry is a :class:`MethodSpec` built like the paper's CAMs (``cam_factory``, the
zoo's default target layer and reshape, ``normalization`` and ``reshape_transform``), with
the variant's own options. ``_registry.py`` adds :data:`CAM_VARIANT_SPECS` after its own
entries. :func:`cam_variant_rows` gives the table of every CAM in ``docs/baselines.md``.

pytorch-grad-cam's classes left out, and why (also in ``docs/baselines.md``):
``GuidedBackpropReLUModel`` is guided backpropagation, not a CAM (Captum has it);
``DeepFeatureFactorization`` factorizes concepts without a class; ``RefineCAM`` multiplies
the CAMs of several layers and is Grad-CAM++ on the single layer chosen here; ``SESS`` is a
multi-scale sliding-window wrapper around another CAM (2-D only); the multi-layer
Ablation-CAM module is an unexported experiment; ``sobel_cam`` is an edge filter of an RGB
image, not an explanation of a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from captum.attr import Attribution
from torch import nn

from captum_ifim._baselines._cam_attribution import CAMAttribution
from captum_ifim._baselines._cam_variants import (
    FEM,
    KPCACAM,
    AblationCAM,
    EigenCAM,
    EigenGradCAM,
    FinerCAM,
    FullGrad,
    GradCAM,
    GradCAMElementWise,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    RandomCAM,
    SegEigenCAM,
    ShapleyCAM,
    XGradCAM,
    check_fem_settings,
    check_finer_cam_settings,
    check_kpca_settings,
    check_random_cam_settings,
)
from captum_ifim._baselines._score_cam import ScoreCAM
from captum_ifim._methods._factories import (
    CAM_OPTIONS,
    _given,
    cam_factory,
    cam_option_facts,
    check_cam_options,
)
from captum_ifim._methods._method_spec import MethodSpec, OptionCheck
from captum_ifim._validation import check_positive_int

KPCA_OPTIONS = frozenset({"kernel", "gamma"})
FEM_OPTIONS = frozenset({"k"})
RANDOM_CAM_OPTIONS = frozenset({"seed"})
FINER_CAM_OPTIONS = frozenset({"alpha", "comparison_categories"})
ABLATION_CAM_OPTIONS = frozenset({"batch_size"})


def _checked(own: frozenset[str], check: Any) -> OptionCheck:
    """The CAM options' checks, then ``check(**own options given)``."""

    def check_options(options: Mapping[str, Any]) -> None:
        check_cam_options(_given(options, CAM_OPTIONS))
        check(**_given(options, own))

    return check_options


def _check_batch_size(batch_size: int = 32) -> None:
    check_positive_int(batch_size, "batch_size")


def _full_grad_factory(
    model: nn.Module, target_layer: Any, background: Any, options: dict[str, Any]
) -> tuple[Attribution, dict[str, Any]]:
    """``FullGrad(model)``: every bias layer, no target layer."""
    return FullGrad(model, **options), {}


def _cam_spec(
    name: str,
    cam_class: type[CAMAttribution],
    description: str,
    own: frozenset[str] = frozenset(),
    check: Any = None,
    uses_target: bool = True,
) -> MethodSpec:
    return MethodSpec(
        name=name,
        description=f"{description} (pytorch-grad-cam)",
        factory=cam_factory(cam_class),
        constructor_options=CAM_OPTIONS | own,
        check_values=check_cam_options if check is None else _checked(own, check),
        normalized_maps=True,
        option_facts=cam_option_facts,
        needs_target_layer=True,
        uses_target=uses_target,
    )


#: pytorch-grad-cam's other CAMs, in registry order (RandomCAM, the sanity baseline, last).
CAM_VARIANT_SPECS: tuple[MethodSpec, ...] = (
    _cam_spec("hirescam", HiResCAM, "HiResCAM"),
    _cam_spec("gradcam-elementwise", GradCAMElementWise, "Grad-CAM element-wise"),
    _cam_spec(
        "ablationcam",
        AblationCAM,
        "Ablation-CAM",
        ABLATION_CAM_OPTIONS,
        _check_batch_size,
    ),
    _cam_spec("eigengradcam", EigenGradCAM, "Eigen-Grad-CAM"),
    _cam_spec("layercam", LayerCAM, "LayerCAM"),
    MethodSpec(
        name="fullgrad",
        description="FullGrad, every Conv2d/BatchNorm2d bias (pytorch-grad-cam)",
        factory=_full_grad_factory,
        normalized_maps=True,
    ),
    _cam_spec(
        "kpca-cam",
        KPCACAM,
        "KPCA-CAM, class-agnostic",
        KPCA_OPTIONS,
        check_kpca_settings,
        uses_target=False,
    ),
    _cam_spec("shapleycam", ShapleyCAM, "ShapleyCAM"),
    _cam_spec("finercam", FinerCAM, "Finer-CAM", FINER_CAM_OPTIONS, check_finer_cam_settings),
    _cam_spec(
        "fem", FEM, "FEM, class-agnostic", FEM_OPTIONS, check_fem_settings, uses_target=False
    ),
    _cam_spec("seg-eigencam", SegEigenCAM, "Seg-Eigen-CAM"),
    _cam_spec(
        "randomcam",
        RandomCAM,
        "RandomCAM, the sanity baseline: random channel weights",
        RANDOM_CAM_OPTIONS,
        check_random_cam_settings,
        uses_target=False,
    ),
)

#: Every registered CAM's class: the paper's five and :data:`CAM_VARIANT_SPECS`'s.
CAM_CLASSES: Mapping[str, type[CAMAttribution]] = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "scorecam": ScoreCAM,
    "xgradcam": XGradCAM,
    "eigencam": EigenCAM,
    "hirescam": HiResCAM,
    "gradcam-elementwise": GradCAMElementWise,
    "ablationcam": AblationCAM,
    "eigengradcam": EigenGradCAM,
    "layercam": LayerCAM,
    "fullgrad": FullGrad,
    "kpca-cam": KPCACAM,
    "shapleycam": ShapleyCAM,
    "finercam": FinerCAM,
    "fem": FEM,
    "seg-eigencam": SegEigenCAM,
    "randomcam": RandomCAM,
}


def takes_volumes(name: str) -> bool:
    """Whether the registered CAM ``name`` takes volumes (N, C, D, H, W)."""
    return bool(getattr(CAM_CLASSES[name], "takes_volumes", True))


def cam_variant_rows(spec_of: Callable[[str], MethodSpec]) -> list[tuple[str, str, str, str]]:
    """The CAM table of ``docs/baselines.md``: (name, pytorch-grad-cam class, uses target,
    3-D), one row per registered CAM in :data:`CAM_CLASSES` order.

    Args:
        spec_of: The registry's ``get_method_spec`` (the registry imports this module).
    """
    yes_no = {True: "yes", False: "no"}
    return [
        (
            f"`{name}`",
            f"`{cam_class._library[1]}`",
            yes_no[spec_of(name).uses_target],
            yes_no[takes_volumes(name)],
        )
        for name, cam_class in CAM_CLASSES.items()
    ]
