"""captum-ifim: the input-dependent Fisher information (iFIM) decomposition for Captum."""

from captum_ifim._baselines._cam_attribution import (
    CAMAttribution,
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    ScoreCAM,
    XGradCAM,
)
from captum_ifim._baselines._deepshap_attribution import DeepSHAP
from captum_ifim._ifim._ifim_decomposition import IFIMDecomposition, IFIMResult
from captum_ifim._methods._registry import (
    MethodSpec,
    RegisteredMethod,
    available_methods,
    build_method,
    default_target_layer,
    get_method_spec,
)
from captum_ifim._version import __version__

__all__ = [
    "CAMAttribution",
    "DeepSHAP",
    "EigenCAM",
    "GradCAM",
    "GradCAMPlusPlus",
    "IFIMDecomposition",
    "IFIMResult",
    "MethodSpec",
    "RegisteredMethod",
    "ScoreCAM",
    "XGradCAM",
    "__version__",
    "available_methods",
    "build_method",
    "default_target_layer",
    "get_method_spec",
]
